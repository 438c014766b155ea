/* soxrcheck: the independent resampling path of the rate tests.
 *   soxrcheck REF.f32 OUT CHANNELS IN_RATE OUT_RATE
 * resamples REF (raw float32, interleaved) in one call of libsoxr's
 * soxr_oneshot at the settings opusarc documents (SOXR_VHQ, linear phase,
 * one thread) and compares it bit for bit with OUT: raw float32 (.f32), or
 * a float WAV read by libsndfile, whose header must say OUT_RATE and
 * CHANNELS. Exit 0 if equal.
 *   soxrcheck --corr A.f32 B.f32 MIN
 * prints the normalised correlation of two raw float32 signals (the
 * shorter length) and exits 0 if it is at least MIN (used against sox). */
#include <math.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *load_raw(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long bytes = ftell(f);
  fseek(f, 0, SEEK_SET);
  float *p = malloc((size_t)bytes + 4);
  *n = p ? fread(p, sizeof(float), (size_t)bytes / sizeof(float), f) : 0;
  fclose(f);
  return p;
}

/* OUT's samples: raw float32, or a file libsndfile reads (header checked). */
static float *load_out(const char *path, int channels, int rate, size_t *n) {
  size_t len = strlen(path);
  if (len > 4 && strcmp(path + len - 4, ".f32") == 0) return load_raw(path, n);
  SF_INFO info = {0};
  SNDFILE *sf = sf_open(path, SFM_READ, &info);
  if (!sf) return NULL;
  if (info.samplerate != rate || info.channels != channels) {
    fprintf(stderr, "soxrcheck: %s says %d Hz x %d, expected %d x %d\n", path, info.samplerate, info.channels, rate,
            channels);
    exit(1);
  }
  float *p = malloc(((size_t)info.frames * (size_t)channels + 1) * sizeof *p);
  *n = (size_t)sf_readf_float(sf, p, info.frames) * (size_t)channels;
  sf_close(sf);
  return p;
}

static int correlate(const char *a_path, const char *b_path, double min) {
  size_t na, nb;
  float *a = load_raw(a_path, &na), *b = load_raw(b_path, &nb);
  if (!a || !b) return fprintf(stderr, "soxrcheck: cannot read inputs\n"), 1;
  size_t n = na < nb ? na : nb;
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < n; i++) ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
  double r = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
  printf("correlation %.6f over %zu samples (%zu and %zu)\n", r, n, na, nb);
  return r >= min ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "--corr") == 0) return correlate(argv[2], argv[3], atof(argv[4]));
  if (argc != 6) {
    fprintf(stderr, "usage: soxrcheck REF.f32 OUT CHANNELS IN_RATE OUT_RATE | --corr A.f32 B.f32 MIN\n");
    return 2;
  }
  int channels = atoi(argv[3]);
  double in_rate = atof(argv[4]), out_rate = atof(argv[5]);
  size_t nref, nout;
  float *ref = load_raw(argv[1], &nref), *out = load_out(argv[2], channels, (int)out_rate, &nout);
  if (!ref || !out || channels < 1) return fprintf(stderr, "soxrcheck: cannot read inputs\n"), 1;
  size_t in_frames = nref / (size_t)channels, cap = (size_t)((double)in_frames * out_rate / in_rate) + 16, got = 0;
  float *want = malloc(cap * (size_t)channels * sizeof *want);
  soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  soxr_quality_spec_t q = soxr_quality_spec(SOXR_VHQ, 0);
  soxr_runtime_spec_t rt = soxr_runtime_spec(1);
  soxr_error_t e = soxr_oneshot(in_rate, out_rate, (unsigned)channels, ref, in_frames, NULL, want, cap, &got, &io, &q, &rt);
  if (e) return fprintf(stderr, "soxrcheck: libsoxr: %s\n", e), 1;
  if (nout != got * (size_t)channels) {
    fprintf(stderr, "soxrcheck: %s has %zu frames, libsoxr gives %zu\n", argv[2], nout / (size_t)channels, got);
    return 1;
  }
  for (size_t i = 0; i < nout; i++)
    if (memcmp(&out[i], &want[i], sizeof *out) != 0) {
      fprintf(stderr, "soxrcheck: frame %zu channel %zu: %.9g, libsoxr %.9g\n", i / (size_t)channels,
              i % (size_t)channels, out[i], want[i]);
      return 1;
    }
  printf("%zu frames equal\n", got);
  return 0;
}
