/* Query tables: CSV rows, Raven selection tables and BirdNET results
 * become queries; extra columns become labels. */
#include "opusarc/querytable.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opusarc/util.h"
#include "querytext.h"

#define MAX_COLUMNS 256

int oa_table_format_parse(const char *name, int *format) {
  static const char *names[] = {"csv", "raven", "birdnet"};
  for (int i = 0; i < 3; i++)
    if (strcmp(name, names[i]) == 0) return *format = i, 0;
  return -1;
}

/* ------------------------------------------------------------------ labels */

const char *oa_query_label(const oa_query_list *l, size_t i, size_t k) {
  if (k >= l->nlabels || i >= l->n) return "";
  return l->label_text + l->label_at[i * l->nlabels + k];
}

/* The labels of the query just added (the last one). */
static int add_labels(oa_query_list *l, char **values, int nvalues, const int *columns) {
  for (size_t k = 0; k < l->nlabels; k++)
    if (oa_query_list_label(l, k, columns[k] < nvalues ? values[columns[k]] : "")) return -1;
  return 0;
}

/* ------------------------------------------------------------------ header */

typedef struct layout {
  char delim;
  int ncols;
  char *names[MAX_COLUMNS]; /* into names_buf */
  char *header, *names_buf;
  int detector;             /* raven or birdnet columns */
  int id, rec, start, end;  /* csv */
  int file, begin, finish, offset, selection, view; /* detector tables (-1: absent) */
  int label_col[MAX_COLUMNS];
  int nlabels;
  char *first_view;         /* the View of the first row taken */
} layout;

static int column(const layout *t, const char *name) {
  for (int i = 0; i < t->ncols; i++)
    if (strcmp(t->names[i], name) == 0) return i;
  return -1;
}

/* Fields of the clips file's /queries a label may not be called. */
static int reserved(const char *name) {
  static const char *fields[] = {"id", "recording", "start", "end", "channels", "status", "offset", "length",
                                 "rate", "start_time", "start_utc", "start_utc_us", "start_zone", "parts",
                                 "gaps", "gap_frames"};
  for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
    if (strcmp(name, fields[i]) == 0) return 1;
  return 0;
}

/* Every column not read as a position or a file becomes a label, named as
 * in the header ("label_<name>" where that would clash, "column<N>" when
 * empty). */
static int find_labels(layout *t, const int *used, oa_query_list *out) {
  for (int i = 0; i < t->ncols; i++)
    if (!used[i]) t->label_col[t->nlabels++] = i;
  out->nlabels = (size_t)t->nlabels;
  out->label_names = calloc(t->nlabels ? (size_t)t->nlabels : 1, sizeof *out->label_names);
  if (!out->label_names) return -1;
  for (int k = 0; k < t->nlabels; k++) {
    const char *name = t->names[t->label_col[k]];
    char buf[300];
    if (!name[0]) snprintf(buf, sizeof buf, "column%d", t->label_col[k] + 1);
    else if (reserved(name) || column(t, name) != t->label_col[k]) snprintf(buf, sizeof buf, "label_%.250s", name);
    else snprintf(buf, sizeof buf, "%.250s", name);
    for (int j = 0; j < k; j++)
      if (strcmp(out->label_names[j], buf) == 0) snprintf(buf, sizeof buf, "column%d", t->label_col[k] + 1);
    if (!(out->label_names[k] = strdup(buf))) return -1;
  }
  return 0;
}

static int csv_header(layout *t, const char *source, oa_err *err) {
  if (t->ncols >= 4 && strcmp(t->names[0], "id") == 0 && strcmp(t->names[1], "recording") == 0 &&
      strcmp(t->names[2], "start") == 0 && strcmp(t->names[3], "end") == 0) {
    t->id = 0, t->rec = 1, t->start = 2, t->end = 3;
    return OA_OK;
  }
  const char *hint = column(t, "Start (s)") >= 0 ? " (BirdNET results? read them as BirdNET's format)" : "";
  return oa_err_set(err, OA_EUSAGE, "%s:1: header must begin id,recording,start,end (found \"%.60s\")%s", source,
                    t->header, hint);
}

static int detector_header(layout *t, const char *source, oa_err *err) {
  int raven = column(t, "Begin Time (s)") >= 0;
  t->detector = 1;
  t->begin = raven ? column(t, "Begin Time (s)") : column(t, "Start (s)");
  t->finish = raven ? column(t, "End Time (s)") : column(t, "End (s)");
  t->file = column(t, "Begin Path");
  if (t->file < 0) t->file = column(t, "Begin File");
  if (t->file < 0) t->file = column(t, "File");
  t->offset = raven ? column(t, "File Offset (s)") : -1;
  t->selection = column(t, "Selection");
  t->view = column(t, "View");
  if (t->begin >= 0 && t->finish >= 0 && t->file >= 0) return OA_OK;
  return oa_err_set(err, OA_EUSAGE, "%s:1: a detector table needs the columns %s and a file column (Begin Path, "
                    "Begin File or File); found \"%.80s\"", source,
                    raven ? "Begin Time (s), End Time (s)" : "Begin Time (s) and End Time (s) (Raven) or Start (s) "
                    "and End (s) (BirdNET)", t->header);
}

static int split(const layout *t, char *line, char **fields) {
  return t->delim == '\t' ? oa_tsv_split(line, fields, MAX_COLUMNS) : oa_csv_split(line, fields, MAX_COLUMNS);
}

static int read_header(layout *t, const char *line, const oa_table_options *opt, const char *source,
                       oa_query_list *out, oa_err *err) {
  memset(t, 0, sizeof *t);
  t->delim = opt->format != OA_TABLE_CSV && strchr(line, '\t') ? '\t' : ',';
  t->header = strdup(line);       /* as read, for messages */
  t->names_buf = strdup(line);    /* cut into the names */
  if (!t->header || !t->names_buf) return oa_err_set(err, OA_ENOMEM, "out of memory");
  t->ncols = split(t, t->names_buf, t->names);
  if (t->ncols < 0) return oa_err_set(err, OA_EUSAGE, "%s:1: more than %d columns, or an unclosed quote", source,
                                      MAX_COLUMNS);
  int rc = opt->format == OA_TABLE_CSV ? csv_header(t, source, err) : detector_header(t, source, err);
  if (rc != OA_OK) return rc;
  int used[MAX_COLUMNS] = {0};
  if (t->detector) {
    const int cols[4] = {t->begin, t->finish, t->file, t->offset};
    for (int i = 0; i < 4; i++)
      if (cols[i] >= 0) used[cols[i]] = 1;
  } else {
    used[0] = used[1] = used[2] = used[3] = 1;
  }
  return find_labels(t, used, out) ? oa_err_set(err, OA_ENOMEM, "out of memory") : OA_OK;
}

/* --------------------------------------------------------------- file names */

typedef struct name_entry {
  char *name;       /* the recording's name (a copy) */
  const char *base; /* the name after its last '/' */
  size_t stem_len;  /* of base without its extension */
  uint64_t rec;
} name_entry;

/* The recordings whose stems the table's file column uses: only those, so
 * a table of a few files costs a few entries whatever the archive's size. */
typedef struct name_index {
  name_entry *e;
  size_t n, cap;
  char **stems; /* wanted, sorted, each once */
  size_t nstems;
} name_index;

static size_t stem_length(const char *base) {
  const char *dot = strrchr(base, '.');
  return dot && dot != base ? (size_t)(dot - base) : strlen(base);
}

static int compare_stems(const char *a, size_t na, const char *b, size_t nb) {
  int r = memcmp(a, b, na < nb ? na : nb);
  return r ? r : (na > nb) - (na < nb);
}

static int by_stem(const void *x, const void *y) {
  const name_entry *a = x, *b = y;
  return compare_stems(a->base, a->stem_len, b->base, b->stem_len);
}

static int by_text(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

/* A file column's value as resolve() reads it: '\\' as '/' (a table
 * written on Windows), then its last part. */
static const char *file_base(char *path) {
  for (char *p = path; *p; p++)
    if (*p == '\\') *p = '/';
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

static int wanted(const name_index *ix, const char *base, size_t stem) {
  size_t lo = 0, hi = ix->nstems;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int r = compare_stems(ix->stems[mid], strlen(ix->stems[mid]), base, stem);
    if (r == 0) return 1;
    if (r < 0) lo = mid + 1;
    else hi = mid;
  }
  return 0;
}

static int keep_if_wanted(void *ctx, uint64_t i, const oa_rec_row *r, const oa_row_texts *tx) {
  (void)r;
  name_index *ix = ctx;
  const char *slash = strrchr(tx->name, '/'), *base = slash ? slash + 1 : tx->name;
  size_t stem = stem_length(base);
  if (!wanted(ix, base, stem)) return 0;
  char *copy = strdup(tx->name);
  if (!copy || oa_grow((void **)&ix->e, &ix->cap, ix->n + 1, sizeof *ix->e)) return free(copy), 1;
  ix->e[ix->n++] = (name_entry){copy, copy + (base - tx->name), stem, i};
  return 0;
}

/* The stems of the file column of every row after the header (text from
 * pos on), sorted, each once. Rows of other views add stems no row asks
 * for, which cost entries but change no match. */
static int want_stems(const layout *t, oa_lines *rows, name_index *ix) {
  char *line = NULL, **fields = malloc(MAX_COLUMNS * sizeof *fields);
  size_t cap = 0, room = 0;
  int rc = fields ? 0 : -1;
  uint64_t body = rows->at;
  while (rc == 0 && oa_lines_next(rows, &line, &cap)) {
    int nf = split(t, line, fields);
    if (nf <= t->file) continue;
    const char *base = file_base(fields[t->file]);
    char *stem = strndup(base, stem_length(base));
    if (!stem || oa_grow((void **)&ix->stems, &room, ix->nstems + 1, sizeof *ix->stems)) rc = -1, free(stem);
    else ix->stems[ix->nstems++] = stem;
  }
  free(line), free(fields);
  if (rows->error) rc = -1;
  rows->at = body;
  if (rc != 0) return rc;
  if (ix->nstems) qsort(ix->stems, ix->nstems, sizeof *ix->stems, by_text);
  size_t kept = 0;
  for (size_t i = 0; i < ix->nstems; i++) {
    if (kept && strcmp(ix->stems[kept - 1], ix->stems[i]) == 0) free(ix->stems[i]);
    else ix->stems[kept++] = ix->stems[i];
  }
  ix->nstems = kept;
  return 0;
}

/* One pass over the archive's rows (none kept) for the wanted stems. */
static int build_index(const oa_archive *a, const layout *t, oa_lines *rows, name_index *ix) {
  if (want_stems(t, rows, ix) != 0) return -1;
  if (ix->nstems && oa_archive_scan(a, keep_if_wanted, ix) != 0) return -1;
  if (ix->n) qsort(ix->e, ix->n, sizeof *ix->e, by_stem);
  return 0;
}

static void free_index(name_index *ix) {
  for (size_t i = 0; i < ix->n; i++) free(ix->e[i].name);
  for (size_t i = 0; i < ix->nstems; i++) free(ix->stems[i]);
  free(ix->e), free(ix->stems);
  memset(ix, 0, sizeof *ix);
}

/* How much of the path (without its extension, plen bytes) the recording's
 * name without its extension ends it, on a '/' boundary: 0 if it does not. */
static size_t tail_score(const name_entry *e, const char *path, size_t plen) {
  const char *name = e->name;
  size_t nlen = (size_t)(e->base - name) + e->stem_len;
  if (nlen > plen || memcmp(name, path + plen - nlen, nlen) != 0) return 0;
  return nlen == plen || path[plen - nlen - 1] == '/' ? nlen : 0;
}

/* The recording a detector's file column names (see the header comment). */
static int resolve(const oa_archive *a, const name_index *ix, char *path, uint64_t *rec, oa_err *why) {
  const char *base = file_base(path);
  oa_err ignore;
  if (oa_archive_find(a, path, rec, &ignore) == OA_OK) return OA_OK;
  for (char *p = strchr(path, '/'); p; p = strchr(p + 1, '/'))
    if (p[1] && oa_archive_find(a, p + 1, rec, &ignore) == OA_OK) return OA_OK;
  size_t stem = stem_length(base), lo = 0, hi = ix->n;
  while (lo < hi) { /* first entry with this stem */
    size_t mid = (lo + hi) / 2;
    if (compare_stems(ix->e[mid].base, ix->e[mid].stem_len, base, stem) < 0) lo = mid + 1;
    else hi = mid;
  }
  size_t best = lo, ties = 0, same = 0, plen = (size_t)(base - path) + stem; /* the path without its extension */
  long best_score = -1;
  for (size_t i = lo; i < ix->n && compare_stems(ix->e[i].base, ix->e[i].stem_len, base, stem) == 0; i++, same++) {
    long score = tail_score(&ix->e[i], path, plen) * 2 + (strcmp(ix->e[i].base, base) == 0);
    if (score > best_score) best = i, best_score = score, ties = 0;
    else if (score == best_score) ties++;
  }
  if (same == 0) return oa_err_set(why, OA_ENOTFOUND, "no recording of the archive is \"%s\"", path);
  if (ties == 0) {
    *rec = ix->e[best].rec;
    return OA_OK;
  }
  size_t other = best + 1 < ix->n ? best + 1 : best;
  return oa_err_set(why, OA_EUSAGE, "\"%s\" could be %zu recordings (\"%s\", \"%s\"...): name it by a longer path",
                    path, ties + 1, ix->e[best].name, ix->e[other].name);
}

/* -------------------------------------------------------------------- rows */

static int parse_seconds(const char *s, double *out) {
  return oa_parse_double(s, out) != 0 || fabs(*out) > 1e12 ? -1 : 0;
}

/* --pad-seconds: wider on both sides, but never past an edge the range
 * itself was inside (a range already outside stays so, for oa_query_fit). */
static void pad(const oa_archive *a, oa_query *q, double seconds) {
  if (seconds <= 0) return;
  int64_t p = llround(seconds * oa_archive_samples_per_second(a, q->rec));
  int64_t samples = oa_archive_recording(a, q->rec)->samples;
  int64_t s = q->start - p, e = q->end + p;
  q->start = s < 0 && q->start >= 0 ? 0 : s;
  q->end = e > samples && q->end <= samples ? samples : e;
}

typedef struct row_ctx {
  const oa_archive *a;
  const layout *t;
  const oa_table_options *opt;
  name_index ix;
  int hints_left;
} row_ctx;

static void csv_row(row_ctx *c, char **f, long lineno, oa_query *q, oa_err *why) {
  const int seconds = (c->opt->flags & OA_QUERY_SECONDS) != 0;
  if (!oa_id_is_safe(f[0])) {
    oa_err_set(why, OA_EUSAGE, "id \"%s\" cannot be a file name", f[0]);
    return;
  }
  if (oa_archive_find(c->a, f[1], &q->rec, why) != OA_OK) {
    if (why->code == OA_ENOTFOUND && c->hints_left > 0) { /* suggestions scan every name: the first few rows only */
      c->hints_left--;
      char hint[700];
      oa_archive_suggest(c->a, f[1], hint, sizeof hint);
      size_t n = strlen(why->msg);
      snprintf(why->msg + n, sizeof why->msg - n, "%s", hint);
    }
    return;
  }
  double per_second = seconds ? oa_archive_samples_per_second(c->a, q->rec) : 0;
  if (oa_parse_position(f[2], per_second, &q->start) || oa_parse_position(f[3], per_second, &q->end)) {
    oa_err_set(why, OA_EUSAGE, "start/end must be %s", seconds ? "numbers of seconds" : "integer samples");
    return;
  }
  snprintf(q->id, sizeof q->id, "%s", f[0]);
  (void)lineno;
}

static int all_digits(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

static void detector_row(row_ctx *c, char **f, int nf, long lineno, oa_query *q, oa_err *why) {
  const layout *t = c->t;
  double begin, finish, offset = 0;
  if (parse_seconds(f[t->begin], &begin) || parse_seconds(f[t->finish], &finish) ||
      (t->offset >= 0 && parse_seconds(f[t->offset], &offset))) {
    oa_err_set(why, OA_EUSAGE, "%s, %s%s must be numbers of seconds", t->names[t->begin], t->names[t->finish],
               t->offset >= 0 ? " and File Offset (s)" : "");
    return;
  }
  if (resolve(c->a, &c->ix, f[t->file], &q->rec, why) != OA_OK) return;
  double sps = oa_archive_samples_per_second(c->a, q->rec), from = t->offset >= 0 ? offset : begin;
  q->start = llround(from * sps);
  q->end = llround((from + finish - begin) * sps);
  char stem[sizeof q->id - 24];
  oa_name_stem(oa_archive_recording_name(c->a, q->rec), stem, sizeof stem);
  /* The Selection column may lie past a short row's last field (found by fuzz_tables). */
  if (t->selection >= 0 && t->selection < nf && all_digits(f[t->selection]) && strlen(f[t->selection]) < 20)
    snprintf(q->id, sizeof q->id, "%s_s%s", stem, f[t->selection]);
  else snprintf(q->id, sizeof q->id, "%s_l%ld", stem, lineno);
}

/* One row: a query (q->id set) or a reason (why). */
static void parse_row(row_ctx *c, char **f, int nf, long lineno, oa_query *q, int *clamped, oa_err *why) {
  const layout *t = c->t;
  *q = (oa_query){.line = lineno};
  if (!t->detector && nf != t->ncols) { /* a CSV row has the header's fields, no more, no fewer */
    oa_err_set(why, OA_EUSAGE, "expected %d fields (id,recording,start,end%s), found %d%s", t->ncols,
               t->ncols > 4 ? " and the labels" : "", nf, nf > t->ncols ? " (a trailing comma?)" : "");
    return;
  }
  int need = t->begin > t->finish ? t->begin : t->finish;
  if (t->file > need) need = t->file;
  if (t->offset > need) need = t->offset;
  if (t->detector && (nf <= need || nf > t->ncols)) {
    oa_err_set(why, OA_EUSAGE, "%d fields, where the header has %d", nf, t->ncols);
    return;
  }
  if (t->detector) detector_row(c, f, nf, lineno, q, why);
  else csv_row(c, f, lineno, q, why);
  if (why->msg[0]) return;
  char id[sizeof q->id];
  memcpy(id, q->id, sizeof id);
  pad(c->a, q, c->opt->pad_seconds);
  unsigned flags = c->opt->flags | (t->detector ? OA_QUERY_SECONDS : 0);
  if (oa_query_fit(c->a, q, flags, clamped, why) == OA_OK) memcpy(q->id, id, sizeof id);
  else q->id[0] = '\0';
}

/* A second view of a selection (Raven lists Waveform and Spectrogram rows
 * of each): skipped. */
static int other_view(layout *t, char **f, int nf) {
  if (t->view < 0 || t->view >= nf) return 0;
  if (!t->first_view) t->first_view = strdup(f[t->view]);
  return t->first_view && strcmp(f[t->view], t->first_view) != 0;
}

/* A share of a table keeps the View of the table's first row (not of its
 * own first row). */
static int keep_view_of(layout *t, const char *first_row) {
  if (!t->detector || t->view < 0 || !first_row) return OA_OK;
  char *copy = strdup(first_row), **f = malloc(MAX_COLUMNS * sizeof *f);
  int nf = copy && f ? split(t, copy, f) : -2;
  if (nf > t->view) t->first_view = strdup(f[t->view]);
  free(copy), free(f);
  return nf == -2 ? OA_ENOMEM : OA_OK;
}

static void free_layout(layout *t) {
  free(t->header);
  free(t->names_buf);
  free(t->first_view);
}

struct oa_table_reader {
  const oa_archive *a;
  const char *source;
  oa_lines rows;        /* the table's lines after the header */
  oa_table_options opt;
  layout t;
  row_ctx c;
  oa_query_list names;  /* the label columns' names (no queries) */
  uint64_t body;        /* where the rows start */
  long line_at_body, lineno;
  uint64_t views_skipped;
  char *line, **fields;
  size_t cap;
};

void oa_table_reader_free(oa_table_reader *r) {
  if (!r) return;
  free(r->line);
  free(r->fields);
  oa_lines_free(&r->rows);
  free_index(&r->c.ix);
  free_layout(&r->t);
  oa_query_list_free(&r->names);
  free(r);
}

/* The header line (head's first, or the rows' first when head is
 * NULL), and a detector's index of the recordings it names. */
static int open_header(oa_table_reader *r, const char *head, size_t hlen, oa_err *err) {
  oa_lines h;
  oa_lines_memory(&h, head, hlen);
  oa_lines *from = head ? &h : &r->rows;
  if (from->fd < 0 && from->to >= 3 && memcmp(from->text, "\xEF\xBB\xBF", 3) == 0)
    from->at = 3; /* UTF-8 byte-order mark (Excel "CSV UTF-8") */
  if (!oa_lines_next(from, &r->line, &r->cap))
    return r->rows.error ? oa_err_set(err, OA_EIO, "%s: %s", r->source, strerror(r->rows.error))
                         : oa_err_set(err, OA_EUSAGE, "%s: empty file (no header)", r->source);
  int rc = read_header(&r->t, r->line, &r->opt, r->source, &r->names, err);
  if (rc == OA_OK && keep_view_of(&r->t, r->opt.first_row) != OA_OK) rc = oa_err_set(err, OA_ENOMEM, "out of memory");
  /* Only detector tables name files by path or name: a CSV names recordings. */
  if (rc == OA_OK && r->t.detector && build_index(r->a, &r->t, &r->rows, &r->c.ix) != 0)
    rc = r->rows.error ? oa_err_set(err, OA_EIO, "%s: %s", r->source, strerror(r->rows.error))
                       : oa_err_set(err, OA_ENOMEM, "out of memory");
  r->body = r->rows.at;
  r->line_at_body = r->lineno = 1 + r->opt.line_base;
  return rc;
}

int oa_table_reader_open_lines(const oa_archive *a, const char *source, const char *head, size_t hlen,
                               oa_lines *rows, const oa_table_options *opt, oa_table_reader **out, oa_err *err) {
  oa_table_reader *r = calloc(1, sizeof *r);
  *out = NULL;
  if (!r || !(r->fields = malloc(MAX_COLUMNS * sizeof *r->fields))) {
    oa_lines_free(rows);
    return free(r), oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  *r = (oa_table_reader){.a = a, .source = source, .rows = *rows, .opt = *opt, .fields = r->fields};
  r->c = (row_ctx){.a = a, .t = &r->t, .opt = &r->opt, .hints_left = 5};
  memset(rows, 0, sizeof *rows);
  rows->fd = -1;
  int rc = open_header(r, head, hlen, err);
  if (rc != OA_OK) return oa_table_reader_free(r), rc;
  *out = r;
  return OA_OK;
}

int oa_table_reader_open(const oa_archive *a, const char *source, const char *text, size_t len,
                         const oa_table_options *opt, oa_table_reader **out, oa_err *err) {
  oa_lines rows;
  oa_lines_memory(&rows, text, len);
  return oa_table_reader_open_lines(a, source, NULL, 0, &rows, opt, out, err);
}

size_t oa_table_reader_labels(const oa_table_reader *r, const char **first) {
  *first = r->names.nlabels ? r->names.label_names[0] : NULL;
  return r->names.nlabels;
}

void oa_table_reader_rewind(oa_table_reader *r) {
  r->rows.at = r->body, r->lineno = r->line_at_body, r->views_skipped = 0;
}

/* The label names of every batch: copies of the header's. */
static int name_labels(const oa_table_reader *r, oa_query_list *out) {
  out->nlabels = r->names.nlabels;
  out->label_names = calloc(out->nlabels ? out->nlabels : 1, sizeof *out->label_names);
  if (!out->label_names) return -1;
  for (size_t k = 0; k < out->nlabels; k++)
    if (!(out->label_names[k] = strdup(r->names.label_names[k]))) return -1;
  return 0;
}

/* One row: a query added to out, or counted there as bad (and logged). */
static int take_row(oa_table_reader *r, const oa_logger *log, oa_query_list *out, oa_err *err) {
  int nf = split(&r->t, r->line, r->fields);
  if (nf > 0 && r->t.detector && other_view(&r->t, r->fields, nf)) {
    r->views_skipped++;
    return OA_OK;
  }
  oa_query q;
  oa_err why;
  oa_err_clear(&why);
  int clamped = 0;
  if (nf < 0) oa_err_set(&why, OA_EUSAGE, "more than %d fields, or an unclosed quote", MAX_COLUMNS);
  else parse_row(&r->c, r->fields, nf, r->lineno, &q, &clamped, &why);
  if (why.msg[0]) {
    out->bad++;
    if (log) OA_LOG(log, ERROR, "%s:%ld: %s", r->source, r->lineno, why.msg);
    return OA_OK;
  }
  if (oa_query_list_add(out, &q, NULL, 0) || add_labels(out, r->fields, nf, r->t.label_col))
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  if (clamped) out->clamped++;
  if (clamped && log) OA_LOG(log, INFO, "%s:%ld: %s cut to the recording (clamped)", r->source, r->lineno, q.id);
  return OA_OK;
}

int oa_table_reader_next(oa_table_reader *r, size_t max, const oa_logger *log, oa_query_list *out, oa_err *err) {
  memset(out, 0, sizeof *out);
  int rc = name_labels(r, out) == 0 ? OA_OK : oa_err_set(err, OA_ENOMEM, "out of memory");
  int more = 0;
  while (rc == OA_OK && out->n < max && (more = oa_lines_next(&r->rows, &r->line, &r->cap) != NULL)) {
    r->lineno++;
    if (r->line[0] != '\0') rc = take_row(r, log, out, err);
  }
  if (rc == OA_OK && r->rows.error)
    rc = oa_err_set(err, OA_EIO, "%s: cannot read its rows: %s", r->source, strerror(r->rows.error));
  if (rc == OA_OK && !more && r->views_skipped && log)
    OA_LOG(log, INFO, "%s: %llu rows of other views (View is not \"%s\") skipped", r->source,
           (unsigned long long)r->views_skipped, r->t.first_view ? r->t.first_view : "");
  if (rc != OA_OK) oa_query_list_free(out);
  return rc;
}

int oa_queries_from_table(const oa_archive *a, const char *source, const char *text, size_t len,
                          const oa_table_options *opt, const oa_logger *log, oa_query_list *out, oa_err *err) {
  memset(out, 0, sizeof *out);
  oa_table_reader *r;
  int rc = oa_table_reader_open(a, source, text, len, opt, &r, err);
  if (rc == OA_OK) rc = oa_table_reader_next(r, SIZE_MAX, log, out, err);
  oa_table_reader_free(r);
  return rc;
}

int oa_queries_from_csv(const oa_archive *a, const char *source, const char *text, size_t len, unsigned flags,
                        const oa_logger *log, oa_query_list *out, oa_err *err) {
  oa_table_options opt = {.format = OA_TABLE_CSV, .flags = flags};
  return oa_queries_from_table(a, source, text, len, &opt, log, out, err);
}
