/* The sweep's work queues over the ranks (internal to sweep.c). Each rank
 * puts its plan's units, their members and its queries in one MPI window
 * behind a counter; a rank claims chunks of its own queue with
 * fetch-and-add on its counter, then single units of the others', reading
 * the unit, its members and their queries with MPI_Get. Alone (no MPI) the
 * counter is a plain number. */
#ifndef OPUSARC_SWEEPQUEUE_H
#define OPUSARC_SWEEPQUEUE_H

#include <mpi.h>
#include <stdint.h>

#include "opusarc/sweep.h"
#include "sweepplan.h"

/* A unit to run, with copies of its members and their queries (member i's
 * `query` is i), from this rank's plan or read from another rank's. */
typedef struct oa_sweep_work {
  oa_plan_unit u;
  oa_plan_member *m;
  oa_query *q;
} oa_sweep_work;

typedef struct oa_sweep_queue {
  MPI_Comm comm;
  int rank, size;
  const oa_plan *plan;       /* this rank's */
  oa_query_list *ql;         /* this rank's share */
  uint64_t *units_of, *members_of; /* per rank */
  MPI_Win win;
  uint8_t *base;
  int open;
  int64_t own_next;          /* claimed of this rank's queue (alone: the counter itself) */
} oa_sweep_queue;

/* Collective: every rank learns how many units and members each plan
 * holds. -1 (agreed) when out of memory. */
int oa_queue_init(oa_sweep_queue *qu, MPI_Comm comm, const oa_plan *plan, oa_query_list *ql);
/* Collective (not alone): the window, the queries moved into it (ql->q
 * points there until oa_queue_release), every rank's epoch open. */
void oa_queue_open(oa_sweep_queue *qu);
/* Units [*first, *first + *chunk) of rank r's queue (chunks of one from
 * another's); 0 when that queue is empty. */
int oa_queue_claim(oa_sweep_queue *qu, int r, int64_t *first, int64_t *chunk);
/* Unit k of rank r's plan with its members and queries: 0, or -1 out of memory. */
int oa_queue_take(oa_sweep_queue *qu, int r, int64_t k, oa_sweep_work *w);
void oa_sweep_work_free(oa_sweep_work *w);
/* Collective, once every rank has stopped claiming: own_next becomes how
 * far this rank's queue was claimed (by anyone). */
void oa_queue_close(oa_sweep_queue *qu);
/* Collective, at the very end: the window goes, and the queries with it
 * (ql->q NULL, ql->n 0). */
void oa_queue_release(oa_sweep_queue *qu);
void oa_queue_free(oa_sweep_queue *qu);

#endif
