#include "opusarc/timequery.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opusarc/clock.h"
#include "opusarc/mpiutil.h"
#include "opusarc/util.h"
#include "querytext.h"

/* A recording placed on the span's axis (UTC, or its own wall clock):
 * its audio covers [s, e) microseconds. What the outputs need of its row
 * is kept here, so placing reads each row once, in a pass that keeps no
 * block of rows. */
typedef struct placed {
  uint64_t rec;
  int64_t s, e;
  double sps;       /* samples per second of its time base */
  int64_t samples;
  int channels;
  char *key;        /* recorder: its id, else its directory (owned when found) */
  size_t key_len;
} placed;

enum { PLACED = 0, NO_START = -1, ZONE_UNKNOWN = -2, NOT_OK = -3 };

/* key points into name or rid: copied (place_keep) before they go. */
static int place_row(uint64_t i, const oa_rec_row *r, const char *name, const char *rid, int wall_clock, placed *p) {
  if (!OA_REC_READABLE(r)) return NOT_OK;
  if (r->start_zone == OA_ZONE_NONE) return NO_START;
  if (!wall_clock && r->start_zone != OA_ZONE_KNOWN) return ZONE_UNKNOWN;
  p->rec = i;
  p->sps = oa_rec_row_rate(r);
  p->samples = r->samples;
  p->channels = r->channels;
  p->s = r->start_us + (wall_clock && r->start_zone == OA_ZONE_KNOWN ? (int64_t)r->utc_offset_s * OA_US_PER_S : 0);
  p->e = p->s + llround((double)r->samples / p->sps * 1e6);
  rid = rid ? rid : "", name = name ? name : "";
  if (rid[0]) {
    p->key = (char *)rid, p->key_len = strlen(rid);
  } else {
    const char *slash = strrchr(name, '/');
    p->key = (char *)name, p->key_len = slash ? (size_t)(slash - name) : 0;
  }
  return PLACED;
}

static int place(const oa_archive *a, uint64_t i, int wall_clock, placed *p) {
  return place_row(i, oa_archive_recording(a, i), oa_archive_recording_name(a, i),
                   oa_archive_recording_recorder(a, i), wall_clock, p);
}

/* p with its own copy of its key. */
static int place_keep(placed *p) {
  char *k = malloc(p->key_len + 1);
  if (!k) return -1;
  memcpy(k, p->key, p->key_len);
  k[p->key_len] = '\0';
  p->key = k;
  return 0;
}

/* Sample position of axis time t in a placed recording, as --units seconds
 * rounds (t - s) seconds, within the recording. */
static int64_t position(const placed *p, int64_t t) {
  int64_t v = llround((double)(t - p->s) / 1e6 * p->sps);
  return v < 0 ? 0 : v > p->samples ? p->samples : v;
}

static int name_matches(const char *name, const oa_time_options *o) {
  return !o->glob || fnmatch(o->glob, name ? name : "", 0) == 0;
}

static int same_key(const placed *x, const placed *y) {
  return x->key_len == y->key_len && memcmp(x->key, y->key, x->key_len) == 0;
}

/* ------------------------------------------------------------ finding */

/* The recordings each span overlaps, found for a group of spans in one
 * pass over the rows (a block at a time), so a rank's passes do not grow
 * with its spans and no pass keeps the rows. A group holds at most
 * FIND_CAP recordings, except that a joined span's are held whole (they
 * are sorted by recorder); a span without --join that overlaps more is
 * found FIND_CAP at a time, each time from the row after the last. */
enum { FIND_CAP = 65536, GROUP_SPANS = 65536 };

typedef struct found_list {
  placed *p; /* in row order */
  size_t n, cap;
} found_list;

typedef struct span_finder {
  const oa_archive *a;
  const oa_time_span *spans;
  size_t nspans;
  const oa_time_options *opt;
  size_t cap;        /* FIND_CAP (smaller in tests) */
  size_t first, n;   /* the group: spans [first, first + n) */
  found_list *found; /* per span of the group */
  placed *anchor;    /* per span: its recording (rec >= 0), placed */
  char *anchored;    /* per span: 1 when that recording could be placed */
  size_t *order;     /* the group's spans by from_us (norder: as opened; a cut leaves indices >= n) */
  size_t norder;
  int64_t max_len;
  int clocks;        /* 1: some span in UTC, 2: some in wall-clock time */
  size_t held;
  int partial;       /* the group is span `first` alone, found up to row `resume` */
  uint64_t resume;
  uint64_t made;     /* outputs of a partial span so far */
  int whole;         /* the group holds every span's recordings (within the cap): later passes reuse it */
  struct unplaced_pass *unplaced; /* rows are also counted there until a pass reaches the last row */
} span_finder;

/* Matching recordings a span cannot place (counted once per call). */
typedef struct unplaced_pass {
  const oa_time_options *o;
  int wall_clock;
  oa_time_stats *st;
} unplaced_pass;

/* Row i, whose name the glob matches or not (glob_ok), counted if its
 * start cannot be placed. */
static void count_unplaced(unplaced_pass *u, uint64_t i, const oa_rec_row *r, const oa_row_texts *tx, int glob_ok) {
  placed p;
  if (!glob_ok) return;
  int how = place_row(i, r, tx->name, tx->recorder, u->wall_clock, &p);
  if (how == NO_START) u->st->no_start++;
  else if (how == ZONE_UNKNOWN) u->st->zone_unknown++;
}

static void found_free(found_list *f) {
  for (size_t k = 0; k < f->n; k++) free(f->p[k].key);
  free(f->p);
  *f = (found_list){0};
}

static void group_free(span_finder *f) {
  for (size_t k = 0; f->found && k < f->n; k++) found_free(&f->found[k]);
  free(f->found), free(f->anchor), free(f->anchored), free(f->order);
  f->found = NULL, f->anchor = NULL, f->anchored = NULL, f->order = NULL;
  f->held = 0;
}

static void finder_init(span_finder *f, const oa_archive *a, const oa_time_span *spans, size_t nspans,
                        const oa_time_options *opt) {
  *f = (span_finder){.a = a, .spans = spans, .nspans = nspans, .opt = opt, .cap = FIND_CAP};
  if (oa_fault("found")) f->cap = 2; /* tests: many groups and partial spans on a small archive */
}

static const oa_time_span *group_span(const span_finder *f, size_t k) { return &f->spans[f->first + k]; }

static int by_from(const void *x, const void *y, void *ctx) {
  const span_finder *f = ctx;
  int64_t a = group_span(f, *(const size_t *)x)->from_us, b = group_span(f, *(const size_t *)y)->from_us;
  return (a > b) - (a < b);
}

/* The group's spans, their anchors and their order by start. */
static int group_open(span_finder *f, size_t n) {
  f->n = f->norder = n;
  f->found = calloc(n, sizeof *f->found), f->anchor = calloc(n, sizeof *f->anchor);
  f->anchored = calloc(n, 1), f->order = malloc(n * sizeof *f->order);
  if (!f->found || !f->anchor || !f->anchored || !f->order) return -1;
  f->max_len = 0, f->clocks = 0;
  for (size_t k = 0; k < n; k++) {
    const oa_time_span *sp = group_span(f, k);
    f->order[k] = k;
    if (sp->to_us - sp->from_us > f->max_len) f->max_len = sp->to_us - sp->from_us;
    f->clocks |= sp->wall_clock ? 2 : 1;
    if (sp->rec >= 0 && place(f->a, (uint64_t)sp->rec, sp->wall_clock, &f->anchor[k]) == PLACED) {
      if (place_keep(&f->anchor[k])) return -1;
      f->anchored[k] = 1;
    }
  }
  qsort_r(f->order, n, sizeof *f->order, by_from, f);
  return 0;
}

/* Whether span k takes recording p (placed on its clock), as a span
 * alone would: an anchored span its recording (with --join, its
 * recorder's), any other span the recordings the glob matches. */
static int span_takes(const span_finder *f, size_t k, const placed *p, int glob_ok) {
  const oa_time_span *sp = group_span(f, k);
  if (p->e <= sp->from_us || p->s >= sp->to_us) return 0;
  if (sp->rec < 0) return glob_ok;
  if (!f->anchored[k]) return 0;
  return f->opt->join == OA_JOIN_NONE ? p->rec == (uint64_t)sp->rec : same_key(p, &f->anchor[k]);
}

/* Keeps the spans of the group's first spans whose recordings fit the
 * cap (at least one), dropping the others' (found again by a later
 * group). */
static void group_cut(span_finder *f) {
  size_t keep = 1, sum = f->found[0].n;
  while (keep < f->n && sum + f->found[keep].n <= f->cap) sum += f->found[keep++].n;
  for (size_t k = keep; k < f->n; k++) found_free(&f->found[k]);
  f->n = keep, f->held = sum;
}

typedef struct row_pass {
  span_finder *f;
  int failed;
  uint64_t stopped_at; /* a partial span: the row after its last found */
} row_pass;

static int take_row(void *ctx, uint64_t i, const oa_rec_row *r, const oa_row_texts *tx) {
  row_pass *rp = ctx;
  span_finder *f = rp->f;
  int glob_ok = name_matches(tx->name, f->opt);
  if (f->unplaced) count_unplaced(f->unplaced, i, r, tx, glob_ok);
  placed on[2];
  int ok[2] = {0, 0};
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (int w = 0; w < 2; w++) {
    if (!(f->clocks & (1 << w)) || place_row(i, r, tx->name, tx->recorder, w, &on[w]) != PLACED) continue;
    ok[w] = 1;
    if (on[w].s < lo) lo = on[w].s;
    if (on[w].e > hi) hi = on[w].e;
  }
  if (!ok[0] && !ok[1]) return 0;
  /* Spans that start after lo - max_len and before hi may overlap. */
  size_t a = 0, b = f->norder;
  while (a < b) {
    size_t m = a + (b - a) / 2;
    if (group_span(f, f->order[m])->from_us > lo - f->max_len) b = m;
    else a = m + 1;
  }
  for (size_t j = a; j < f->norder && group_span(f, f->order[j])->from_us < hi; j++) {
    size_t k = f->order[j];
    int w = group_span(f, k)->wall_clock ? 1 : 0;
    if (k >= f->n || !ok[w] || !span_takes(f, k, &on[w], glob_ok)) continue;
    const placed *p = &on[w];
    found_list *l = &f->found[k];
    if (oa_grow((void **)&l->p, &l->cap, l->n + 1, sizeof *l->p)) return rp->failed = 1;
    l->p[l->n] = *p;
    if (place_keep(&l->p[l->n])) return rp->failed = 1;
    l->n++, f->held++;
  }
  if (f->held > f->cap && f->n > 1) group_cut(f);
  if (f->n == 1 && f->held >= f->cap && f->opt->join == OA_JOIN_NONE) {
    rp->stopped_at = i + 1;
    return 1; /* this span continues from the next row in the next group */
  }
  return 0;
}

/* The next group's recordings: spans [f->first, f->first + f->n). */
static int finder_next(span_finder *f, oa_err *err) {
  uint64_t rows = oa_archive_recording_count(f->a), from = f->partial ? f->resume : 0;
  size_t left = f->nspans - f->first, n = f->partial ? 1 : left < GROUP_SPANS ? left : GROUP_SPANS;
  if (group_open(f, n)) return oa_err_set(err, OA_ENOMEM, "out of memory");
  row_pass rp = {f, 0, 0};
  int rc = oa_archive_scan_range(f->a, from, rows - from, take_row, &rp);
  if (rc < 0 || rp.failed) return oa_err_set(err, OA_ENOMEM, "out of memory");
  f->partial = rp.stopped_at > 0 && rp.stopped_at < rows;
  f->resume = rp.stopped_at;
  if (!f->partial) f->unplaced = NULL; /* every row counted once */
  f->whole = from == 0 && f->first == 0 && f->n == f->nspans && !f->partial && f->held <= f->cap;
  return OA_OK;
}

/* Done with the group: the next starts after it (or goes on with a
 * partial span). */
static void finder_advance(span_finder *f) {
  if (!f->partial) f->first += f->n;
  group_free(f);
  f->n = 0;
}

static int finder_done(const span_finder *f) { return f->first >= f->nspans; }

/* ------------------------------------------------------------ naming */

typedef struct span_ctx {
  const oa_archive *a;
  const oa_time_span *span;
  const oa_time_options *opt;
  const oa_logger *log;
  oa_query_list *out;
  oa_time_stats *st;
  uint64_t made; /* outputs of this span so far */
} span_ctx;

/* Appends s to out[*k..len), always terminated (no snprintf: its
 * truncation warnings cannot see that the parts were sized to fit). */
static void put(char *out, size_t len, size_t *k, const char *s) {
  while (*s && *k + 1 < len) out[(*k)++] = *s++;
  out[*k] = '\0';
}

/* "<span id>" for the first output of a span on one recording; else
 * "[<span id>@]<stem of what>@<compact start>". */
static void name_output(span_ctx *c, const char *what, int64_t axis_start, char *id, size_t len) {
  if (c->span->id[0] && c->span->rec >= 0 && c->made == 0) {
    snprintf(id, len, "%s", c->span->id);
    return;
  }
  char when[40], stem[128];
  oa_time_format_compact(axis_start, !c->span->wall_clock, when, sizeof when);
  size_t prefix = c->span->id[0] ? strlen(c->span->id) + 1 : 0;
  size_t room = len - prefix - strlen(when) - 2;
  oa_name_stem(what, stem, room < sizeof stem ? room : sizeof stem);
  size_t k = 0;
  put(id, len, &k, c->span->id);
  put(id, len, &k, prefix ? "@" : "");
  put(id, len, &k, stem);
  put(id, len, &k, "@");
  put(id, len, &k, when);
}

static int emit(span_ctx *c, oa_query *q, const oa_query_part *parts, size_t nparts) {
  if (oa_query_list_add(c->out, q, parts, nparts) != 0) return -1;
  c->made++;
  c->st->outputs++;
  return 0;
}

/* ------------------------------------------------------- one per overlap */

static int overlap_output(span_ctx *c, const placed *p) {
  int64_t from = c->span->from_us > p->s ? c->span->from_us : p->s;
  int64_t to = c->span->to_us < p->e ? c->span->to_us : p->e;
  oa_query q = {.rec = p->rec, .start = position(p, from), .end = position(p, to), .line = c->span->line};
  if (q.end <= q.start) return 0;
  q.frames = q.end - q.start;
  q.channels = p->channels;
  oa_query_set_clock(c->a, &q);
  name_output(c, oa_archive_recording_name(c->a, p->rec), from, q.id, sizeof q.id);
  return emit(c, &q, NULL, 0);
}

/* ----------------------------------------------------------- joined runs */

typedef struct run {
  oa_query_part *parts;
  size_t n, cap;
  int64_t axis_start, out_end;
  uint32_t gaps, overlaps;
  int64_t gap_frames, overlap_frames;
  int strict_fail;
  char why[256];
} run;

static int run_add_part(run *r, oa_query_part part) {
  if (oa_grow((void **)&r->parts, &r->cap, r->n + 1, sizeof *r->parts)) return -1;
  r->parts[r->n++] = part;
  return 0;
}

/* The part of placed file p inside the span, at its place in the output:
 * a gap before it becomes silence; an overlap with the file before (the
 * next file starts before the previous ends) cuts the earlier file. */
static int run_add_file(span_ctx *c, run *r, const placed *p, const placed *prev) {
  int64_t from = c->span->from_us > p->s ? c->span->from_us : p->s;
  int64_t to = c->span->to_us < p->e ? c->span->to_us : p->e;
  int64_t start = position(p, from), end = position(p, to);
  if (end <= start) return 0;
  if (r->n == 0) r->axis_start = from;
  int64_t out = llround((double)(from - r->axis_start) / 1e6 * p->sps);
  const char *name = oa_archive_recording_name(c->a, p->rec);
  if (r->n > 0 && out > r->out_end) {
    int64_t gap = out - r->out_end;
    if (run_add_part(r, (oa_query_part){OA_GAP_REC, 0, gap, r->out_end})) return -1;
    r->gaps++, r->gap_frames += gap;
    if (!r->why[0])
      snprintf(r->why, sizeof r->why, "gap of %" PRId64 " samples (%.6f s) between %s and %s", gap, gap / p->sps,
               prev ? oa_archive_recording_name(c->a, prev->rec) : "?", name);
  } else if (r->n > 0 && out < r->out_end) {
    int64_t over = r->out_end - out;
    oa_query_part *last = &r->parts[r->n - 1];
    int64_t cut = over < last->end - last->start ? over : last->end - last->start;
    last->end -= cut;
    start += over - cut; /* an overlap longer than the part before: this file starts later */
    out += over - cut;
    if (last->end == last->start) r->n--;
    r->overlaps++, r->overlap_frames += over;
    if (!r->why[0])
      snprintf(r->why, sizeof r->why, "%s starts %" PRId64 " samples (%.6f s) before %s ends", name, over,
               over / p->sps, prev ? oa_archive_recording_name(c->a, prev->rec) : "?");
    if (end <= start) return 0;
  }
  if (run_add_part(r, (oa_query_part){p->rec, start, end, out})) return -1;
  r->out_end = out + (end - start);
  return 0;
}

/* What a joined output is named after: the first file's directory and
 * its recorder id (spaces as '_'), or the file's name when neither. */
static void joined_name(const oa_archive *a, uint64_t rec, char *what, size_t len) {
  const char *name = oa_archive_recording_name(a, rec), *rid = oa_archive_recording_recorder(a, rec);
  const char *slash = strrchr(name, '/');
  size_t k = 0;
  for (const char *p = name; slash && p < slash && k + 1 < len; p++) what[k++] = *p;
  if (rid[0] && k && k + 1 < len) what[k++] = '/';
  for (const char *p = rid; *p && k + 1 < len; p++) what[k++] = *p == ' ' ? '_' : *p;
  what[k] = '\0';
  if (!k) snprintf(what, len, "%s", name);
}

static int run_emit(span_ctx *c, run *r, const placed *first) {
  if (r->n == 0) return 0;
  char what[512];
  joined_name(c->a, first->rec, what, sizeof what);
  oa_query q = {.rec = r->parts[0].rec, .start = r->parts[0].start, .end = r->parts[0].end, .frames = r->out_end,
                .line = c->span->line, .gaps = r->gaps, .gap_frames = r->gap_frames};
  q.channels = oa_archive_recording(c->a, q.rec)->channels;
  oa_query_set_clock(c->a, &q);
  name_output(c, what, r->axis_start, q.id, sizeof q.id);
  c->st->gaps += r->gaps, c->st->gap_frames += r->gap_frames;
  c->st->overlaps += r->overlaps, c->st->overlap_frames += r->overlap_frames;
  if (c->opt->join == OA_JOIN_STRICT && (r->gaps || r->overlaps)) {
    c->st->refused++;
    c->out->bad++;
    if (c->log) OA_LOG(c->log, ERROR, "%s: not written (strict join): %s", q.id, r->why);
    r->n = 0;
    return 0;
  }
  if (c->log && (r->gaps || r->overlaps))
    OA_LOG(c->log, INFO, "%s: joined %zu files, %u gap%s of %" PRId64 " samples in all filled with silence, %u "
           "overlap%s cut (first: %s)", q.id, r->n - r->gaps, r->gaps, r->gaps == 1 ? "" : "s", r->gap_frames,
           r->overlaps, r->overlaps == 1 ? "" : "s", r->why);
  int rc = emit(c, &q, r->n > 1 ? r->parts : NULL, r->n > 1 ? r->n : 0);
  r->n = 0;
  return rc;
}

static int by_key_then_start(const void *x, const void *y) {
  const placed *a = x, *b = y;
  size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
  int k = memcmp(a->key, b->key, n);
  if (k) return k;
  if (a->key_len != b->key_len) return a->key_len < b->key_len ? -1 : 1;
  if (a->s != b->s) return a->s < b->s ? -1 : 1;
  return a->rec < b->rec ? -1 : a->rec > b->rec;
}

/* Files of one recorder, in start order: consecutive ones (gaps up to
 * max_gap, same channels and time base) become one output. */
static int join_overlaps(span_ctx *c, placed *ps, size_t n) {
  if (n > 1) qsort(ps, n, sizeof *ps, by_key_then_start); /* ps is NULL when the span found nothing */
  run r = {0};
  int rc = 0;
  const int64_t max_gap = llround(c->opt->max_gap * 1e6);
  size_t first = 0; /* the first file of this recorder */
  for (size_t k = 0; k < n && rc == 0; k++) {
    if (k == 0 || !same_key(&ps[k - 1], &ps[k])) first = k;
    const placed *prev = k > first ? &ps[k - 1] : NULL;
    int breaks = !prev || ps[k].s - prev->e > max_gap || ps[k].sps != prev->sps ||
                 ps[k].channels != prev->channels;
    if (breaks && r.n) {
      rc = run_emit(c, &r, &ps[first]);
      r.why[0] = '\0', r.gaps = r.overlaps = 0, r.gap_frames = r.overlap_frames = 0;
    }
    if (rc == 0) rc = run_add_file(c, &r, &ps[k], breaks ? NULL : prev);
    int last_of_key = k + 1 == n || !same_key(&ps[k + 1], &ps[k]);
    if (rc == 0 && last_of_key) {
      rc = run_emit(c, &r, &ps[first]);
      r.why[0] = '\0', r.gaps = r.overlaps = 0, r.gap_frames = r.overlap_frames = 0;
    }
  }
  free(r.parts);
  return rc;
}

/* ------------------------------------------------------------------ spans */

/* Recordings the spans' clock cannot place are counted along the
 * finder's first passes (none without spans: a rank with no share of the
 * spans reads no row). */
static unplaced_pass unplaced_of(const oa_time_span *spans, size_t nspans, const oa_time_options *o,
                                 oa_time_stats *st) {
  int any_utc = 0;
  for (size_t k = 0; k < nspans; k++) any_utc |= !spans[k].wall_clock;
  return (unplaced_pass){o, !any_utc, st};
}

/* The outputs of span k of the finder's group, appended to out. The
 * chunks of a partial span carry its outputs' count on (the first is named
 * after the span); its counts close with its last chunk. */
static int group_outputs(span_finder *f, size_t k, const oa_logger *log, oa_query_list *out, oa_time_stats *st) {
  const oa_time_span *span = group_span(f, k);
  span_ctx c = {f->a, span, f->opt, log, out, st, f->made};
  found_list *l = &f->found[k];
  int rc = 0;
  if (f->opt->join == OA_JOIN_NONE)
    for (size_t j = 0; j < l->n && rc == 0; j++) rc = overlap_output(&c, &l->p[j]);
  else rc = join_overlaps(&c, l->p, l->n);
  int last_chunk = !(f->partial && k == 0);
  f->made = last_chunk ? 0 : c.made;
  if (rc == 0 && last_chunk) {
    st->spans++;
    if (c.made == 0) {
      st->spans_empty++;
      if (span->line) {
        out->bad++;
        if (log) OA_LOG(log, ERROR, "query %s (line %ld): no recording overlaps its span", span->id, span->line);
      }
    }
  }
  return rc;
}

/* Every span's outputs, in order, from a fresh finder; keep 0: each
 * span's are dropped once counted (a survey that holds one group's
 * recordings at a time). A group that holds every span's recordings stays
 * in the finder. */
static int all_spans(span_finder *f, const oa_logger *log, oa_query_list *out, int keep, oa_time_stats *st,
                     oa_err *err) {
  memset(st, 0, sizeof *st);
  unplaced_pass u = unplaced_of(f->spans, f->nspans, f->opt, st);
  f->unplaced = &u;
  int rc = OA_OK;
  while (rc == OA_OK && !finder_done(f)) {
    rc = finder_next(f, err);
    for (size_t k = 0; rc == OA_OK && k < f->n; k++) {
      if (group_outputs(f, k, log, out, st)) rc = oa_err_set(err, OA_ENOMEM, "out of memory");
      if (!keep) {
        uint64_t bad = out->bad;
        oa_query_list_free(out);
        out->bad = bad;
      }
    }
    if (rc != OA_OK || f->whole) break;
    finder_advance(f);
  }
  f->unplaced = NULL;
  return rc;
}

int oa_time_queries(const oa_archive *a, const oa_time_span *spans, size_t nspans, const oa_time_options *opt,
                    const oa_logger *log, oa_query_list *out, oa_time_stats *st, oa_err *err) {
  span_finder f;
  finder_init(&f, a, spans, nspans, opt);
  int rc = all_spans(&f, log, out, 1, st, err);
  group_free(&f);
  return rc;
}

/* ------------------------------------------------------ a sweep's source */

/* Spans' outputs until at least max wait (or the spans end): a group's
 * spans one at a time, the next group found when one is used up. */
static int fill_pending(oa_time_source *t, size_t max, oa_err *err) {
  span_finder *f = t->finder;
  while (t->pending.n < max) {
    if (t->loaded && t->in_group < f->n) {
      oa_time_stats st = {0};
      if (group_outputs(f, t->in_group++, NULL, &t->pending, &st)) return oa_err_set(err, OA_ENOMEM, "out of memory");
      continue;
    }
    if (f->whole && t->loaded) break; /* every span given; the group stays for the next pass */
    if (t->loaded) finder_advance(f), t->loaded = 0;
    if (finder_done(f)) break;
    t->loaded = 1, t->in_group = 0;
    int rc = finder_next(f, err);
    if (rc != OA_OK) return rc;
  }
  return OA_OK;
}

static int source_finder(oa_time_source *t, oa_err *err) {
  if (t->finder) return OA_OK;
  if (!(t->finder = malloc(sizeof *t->finder))) return oa_err_set(err, OA_ENOMEM, "out of memory");
  finder_init(t->finder, t->a, t->spans, t->nspans, t->opt);
  return OA_OK;
}

/* A new pass starts from the first span: from the group a pass kept
 * whole, else with a fresh finder. */
static int time_rewind(oa_time_source *t, int pass, oa_err *err) {
  if (source_finder(t, err) != OA_OK) return err->code;
  t->loaded = t->finder->whole, t->in_group = 0;
  if (!t->finder->whole) {
    group_free(t->finder);
    finder_init(t->finder, t->a, t->spans, t->nspans, t->opt);
  }
  t->pass = pass, t->first = 1;
  oa_query_list_free(&t->pending);
  return OA_OK;
}

int oa_time_source_count(oa_time_source *t, const oa_logger *log, oa_time_stats *st, uint64_t *bad, oa_err *err) {
  oa_query_list scratch = {0};
  int rc = time_rewind(t, -1, err);
  if (rc == OA_OK) rc = all_spans(t->finder, log, &scratch, 0, st, err);
  *bad = scratch.bad;
  oa_query_list_free(&scratch);
  t->pass = -1; /* the sweep's first pass starts over (from the kept group, if whole) */
  return rc;
}

static int time_next(void *ctx, int pass, size_t max, oa_query_list *out, oa_err *err) {
  oa_time_source *t = ctx;
  memset(out, 0, sizeof *out);
  int rc = pass != t->pass ? time_rewind(t, pass, err) : OA_OK;
  if (rc == OA_OK) rc = fill_pending(t, max, err);
  /* The first max move out; the rest stay pending (copied, so the list
   * never holds more than max plus one span's outputs). */
  oa_query_list rest = {0};
  size_t take = t->pending.n < max ? t->pending.n : max;
  if (rc == OA_OK && (oa_query_list_copy(&t->pending, 0, take, out) ||
                      oa_query_list_copy(&t->pending, take, t->pending.n - take, &rest)))
    rc = oa_err_set(err, OA_ENOMEM, "out of memory");
  out->bad = t->pending.bad, rest.bad = 0; /* rows that gave nothing: counted with the batch they fell in */
  if (t->first) out->bad += t->bad_rows, t->first = 0; /* rows the CSV refused: with the first batch */
  oa_query_list_free(&t->pending);
  t->pending = rest;
  if (rc != OA_OK) oa_query_list_free(out);
  return rc;
}

oa_query_source oa_time_source_of(oa_time_source *t, const oa_archive *a, const oa_time_span *spans, size_t nspans,
                                  const oa_time_options *opt, uint64_t bad_rows) {
  *t = (oa_time_source){.a = a, .spans = spans, .nspans = nspans, .opt = opt, .pass = -1, .bad_rows = bad_rows};
  return (oa_query_source){time_next, t};
}

void oa_time_source_free(oa_time_source *t) {
  oa_query_list_free(&t->pending);
  if (t->finder) group_free(t->finder);
  free(t->finder);
  t->finder = NULL;
}

int oa_daily_spans(int64_t first_day, int64_t last_day, int64_t clock_from, int64_t clock_to, int wall_clock,
                   int32_t tz_offset_s, oa_time_span **spans, size_t *n, oa_err *err) {
  *spans = NULL, *n = 0;
  if (last_day < first_day) return oa_err_set(err, OA_EUSAGE, "day range: the last day is before the first");
  if (last_day - first_day >= 100000) return oa_err_set(err, OA_EUSAGE, "day range: more than 100000 days");
  size_t days = (size_t)(last_day - first_day + 1);
  oa_time_span *s = calloc(days, sizeof *s);
  if (!s) return oa_err_set(err, OA_ENOMEM, "out of memory");
  int64_t length = clock_to > clock_from ? clock_to - clock_from : clock_to + OA_US_PER_DAY - clock_from;
  for (size_t k = 0; k < days; k++) {
    int64_t from = (first_day + (int64_t)k) * OA_US_PER_DAY + clock_from;
    if (!wall_clock) from -= (int64_t)tz_offset_s * OA_US_PER_S;
    s[k] = (oa_time_span){.from_us = from, .to_us = from + length, .wall_clock = wall_clock, .rec = -1};
  }
  *spans = s, *n = days;
  return OA_OK;
}

static int64_t floor_day(int64_t us) { return us / OA_US_PER_DAY - (us % OA_US_PER_DAY < 0); }

typedef struct days_pass {
  oa_time_options o;
  int wall_clock, found;
  int64_t shift, first, last;
} days_pass;

static int day_row(void *ctx, uint64_t i, const oa_rec_row *r, const oa_row_texts *tx) {
  days_pass *d = ctx;
  placed p;
  if (!name_matches(tx->name, &d->o) || place_row(i, r, tx->name, tx->recorder, d->wall_clock, &p) != PLACED) return 0;
  int64_t d0 = floor_day(p.s + d->shift), d1 = floor_day(p.e - 1 + d->shift);
  if (!d->found || d0 < d->first) d->first = d0;
  if (!d->found || d1 > d->last) d->last = d1;
  d->found = 1;
  return 0;
}

int oa_time_days_covered(const oa_archive *a, const char *glob, int wall_clock, int32_t tz_offset_s,
                         int64_t *first_day, int64_t *last_day) {
  days_pass d = {.o = {.glob = glob}, .wall_clock = wall_clock,
                 .shift = wall_clock ? 0 : (int64_t)tz_offset_s * OA_US_PER_S};
  if (oa_archive_scan(a, day_row, &d) < 0 || !d.found) return -1;
  *first_day = d.first, *last_day = d.last;
  return 0;
}

/* ------------------------------------------------------------------- CSV */

static int parse_utc(const char *s, int64_t *us) {
  int zone;
  int32_t off;
  return oa_time_parse(s, us, &zone, &off) == 0 && zone ? 0 : -1;
}

/* One row: id,[recording,]start_utc,end_utc. Fills sp or why. */
static void parse_time_row(const oa_archive *a, char *line, int with_rec, oa_time_span *sp, oa_err *why) {
  char *f[4];
  int want = with_rec ? 4 : 3, nf = oa_csv_split(line, f, 4);
  if (nf != want) {
    oa_err_set(why, OA_EUSAGE, "expected %d fields, found %d", want, nf < 0 ? 5 : nf);
    return;
  }
  const char *id = f[0], *start = f[want - 2], *end = f[want - 1];
  if (!oa_id_is_safe(id) || strlen(id) >= sizeof sp->id) {
    oa_err_set(why, OA_EUSAGE, "id \"%s\" cannot be a file name (or is over %zu bytes)", id, sizeof sp->id - 1);
    return;
  }
  snprintf(sp->id, sizeof sp->id, "%s", id);
  sp->rec = -1;
  if (with_rec && f[1][0]) {
    uint64_t rec;
    if (oa_archive_find(a, f[1], &rec, why) != OA_OK) return;
    sp->rec = (int64_t)rec;
  }
  if (parse_utc(start, &sp->from_us) || parse_utc(end, &sp->to_us)) {
    oa_err_set(why, OA_EUSAGE, "start_utc/end_utc must be ISO 8601 times with a zone (2021-05-01T05:12:07Z, "
               "...+01:00), found \"%s\", \"%s\"", start, end);
    return;
  }
  if (sp->to_us <= sp->from_us) oa_err_set(why, OA_EUSAGE, "end_utc is not after start_utc");
}

int oa_time_csv(const oa_archive *a, const char *source, const char *text, size_t len, long line_base,
                const oa_logger *log,
                oa_time_span **spans, size_t *n, uint64_t *bad, oa_err *err) {
  *spans = NULL, *n = 0, *bad = 0;
  size_t pos = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0, cap = 0, scap = 0;
  char *line = NULL;
  if (!oa_csv_next_line(text, len, &pos, &line, &cap)) return free(line), 0;
  int with_rec = strcmp(line, "id,recording,start_utc,end_utc") == 0;
  if (!with_rec && strcmp(line, "id,start_utc,end_utc") != 0) return free(line), 0;
  long lineno = 1 + line_base;
  int rc = 1;
  while (rc == 1 && oa_csv_next_line(text, len, &pos, &line, &cap)) {
    lineno++;
    if (!line[0]) continue;
    oa_time_span sp = {.line = lineno};
    oa_err why;
    oa_err_clear(&why);
    parse_time_row(a, line, with_rec, &sp, &why);
    if (why.msg[0]) {
      (*bad)++;
      if (log) OA_LOG(log, ERROR, "%s:%ld: %s", source, lineno, why.msg);
    } else if (oa_grow((void **)spans, &scap, *n + 1, sizeof **spans)) {
      rc = oa_err_set(err, OA_ENOMEM, "out of memory");
    } else {
      (*spans)[(*n)++] = sp;
    }
  }
  free(line);
  if (rc != 1) free(*spans), *spans = NULL, *n = 0;
  return rc;
}
