/* Output files for extracted samples. Written under a temporary name and
 * renamed only when complete, so a failed extraction leaves nothing that
 * looks finished. */
#ifndef OPUSARC_PCMOUT_H
#define OPUSARC_PCMOUT_H

#include <stddef.h>

#include "opusarc/error.h"

enum oa_pcm_format {
  OA_PCM_F32 = 0, /* raw interleaved little-endian float32: exact */
  OA_PCM_S16 = 1, /* raw interleaved little-endian int16: rounded, clipped */
  OA_PCM_WAV = 2  /* WAV (RF64 past 4 GiB) with float32 samples: exact */
};

int oa_pcm_format_parse(const char *name, int *format);
const char *oa_pcm_format_extension(int format);

typedef struct oa_pcm_writer oa_pcm_writer;

/* Creates a fresh temporary file beside PATH (never follows or reuses a
 * planted name); force: the final rename may replace an existing PATH. */
int oa_pcm_writer_open(const char *path, int format, int channels, int force, oa_pcm_writer **out, oa_err *err);
/* An oa_pcm_sink: ctx is the writer. */
int oa_pcm_writer_sink(void *ctx, const float *pcm, size_t frames, int channels, oa_err *err);
/* commit: rename into place; otherwise remove the temporary file. */
int oa_pcm_writer_close(oa_pcm_writer *w, int commit, oa_err *err);

/* float -> int16 as the s16 format does it: round to nearest, clip. */
short oa_float_to_s16(float x);

#endif
