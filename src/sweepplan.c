#include "sweepplan.h"

#include <stdlib.h>
#include <string.h>

#include "opusarc/util.h"

static int add_member(oa_plan *p, size_t q, int64_t from, int64_t to, int64_t out_frame) {
  if (oa_grow((void **)&p->m, &p->mcap, p->nm + 1, sizeof *p->m)) return -1;
  p->m[p->nm++] = (oa_plan_member){q, from, to, out_frame};
  return 0;
}

static int add_unit(oa_plan *p, uint64_t rec, int64_t start, int64_t end, size_t first) {
  if (oa_grow((void **)&p->u, &p->ucap, p->nu + 1, sizeof *p->u)) return -1;
  p->u[p->nu++] = (oa_plan_unit){rec, start, end, first, p->nm - first};
  return 0;
}

/* One range to decode for a query: a whole plain query, or one part of a
 * joined one (rec OA_GAP_REC: silence). */
typedef struct seg {
  size_t query;
  uint64_t rec;
  int64_t start, end, out;
} seg;

static int by_position(const void *x, const void *y) {
  const seg *a = x, *b = y;
  if (a->rec != b->rec) return a->rec < b->rec ? -1 : 1;
  if (a->start != b->start) return a->start < b->start ? -1 : 1;
  return a->query < b->query ? -1 : a->query > b->query;
}

/* Every query's ranges, sorted by recording and position. */
static seg *collect_segs(const oa_query_list *ql, size_t *n) {
  size_t total = 0;
  for (size_t i = 0; i < ql->n; i++) total += ql->q[i].nparts ? ql->q[i].nparts : 1;
  seg *s = malloc((total ? total : 1) * sizeof *s);
  if (!s) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < ql->n; i++) {
    const oa_query *q = &ql->q[i];
    if (!q->nparts) s[k++] = (seg){i, q->rec, q->start, q->end, 0};
    for (size_t j = 0; j < q->nparts; j++) {
      const oa_query_part *p = &ql->parts[q->first_part + j];
      s[k++] = (seg){i, p->rec, p->start, p->end, p->out_frame};
    }
  }
  qsort(s, total, sizeof *s, by_position);
  *n = total;
  return s;
}

static int by_cost(const void *x, const void *y) {
  const oa_plan_unit *a = x, *b = y;
  int64_t ca = a->end - a->start, cb = b->end - b->start;
  if (ca != cb) return ca > cb ? -1 : 1;
  if (a->rec != b->rec) return a->rec < b->rec ? -1 : 1;
  return a->start < b->start ? -1 : a->start > b->start;
}

int oa_plan_make(const oa_query_list *ql, int64_t piece, oa_plan *p) {
  memset(p, 0, sizeof *p);
  size_t n = 0;
  seg *segs = collect_segs(ql, &n);
  p->pieces_gt1 = calloc(ql->n ? ql->n : 1, 1);
  if (!segs || !p->pieces_gt1) return free(segs), -1;
  for (size_t i = 0; i < ql->n; i++) p->pieces_gt1[i] = ql->q[i].nparts > 1;
  int rc = 0;
  size_t open_first = 0;
  int64_t open_start = 0, open_end = -1;
  uint64_t open_rec = 0;
  for (size_t k = 0; k < n && rc == 0; k++) {
    const seg *q = &segs[k];
    int64_t len = q->end - q->start;
    int joins = open_end >= 0 && q->rec == open_rec && q->rec != OA_GAP_REC && q->start <= open_end &&
                (q->end > open_end ? q->end : open_end) - open_start <= piece && len <= piece;
    if (!joins && open_end >= 0) {
      rc = add_unit(p, open_rec, open_start, open_end, open_first);
      open_end = -1;
    }
    if (rc) break;
    if (len > piece || q->rec == OA_GAP_REC) { /* its own pieces */
      p->pieces_gt1[q->query] |= len > piece;
      for (int64_t s = q->start; s < q->end && rc == 0; s += piece) {
        int64_t e = s + piece < q->end ? s + piece : q->end;
        size_t first = p->nm;
        rc = add_member(p, q->query, s, e, q->out + s - q->start) || add_unit(p, q->rec, s, e, first);
      }
      continue;
    }
    if (open_end < 0) {
      open_first = p->nm, open_start = q->start, open_end = q->end, open_rec = q->rec;
    } else if (q->end > open_end) {
      open_end = q->end;
    }
    rc = add_member(p, q->query, q->start, q->end, q->out);
  }
  if (rc == 0 && open_end >= 0) rc = add_unit(p, open_rec, open_start, open_end, open_first);
  free(segs);
  if (rc == 0 && p->nu > 1) qsort(p->u, p->nu, sizeof *p->u, by_cost);
  return rc;
}

void oa_plan_free(oa_plan *p) {
  free(p->u);
  free(p->m);
  free(p->pieces_gt1);
}
