/* The resampler (opusarc/resample.h): output length as documented, the
 * same samples however the input is cut into calls, exactly the expected
 * frames reach the sink, and misuse is refused. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "opusarc/resample.h"

typedef struct collect {
  float *pcm;
  size_t frames, cap;
} collect;

static int collect_sink(void *ctx, const float *pcm, size_t frames, int channels, oa_err *err) {
  (void)err;
  collect *c = ctx;
  assert_true(c->frames + frames <= c->cap);
  memcpy(c->pcm + c->frames * (size_t)channels, pcm, frames * (size_t)channels * sizeof *pcm);
  c->frames += frames;
  return OA_OK;
}

static float *signal(size_t frames, int channels) {
  float *x = malloc(frames * (size_t)channels * sizeof *x);
  unsigned seed = 7;
  for (size_t i = 0; i < frames * (size_t)channels; i++) {
    seed = seed * 1103515245u + 12345u;
    x[i] = 0.4f * sinf((float)i * 0.013f) + ((float)(seed >> 16 & 0x7fff) / 32768.0f - 0.5f) * 0.2f;
  }
  return x;
}

static void test_frames_rounding(void **state) {
  (void)state;
  assert_int_equal(oa_resampled_frames(480000, 48000, 16000), 160000);
  assert_int_equal(oa_resampled_frames(480123, 48000, 8000), 80021);  /* 80020.5: halves up */
  assert_int_equal(oa_resampled_frames(480123, 48000, 44100), 441113); /* 441113.006 */
  assert_int_equal(oa_resampled_frames(1, 384000, 8000), 0);
  assert_int_equal(oa_resampled_frames(0, 48000, 16000), 0);
  assert_int_equal(oa_resampled_frames(INT64_C(1) << 40, 48000, 384000), INT64_C(1) << 43);
}

/* Pushing in 1, 7, 960 and 65536-frame calls gives the buffer's samples. */
static void test_chunking_does_not_matter(void **state) {
  (void)state;
  const size_t frames = 100003;
  const int channels = 2;
  float *in = signal(frames, channels), *whole;
  size_t nwhole;
  oa_err err;
  assert_int_equal(oa_resample_buffer(in, frames, channels, 48000, 22050, &whole, &nwhole, &err), OA_OK);
  assert_int_equal(nwhole, (size_t)oa_resampled_frames((int64_t)frames, 48000, 22050));
  const size_t chunks[] = {1, 7, 960, 65536};
  for (size_t k = 0; k < sizeof chunks / sizeof *chunks; k++) {
    collect c = {calloc(nwhole * channels + 1, sizeof(float)), 0, nwhole};
    oa_resampler *r;
    assert_int_equal(oa_resampler_create(48000, 22050, channels, (int64_t)frames, collect_sink, &c, &r, &err), OA_OK);
    for (size_t at = 0; at < frames; at += chunks[k]) {
      size_t n = frames - at < chunks[k] ? frames - at : chunks[k];
      assert_int_equal(oa_resampler_sink(r, in + at * channels, n, channels, &err), OA_OK);
    }
    assert_int_equal(oa_resampler_finish(r, &err), OA_OK);
    oa_resampler_free(r);
    assert_int_equal(c.frames, nwhole);
    assert_memory_equal(c.pcm, whole, nwhole * channels * sizeof(float));
    free(c.pcm);
  }
  free(whole);
  free(in);
}

/* A sine well inside the passband keeps its amplitude and phase. */
static void test_sine_survives(void **state) {
  (void)state;
  const size_t frames = 48000;
  float *in = malloc(frames * sizeof *in), *out;
  for (size_t i = 0; i < frames; i++) in[i] = (float)(0.5 * sin(2 * M_PI * 1000.0 * (double)i / 48000.0));
  size_t n;
  oa_err err;
  assert_int_equal(oa_resample_buffer(in, frames, 1, 48000, 16000, &out, &n, &err), OA_OK);
  assert_int_equal(n, 16000);
  double worst = 0;
  for (size_t i = 1000; i < 15000; i++) { /* away from the edges */
    double want = 0.5 * sin(2 * M_PI * 1000.0 * (double)i / 16000.0);
    if (fabs(out[i] - want) > worst) worst = fabs(out[i] - want);
  }
  assert_true(worst < 1e-4);
  free(in);
  free(out);
}

static void test_misuse_refused(void **state) {
  (void)state;
  collect c = {calloc(64, sizeof(float)), 0, 32};
  oa_resampler *r;
  oa_err err;
  float x[20] = {0};
  assert_int_not_equal(oa_resampler_create(0, 16000, 1, 10, collect_sink, &c, &r, &err), OA_OK);
  assert_null(r);
  assert_int_equal(oa_resampler_create(48000, 16000, 1, 10, collect_sink, &c, &r, &err), OA_OK);
  assert_int_not_equal(oa_resampler_sink(r, x, 11, 1, &err), OA_OK); /* more than announced */
  assert_int_not_equal(oa_resampler_sink(r, x, 5, 2, &err), OA_OK);  /* other channels */
  assert_int_equal(oa_resampler_sink(r, x, 5, 1, &err), OA_OK);
  assert_int_not_equal(oa_resampler_finish(r, &err), OA_OK);       /* 5 of 10 frames */
  oa_resampler_free(r);
  free(c.pcm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_frames_rounding),
      cmocka_unit_test(test_chunking_does_not_matter),
      cmocka_unit_test(test_sine_survives),
      cmocka_unit_test(test_misuse_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
