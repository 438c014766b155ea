/* A verify job as one library call, as oa_index_run and oa_sweep_run are:
 * every rank opens the archive, takes a byte-balanced share of the
 * recordings, re-decodes each interval from its own checkpoint and compares
 * it with the CRC stored at indexing. Mismatches and unreadable recordings
 * are logged through `log` as found and counted in the result. With
 * MPI_COMM_NULL it runs alone, without MPI. */
#ifndef OPUSARC_VERIFYJOB_H
#define OPUSARC_VERIFYJOB_H

#include <mpi.h>
#include <stdint.h>

#include "opusarc/error.h"
#include "opusarc/log.h"

typedef struct oa_verify_options {
  int flags;             /* OA_EXTRACT_DECODE_FROM_START, OA_EXTRACT_NO_SNAPSHOTS */
  double progress_every; /* seconds between reports (0: none) */
  int progress_bar;      /* a redrawn line on a terminal */
} oa_verify_options;

typedef struct oa_verify_result { /* totals over the ranks, on every rank */
  uint64_t intervals, mismatched, unreadable, packets_decoded;
  double audio_seconds;            /* real seconds (a time-expanded recording at its source rate) */
  double open_seconds, verify_seconds; /* this rank's */
  double wall_seconds;
} oa_verify_result;

/* OA_OK when every rank opened the archive and ran (mismatches are in the
 * result, not an error); otherwise the first failing rank's error, on
 * every rank. Collective. */
int oa_verify_run(MPI_Comm comm, const char *path, const oa_verify_options *opt, const oa_logger *log,
                  oa_verify_result *res, oa_err *err);

#endif
