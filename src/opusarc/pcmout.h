/* Output files for extracted samples. Written under a temporary name and
 * renamed only when complete, so a failed extraction leaves nothing that
 * looks finished. */
#ifndef OPUSARC_PCMOUT_H
#define OPUSARC_PCMOUT_H

#include <stddef.h>
#include <stdint.h>

#include "opusarc/error.h"

enum oa_pcm_format {
  OA_PCM_F32 = 0,   /* raw interleaved little-endian float32: exact */
  OA_PCM_S16 = 1,   /* raw interleaved little-endian int16: rounded, clipped */
  OA_PCM_WAV = 2,   /* WAV (RF64 past 4 GiB) with float32 samples: exact */
  OA_PCM_WAV16 = 3, /* WAV (RF64 past 4 GiB), 16-bit PCM: rounded, clipped */
  OA_PCM_WAV24 = 4, /* WAV (RF64 past 4 GiB), 24-bit PCM: rounded, clipped */
  OA_PCM_FLAC = 5,  /* FLAC, 16-bit: rounded, clipped (lossless from there) */
  OA_PCM_FLAC24 = 6 /* FLAC, 24-bit */
};

int oa_pcm_format_parse(const char *name, int *format);
const char *oa_pcm_format_extension(int format);
/* Formats written through libsndfile (a header; not cut into pieces by
 * ranks, but assembled from raw float32 when a query is). */
int oa_pcm_format_is_file(int format);
/* Bits of an integer format (16, 24), 0 for float ones. */
int oa_pcm_format_bits(int format);

typedef struct oa_pcm_writer oa_pcm_writer;

/* What a WAV output says of itself: the absolute start of its first sample
 * (a BWF bext origination date, time and time reference, and a GUANO
 * Timestamp; zone as enum oa_start_zone, 0: none) and where it came from. */
typedef struct oa_pcm_meta {
  int64_t start_us;
  int32_t zone, offset_s;
  const char *recording; /* NULL: not said */
  int64_t start_sample;
  int32_t rate;          /* the samples' rate in the header: the recording's time base (0: 48000) */
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
/* Samples clipped so far by an integer format (|x| beyond full scale, NaN). */
uint64_t oa_pcm_writer_clipped(const oa_pcm_writer *w);

/* float -> int16 as the s16 format does it: round to nearest, clip. */
short oa_float_to_s16(float x);
/* float -> `bits`-bit integers (16 or 24) as the integer formats do it:
 * x * 2^(bits-1) rounded to nearest, clipped to the range; returns how
 * many were clipped (NaN counts, as the most negative value). */
uint64_t oa_float_to_int(const float *in, size_t n, int bits, int32_t *out);

#endif
