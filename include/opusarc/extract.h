/* Extraction engine: restores the checkpoint nearest before a requested
 * range and decodes forward. The samples handed to the sink are identical
 * to a straight decode of the recording from its start (docs/FORMAT.md,
 * "Exactness contract"). */
#ifndef OPUSARC_EXTRACT_H
#define OPUSARC_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "opusarc/archive.h"
#include "opusarc/error.h"

/* Receives decoded samples in order: `frames` frames of `channels`
 * interleaved floats. */
typedef int (*oa_pcm_sink)(void *ctx, const float *pcm, size_t frames, int channels, oa_err *err);

typedef struct oa_extract_stats {
  uint64_t packets_decoded;  /* including those decoded only to reach the range */
  uint64_t snapshots_restored;
  int64_t frames_out;
} oa_extract_stats;

typedef struct oa_extractor oa_extractor;

/* decode_from_start: when this host's libopus differs from the archive's,
 * ignore snapshots and decode every range from its link's start instead of
 * refusing. */
int oa_extractor_create(oa_archive *a, int decode_from_start, oa_extractor **out, oa_err *err);
void oa_extractor_free(oa_extractor *x);

/* Decodes samples [start, end) (48 kHz frames after pre-skip) of recording
 * `rec` into sink. */
int oa_extract_range(oa_extractor *x, uint64_t rec, int64_t start, int64_t end, oa_pcm_sink sink, void *ctx,
                     oa_extract_stats *stats, oa_err *err);

#endif
