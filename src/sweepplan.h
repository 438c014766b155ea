/* The sweep planner (internal): queries become work units. Overlapping or
 * adjacent ranges of one recording share a unit (decoded once, up to
 * `piece` samples), a longer range is cut into pieces of its own, and the
 * units are ordered longest first, which keeps self-scheduling balanced.
 * Every query's output frames are covered by its members exactly once. */
#ifndef OPUSARC_SWEEPPLAN_H
#define OPUSARC_SWEEPPLAN_H

#include <stddef.h>
#include <stdint.h>

#include "opusarc/sweep.h"

/* A member of a unit: the part [from, to) of query `query`, which lands at
 * frame `out_frame` of that query's output. */
typedef struct oa_plan_member {
  size_t query;
  int64_t from, to, out_frame;
} oa_plan_member;

typedef struct oa_plan_unit {
  uint64_t rec;
  int64_t start, end;
  size_t first, n; /* members */
} oa_plan_unit;

typedef struct oa_plan {
  oa_plan_unit *u;
  size_t nu, ucap;
  oa_plan_member *m;
  size_t nm, mcap;
  uint8_t *pieces_gt1; /* per query: cut into several units */
} oa_plan;

/* The plan of `ql` (pieces of at most `piece` samples): 0, or -1 when out
 * of memory. */
int oa_plan_make(const oa_query_list *ql, int64_t piece, oa_plan *p);
void oa_plan_free(oa_plan *p);

#endif
