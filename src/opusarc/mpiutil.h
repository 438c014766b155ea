/* MPI helpers. Every collective decision goes through oa_mpi_agree first,
 * so a rank that failed never leaves the others blocked in a collective. */
#ifndef OPUSARC_MPIUTIL_H
#define OPUSARC_MPIUTIL_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "opusarc/error.h"

/* A process running alone without MPI (a plain process outside a launcher,
 * MPI never initialised) passes MPI_COMM_NULL: every helper below then acts
 * on its own values, as a job of one rank would. */
#define OA_SOLO(comm) ((comm) == MPI_COMM_NULL)
/* Rank and size of comm (0 and 1 alone). */
void oa_mpi_rank_size(MPI_Comm comm, int *rank, int *size);
/* Seconds on a monotonic clock (MPI_Wtime needs MPI initialised). */
double oa_wtime(void);
/* In place: each byte becomes its maximum over the ranks. */
void oa_mpi_max_bytes(MPI_Comm comm, uint8_t *buf, size_t n);
/* The maximum of v over the ranks; the sum of v over the ranks. */
int oa_mpi_max_int(MPI_Comm comm, int v);
uint64_t oa_mpi_max_u64(MPI_Comm comm, uint64_t v);
uint64_t oa_mpi_sum_u64(MPI_Comm comm, uint64_t v);
double oa_mpi_sum_double(MPI_Comm comm, double v);
/* Rank 0's *v on every rank. */
void oa_mpi_bcast_int(MPI_Comm comm, int *v);

/* 1 on every rank iff local_ok is nonzero on every rank. */
int oa_mpi_agree(MPI_Comm comm, int local_ok);
/* Like oa_mpi_agree, and when some rank failed every rank's *err becomes
 * the first failing rank's error (its message prefixed with the rank when
 * it is not 0), so rank 0 can report it: output of a failing rank may not
 * reach the job log before the launcher tears the job down. */
int oa_mpi_agree_err(MPI_Comm comm, int local_ok, oa_err *err);
/* The same without the rank in the message: for errors about the data a
 * rank holds a share of (a query's line names it), not about the rank. */
int oa_mpi_agree_err_as_is(MPI_Comm comm, int local_ok, oa_err *err);
/* Broadcast a byte buffer of any size from root; non-roots get a malloc'd copy. */
int oa_mpi_bcast_bytes(MPI_Comm comm, int root, uint8_t **buf, uint64_t *len);
/* Collective: byte parts to every rank. `send` holds the parts for ranks
 * 0, 1, ... back to back (sendlen[r] bytes for rank r); *recv (malloc'd)
 * gets the parts every rank sent this one, in rank order (recvlen[r] from
 * rank r, *total in all). Agreed: when a rank has no memory or a side of
 * the exchange passes MPI's 2 GB, every rank returns an error, *recv NULL. */
int oa_mpi_exchange(MPI_Comm comm, const uint8_t *send, const uint64_t *sendlen, uint8_t **recv, uint64_t *recvlen,
                    uint64_t *total, oa_err *err);
/* Exclusive prefix sums (rank 0 gets zeros) and totals of n counters. */
void oa_mpi_offsets(MPI_Comm comm, const uint64_t *local, uint64_t *before, uint64_t *total, int n);

/* Test hook: true when the environment variable OPUSARC_FAULT lists
 * `point@rank` for this process's rank in MPI_COMM_WORLD (for example
 * "write@1,enospc@2"), so tests can make one rank fail at a chosen place.
 * Compiled only into test builds (cmake -DOPUSARC_FAULTS=ON, as
 * scripts/test.sh configures); elsewhere every point is constant false. */
#ifdef OPUSARC_FAULTS
int oa_fault(const char *point);
#else
static inline int oa_fault(const char *point) {
  (void)point;
  return 0;
}
#endif

#endif
