#include "opusarc/timequery.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opusarc/clock.h"
#include "opusarc/util.h"
#include "querytext.h"

/* A recording placed on the span's axis (UTC, or its own wall clock):
 * audio covers [s, e) microseconds. */
typedef struct placed {
  uint64_t rec;
  int64_t s, e;
  double sps;       /* samples per second of its time base */
  const char *key;  /* recorder: its id, else its directory */
  size_t key_len;
} placed;

enum { PLACED = 0, NO_START = -1, ZONE_UNKNOWN = -2, NOT_OK = -3 };

static int place(const oa_archive *a, uint64_t i, int wall_clock, placed *p) {
  const oa_rec_row *r = oa_archive_recording(a, i);
  if (!OA_REC_READABLE(r)) return NOT_OK;
  if (r->start_zone == OA_ZONE_NONE) return NO_START;
  if (!wall_clock && r->start_zone != OA_ZONE_KNOWN) return ZONE_UNKNOWN;
  p->rec = i;
  p->sps = oa_archive_samples_per_second(a, i);
  p->s = r->start_us + (wall_clock && r->start_zone == OA_ZONE_KNOWN ? (int64_t)r->utc_offset_s * OA_US_PER_S : 0);
  p->e = p->s + llround((double)r->samples / p->sps * 1e6);
  const char *rid = oa_archive_recording_recorder(a, i), *name = oa_archive_recording_name(a, i);
  if (rid[0]) {
    p->key = rid, p->key_len = strlen(rid);
  } else {
    const char *slash = strrchr(name, '/');
    p->key = name, p->key_len = slash ? (size_t)(slash - name) : 0;
  }
  return PLACED;
}

/* Sample position of axis time t in a placed recording, as --units seconds
 * rounds (t - s) seconds, within the recording. */
static int64_t position(const oa_archive *a, const placed *p, int64_t t) {
  int64_t v = llround((double)(t - p->s) / 1e6 * p->sps);
  int64_t n = oa_archive_recording(a, p->rec)->samples;
  return v < 0 ? 0 : v > n ? n : v;
}

static int matches(const oa_archive *a, uint64_t i, const oa_time_options *o) {
  return !o->glob || fnmatch(o->glob, oa_archive_recording_name(a, i), 0) == 0;
}

static int same_key(const placed *x, const placed *y) {
  return x->key_len == y->key_len && memcmp(x->key, y->key, x->key_len) == 0;
}

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
  oa_query q = {.rec = p->rec, .start = position(c->a, p, from), .end = position(c->a, p, to), .line = c->span->line};
  if (q.end <= q.start) return 0;
  q.frames = q.end - q.start;
  q.channels = oa_archive_recording(c->a, p->rec)->channels;
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
  int64_t start = position(c->a, p, from), end = position(c->a, p, to);
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
  qsort(ps, n, sizeof *ps, by_key_then_start);
  run r = {0};
  int rc = 0;
  const int64_t max_gap = llround(c->opt->max_gap * 1e6);
  size_t first = 0; /* the first file of this recorder */
  for (size_t k = 0; k < n && rc == 0; k++) {
    if (k == 0 || !same_key(&ps[k - 1], &ps[k])) first = k;
    const placed *prev = k > first ? &ps[k - 1] : NULL;
    int breaks = !prev || ps[k].s - prev->e > max_gap || ps[k].sps != prev->sps ||
                 oa_archive_recording(c->a, ps[k].rec)->channels != oa_archive_recording(c->a, prev->rec)->channels;
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

static int one_span(span_ctx *c, placed *buf) {
  const oa_time_span *sp = c->span;
  const placed *only = NULL;
  placed anchor;
  if (sp->rec >= 0) {
    if (place(c->a, (uint64_t)sp->rec, sp->wall_clock, &anchor) != PLACED) return 0;
    only = &anchor;
  }
  size_t n = 0;
  for (uint64_t i = 0; i < oa_archive_recording_count(c->a); i++) {
    if (only && c->opt->join == OA_JOIN_NONE && i != only->rec) continue;
    if (!only && !matches(c->a, i, c->opt)) continue;
    placed p;
    if (place(c->a, i, sp->wall_clock, &p) != PLACED) continue;
    if (only && !same_key(&p, only)) continue;
    if (p.e <= sp->from_us || p.s >= sp->to_us) continue;
    buf[n++] = p;
  }
  c->made = 0;
  int rc = 0;
  if (c->opt->join == OA_JOIN_NONE)
    for (size_t k = 0; k < n && rc == 0; k++) rc = overlap_output(c, &buf[k]);
  else rc = join_overlaps(c, buf, n);
  return rc;
}

/* Matching recordings a span cannot place: counted once per call. */
static void count_unplaced(const oa_archive *a, const oa_time_span *spans, size_t nspans, const oa_time_options *o,
                           oa_time_stats *st) {
  int any_utc = 0;
  for (size_t k = 0; k < nspans; k++) any_utc |= !spans[k].wall_clock;
  for (uint64_t i = 0; i < oa_archive_recording_count(a); i++) {
    placed p;
    if (!matches(a, i, o)) continue;
    int r = place(a, i, !any_utc, &p);
    if (r == NO_START) st->no_start++;
    else if (r == ZONE_UNKNOWN) st->zone_unknown++;
  }
}

/* The outputs of one span, appended to out (buf: room for every recording). */
static int span_outputs(const oa_archive *a, const oa_time_span *span, const oa_time_options *opt,
                        const oa_logger *log, oa_query_list *out, oa_time_stats *st, placed *buf) {
  span_ctx c = {a, span, opt, log, out, st, 0};
  st->spans++;
  int rc = one_span(&c, buf);
  if (rc == 0 && c.made == 0) {
    st->spans_empty++;
    if (span->line) {
      out->bad++;
      if (log) OA_LOG(log, ERROR, "query %s (line %ld): no recording overlaps its span", span->id, span->line);
    }
  }
  return rc;
}

/* Every span's outputs, in order; keep 0: each span's are dropped once
 * counted (a survey that holds one span's outputs at a time). */
static int all_spans(const oa_archive *a, const oa_time_span *spans, size_t nspans, const oa_time_options *opt,
                     const oa_logger *log, oa_query_list *out, int keep, oa_time_stats *st, oa_err *err) {
  memset(st, 0, sizeof *st);
  uint64_t n = oa_archive_recording_count(a);
  placed *buf = malloc((n ? n : 1) * sizeof *buf);
  if (!buf) return oa_err_set(err, OA_ENOMEM, "out of memory");
  count_unplaced(a, spans, nspans, opt, st);
  int rc = 0;
  for (size_t k = 0; k < nspans && rc == 0; k++) {
    rc = span_outputs(a, &spans[k], opt, log, out, st, buf);
    if (!keep) {
      uint64_t bad = out->bad;
      oa_query_list_free(out);
      out->bad = bad;
    }
  }
  free(buf);
  if (rc != 0) return oa_err_set(err, OA_ENOMEM, "out of memory");
  return OA_OK;
}

int oa_time_queries(const oa_archive *a, const oa_time_span *spans, size_t nspans, const oa_time_options *opt,
                    const oa_logger *log, oa_query_list *out, oa_time_stats *st, oa_err *err) {
  return all_spans(a, spans, nspans, opt, log, out, 1, st, err);
}

int oa_time_count(const oa_archive *a, const oa_time_span *spans, size_t nspans, const oa_time_options *opt,
                  const oa_logger *log, oa_time_stats *st, uint64_t *bad, oa_err *err) {
  oa_query_list scratch = {0};
  int rc = all_spans(a, spans, nspans, opt, log, &scratch, 0, st, err);
  *bad = scratch.bad;
  oa_query_list_free(&scratch);
  return rc;
}

/* ------------------------------------------------------ a sweep's source */

/* Spans' outputs until at least max wait (or the spans end). */
static int fill_pending(oa_time_source *t, size_t max, oa_err *err) {
  uint64_t n = oa_archive_recording_count(t->a);
  placed *buf = NULL;
  int rc = 0;
  while (rc == 0 && t->pending.n < max && t->next < t->nspans) {
    if (!buf && !(buf = malloc((n ? n : 1) * sizeof *buf))) return oa_err_set(err, OA_ENOMEM, "out of memory");
    oa_time_stats st = {0};
    rc = span_outputs(t->a, &t->spans[t->next++], t->opt, NULL, &t->pending, &st, buf);
  }
  free(buf);
  return rc ? oa_err_set(err, OA_ENOMEM, "out of memory") : OA_OK;
}

static int time_next(void *ctx, int pass, size_t max, oa_query_list *out, oa_err *err) {
  oa_time_source *t = ctx;
  if (pass != t->pass) t->pass = pass, t->next = 0, t->first = 1, oa_query_list_free(&t->pending);
  memset(out, 0, sizeof *out);
  int rc = fill_pending(t, max, err);
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

void oa_time_source_free(oa_time_source *t) { oa_query_list_free(&t->pending); }

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

int oa_time_days_covered(const oa_archive *a, const char *glob, int wall_clock, int32_t tz_offset_s,
                         int64_t *first_day, int64_t *last_day) {
  oa_time_options o = {.glob = glob};
  int found = 0;
  int64_t shift = wall_clock ? 0 : (int64_t)tz_offset_s * OA_US_PER_S;
  for (uint64_t i = 0; i < oa_archive_recording_count(a); i++) {
    placed p;
    if (!matches(a, i, &o) || place(a, i, wall_clock, &p) != PLACED) continue;
    int64_t d0 = floor_day(p.s + shift), d1 = floor_day(p.e - 1 + shift);
    if (!found || d0 < *first_day) *first_day = d0;
    if (!found || d1 > *last_day) *last_day = d1;
    found = 1;
  }
  return found ? 0 : -1;
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
