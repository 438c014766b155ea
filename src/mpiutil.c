#include "opusarc/mpiutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void oa_mpi_rank_size(MPI_Comm comm, int *rank, int *size) {
  *rank = 0, *size = 1;
  if (OA_SOLO(comm)) return;
  MPI_Comm_rank(comm, rank);
  MPI_Comm_size(comm, size);
}

double oa_wtime(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void oa_mpi_max_bytes(MPI_Comm comm, uint8_t *buf, size_t n) {
  const size_t step = 1u << 30; /* MPI counts are int */
  for (size_t off = 0; !OA_SOLO(comm) && off < n; off += step)
    MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)(n - off < step ? n - off : step), MPI_UINT8_T, MPI_MAX, comm);
}

int oa_mpi_max_int(MPI_Comm comm, int v) {
  int all = v;
  if (!OA_SOLO(comm)) MPI_Allreduce(&v, &all, 1, MPI_INT, MPI_MAX, comm);
  return all;
}

uint64_t oa_mpi_max_u64(MPI_Comm comm, uint64_t v) {
  uint64_t all = v;
  if (!OA_SOLO(comm)) MPI_Allreduce(&v, &all, 1, MPI_UINT64_T, MPI_MAX, comm);
  return all;
}

uint64_t oa_mpi_sum_u64(MPI_Comm comm, uint64_t v) {
  uint64_t all = v;
  if (!OA_SOLO(comm)) MPI_Allreduce(&v, &all, 1, MPI_UINT64_T, MPI_SUM, comm);
  return all;
}

double oa_mpi_sum_double(MPI_Comm comm, double v) {
  double all = v;
  if (!OA_SOLO(comm)) MPI_Allreduce(&v, &all, 1, MPI_DOUBLE, MPI_SUM, comm);
  return all;
}

void oa_mpi_bcast_int(MPI_Comm comm, int *v) {
  if (!OA_SOLO(comm)) MPI_Bcast(v, 1, MPI_INT, 0, comm);
}

int oa_mpi_agree(MPI_Comm comm, int local_ok) {
  if (OA_SOLO(comm)) return local_ok != 0;
  int mine = local_ok ? 1 : 0, all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, comm);
  return all;
}

static int agree_err(MPI_Comm comm, int local_ok, oa_err *err, int name_rank) {
  if (OA_SOLO(comm)) return local_ok != 0;
  int rank, size, first;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int mine = local_ok ? size : rank;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == size) return 1;
  oa_err shared;
  if (rank == first) {
    shared = *err;
    if (first != 0 && name_rank) oa_err_prefix(&shared, "rank %d: ", first);
  }
  MPI_Bcast(&shared, (int)sizeof shared, MPI_BYTE, first, comm);
  *err = shared;
  return 0;
}

int oa_mpi_agree_err(MPI_Comm comm, int local_ok, oa_err *err) { return agree_err(comm, local_ok, err, 1); }

int oa_mpi_agree_err_as_is(MPI_Comm comm, int local_ok, oa_err *err) { return agree_err(comm, local_ok, err, 0); }

int oa_mpi_bcast_bytes(MPI_Comm comm, int root, uint8_t **buf, uint64_t *len) {
  if (OA_SOLO(comm)) return 0;
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

/* Why a rank cannot take part in an exchange of `bytes` (sent or received). */
static int exchange_refused(int rank, const char *side, uint64_t bytes, oa_err *err) {
  if (bytes > INT_MAX)
    return oa_err_set(err, OA_EUSAGE, "rank %d would %s %.1f GB at once, over MPI's 2 GB per exchange: run on more "
                      "ranks", rank, side, (double)bytes / 1e9);
  return oa_err_set(err, OA_ENOMEM, "out of memory");
}

int oa_mpi_exchange(MPI_Comm comm, const uint8_t *send, const uint64_t *sendlen, uint8_t **recv, uint64_t *recvlen,
                    uint64_t *total, oa_err *err) {
  int rank, size;
  oa_mpi_rank_size(comm, &rank, &size);
  *recv = NULL, *total = 0;
  int *counts = calloc((size_t)size * 4, sizeof *counts);
  uint64_t sent = 0;
  for (int r = 0; r < size; r++) sent += sendlen[r];
  int ok = counts != NULL && sent <= INT_MAX;
  if (!ok) exchange_refused(rank, "send", sent, err);
  if (!oa_mpi_agree_err_as_is(comm, ok, err)) return free(counts), err->code;
  int *sc = counts, *sd = counts + size, *rc = counts + 2 * size, *rd = counts + 3 * size;
  for (int r = 0, at = 0; r < size; r++) sc[r] = (int)sendlen[r], sd[r] = at, at += sc[r];
  if (OA_SOLO(comm)) recvlen[0] = sendlen[0];
  else MPI_Alltoall(sendlen, 1, MPI_UINT64_T, recvlen, 1, MPI_UINT64_T, comm);
  for (int r = 0; r < size; r++) *total += recvlen[r];
  ok = *total <= INT_MAX && (*recv = malloc(*total ? *total : 1)) != NULL;
  if (!ok) exchange_refused(rank, "receive", *total, err);
  if (!oa_mpi_agree_err_as_is(comm, ok, err)) {
    free(counts), free(*recv);
    *recv = NULL;
    return err->code;
  }
  for (int r = 0, at = 0; r < size; r++) rc[r] = (int)recvlen[r], rd[r] = at, at += rc[r];
  if (OA_SOLO(comm)) memcpy(*recv, send, *total);
  else MPI_Alltoallv(send, sc, sd, MPI_BYTE, *recv, rc, rd, MPI_BYTE, comm);
  free(counts);
  return OA_OK;
}

void oa_mpi_offsets(MPI_Comm comm, const uint64_t *local, uint64_t *before, uint64_t *total, int n) {
  if (OA_SOLO(comm)) {
    memset(before, 0, (size_t)n * sizeof *before);
    memcpy(total, local, (size_t)n * sizeof *total);
    return;
  }
  int rank;
  MPI_Comm_rank(comm, &rank);
  MPI_Exscan(local, before, n, MPI_UINT64_T, MPI_SUM, comm);
  if (rank == 0) memset(before, 0, (size_t)n * sizeof *before);
  MPI_Allreduce(local, total, n, MPI_UINT64_T, MPI_SUM, comm);
}

#ifdef OPUSARC_FAULTS
int oa_fault(const char *point) {
  const char *spec = getenv("OPUSARC_FAULT");
  int initialized = 0, rank = 0;
  if (!spec || !*spec) return 0;
  MPI_Initialized(&initialized);
  if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char want[64];
  snprintf(want, sizeof want, "%s@%d", point, rank);
  size_t n = strlen(want);
  for (const char *p = spec; (p = strstr(p, want)) != NULL; p += n)
    if ((p == spec || p[-1] == ',') && (p[n] == '\0' || p[n] == ',')) return 1;
  return 0;
}
#endif
