#include "opusarc/mpiutil.h"

#include <stdlib.h>
#include <string.h>

int oa_mpi_agree(MPI_Comm comm, int local_ok) {
  int mine = local_ok ? 1 : 0, all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, comm);
  return all;
}

int oa_mpi_bcast_bytes(MPI_Comm comm, int root, uint8_t **buf, uint64_t *len) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  MPI_Bcast(len, 1, MPI_UINT64_T, root, comm);
  if (rank != root) {
    *buf = malloc(*len ? *len : 1);
  }
  int ok = oa_mpi_agree(comm, *buf != NULL);
  if (!ok) return -1;
  const uint64_t step = 1u << 30; /* MPI counts are int */
  for (uint64_t off = 0; off < *len; off += step) {
    uint64_t n = *len - off < step ? *len - off : step;
    MPI_Bcast(*buf + off, (int)n, MPI_BYTE, root, comm);
  }
  return 0;
}

void oa_mpi_offsets(MPI_Comm comm, const uint64_t *local, uint64_t *before, uint64_t *total, int n) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  MPI_Exscan(local, before, n, MPI_UINT64_T, MPI_SUM, comm);
  if (rank == 0) memset(before, 0, (size_t)n * sizeof *before);
  MPI_Allreduce(local, total, n, MPI_UINT64_T, MPI_SUM, comm);
}
