/* MPI helpers. Every collective decision goes through oa_mpi_agree first,
 * so a rank that failed never leaves the others blocked in a collective. */
#ifndef OPUSARC_MPIUTIL_H
#define OPUSARC_MPIUTIL_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/* 1 on every rank iff local_ok is nonzero on every rank. */
int oa_mpi_agree(MPI_Comm comm, int local_ok);
/* Broadcast a byte buffer of any size from root; non-roots get a malloc'd copy. */
int oa_mpi_bcast_bytes(MPI_Comm comm, int root, uint8_t **buf, uint64_t *len);
/* Exclusive prefix sums (rank 0 gets zeros) and totals of n counters. */
void oa_mpi_offsets(MPI_Comm comm, const uint64_t *local, uint64_t *before, uint64_t *total, int n);

#endif
