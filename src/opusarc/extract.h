/* Extraction engine. A link is a sequence of intervals, each with its own
 * verified checkpoint; a range is decoded as one segment per interval it
 * touches, each started from that interval's checkpoint (consecutive
 * intervals share one decoder only when its state is exactly the
 * sequential one: after a link start or a snapshot). The samples handed to
 * the sink are identical to a straight decode of the recording from its
 * start (docs/FORMAT.md, "Exactness contract"). */
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
  uint64_t packets_decoded;  /* including pre-roll and packets decoded only to reach the range */
  uint64_t prerolls, snapshots_restored;
  uint64_t intervals_checked, mismatches;
  int64_t frames_out;
} oa_extract_stats;

enum oa_extract_flags {
  /* When this host's libopus differs from the archive's, decode each range
   * from its link's start instead of refusing. */
  OA_EXTRACT_DECODE_FROM_START = 1,
  /* Decode every interval a range touches completely and check it against
   * its stored CRC. */
  OA_EXTRACT_VERIFY = 2,
  /* Never load decoder memory from the archive (for archives from a source
   * you do not trust: a forged snapshot with a matching CRC is raw libopus
   * state). Ranges that would start from a snapshot are decoded from their
   * link's start; pre-roll checkpoints (packets only) are still used. */
  OA_EXTRACT_NO_SNAPSHOTS = 4
};

typedef struct oa_extractor oa_extractor;

int oa_extractor_create(oa_archive *a, int flags, oa_extractor **out, oa_err *err);
void oa_extractor_free(oa_extractor *x);

/* Decodes samples [start, end) (48 kHz frames after pre-skip) of recording
 * `rec` into sink. */
/* The one check of a requested range: recording `rec` can be read and
 * [start, end) is a non-empty part of it. OA_OK, or OA_ERANGE with a
 * message in samples, or with `in_seconds` in seconds at the recording's
 * rate (the units the user gave). */
int oa_range_check(const oa_archive *a, uint64_t rec, int64_t start, int64_t end, int in_seconds, oa_err *err);

int oa_extract_range(oa_extractor *x, uint64_t rec, int64_t start, int64_t end, oa_pcm_sink sink, void *ctx,
                     oa_extract_stats *stats, oa_err *err);

/* Called for each interval whose output differs from the indexed decode;
 * start/end are the interval's samples in the recording's timeline. */
typedef void (*oa_mismatch_fn)(void *ctx, uint64_t rec, uint64_t interval, int64_t start, int64_t end,
                               uint32_t got, uint32_t want);

/* Re-decodes every interval of recording `rec` from its own checkpoint and
 * compares it with the stored CRC (with OA_EXTRACT_NO_SNAPSHOTS, snapshot
 * intervals are checked by decoding the link straight through instead). Mismatches are counted in stats and
 * reported through fn; the return value is an error only when the archive
 * cannot be read or decoded. */
int oa_verify_recording(oa_extractor *x, uint64_t rec, oa_mismatch_fn fn, void *ctx, oa_extract_stats *stats,
                        oa_err *err);

#endif
