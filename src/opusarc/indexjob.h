/* An index job as one library call, as oa_sweep_run is for sweeps: the
 * libopus build checked on every rank, the corpus scanned by rank 0 and
 * shared, split by bytes, the archive taken (lock, resume rules), rounds of
 * indexing each ending in a collective commit, the archive finished. The
 * command line parses options, calls oa_index_run, and prints the summary
 * from the result. Progress, per-recording warnings and failures are
 * logged through `log` as they happen. */
#ifndef OPUSARC_INDEXJOB_H
#define OPUSARC_INDEXJOB_H

#include <mpi.h>

#include "opusarc/archive.h"
#include "opusarc/indexer.h"
#include "opusarc/log.h"

typedef struct oa_index_job {
  const char *output;             /* the archive */
  const char *const *inputs;      /* files and directories */
  int ninputs;
  const char *list;               /* file of paths, one a line (NULL: none) */
  const char *root, *prefix;      /* naming (oa_corpus_naming); NULL: the default rule */
  oa_index_options index;         /* checkpoints and PCM encoding (on_interval is set by the job) */
  double batch_mb;                /* per-rank rows between commits */
  double io_timeout;              /* seconds a collective round may take (0: no limit) */
  int force, resume;
  int append;                     /* add to the existing archive `output` as a new segment (docs/FORMAT.md) */
  const char *options_text;       /* what shapes the archive, as the user typed it: a resume must match */
  double progress_every;          /* seconds between reports (0: none) */
  int progress_bar;               /* a redrawn line on a terminal */
  int quiet;                      /* no start-up line */
} oa_index_job;

enum { OA_PHASE_SCAN, OA_PHASE_DECODE, OA_PHASE_WRITE, OA_PHASE_META, OA_PHASE_COUNT };

typedef struct oa_index_result {
  oa_index_stats stats;           /* this rank's work in this run */
  oa_resumed_totals kept;         /* rows kept from the interrupted run (same on every rank) */
  uint64_t commits;               /* collective write rounds of the archive so far */
  int written;                    /* the archive was finished and renamed into place */
  int complete;                   /* --resume found it complete with these inputs: nothing done */
  int stopped;                    /* the signal that stopped the run at a commit, or 0 */
  int broken;                     /* a collective write failed: leave without MPI_Finalize */
  double seconds[OA_PHASE_COUNT]; /* this rank's time per phase */
  /* --append (same on every rank): */
  uint64_t held;                  /* recordings in the archive before this run */
  uint64_t skipped;               /* inputs already in it, unchanged */
  uint64_t conflicts;             /* inputs whose name is in it but whose source changed: not added */
  uint64_t adopted;               /* segments an interrupted append had finished, now listed */
  uint64_t added;                 /* recordings in the new segment (indexed or failed rows) */
  char segment[4096];             /* the segment written ("" if none) */
} oa_index_result;

/* Collective. OA_OK when the archive is written (res->written) or found
 * complete (res->complete; with append: nothing new to add); otherwise an error, already logged on rank 0
 * (err holds it too). Every rank returns the same code. */
int oa_index_run(MPI_Comm comm, const oa_index_job *job, const oa_logger *log, oa_index_result *res, oa_err *err);

#endif
