/* Indexing of one recording: demux, validate and decode every packet once,
 * cut each link into intervals, give every interval a verified checkpoint,
 * and add the rows to a rank's batch. */
#ifndef OPUSARC_INDEXER_H
#define OPUSARC_INDEXER_H

#include <stdint.h>

#include "opusarc/archive.h"
#include "opusarc/corpus.h"
#include "opusarc/error.h"
#include "opusarc/opusbuild.h"
#include "opusarc/pcmimport.h"

#define OA_DEFAULT_CHECKPOINT_SECONDS 2.0
#define OA_DEFAULT_MAX_PREROLL 128

enum oa_checkpoint_mode {
  OA_CHECKPOINTS_AUTO = 0,    /* verified pre-roll where one is found, else a snapshot */
  OA_CHECKPOINTS_PREROLL = 1, /* verified pre-roll; where none is found, pre-roll from the link start */
  OA_CHECKPOINTS_SNAPSHOT = 2 /* full snapshots only */
};

typedef struct oa_index_options {
  double checkpoint_every; /* seconds of decoded audio per interval */
  int mode;                /* enum oa_checkpoint_mode */
  int max_preroll;         /* largest pre-roll tried, in packets */
  oa_encode_options encode; /* for PCM sources */
  /* Start times (docs/FORMAT.md, "Start times"): a file-name pattern for
   * files whose metadata gives none, and the zone of wall-clock starts. */
  const char *start_from_name; /* NULL: none */
  int start_tz_set;
  int32_t start_tz;            /* seconds east of UTC */
  /* Called after each interval with its decoded samples and the share of
   * the recording's packets done so far (0..1), so progress can move during
   * long recordings; may be NULL. */
  void (*on_interval)(void *ctx, int64_t samples, double share_done);
  void *on_interval_ctx;
} oa_index_options;

typedef struct oa_index_stats {
  uint64_t recordings_ok, recordings_failed; /* ok includes damaged */
  uint64_t recordings_damaged;
  int64_t lost_samples; /* silence standing for audio lost in holes */
  uint64_t packets, payload_bytes, data_bytes, state_bytes, source_bytes;
  uint64_t intervals, prerolls, snapshots, preroll_packets;
  uint64_t patches;        /* pre-rolls with a patch (kind 3) where no plain pre-roll was exact */
  uint64_t extended;       /* intervals merged into the previous one instead of a snapshot */
  uint64_t search_decodes; /* packets decoded while verifying pre-rolls */
  int64_t samples;
  double seconds;          /* real seconds (a time-expanded recording at its source rate) */
  uint64_t starts_known, starts_local, starts_refused; /* start in UTC, wall clock only, before 2000 */
} oa_index_stats;

/* Parses preroll|snapshot|auto. */
int oa_checkpoint_mode_parse(const char *name, int *mode);
const char *oa_checkpoint_mode_name(int mode);

/* Indexes corpus entry `e` (row `row` of /recordings) into `batch`. A bad
 * recording is not an error: it becomes a failed row whose text says why,
 * and *failure (if non-NULL) receives that text and its code (a front end
 * may advise by code: OA_ELOSSY, OA_EHIGHRATE); *warning_msg (if non-NULL,
 * OA_ERRMSG_MAX bytes) what was stored but deserves a word (a start time
 * refused). Returns an error only if the batch cannot grow. */
int oa_index_entry(const oa_corpus_entry *e, uint64_t row, const oa_index_options *opt,
                   const oa_opus_build *build, oa_batch *batch, oa_index_stats *stats, oa_err *failure,
                   char *warning_msg, oa_err *err);

#endif
