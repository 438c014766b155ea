/* The sweep planner (sweepplan.c), checked against what a sweep relies on,
 * on hand-made and random query lists:
 * - every output frame of every query is covered by exactly one member,
 *   and a member's samples [from, to) land at out_frame.. of its query;
 * - a member lies inside its unit, a unit inside one recording and no
 *   longer than the piece length, unless it holds one member only of a
 *   cut query (then exactly one piece);
 * - overlapping queries of one recording share one unit (decoded once);
 * - a query longer than a piece is cut (pieces_gt1), gaps of a joined
 *   query get units of their own;
 * - units come longest first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sweepplan.h"

static void add_plain(oa_query_list *l, uint64_t rec, int64_t start, int64_t end) {
  oa_query q = {.rec = rec, .start = start, .end = end, .frames = end - start};
  assert_int_equal(oa_query_list_add(l, &q, NULL, 0), 0);
}

/* Coverage: out[f] counts the members writing frame f of each query. */
static void check_plan(const oa_query_list *l, const oa_plan *p, int64_t piece) {
  uint8_t **seen = calloc(l->n, sizeof *seen);
  for (size_t i = 0; i < l->n; i++) seen[i] = calloc((size_t)l->q[i].frames, 1);
  for (size_t u = 0; u < p->nu; u++) {
    const oa_plan_unit *un = &p->u[u];
    assert_true(un->start < un->end);
    assert_true(un->n >= 1 && un->first + un->n <= p->nm);
    if (u > 0) assert_true(p->u[u - 1].end - p->u[u - 1].start >= un->end - un->start); /* longest first */
    assert_true(un->end - un->start <= piece);
    for (size_t k = 0; k < un->n; k++) {
      const oa_plan_member *m = &p->m[un->first + k];
      assert_true(m->query < l->n);
      assert_true(un->start <= m->from && m->from < m->to && m->to <= un->end);
      const oa_query *q = &l->q[m->query];
      /* The member's range belongs to its query: the plain range or a part. */
      int inside = 0;
      if (!q->nparts) inside = un->rec == q->rec && m->from >= q->start && m->to <= q->end &&
                               m->out_frame == m->from - q->start;
      for (size_t j = 0; j < q->nparts; j++) {
        const oa_query_part *pt = &l->parts[q->first_part + j];
        inside |= un->rec == pt->rec && m->from >= pt->start && m->to <= pt->end &&
                  m->out_frame == pt->out_frame + m->from - pt->start;
      }
      assert_true(inside);
      for (int64_t f = m->out_frame; f < m->out_frame + (m->to - m->from); f++) {
        assert_true(f >= 0 && f < q->frames);
        seen[m->query][f]++;
      }
    }
  }
  for (size_t i = 0; i < l->n; i++) {
    for (int64_t f = 0; f < l->q[i].frames; f++) assert_int_equal(seen[i][f], 1);
    free(seen[i]);
  }
  free(seen);
}

static void test_overlaps_share_a_unit(void **state) {
  (void)state;
  oa_query_list l = {0};
  add_plain(&l, 3, 100, 400);
  add_plain(&l, 3, 300, 500); /* overlaps the first */
  add_plain(&l, 3, 500, 600); /* adjacent: joins too */
  add_plain(&l, 4, 300, 500); /* another recording */
  add_plain(&l, 3, 5000, 5100);
  oa_plan p;
  assert_int_equal(oa_plan_make(&l, 1000, &p), 0);
  check_plan(&l, &p, 1000);
  assert_int_equal(p.nu, 3);
  assert_int_equal(p.u[0].rec, 3); /* [100, 600): the longest */
  assert_int_equal(p.u[0].start, 100);
  assert_int_equal(p.u[0].end, 600);
  assert_int_equal(p.u[0].n, 3);
  for (size_t i = 0; i < l.n; i++) assert_int_equal(p.pieces_gt1[i], 0);
  oa_plan_free(&p);
  oa_query_list_free(&l);
}

static void test_long_queries_are_cut(void **state) {
  (void)state;
  oa_query_list l = {0};
  add_plain(&l, 1, 0, 2500);   /* 3 pieces */
  add_plain(&l, 1, 100, 200);  /* inside the long one: a unit of its own */
  add_plain(&l, 2, 0, 1000);   /* exactly one piece */
  oa_plan p;
  assert_int_equal(oa_plan_make(&l, 1000, &p), 0);
  check_plan(&l, &p, 1000);
  assert_int_equal(p.pieces_gt1[0], 1);
  assert_int_equal(p.pieces_gt1[1], 0);
  assert_int_equal(p.pieces_gt1[2], 0);
  assert_int_equal(p.nu, 5);
  oa_plan_free(&p);
  oa_query_list_free(&l);
}

static void test_joined_query_with_a_gap(void **state) {
  (void)state;
  oa_query_list l = {0};
  oa_query_part parts[3] = {{7, 900, 1000, 0}, {OA_GAP_REC, 0, 50, 100}, {8, 0, 300, 150}};
  oa_query q = {.rec = 7, .start = 900, .end = 1000, .frames = 450};
  assert_int_equal(oa_query_list_add(&l, &q, parts, 3), 0);
  add_plain(&l, 8, 250, 400); /* overlaps the joined query's second part */
  oa_plan p;
  assert_int_equal(oa_plan_make(&l, 1000, &p), 0);
  check_plan(&l, &p, 1000);
  assert_int_equal(p.pieces_gt1[0], 1);
  int gap_units = 0;
  for (size_t u = 0; u < p.nu; u++) gap_units += p.u[u].rec == OA_GAP_REC;
  assert_int_equal(gap_units, 1);
  assert_int_equal(p.nu, 3); /* rec 7, the gap, rec 8 shared */
  oa_plan_free(&p);
  oa_query_list_free(&l);
}

static void test_random_lists(void **state) {
  (void)state;
  uint32_t seed = 12345;
  for (int round = 0; round < 200; round++) {
    oa_query_list l = {0};
    int n = 1 + round % 40;
    for (int i = 0; i < n; i++) {
      seed = seed * 1664525u + 1013904223u;
      uint64_t rec = (seed >> 8) % 4;
      seed = seed * 1664525u + 1013904223u;
      int64_t start = (seed >> 8) % 5000;
      seed = seed * 1664525u + 1013904223u;
      int64_t len = 1 + (seed >> 8) % 3000;
      add_plain(&l, rec, start, start + len);
    }
    int64_t piece = 200 + round * 7;
    oa_plan p;
    assert_int_equal(oa_plan_make(&l, piece, &p), 0);
    check_plan(&l, &p, piece);
    for (size_t i = 0; i < l.n; i++) assert_int_equal(p.pieces_gt1[i], l.q[i].frames > piece);
    oa_plan_free(&p);
    oa_query_list_free(&l);
  }
}

static void test_empty_list(void **state) {
  (void)state;
  oa_query_list l = {0};
  oa_plan p;
  assert_int_equal(oa_plan_make(&l, 1000, &p), 0);
  assert_int_equal(p.nu, 0);
  oa_plan_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_overlaps_share_a_unit), cmocka_unit_test(test_long_queries_are_cut),
      cmocka_unit_test(test_joined_query_with_a_gap), cmocka_unit_test(test_random_lists),
      cmocka_unit_test(test_empty_list),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
