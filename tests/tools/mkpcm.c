/* mkpcm: writes a test PCM file with libsndfile (format from the name:
 * .wav .flac .aiff .w64 .rf64, .oga = Ogg Vorbis), a deterministic chirp-plus-noise signal, and
 * optionally an AudioMoth-style comment, a GUANO chunk or a BWF bext time.
 *   mkpcm OUT RATE CHANNELS SECONDS [--comment TEXT] [--guano TEXT] [--bext DATE TIME]
 *         [--float] [--nan-at FRAME] [--artist TEXT] [--seed N]
 * --float writes 32-bit float samples; --nan-at puts a NaN at that frame;
 * --seed N changes the signal (its pitch and noise), so files differ. */
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int major_of(const char *path) {
  const char *dot = strrchr(path, '.');
  if (!dot) return 0;
  if (!strcmp(dot, ".wav")) return SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  if (!strcmp(dot, ".flac")) return SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
  if (!strcmp(dot, ".aiff")) return SF_FORMAT_AIFF | SF_FORMAT_PCM_24;
  if (!strcmp(dot, ".w64")) return SF_FORMAT_W64 | SF_FORMAT_FLOAT;
  if (!strcmp(dot, ".rf64")) return SF_FORMAT_RF64 | SF_FORMAT_PCM_16;
  if (!strcmp(dot, ".oga")) return SF_FORMAT_OGG | SF_FORMAT_VORBIS;
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: mkpcm OUT RATE CHANNELS SECONDS [--comment T] [--guano T] [--bext DATE TIME]\n");
    return 2;
  }
  SF_INFO info = {.samplerate = atoi(argv[2]), .channels = atoi(argv[3]), .format = major_of(argv[1])};
  long nan_at = -1;
  unsigned variant = 0;
  for (int i = 5; i < argc; i++) {
    if (!strcmp(argv[i], "--float")) info.format = (info.format & SF_FORMAT_TYPEMASK) | SF_FORMAT_FLOAT;
    if (!strcmp(argv[i], "--nan-at") && i + 1 < argc) nan_at = atol(argv[i + 1]);
    if (!strcmp(argv[i], "--seed") && i + 1 < argc) variant = (unsigned)atoi(argv[i + 1]);
  }
  const double base = 200.0 + 37.0 * (variant % 16);
  unsigned seed = 5 + variant;
  SNDFILE *sf = sf_open(argv[1], SFM_WRITE, &info);
  if (!sf) {
    fprintf(stderr, "mkpcm: %s\n", sf_strerror(NULL));
    return 1;
  }
  for (int i = 5; i < argc; i++) {
    if (!strcmp(argv[i], "--comment") && i + 1 < argc) sf_set_string(sf, SF_STR_COMMENT, argv[++i]);
    else if (!strcmp(argv[i], "--artist") && i + 1 < argc) sf_set_string(sf, SF_STR_ARTIST, argv[++i]);
    else if (!strcmp(argv[i], "--guano") && i + 1 < argc) {
      const char *t = argv[++i];
      SF_CHUNK_INFO c = {.id = "guan", .id_size = 4, .datalen = (unsigned)strlen(t), .data = (void *)t};
      sf_set_chunk(sf, &c);
    } else if (!strcmp(argv[i], "--bext") && i + 2 < argc) {
      SF_BROADCAST_INFO b;
      memset(&b, 0, sizeof b);
      memcpy(b.origination_date, argv[i + 1], 10);
      memcpy(b.origination_time, argv[i + 2], 8);
      sf_command(sf, SFC_SET_BROADCAST_INFO, &b, sizeof b);
      i += 2;
    }
  }
  long frames = (long)(atof(argv[4]) * info.samplerate);
  float *buf = malloc(sizeof(float) * 1024 * (size_t)info.channels);
  for (long done = 0; done < frames;) {
    long n = frames - done < 1024 ? frames - done : 1024;
    for (long k = 0; k < n; k++) {
      double t = (double)(done + k) / info.samplerate;
      for (int c = 0; c < info.channels; c++) {
        seed = seed * 1664525u + 1013904223u;
        double f = base * (1 + c) + 0.2 * info.samplerate * fmod(t, 2.0) / 4.0;
        buf[k * info.channels + c] = (float)(0.3 * sin(2 * M_PI * f * t) + 0.02 * ((seed >> 8) / 16777216.0 - 0.5));
        if (done + k == nan_at) buf[k * info.channels + c] = NAN;
      }
    }
    sf_writef_float(sf, buf, n);
    done += n;
  }
  free(buf);
  return sf_close(sf) != 0;
}
