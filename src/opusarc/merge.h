/* Merging archives indexed separately (one per batch, one per group) into
 * one new archive, as one library call: no recording is decoded again. The
 * packets, links, intervals, checkpoints (pre-rolls, snapshots) and
 * reference CRCs are copied, so `verify` checks the merged archive exactly
 * as it checked the inputs. Inputs must share the libopus build and
 * checkpoint settings (refused otherwise, naming the difference); a name
 * held by two inputs is kept once when both rows describe the same source
 * and refused when they do not. The output is written by the archive
 * writer (lock, .partial, commits, --resume, rename when complete). */
#ifndef OPUSARC_MERGE_H
#define OPUSARC_MERGE_H

#include <mpi.h>
#include <stdint.h>

#include "opusarc/error.h"
#include "opusarc/log.h"

typedef struct oa_merge_job {
  const char *output;
  const char *const *inputs; /* archives (each with its appended segments) */
  int ninputs;
  int force, resume;
  double batch_mb;           /* per-rank rows between commits */
  double io_timeout;         /* seconds a collective round may take (0: no limit) */
} oa_merge_job;

typedef struct oa_merge_result {
  uint64_t recordings;       /* rows in the merged archive */
  uint64_t duplicates;       /* rows held by two inputs with the same source: kept once */
  uint64_t data_bytes;       /* packet and snapshot bytes this rank copied */
  uint64_t commits;
  int written;
  int broken;                /* a collective write failed: leave without MPI_Finalize */
} oa_merge_result;

/* Collective. OA_OK when the merged archive is written; errors are logged
 * on rank 0. Every rank returns the same code. */
int oa_merge_run(MPI_Comm comm, const oa_merge_job *job, const oa_logger *log, oa_merge_result *res, oa_err *err);

#endif
