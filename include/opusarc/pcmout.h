/* Output files for extracted samples. Written under a temporary name and
 * renamed only when complete, so a failed extraction leaves nothing that
 * looks finished. */
#ifndef OPUSARC_PCMOUT_H
#define OPUSARC_PCMOUT_H

#include <stddef.h>
#include <stdint.h>

#include "opusarc/error.h"

enum oa_pcm_format {
  OA_PCM_F32 = 0, /* raw interleaved little-endian float32: exact */
  OA_PCM_S16 = 1, /* raw interleaved little-endian int16: rounded, clipped */
  OA_PCM_WAV = 2  /* WAV (RF64 past 4 GiB) with float32 samples: exact */
};

int oa_pcm_format_parse(const char *name, int *format);
const char *oa_pcm_format_extension(int format);

typedef struct oa_pcm_writer oa_pcm_writer;

/* What a WAV output says of itself: the absolute start of its first sample
 * (a BWF bext origination date, time and time reference, and a GUANO
 * Timestamp; zone as enum oa_start_zone, 0: none) and where it came from. */
typedef struct oa_pcm_meta {
  int64_t start_us;
  int32_t zone, offset_s;
  const char *recording; /* NULL: not said */
  int64_t start_sample;
} oa_pcm_meta;

/* Creates a fresh temporary file beside PATH (never follows or reuses a
 * planted name); force: the final rename may replace an existing PATH.
 * meta (may be NULL) is written into WAV files. */
int oa_pcm_writer_open(const char *path, int format, int channels, int force, const oa_pcm_meta *meta,
                       oa_pcm_writer **out, oa_err *err);
/* An oa_pcm_sink: ctx is the writer. */
int oa_pcm_writer_sink(void *ctx, const float *pcm, size_t frames, int channels, oa_err *err);
/* commit: rename into place; otherwise remove the temporary file. */
int oa_pcm_writer_close(oa_pcm_writer *w, int commit, oa_err *err);

/* float -> int16 as the s16 format does it: round to nearest, clip. */
short oa_float_to_s16(float x);

#endif
