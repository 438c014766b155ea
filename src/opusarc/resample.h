/* Output rates (extract --rate): a deterministic transformation of the
 * exact decode by libsoxr at very high quality (SOXR_VHQ: 28-bit, linear
 * phase, passband to 91.3% of the lower Nyquist frequency), one thread.
 *
 * A range is resampled as one signal: its samples from the first to the
 * last, nothing before or after (libsoxr treats the outside as silence).
 * libsoxr's output does not depend on how the input is cut into calls, so
 * a range decoded in pieces, by any rank, gives the same samples as the
 * range resampled in one go (tests/integration/formats.sh proves it). */
#ifndef OPUSARC_RESAMPLE_H
#define OPUSARC_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "opusarc/error.h"
#include "opusarc/extract.h"

#define OA_RATE_MIN 8000
#define OA_RATE_MAX 384000
/* extract --rate native: the stored 48 kHz samples, whatever the time base. */
#define OA_RATE_NATIVE (-1)

/* Frames out for `frames` in: frames * out_rate / in_rate rounded to the
 * nearest, halves up (what libsoxr gives for a whole signal). */
int64_t oa_resampled_frames(int64_t frames, int32_t in_rate, int32_t out_rate);

typedef struct oa_resampler oa_resampler;

/* A resampler of `in_frames` frames of `channels` interleaved float32 from
 * in_rate to out_rate; its output goes to sink(ctx, ...) as it comes. */
int oa_resampler_create(int32_t in_rate, int32_t out_rate, int channels, int64_t in_frames, oa_pcm_sink sink,
                        void *ctx, oa_resampler **out, oa_err *err);
/* An oa_pcm_sink: ctx is the resampler. More than in_frames is an error. */
int oa_resampler_sink(void *ctx, const float *pcm, size_t frames, int channels, oa_err *err);
/* After all in_frames: flushes, so that the sink has received exactly
 * oa_resampled_frames(in_frames) frames. */
int oa_resampler_finish(oa_resampler *r, oa_err *err);
void oa_resampler_free(oa_resampler *r);

/* The whole of `in` resampled into a new buffer (*out, *out_frames). */
int oa_resample_buffer(const float *in, size_t frames, int channels, int32_t in_rate, int32_t out_rate, float **out,
                       size_t *out_frames, oa_err *err);

#endif
