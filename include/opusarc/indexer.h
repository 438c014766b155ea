/* Indexing of one recording: demux, validate and decode every packet once,
 * take decoder checkpoints, and add the rows to a rank's batch. */
#ifndef OPUSARC_INDEXER_H
#define OPUSARC_INDEXER_H

#include <stdint.h>

#include "opusarc/archive.h"
#include "opusarc/corpus.h"
#include "opusarc/error.h"
#include "opusarc/opusbuild.h"

#define OA_DEFAULT_CHECKPOINT_SECONDS 10.0

typedef struct oa_index_options {
  double checkpoint_every; /* seconds of decoded audio between snapshots */
} oa_index_options;

typedef struct oa_index_stats {
  uint64_t recordings_ok, recordings_failed;
  uint64_t packets, payload_bytes, checkpoints, state_bytes, source_bytes;
  int64_t samples;
} oa_index_stats;

/* Indexes corpus entry `e` (row `row` of /recordings) into `batch`. A bad
 * recording is not an error: it becomes a failed row whose text says why,
 * and *failure_msg (if non-NULL, OA_ERRMSG_MAX bytes) receives that text.
 * Returns an error only if the batch cannot grow. */
int oa_index_entry(const oa_corpus_entry *e, uint64_t row, const oa_index_options *opt,
                   const oa_opus_build *build, oa_batch *batch, oa_index_stats *stats, char *failure_msg,
                   oa_err *err);

#endif
