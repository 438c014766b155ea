/* pcmcheck: reads an integer WAV/FLAC written by opusarc with libsndfile and
 * checks it against the float32 samples of the same range, converted here
 * independently (x * 2^(bits-1), nearest, ties to even, clipped):
 *   pcmcheck REF.f32 OUT.(wav|flac) CHANNELS BITS RATE
 * Checks the header (rate, channels, bits, frames) and every sample; prints
 * "clipped N" (samples outside the integer range). Exit 0 if all match. */
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: pcmcheck REF.f32 OUT CHANNELS BITS RATE\n");
    return 2;
  }
  int channels = atoi(argv[3]), bits = atoi(argv[4]), rate = atoi(argv[5]);
  FILE *f = fopen(argv[1], "rb");
  SF_INFO info = {0};
  SNDFILE *sf = sf_open(argv[2], SFM_READ, &info);
  if (!f || !sf) {
    fprintf(stderr, "pcmcheck: cannot open %s or %s\n", argv[1], argv[2]);
    return 1;
  }
  int sub = info.format & SF_FORMAT_SUBMASK;
  int got_bits = sub == SF_FORMAT_PCM_16 ? 16 : sub == SF_FORMAT_PCM_24 ? 24 : 0;
  if (info.samplerate != rate || info.channels != channels || got_bits != bits) {
    fprintf(stderr, "pcmcheck: header says %d Hz, %d channels, %d bits; expected %d, %d, %d\n", info.samplerate,
            info.channels, got_bits, rate, channels, bits);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  long frames = ftell(f) / 4 / channels;
  rewind(f);
  if (info.frames != frames) {
    fprintf(stderr, "pcmcheck: %lld frames, the reference has %ld\n", (long long)info.frames, frames);
    return 1;
  }
  const double full = ldexp(1.0, bits - 1);
  long clipped = 0, bad = 0;
  float x;
  int *frame = malloc(sizeof(int) * (size_t)channels);
  for (long i = 0; i < frames * channels; i++) {
    /* libsndfile reads whole frames */
    if (i % channels == 0 && sf_readf_int(sf, frame, 1) != 1) return fprintf(stderr, "pcmcheck: short read\n"), 1;
    if (fread(&x, 4, 1, f) != 1) return fprintf(stderr, "pcmcheck: short reference\n"), 1;
    int v = frame[i % channels];
    double want = nearbyint((double)x * full);
    if (want > full - 1) want = full - 1, clipped++;
    else if (want < -full) want = -full, clipped++;
    if ((v >> (32 - bits)) != (int)want && bad++ < 5)
      fprintf(stderr, "pcmcheck: sample %ld is %d, expected %d (x = %.9g)\n", i, v >> (32 - bits), (int)want, x);
  }
  free(frame);
  printf("clipped %ld\n", clipped);
  sf_close(sf);
  fclose(f);
  return bad ? 1 : 0;
}
