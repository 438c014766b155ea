/* Query lists (sweep.h): adding and freeing queries, fitting a range to
 * its recording, output rates and clocks, unique ids, and the windows of
 * --windows. Parsing CSV and detector tables is querytable.c's; turning
 * queries into work units sweepplan.c's. */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opusarc/clock.h"
#include "opusarc/extract.h"
#include "opusarc/mpiutil.h"
#include "opusarc/resample.h"
#include "opusarc/sweep.h"
#include "opusarc/util.h"
#include "querytext.h"

int oa_query_list_add(oa_query_list *l, const oa_query *q, const oa_query_part *parts, size_t nparts) {
  if (oa_grow((void **)&l->q, &l->cap, l->n + 1, sizeof *l->q) ||
      (nparts && oa_grow((void **)&l->parts, &l->parts_cap, l->nparts + nparts, sizeof *l->parts)))
    return -1;
  l->q[l->n] = *q;
  l->q[l->n].first_part = l->nparts;
  l->q[l->n].nparts = nparts;
  if (nparts) memcpy(l->parts + l->nparts, parts, nparts * sizeof *parts);
  l->nparts += nparts;
  l->n++;
  return 0;
}

int oa_query_list_label(oa_query_list *l, size_t k, const char *value) {
  if (k == 0 && oa_grow((void **)&l->label_at, &l->label_at_cap, l->n * l->nlabels, sizeof *l->label_at)) return -1;
  size_t n = strlen(value) + 1;
  if (oa_grow((void **)&l->label_text, &l->label_cap, l->label_len + n, 1)) return -1;
  memcpy(l->label_text + l->label_len, value, n);
  l->label_at[(l->n - 1) * l->nlabels + k] = l->label_len;
  l->label_len += n;
  return 0;
}

void oa_query_list_free(oa_query_list *l) {
  free(l->q);
  free(l->parts);
  for (size_t k = 0; l->label_names && k < l->nlabels; k++) free(l->label_names[k]);
  free(l->label_names);
  free(l->label_text);
  free(l->label_at);
  memset(l, 0, sizeof *l);
}

void oa_query_clock_of(const oa_rec_row *r, oa_query *q) {
  q->start_zone = r->start_zone;
  q->start_offset_s = r->utc_offset_s;
  q->start_us = r->start_zone == OA_ZONE_NONE ? 0 : r->start_us + llround((double)q->start / oa_rec_row_rate(r) * 1e6);
}

void oa_query_set_clock(const oa_archive *a, oa_query *q) { oa_query_clock_of(oa_archive_recording(a, q->rec), q); }

int oa_query_rates(const oa_archive *a, const oa_query_list *ql, oa_query *q, int32_t rate, oa_err *err) {
  int32_t base = (int32_t)oa_archive_samples_per_second(a, q->rec);
  q->in_rate = rate == OA_RATE_NATIVE ? OA_SAMPLE_RATE : base;
  q->out_rate = rate > 0 ? rate : q->in_rate;
  q->out_frames = oa_resampled_frames(q->frames, q->in_rate, q->out_rate);
  for (size_t j = 0; ql && j < q->nparts; j++) {
    const oa_query_part *p = &ql->parts[q->first_part + j];
    if (p->rec == OA_GAP_REC || (int32_t)oa_archive_samples_per_second(a, p->rec) == base) continue;
    return oa_err_set(err, OA_EUSAGE, "the output joins \"%s\" and \"%s\", whose time bases differ (%d and %.0f Hz): "
                      "one output has one rate", oa_archive_recording_name(a, q->rec),
                      oa_archive_recording_name(a, p->rec), (int)base, oa_archive_samples_per_second(a, p->rec));
  }
  return OA_OK;
}

int oa_query_fit(const oa_archive *a, oa_query *q, unsigned flags, int *clamped, oa_err *err) {
  const oa_rec_row *r = oa_archive_recording(a, q->rec);
  *clamped = 0;
  if ((flags & OA_QUERY_CLAMP) && OA_REC_READABLE(r) && q->start < q->end && (q->start < 0 || q->end > r->samples)) {
    int64_t s = q->start < 0 ? 0 : q->start, e = q->end > r->samples ? r->samples : q->end;
    if (s < e) *clamped = 1, q->start = s, q->end = e;
  }
  int rc = oa_range_check(a, q->rec, q->start, q->end, (flags & OA_QUERY_SECONDS) != 0, err);
  if (rc == OA_ERANGE && OA_REC_READABLE(r) && (flags & OA_QUERY_CLAMP)) { /* clamping could not help */
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof err->msg - n, "%s",
             q->start >= q->end ? " (after clamping)" : " (entirely: nothing to cut to)");
  }
  if (rc != OA_OK) return rc;
  q->channels = r->channels;
  q->frames = q->end - q->start;
  oa_query_set_clock(a, q);
  return OA_OK;
}

/* An id and its CSV line (0 for windows and time spans). */
typedef struct id_line {
  const char *id;
  int64_t line;
} id_line;

static int by_id_line(const void *x, const void *y) {
  const id_line *a = x, *b = y;
  int r = strcmp(a->id, b->id);
  return r ? r : (a->line > b->line) - (a->line < b->line);
}

/* Sorts v and names the first id that appears twice. */
static int check_ids(id_line *v, size_t n, const char *source, oa_err *err) {
  if (n > 1) qsort(v, n, sizeof *v, by_id_line);
  for (size_t i = 1; i < n; i++) {
    const id_line *a = &v[i - 1], *b = &v[i];
    if (strcmp(a->id, b->id) != 0) continue;
    if (a->line)
      return oa_err_set(err, OA_EUSAGE, "%s:%lld and %s:%lld: duplicate id \"%s\" (an id names the query's output "
                        "and must be unique); nothing was extracted", source, (long long)a->line, source,
                        (long long)b->line, a->id);
    return oa_err_set(err, OA_EUSAGE, "two windows have the id \"%s\"; nothing was extracted", a->id);
  }
  return OA_OK;
}

int oa_queries_check_unique(const oa_query_list *l, const char *source, oa_err *err) {
  id_line *v = malloc((l->n ? l->n : 1) * sizeof *v);
  if (!v) return oa_err_set(err, OA_ENOMEM, "out of memory");
  for (size_t i = 0; i < l->n; i++) v[i] = (id_line){l->q[i].id, l->q[i].line};
  int rc = check_ids(v, l->n, source, err);
  free(v);
  return rc;
}

/* Each id goes to the rank its hash names ([line][id NUL] records): the
 * records grouped by rank, bytes[r] for rank r. */
static uint8_t *pack_ids(const oa_query_list *l, int size, uint64_t *bytes) {
  int *dest = malloc((l->n ? l->n : 1) * sizeof *dest);
  uint64_t *at = calloc((size_t)size, sizeof *at), total = 0;
  uint8_t *send = NULL;
  for (size_t i = 0; dest && at && i < l->n; i++) {
    size_t len = strlen(l->q[i].id) + 1;
    dest[i] = (int)(oa_fnv1a(1469598103934665603ull, (const uint8_t *)l->q[i].id, len) % (uint64_t)size);
    bytes[dest[i]] += 8 + len, total += 8 + len;
  }
  for (int r = 1; at && r < size; r++) at[r] = at[r - 1] + bytes[r - 1];
  if (dest && at) send = malloc(total ? total : 1);
  for (size_t i = 0; send && i < l->n; i++) {
    int64_t line = l->q[i].line;
    size_t len = strlen(l->q[i].id) + 1;
    memcpy(send + at[dest[i]], &line, 8), memcpy(send + at[dest[i]] + 8, l->q[i].id, len);
    at[dest[i]] += 8 + len;
  }
  free(at), free(dest);
  return send;
}

/* ------------------------------------------------------------- id checks */

/* Ids past this many bytes on a rank are sorted and spilled to a temporary
 * file as a run; finish merges the runs. So a rank holds a bounded number
 * of ids whatever the length of the list. */
enum { ID_SPILL_BYTES = 16 << 20, ID_READ_BLOCK = 64 << 10 };

void oa_id_check_init(oa_id_check *c, MPI_Comm comm) {
  memset(c, 0, sizeof *c);
  c->comm = comm;
  c->spill = -1;
  c->limit = oa_fault("ids") ? 256 : ID_SPILL_BYTES; /* tests: many runs */
}

/* The records of buf[0, len) as (id, line), in order. */
static id_line *parse_records(const uint8_t *buf, size_t len, size_t *n) {
  size_t cap = 0;
  id_line *v = NULL;
  *n = 0;
  for (size_t at = 0; at + 8 < len;) {
    if (oa_grow((void **)&v, &cap, *n + 1, sizeof *v)) return free(v), NULL;
    memcpy(&v[*n].line, buf + at, 8);
    v[*n].id = (const char *)buf + at + 8;
    at += 8 + strlen(v[*n].id) + 1;
    (*n)++;
  }
  return v ? v : malloc(1);
}

/* A temporary file in $TMPDIR (or /tmp), gone once closed. */
static int spill_file(oa_err *err) {
  char path[4096];
  int fd = oa_temp_fd("ids", path, sizeof path);
  if (fd < 0) return oa_err_set(err, OA_EIO, "cannot make a temporary file to check query ids (%s): %s", path,
                                strerror(errno)), -1;
  return fd;
}

/* The kept records, sorted, appended to the spill file as one run. */
static int spill_run(oa_id_check *c, oa_err *err) {
  size_t n;
  id_line *v = parse_records(c->recs, c->len, &n);
  if (!v) return oa_err_set(err, OA_ENOMEM, "out of memory checking query ids");
  if (n > 1) qsort(v, n, sizeof *v, by_id_line);
  if (c->spill < 0 && (c->spill = spill_file(err)) < 0) return free(v), err->code;
  uint8_t out[ID_READ_BLOCK]; /* written a block at a time: no second copy of the run */
  size_t at = 0, fill = 0;
  int ok = 1;
  for (size_t i = 0; ok && i < n; i++) {
    size_t len = strlen(v[i].id) + 1;
    if (fill + 8 + len > sizeof out) ok = oa_write_all(c->spill, out, fill) == 0, fill = 0;
    memcpy(out + fill, &v[i].line, 8), memcpy(out + fill + 8, v[i].id, len);
    fill += 8 + len, at += 8 + len;
  }
  free(v);
  ok = ok && oa_write_all(c->spill, out, fill) == 0 &&
       oa_grow((void **)&c->runs, &c->runs_cap, c->nruns + 2, sizeof *c->runs) == 0;
  if (!ok) return oa_err_set(err, OA_EIO, "cannot write the temporary file of query ids: %s",
                             errno ? strerror(errno) : "out of memory");
  if (c->nruns == 0) c->runs[0] = 0;
  c->runs[c->nruns + 1] = c->runs[c->nruns] + at;
  c->nruns++;
  c->len = 0;
  return OA_OK;
}

/* Keeps records (spilling a run when there are too many). */
static int keep_records(oa_id_check *c, const uint8_t *recs, size_t len, oa_err *err) {
  if (oa_grow((void **)&c->recs, &c->cap, c->len + len, 1)) return oa_err_set(err, OA_ENOMEM, "out of memory");
  if (len) memcpy(c->recs + c->len, recs, len);
  c->len += len;
  return c->len > c->limit ? spill_run(c, err) : OA_OK;
}

/* A record made of a query's id and line. */
static size_t pack_record(const oa_query *q, uint8_t *out) {
  int64_t line = q->line;
  size_t len = strlen(q->id) + 1;
  memcpy(out, &line, 8), memcpy(out + 8, q->id, len);
  return 8 + len;
}

int oa_id_check_add(oa_id_check *c, const oa_query_list *l, oa_err *err) {
  oa_err mine;
  oa_err_clear(&mine);
  int rc = OA_OK;
  if (OA_SOLO(c->comm)) {
    uint8_t rec[8 + sizeof l->q->id];
    for (size_t i = 0; i < l->n && rc == OA_OK && !c->failed; i++) rc = keep_records(c, rec, pack_record(&l->q[i], rec), &mine);
  } else {
    int rank, size;
    oa_mpi_rank_size(c->comm, &rank, &size);
    uint64_t *lens = calloc((size_t)size * 2, sizeof *lens), total = 0;
    uint8_t *send = lens ? pack_ids(l, size, lens) : NULL, *recv = NULL;
    rc = oa_mpi_agree(c->comm, send != NULL) ? oa_mpi_exchange(c->comm, send, lens, &recv, lens + size, &total, err)
                                             : oa_err_set(err, OA_ENOMEM, "out of memory");
    free(send), free(lens);
    if (rc != OA_OK) return oa_err_prefix(err, "cannot check that query ids are unique: "), rc;
    if (!c->failed) rc = keep_records(c, recv, (size_t)total, &mine);
    free(recv);
  }
  if (rc != OA_OK && !c->failed) c->failed = 1, c->why = mine;
  if (oa_mpi_agree_err(c->comm, !c->failed, &mine)) return OA_OK;
  *err = mine;
  return err->code ? err->code : OA_EIO;
}

/* One sorted run of the spill file, read a block at a time. */
typedef struct run_reader {
  uint64_t at, end;  /* in the file */
  uint8_t *buf;
  size_t len, pos;   /* bytes in buf, next record */
  id_line head;      /* the current record (id into buf), or id NULL at the end */
} run_reader;

static int run_next(int fd, run_reader *r) {
  r->head.id = NULL;
  size_t left = r->len - r->pos;
  const uint8_t *p = r->buf + r->pos;
  if (left < 9 || !memchr(p + 8, '\0', left - 8)) { /* refill: a record is at most 8 + 128 bytes */
    memmove(r->buf, p, left);
    size_t want = ID_READ_BLOCK - left;
    if (want > r->end - r->at) want = (size_t)(r->end - r->at);
    ssize_t got = want ? pread(fd, r->buf + left, want, (off_t)r->at) : 0;
    if (got < 0 || (size_t)got != want) return -1;
    r->at += want, r->len = left + want, r->pos = 0, p = r->buf, left = r->len;
    if (left == 0) return 0;
    if (left < 9 || !memchr(p + 8, '\0', left - 8)) return -1; /* a torn record: the file changed */
  }
  memcpy(&r->head.line, p, 8);
  r->head.id = (const char *)p + 8;
  r->pos += 8 + strlen(r->head.id) + 1;
  return 0;
}

/* The runs merged in (id, line) order: the first id met twice is named,
 * as a sort of every id would name it. */
static int merge_runs(oa_id_check *c, const char *source, oa_err *err) {
  run_reader *rr = calloc(c->nruns, sizeof *rr);
  int rc = rr ? OA_OK : oa_err_set(err, OA_ENOMEM, "out of memory checking query ids");
  for (size_t k = 0; rc == OA_OK && k < c->nruns; k++) {
    rr[k] = (run_reader){.at = c->runs[k], .end = c->runs[k + 1], .buf = malloc(ID_READ_BLOCK)};
    if (!rr[k].buf || run_next(c->spill, &rr[k]) != 0) rc = oa_err_set(err, OA_EIO, "reading query ids back failed");
  }
  char last[sizeof ((oa_query *)0)->id + 1] = "";
  int64_t last_line = 0;
  int have_last = 0;
  while (rc == OA_OK) {
    size_t min = c->nruns;
    for (size_t k = 0; k < c->nruns; k++)
      if (rr[k].head.id && (min == c->nruns || by_id_line(&rr[k].head, &rr[min].head) < 0)) min = k;
    if (min == c->nruns) break;
    id_line *h = &rr[min].head;
    if (have_last && strcmp(last, h->id) == 0) {
      id_line pair[2] = {{last, last_line}, *h};
      rc = check_ids(pair, 2, source, err);
      break;
    }
    snprintf(last, sizeof last, "%s", h->id);
    last_line = h->line, have_last = 1;
    if (run_next(c->spill, &rr[min]) != 0) rc = oa_err_set(err, OA_EIO, "reading query ids back failed");
  }
  for (size_t k = 0; rr && k < c->nruns; k++) free(rr[k].buf);
  free(rr);
  return rc;
}

int oa_id_check_finish(oa_id_check *c, const char *source, oa_err *err) {
  oa_err_clear(err);
  int rc = c->failed ? (*err = c->why, err->code ? err->code : OA_EIO) : OA_OK;
  if (rc == OA_OK && c->nruns && c->len) rc = spill_run(c, err);
  if (rc == OA_OK) {
    if (c->nruns) rc = merge_runs(c, source, err);
    else {
      size_t n;
      id_line *v = parse_records(c->recs, c->len, &n);
      rc = v ? check_ids(v, n, source, err) : oa_err_set(err, OA_ENOMEM, "out of memory checking query ids");
      free(v);
    }
  }
  return oa_mpi_agree_err_as_is(c->comm, rc == OA_OK, err) ? OA_OK : err->code;
}

void oa_id_check_free(oa_id_check *c) {
  free(c->recs);
  free(c->runs);
  if (c->spill >= 0) close(c->spill);
  memset(c, 0, sizeof *c);
  c->spill = -1;
}

int oa_queries_check_unique_all(MPI_Comm comm, const oa_query_list *l, const char *source, oa_err *err) {
  oa_id_check c;
  oa_id_check_init(&c, comm);
  int rc = oa_id_check_add(&c, l, err);
  if (rc == OA_OK) rc = oa_id_check_finish(&c, source, err);
  oa_id_check_free(&c);
  return rc;
}

/* ------------------------------------------------------------ list source */

static int copy_label_names(const oa_query_list *l, oa_query_list *out) {
  if (!l->nlabels) return 0;
  out->label_names = calloc(l->nlabels, sizeof *out->label_names);
  if (!out->label_names) return -1;
  out->nlabels = l->nlabels;
  for (size_t k = 0; k < l->nlabels; k++)
    if (!(out->label_names[k] = strdup(l->label_names[k]))) return -1;
  return 0;
}

int oa_query_list_copy(const oa_query_list *l, size_t from, size_t n, oa_query_list *out) {
  if (!out->label_names && copy_label_names(l, out)) return -1;
  for (size_t i = from; i < from + n; i++) {
    const oa_query *q = &l->q[i];
    if (oa_query_list_add(out, q, q->nparts ? l->parts + q->first_part : NULL, q->nparts)) return -1;
    for (size_t k = 0; k < l->nlabels; k++)
      if (oa_query_list_label(out, k, oa_query_label(l, i, k))) return -1;
  }
  return 0;
}

static int list_next(void *ctx, int pass, size_t max, oa_query_list *out, oa_err *err) {
  oa_list_source *src = ctx;
  if (pass != src->pass) src->pass = pass, src->at = 0;
  const oa_query_list *l = src->ql;
  size_t n = l->n - src->at < max ? l->n - src->at : max;
  memset(out, 0, sizeof *out);
  if (src->at == 0) out->bad = l->bad, out->clamped = l->clamped; /* counted once, with the first batch */
  if (oa_query_list_copy(l, src->at, n, out)) {
    oa_query_list_free(out);
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  src->at += n;
  return OA_OK;
}

oa_query_source oa_list_source_of(oa_list_source *ctx, const oa_query_list *ql) {
  *ctx = (oa_list_source){.ql = ql, .at = 0, .pass = -1};
  return (oa_query_source){list_next, ctx};
}

/* One pass over rows of this rank's share for --windows: pass 0 counts
 * their windows, pass 1 makes the next batch of them, from the cursor on. */
typedef struct window_pass {
  const oa_window_spec *w;
  int pass;
  uint64_t total;       /* windows of this rank's rows (pass 0) */
  oa_window_stats *st;
  oa_window_source *src; /* pass 1: its cursor moves */
  size_t max;           /* pass 1: windows in the batch */
  oa_query_list *out;
  int rc;
  oa_err *err;
} window_pass;

/* Windows of one recording: n whole ones, and with pad/keep one more at
 * n * hop when audio is left there (*extra). */
static int64_t window_count(const oa_window_spec *w, const oa_rec_row *r, int64_t len, int64_t hop, int *extra) {
  int64_t n = r->samples >= len ? (r->samples - len) / hop + 1 : 0;
  int64_t covered = n ? (n - 1) * hop + len : 0;
  *extra = w->tail != OA_TAIL_DROP && n * hop < r->samples && covered < r->samples;
  return n;
}

static void count_windows(window_pass *p, const oa_rec_row *r, int64_t len, int64_t hop, double scale) {
  int extra;
  int64_t n = window_count(p->w, r, len, hop, &extra), covered = n ? (n - 1) * hop + len : 0;
  oa_window_stats *st = p->st;
  st->recordings++;
  p->total += (uint64_t)(n + extra);
  if (extra && p->w->tail == OA_TAIL_PAD) st->padded++;
  else if (extra) st->short_windows++;
  else if (n == 0) st->short_recordings++, st->uncovered_seconds += (double)r->samples / scale;
  else if (covered < r->samples) st->tails++, st->uncovered_seconds += (double)(r->samples - covered) / scale;
}

/* Windows k = cursor.. of row i into the batch; 1 (stop) once it is full,
 * the cursor then naming the next window. */
static int make_windows(window_pass *p, uint64_t i, const oa_rec_row *r, const char *name, int64_t len,
                        int64_t hop) {
  int extra;
  int64_t n = window_count(p->w, r, len, hop, &extra) + extra;
  char stem[sizeof ((oa_query *)0)->id - 22]; /* room for "_" and 20 digits of the start */
  oa_name_stem(name, stem, sizeof stem);
  oa_window_source *src = p->src;
  for (int64_t k = src->row == i ? src->k : 0; k < n; k++) {
    if (p->out->n == p->max) {
      src->row = i, src->k = k;
      return 1;
    }
    int64_t s = k * hop, e = s + len < r->samples ? s + len : r->samples;
    oa_query q = {.rec = i, .start = s, .end = e, .frames = e - s, .channels = r->channels};
    oa_query_part pad[2] = {{i, s, e, 0}, {OA_GAP_REC, 0, len - (e - s), e - s}};
    int padded = p->w->tail == OA_TAIL_PAD && e - s < len;
    if (padded) q.frames = len; /* the window's samples, then zeros to its length */
    oa_query_clock_of(r, &q);
    snprintf(q.id, sizeof q.id, "%s_%" PRId64, stem, s);
    if (oa_query_list_add(p->out, &q, padded ? pad : NULL, padded ? 2 : 0)) {
      p->rc = oa_err_set(p->err, OA_ENOMEM, "out of memory");
      return 1;
    }
  }
  src->row = i + 1, src->k = 0;
  return 0;
}

static int window_row(void *ctx, uint64_t i, const oa_rec_row *r, const oa_row_texts *tx) {
  window_pass *p = ctx;
  const oa_window_spec *w = p->w;
  if (!OA_REC_READABLE(r) || (w->glob && fnmatch(w->glob, tx->name, 0) != 0)) return 0;
  double scale = w->seconds ? oa_rec_row_rate(r) : 1.0;
  int64_t len = llround(w->length * scale), hop = llround(w->hop * scale);
  if (len <= 0 || hop <= 0) {
    p->rc = oa_err_set(p->err, OA_EUSAGE, "window length and hop must be at least one sample");
    return 1;
  }
  if (p->pass == 0) {
    count_windows(p, r, len, hop, scale);
    return 0;
  }
  return make_windows(p, i, r, tx->name, len, hop);
}

/* The counts of every rank's rows, on every rank. */
static void sum_window_stats(MPI_Comm comm, oa_window_stats *st, uint64_t *total) {
  if (OA_SOLO(comm)) return;
  uint64_t v[6] = {*total, st->recordings, st->padded, st->short_windows, st->short_recordings, st->tails};
  MPI_Allreduce(MPI_IN_PLACE, v, 6, MPI_UINT64_T, MPI_SUM, comm);
  MPI_Allreduce(MPI_IN_PLACE, &st->uncovered_seconds, 1, MPI_DOUBLE, MPI_SUM, comm);
  *total = v[0], st->recordings = v[1], st->padded = v[2], st->short_windows = v[3];
  st->short_recordings = v[4], st->tails = v[5];
}

int oa_windows_open(MPI_Comm comm, const oa_archive *a, const oa_window_spec *w, oa_window_source *src,
                    oa_window_stats *st, oa_err *err) {
  memset(st, 0, sizeof *st);
  int rank, size;
  oa_mpi_rank_size(comm, &rank, &size);
  uint64_t n = oa_archive_recording_count(a), from = n * (uint64_t)rank / (uint64_t)size;
  *src = (oa_window_source){.a = a, .w = w, .from = from, .count = n * (uint64_t)(rank + 1) / (uint64_t)size - from,
                            .row = from, .pass = -1};
  window_pass p = {.w = w, .st = st, .err = err};
  if (oa_archive_scan_range(a, src->from, src->count, window_row, &p) < 0)
    p.rc = oa_err_set(err, OA_ENOMEM, "out of memory");
  if (!oa_mpi_agree_err_as_is(comm, p.rc == OA_OK, err)) return err->code;
  uint64_t total = p.total;
  sum_window_stats(comm, st, &total);
  if (st->recordings == 0)
    return oa_err_set(err, OA_EUSAGE, w->glob ? "the name pattern '%s' matches no indexed recording" :
                      "the archive holds no indexed recording%s", w->glob ? w->glob : "");
  if (w->max_windows && total > w->max_windows)
    return oa_err_set(err, OA_EUSAGE, "%" PRIu64 " windows is more than the window limit, %" PRIu64 ": use a longer "
                      "hop, a name pattern, or raise the limit (--max-windows)", total, w->max_windows);
  st->windows = total;
  return OA_OK;
}

static int window_next(void *ctx, int pass, size_t max, oa_query_list *out, oa_err *err) {
  oa_window_source *src = ctx;
  if (pass != src->pass) src->pass = pass, src->row = src->from, src->k = 0;
  memset(out, 0, sizeof *out);
  window_pass p = {.w = src->w, .pass = 1, .src = src, .max = max, .out = out, .err = err};
  uint64_t end = src->from + src->count;
  if (src->row < end && oa_archive_scan_range(src->a, src->row, end - src->row, window_row, &p) < 0)
    p.rc = oa_err_set(err, OA_ENOMEM, "out of memory");
  if (p.rc != OA_OK) oa_query_list_free(out);
  return p.rc;
}

oa_query_source oa_window_source_of(oa_window_source *src) { return (oa_query_source){window_next, src}; }
