/* Output rates: libsoxr between the exact decode and the writer. */
#include "opusarc/resample.h"

#include <soxr.h>
#include <stdlib.h>
#include <string.h>

#include "opusarc/util.h"

struct oa_resampler {
  soxr_t soxr;
  int channels;
  int32_t in_rate, out_rate;
  int64_t in_frames, pushed; /* frames expected and received */
  int64_t out_total, emitted; /* frames owed to the sink and given */
  oa_pcm_sink sink;
  void *ctx;
  float *buf;  /* libsoxr's output */
  size_t cap;  /* in frames */
};

int64_t oa_resampled_frames(int64_t frames, int32_t in_rate, int32_t out_rate) {
  if (in_rate <= 0 || out_rate <= 0 || frames <= 0) return 0;
  /* frames < 2^47 and rates < 2^19 keep the product inside int64. */
  return (frames * out_rate + in_rate / 2) / in_rate;
}

int oa_resampler_create(int32_t in_rate, int32_t out_rate, int channels, int64_t in_frames, oa_pcm_sink sink,
                        void *ctx, oa_resampler **out, oa_err *err) {
  *out = NULL;
  if (in_rate <= 0 || out_rate <= 0 || channels <= 0 || in_frames < 0 || in_frames > (INT64_C(1) << 46))
    return oa_err_set(err, OA_EUSAGE, "cannot resample %lld frames from %d Hz to %d Hz", (long long)in_frames,
                      (int)in_rate, (int)out_rate);
  oa_resampler *r = calloc(1, sizeof *r);
  if (!r) return oa_err_set(err, OA_ENOMEM, "out of memory");
  *r = (oa_resampler){.channels = channels, .in_rate = in_rate, .out_rate = out_rate, .in_frames = in_frames,
                      .out_total = oa_resampled_frames(in_frames, in_rate, out_rate), .sink = sink, .ctx = ctx};
  soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  soxr_quality_spec_t quality = soxr_quality_spec(SOXR_VHQ, 0);
  soxr_runtime_spec_t runtime = soxr_runtime_spec(1); /* ranks are the parallelism */
  soxr_error_t why = NULL;
  r->soxr = soxr_create(in_rate, out_rate, (unsigned)channels, &why, &io, &quality, &runtime);
  r->cap = 16384;
  r->buf = malloc(r->cap * (size_t)channels * sizeof *r->buf);
  if (!r->soxr || !r->buf) {
    oa_resampler_free(r);
    return why ? oa_err_set(err, OA_EUSAGE, "libsoxr: %s", why) : oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  *out = r;
  return OA_OK;
}

/* Hands the sink what libsoxr gave, never more than out_total in all. */
static int emit(oa_resampler *r, size_t frames, oa_err *err) {
  int64_t room = r->out_total - r->emitted;
  size_t n = (int64_t)frames < room ? frames : (size_t)room;
  if (n == 0) return OA_OK;
  r->emitted += (int64_t)n;
  return r->sink(r->ctx, r->buf, n, r->channels, err);
}

/* One call of libsoxr (in NULL: end of input); *produced frames went out. */
static int step(oa_resampler *r, const float *in, size_t frames, size_t *used, size_t *produced, oa_err *err) {
  size_t odone = 0, idone = 0;
  soxr_error_t why = soxr_process(r->soxr, in, frames, in ? &idone : NULL, r->buf, r->cap, &odone);
  if (why) return oa_err_set(err, OA_EDECODE, "libsoxr: %s", why);
  if (used) *used = idone;
  *produced = odone;
  return emit(r, odone, err);
}

int oa_resampler_sink(void *ctx, const float *pcm, size_t frames, int channels, oa_err *err) {
  oa_resampler *r = ctx;
  if (channels != r->channels || r->pushed + (int64_t)frames > r->in_frames)
    return oa_err_set(err, OA_ERANGE, "resampler: %zu frames x %d channels beyond the %lld x %d expected", frames,
                      channels, (long long)r->in_frames, r->channels);
  r->pushed += (int64_t)frames;
  while (frames > 0) {
    size_t used = 0, produced = 0;
    int rc = step(r, pcm, frames, &used, &produced, err);
    if (rc != OA_OK) return rc;
    if (used == 0 && produced == 0) return oa_err_set(err, OA_EDECODE, "libsoxr took no input");
    pcm += used * (size_t)channels;
    frames -= used;
  }
  return OA_OK;
}

int oa_resampler_finish(oa_resampler *r, oa_err *err) {
  if (r->pushed != r->in_frames)
    return oa_err_set(err, OA_ERANGE, "resampler: %lld of %lld frames received", (long long)r->pushed,
                      (long long)r->in_frames);
  for (;;) {
    size_t produced = 0;
    int rc = step(r, NULL, 0, NULL, &produced, err);
    if (rc != OA_OK) return rc;
    if (produced == 0) break;
  }
  /* libsoxr gives round(n * ratio) frames for a whole signal; should it
   * ever give fewer, the rest is silence rather than a short output. */
  memset(r->buf, 0, r->cap * (size_t)r->channels * sizeof *r->buf);
  while (r->emitted < r->out_total) {
    int64_t left = r->out_total - r->emitted;
    int rc = emit(r, left < (int64_t)r->cap ? (size_t)left : r->cap, err);
    if (rc != OA_OK) return rc;
  }
  return OA_OK;
}

void oa_resampler_free(oa_resampler *r) {
  if (!r) return;
  if (r->soxr) soxr_delete(r->soxr);
  free(r->buf);
  free(r);
}

typedef struct into_buffer {
  float *out;
  size_t at, cap; /* frames */
} into_buffer;

static int buffer_sink(void *ctx, const float *pcm, size_t frames, int channels, oa_err *err) {
  into_buffer *b = ctx;
  if (b->at + frames > b->cap) return oa_err_set(err, OA_ERANGE, "resampler: more output than expected");
  memcpy(b->out + b->at * (size_t)channels, pcm, frames * (size_t)channels * sizeof *pcm);
  b->at += frames;
  return OA_OK;
}

int oa_resample_buffer(const float *in, size_t frames, int channels, int32_t in_rate, int32_t out_rate, float **out,
                       size_t *out_frames, oa_err *err) {
  *out = NULL;
  *out_frames = 0;
  size_t n = (size_t)oa_resampled_frames((int64_t)frames, in_rate, out_rate);
  into_buffer b = {malloc((n ? n : 1) * (size_t)channels * sizeof(float)), 0, n};
  if (!b.out) return oa_err_set(err, OA_ENOMEM, "out of memory");
  oa_resampler *r;
  int rc = oa_resampler_create(in_rate, out_rate, channels, (int64_t)frames, buffer_sink, &b, &r, err);
  if (rc == OA_OK) rc = oa_resampler_sink(r, in, frames, channels, err);
  if (rc == OA_OK) rc = oa_resampler_finish(r, err);
  oa_resampler_free(r);
  if (rc != OA_OK) return free(b.out), rc;
  *out = b.out;
  *out_frames = n;
  return OA_OK;
}
