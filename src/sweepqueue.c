#include "sweepqueue.h"

#include <stdlib.h>
#include <string.h>

#include "opusarc/mpiutil.h"

int oa_queue_init(oa_sweep_queue *qu, MPI_Comm comm, const oa_plan *plan, oa_query_list *ql) {
  memset(qu, 0, sizeof *qu);
  qu->comm = comm, qu->plan = plan, qu->ql = ql;
  oa_mpi_rank_size(comm, &qu->rank, &qu->size);
  qu->units_of = calloc((size_t)qu->size, sizeof *qu->units_of);
  qu->members_of = calloc((size_t)qu->size, sizeof *qu->members_of);
  if (!oa_mpi_agree(comm, qu->units_of && qu->members_of)) return -1;
  uint64_t nu = plan->nu, nm = plan->nm;
  qu->units_of[0] = nu, qu->members_of[0] = nm;
  if (!OA_SOLO(comm)) {
    MPI_Allgather(&nu, 1, MPI_UINT64_T, qu->units_of, 1, MPI_UINT64_T, comm);
    MPI_Allgather(&nm, 1, MPI_UINT64_T, qu->members_of, 1, MPI_UINT64_T, comm);
  }
  return 0;
}

/* Where rank r's counter, units, members and queries lie in its window. */
static MPI_Aint unit_at(uint64_t k) { return (MPI_Aint)(sizeof(int64_t) + k * sizeof(oa_plan_unit)); }
static MPI_Aint member_at(const oa_sweep_queue *qu, int r, uint64_t k) {
  return unit_at(qu->units_of[r]) + (MPI_Aint)(k * sizeof(oa_plan_member));
}
static MPI_Aint query_at(const oa_sweep_queue *qu, int r, uint64_t k) {
  return member_at(qu, r, qu->members_of[r]) + (MPI_Aint)(k * sizeof(oa_query));
}

/* Win_allocate's memory works with every one-sided component (win_create
 * would need MPI_THREAD_MULTIPLE for osc/pt2pt). The queries move in: one
 * copy of them, not two. */
void oa_queue_open(oa_sweep_queue *qu) {
  const oa_plan *p = qu->plan;
  oa_query_list *ql = qu->ql;
  MPI_Win_allocate(query_at(qu, qu->rank, ql->n), 1, MPI_INFO_NULL, qu->comm, &qu->base, &qu->win);
  int64_t zero = 0;
  memcpy(qu->base, &zero, sizeof zero);
  if (p->nu) memcpy(qu->base + unit_at(0), p->u, p->nu * sizeof *p->u);
  if (p->nm) memcpy(qu->base + member_at(qu, qu->rank, 0), p->m, p->nm * sizeof *p->m);
  if (ql->n) memcpy(qu->base + query_at(qu, qu->rank, 0), ql->q, ql->n * sizeof *ql->q);
  free(ql->q);
  ql->q = (oa_query *)(void *)(qu->base + query_at(qu, qu->rank, 0));
  ql->cap = ql->n;
  qu->open = 1;
  MPI_Barrier(qu->comm);
  MPI_Win_lock_all(0, qu->win);
}

int oa_queue_claim(oa_sweep_queue *qu, int r, int64_t *first, int64_t *chunk) {
  int64_t nu = (int64_t)qu->units_of[r];
  int64_t left = nu - (r == qu->rank ? qu->own_next : 0);
  *chunk = left / (4 * (int64_t)qu->size);
  if (*chunk < 1) *chunk = 1;
  if (*chunk > 16) *chunk = 16;
  if (r != qu->rank) *chunk = 1; /* another's tail: its shortest units */
  if (!qu->open) {
    *first = qu->own_next;
    qu->own_next += *chunk;
  } else {
    MPI_Fetch_and_op(chunk, first, MPI_INT64_T, r, 0, MPI_SUM, qu->win);
    MPI_Win_flush(r, qu->win);
    if (r == qu->rank) qu->own_next = *first + *chunk; /* what this rank has seen of its own queue */
  }
  return *first < nu;
}

void oa_sweep_work_free(oa_sweep_work *w) {
  free(w->m), free(w->q);
  w->m = NULL, w->q = NULL;
}

static int work_alloc(oa_sweep_work *w) {
  w->m = malloc((w->u.n ? w->u.n : 1) * sizeof *w->m);
  w->q = malloc((w->u.n ? w->u.n : 1) * sizeof *w->q);
  if (w->m && w->q) return 0;
  oa_sweep_work_free(w);
  return -1;
}

/* Unit k of this rank's plan. */
static int take_local(const oa_sweep_queue *qu, size_t k, oa_sweep_work *w) {
  w->u = qu->plan->u[k];
  if (work_alloc(w)) return -1;
  for (size_t i = 0; i < w->u.n; i++) {
    w->m[i] = qu->plan->m[w->u.first + i];
    w->q[i] = qu->ql->q[w->m[i].query];
    w->m[i].query = i;
  }
  return 0;
}

/* Unit k of rank r's plan, read from its window (passive one-sided reads:
 * r goes on with its own units meanwhile). */
static int take_remote(oa_sweep_queue *qu, int r, int64_t k, oa_sweep_work *w) {
  MPI_Get(&w->u, sizeof w->u, MPI_BYTE, r, unit_at((uint64_t)k), sizeof w->u, MPI_BYTE, qu->win);
  MPI_Win_flush(r, qu->win);
  if (work_alloc(w)) return -1;
  int bytes = (int)(w->u.n * sizeof *w->m);
  MPI_Get(w->m, bytes, MPI_BYTE, r, member_at(qu, r, w->u.first), bytes, MPI_BYTE, qu->win);
  MPI_Win_flush(r, qu->win);
  for (size_t i = 0; i < w->u.n; i++) {
    MPI_Get(&w->q[i], sizeof *w->q, MPI_BYTE, r, query_at(qu, r, w->m[i].query), sizeof *w->q, MPI_BYTE, qu->win);
    w->m[i].query = i;
  }
  MPI_Win_flush(r, qu->win);
  return 0;
}

int oa_queue_take(oa_sweep_queue *qu, int r, int64_t k, oa_sweep_work *w) {
  memset(w, 0, sizeof *w);
  return r == qu->rank ? take_local(qu, (size_t)k, w) : take_remote(qu, r, k, w);
}

void oa_queue_close(oa_sweep_queue *qu) {
  if (!qu->open) return;
  MPI_Win_unlock_all(qu->win);
  MPI_Barrier(qu->comm);
  memcpy(&qu->own_next, qu->base, sizeof qu->own_next);
}

void oa_queue_release(oa_sweep_queue *qu) {
  if (!qu->open) return;
  MPI_Win_free(&qu->win);
  qu->open = 0;
  qu->ql->q = NULL;
  qu->ql->n = qu->ql->cap = 0;
}

void oa_queue_free(oa_sweep_queue *qu) {
  free(qu->units_of), free(qu->members_of);
  qu->units_of = qu->members_of = NULL;
}
