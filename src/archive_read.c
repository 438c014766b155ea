/* The archive as readers see it: the file `index` made plus, after
 * `index --append`, the segments its list names (src/segments.h), as one
 * archive. Each file is read by src/archive_seg.c; here its rows are
 * rebased so that recording, link, interval, packet and checkpoint
 * positions run on across the files, and every read is routed to the one
 * file that holds it. An archive that was never appended to is one file
 * with every base at zero. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_seg.h"
#include "segments.h"
#include "opusarc/util.h"

/* Where a file's rows start in the union. */
typedef struct seg_base {
  uint64_t recs, links, intervals, data, state, heads;
} seg_base;

struct oa_archive {
  oa_seg **seg;
  size_t nseg;
  seg_base *base; /* nseg + 1 entries: the last is the union's totals */
  size_t stale;   /* segments of a list left by an archive this one replaced */
  oa_archive_meta meta;
  oa_archive_totals totals;
  uint64_t nrecs;
  int rows_summed; /* totals.packets and payload_bytes hold every row's */
  char *path;
};

static int range_ok(uint64_t first, uint64_t n, uint64_t size) { return first <= size && n <= size - first; }

/* The file holding union position `pos` of the field at `offset` in seg_base. */
static size_t seg_of(const oa_archive *a, size_t field, uint64_t pos) {
  size_t lo = 0, hi = a->nseg - 1;
  while (lo < hi) {
    size_t mid = (lo + hi + 1) / 2;
    if (*(const uint64_t *)((const char *)&a->base[mid] + field) <= pos) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
#define SEG_OF(a, f, pos) seg_of(a, offsetof(seg_base, f), pos)

/* Rows are loaded on first use, so looking one up changes the cache
 * behind a const archive (one handle per thread, as documented). */
static oa_seg *rec_seg(const oa_archive *a, uint64_t i, uint64_t *local) {
  size_t k = SEG_OF(a, recs, i);
  *local = i - a->base[k].recs;
  return a->seg[k];
}

/* Files appended to one archive must describe their checkpoints alike:
 * one libopus build and one checkpoint rule for the whole archive. */
static int check_alike(const oa_seg *first, const oa_seg *s, const char *identity, oa_err *err) {
  const oa_archive_meta *m = &first->meta, *n = &s->meta;
  const char *what = NULL;
  if (strcmp(n->segment_of, identity) != 0) what = "it belongs to another archive";
  else if (n->build.code_hash != m->build.code_hash || strcmp(n->build.version, m->build.version) != 0)
    what = "it was written by another libopus build";
  else if (n->checkpoint_every != m->checkpoint_every || strcmp(n->checkpoints, m->checkpoints) != 0 ||
           n->max_preroll != m->max_preroll)
    what = "its checkpoint settings differ";
  if (!what) return OA_OK;
  return oa_err_set(err, OA_EARCHIVE, "%s: segment %s cannot be read with it: %s", first->path, s->path, what);
}

static int add_seg(oa_archive *a, oa_seg *s) {
  oa_seg **grown = realloc(a->seg, (a->nseg + 1) * sizeof *grown);
  if (!grown) return -1;
  a->seg = grown;
  a->seg[a->nseg++] = s;
  return 0;
}

/* The segments the list names, when it is this base file's list. */
static int open_segments(oa_archive *a, oa_err *err) {
  oa_seglist list;
  int found = 0;
  int rc = oa_seglist_load(a->path, &list, &found, err);
  if (rc != OA_OK || !found) return rc;
  char identity[128];
  rc = oa_base_identity(a->path, &a->seg[0]->meta, identity, sizeof identity, err);
  if (rc == OA_OK && strcmp(identity, list.base) != 0) {
    a->stale = list.n; /* the list of an archive since replaced under this name */
    oa_seglist_free(&list);
    return OA_OK;
  }
  for (size_t i = 0; rc == OA_OK && i < list.n; i++) {
    char path[4096];
    oa_segment_in_dir(a->path, list.names[i], path, sizeof path);
    oa_seg *s = NULL;
    rc = oa_seg_open(path, &s, err);
    if (rc != OA_OK) {
      oa_err_prefix(err, "%s: segment %s listed in %s.segments cannot be read: ", a->path, list.names[i], a->path);
      break;
    }
    rc = check_alike(a->seg[0], s, identity, err);
    if (rc == OA_OK && add_seg(a, s) != 0) rc = oa_err_set(err, OA_ENOMEM, "out of memory");
    if (rc != OA_OK) oa_seg_close(s);
  }
  oa_seglist_free(&list);
  return rc;
}

/* Bases of each file and the union's totals; each file moves its rows onto
 * union positions as it loads them. */
static int build_union(oa_archive *a, oa_err *err) {
  a->base = calloc(a->nseg + 1, sizeof *a->base);
  if (!a->base) return oa_err_set(err, OA_ENOMEM, "out of memory");
  oa_archive_totals *t = &a->totals;
  for (size_t k = 0; k < a->nseg; k++) {
    oa_seg *s = a->seg[k];
    const oa_archive_totals *st = &s->totals;
    seg_base b = a->base[k];
    s->base_links = b.links, s->base_intervals = b.intervals, s->base_data = b.data;
    a->base[k + 1] = (seg_base){b.recs + s->nrecs, b.links + st->links, b.intervals + st->intervals,
                                b.data + st->data_bytes, b.state + st->state_bytes, b.heads + st->heads};
    t->heads += st->heads, t->packets += st->packets, t->data_bytes += st->data_bytes, t->payload_bytes += st->payload_bytes;
    t->links += st->links, t->intervals += st->intervals, t->state_bytes += st->state_bytes;
    t->string_bytes += st->string_bytes, t->stored_data += st->stored_data;
    t->stored_index += st->stored_index, t->stored_checkpoints += st->stored_checkpoints;
  }
  a->nrecs = a->base[a->nseg].recs;
  a->meta = a->seg[0]->meta;
  a->meta.recordings = a->nrecs;
  return OA_OK;
}

int oa_archive_open(const char *path, oa_archive **out, oa_err *err) {
  *out = NULL;
  oa_archive *a = calloc(1, sizeof *a);
  if (!a || !(a->path = strdup(path))) {
    free(a);
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  oa_seg *first = NULL;
  int rc = oa_seg_open(path, &first, err);
  if (rc == OA_OK && add_seg(a, first) != 0) {
    oa_seg_close(first);
    rc = oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  /* A segment opened by its own name is read alone. */
  if (rc == OA_OK && !first->meta.segment_of[0]) rc = open_segments(a, err);
  if (rc == OA_OK) rc = build_union(a, err);
  if (rc != OA_OK) {
    oa_archive_close(a);
    return rc;
  }
  *out = a;
  return OA_OK;
}

void oa_archive_close(oa_archive *a) {
  if (!a) return;
  for (size_t k = 0; k < a->nseg; k++) oa_seg_close(a->seg[k]);
  free(a->seg), free(a->base), free(a->path);
  free(a);
}

size_t oa_archive_segment_count(const oa_archive *a) { return a->nseg - 1; }
size_t oa_archive_stale_segments(const oa_archive *a) { return a->stale; }
const char *oa_archive_file(const oa_archive *a, size_t k) { return k < a->nseg ? a->seg[k]->path : NULL; }
uint64_t oa_archive_file_recordings(const oa_archive *a, size_t k) { return k < a->nseg ? a->seg[k]->nrecs : 0; }

const oa_archive_meta *oa_archive_get_meta(const oa_archive *a) { return &a->meta; }
uint64_t oa_archive_recording_count(const oa_archive *a) { return a->nrecs; }

const oa_rec_row *oa_archive_recording(const oa_archive *a, uint64_t i) {
  if (i >= a->nrecs) return NULL;
  uint64_t local;
  oa_seg *s = rec_seg(a, i, &local);
  return oa_seg_recording(s, local);
}

#define STRING_ACCESSOR(fn, field)                     \
  const char *fn(const oa_archive *a, uint64_t i) {    \
    if (i >= a->nrecs) return NULL;                    \
    uint64_t local;                                    \
    oa_seg *s = rec_seg(a, i, &local);                 \
    return oa_seg_string(s, local, field);             \
  }
STRING_ACCESSOR(oa_archive_recording_name, OA_STR_NAME)
STRING_ACCESSOR(oa_archive_recording_path, OA_STR_PATH)
STRING_ACCESSOR(oa_archive_recording_error, OA_STR_ERROR)
STRING_ACCESSOR(oa_archive_recording_start, OA_STR_START)
STRING_ACCESSOR(oa_archive_recording_tags, OA_STR_TAGS)
STRING_ACCESSOR(oa_archive_recording_recorder, OA_STR_RECORDER)

double oa_archive_samples_per_second(const oa_archive *a, uint64_t i) {
  const oa_rec_row *r = oa_archive_recording(a, i);
  return r ? oa_rec_row_rate(r) : (double)OA_SAMPLE_RATE;
}
static int sum_row(void *ctx, uint64_t i, const oa_rec_row *r, const char *const *str) {
  oa_archive_totals *t = ctx;
  (void)i, (void)str;
  t->packets += r->packet_count;
  t->payload_bytes += r->payload_bytes;
  return 0;
}

typedef struct scan_adapter {
  oa_archive_row_fn fn;
  void *ctx;
  uint64_t base;
} scan_adapter;

static int adapt_row(void *ctx, uint64_t i, const oa_rec_row *r, const char *const *str) {
  const scan_adapter *s = ctx;
  const oa_row_texts tx = {str[OA_STR_NAME], str[OA_STR_PATH],  str[OA_STR_ERROR],
                           str[OA_STR_START], str[OA_STR_TAGS], str[OA_STR_RECORDER]};
  return s->fn(s->ctx, s->base + i, r, &tx);
}

int oa_archive_scan(const oa_archive *a, oa_archive_row_fn fn, void *ctx) {
  for (size_t k = 0; k < a->nseg; k++) {
    scan_adapter s = {fn, ctx, a->base[k].recs};
    int rc = oa_seg_scan(a->seg[k], adapt_row, &s);
    if (rc) return rc;
  }
  return 0;
}

int oa_archive_scan_range(const oa_archive *a, uint64_t first, uint64_t count, oa_archive_row_fn fn, void *ctx) {
  for (size_t k = 0; k < a->nseg; k++) {
    uint64_t lo = a->base[k].recs, hi = a->base[k + 1].recs; /* this file's rows in the union */
    if (hi <= first || lo >= first + count) continue;
    scan_adapter s = {fn, ctx, lo};
    uint64_t from = first > lo ? first - lo : 0, to = (first + count < hi ? first + count : hi) - lo;
    int rc = oa_seg_scan_range(a->seg[k], from, to, adapt_row, &s);
    if (rc) return rc;
  }
  return 0;
}

uint64_t oa_archive_blocks_loaded(const oa_archive *a) {
  uint64_t n = 0;
  for (size_t k = 0; k < a->nseg; k++) n += a->seg[k]->blocks_loaded;
  return n;
}

/* Packets and payload are sums over the rows: read once, on first ask. */
void oa_archive_get_totals(const oa_archive *a, oa_archive_totals *t) {
  oa_archive *w = (oa_archive *)a;
  if (!w->rows_summed) {
    w->totals.packets = w->totals.payload_bytes = 0;
    for (size_t k = 0; k < w->nseg; k++) oa_seg_scan(w->seg[k], sum_row, &w->totals);
    w->rows_summed = 1;
  }
  *t = a->totals;
}

/* Finding a name: the first row of that name that was indexed, else the
 * first of that name (duplicates are failed rows saying so). The rows are
 * scanned a block at a time, so a lookup holds one block, not the table. */
typedef struct name_search {
  const char *name;
  uint64_t base, first, readable;
  int found, found_readable;
} name_search;

static int match_name(void *ctx, uint64_t i, const oa_rec_row *r, const char *const *str) {
  name_search *q = ctx;
  if (strcmp(str[OA_STR_NAME], q->name) != 0) return 0;
  if (!q->found) q->found = 1, q->first = q->base + i;
  if (OA_REC_READABLE(r)) q->found_readable = 1, q->readable = q->base + i;
  return q->found_readable;
}

/* A binary search in each file first (rows are stored in name order); a
 * file where it misses is read row by row (rows out of order, or a name
 * that is not there). */
int oa_archive_find(const oa_archive *a, const char *name, uint64_t *index, oa_err *err) {
  name_search q = {.name = name};
  uint8_t *indexed = calloc(a->nseg, 1); /* files whose search found it */
  if (!indexed) return oa_err_set(err, OA_ENOMEM, "out of memory");
  for (size_t k = 0; k < a->nseg && !q.found_readable; k++) {
    uint64_t row;
    int found = oa_seg_find(a->seg[k], name, &row);
    indexed[k] = found >= 0; /* found, or known not to be there */
    if (found != 1) continue;
    uint64_t at = a->base[k].recs + row;
    if (!q.found) q.found = 1, q.first = at;
    if (OA_REC_READABLE(oa_seg_recording(a->seg[k], row))) q.found_readable = 1, q.readable = at;
  }
  for (size_t k = 0; k < a->nseg && !q.found_readable; k++) {
    if (indexed[k]) continue;
    q.base = a->base[k].recs;
    if (oa_seg_scan(a->seg[k], match_name, &q) < 0) {
      free(indexed);
      return oa_err_set(err, OA_ENOMEM, "out of memory");
    }
  }
  free(indexed);
  if (q.found) {
    *index = q.found_readable ? q.readable : q.first;
    return OA_OK;
  }
  return oa_err_set(err, OA_ENOTFOUND, "no recording named \"%s\" in %s", name, a->path);
}

/* Edit distance of a and b if it is at most k, else k + 1. */
static size_t bounded_distance(const char *a, const char *b, size_t k) {
  size_t la = strlen(a), lb = strlen(b);
  if ((la > lb ? la - lb : lb - la) > k || lb > 1023) return k + 1;
  size_t row[1024], next[1024];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    next[0] = i;
    size_t best = next[0];
    for (size_t j = 1; j <= lb; j++) {
      size_t sub = row[j - 1] + (a[i - 1] != b[j - 1]), del = row[j] + 1, ins = next[j - 1] + 1;
      next[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
      if (next[j] < best) best = next[j];
    }
    if (best > k) return k + 1;
    memcpy(row, next, (lb + 1) * sizeof *row);
  }
  return row[lb];
}

static const char *base_of(const char *name) {
  const char *slash = strrchr(name, '/');
  return slash ? slash + 1 : name;
}

typedef struct suggestion {
  const char *name;
  char *out;
  size_t len, used, k;
  int found, small;
} suggestion;

static int near_name(void *ctx, uint64_t i, const oa_rec_row *r, const char *const *str) {
  suggestion *g = ctx;
  const char *cand = str[OA_STR_NAME];
  (void)i, (void)r;
  int near = strcmp(base_of(cand), base_of(g->name)) == 0 || (g->small && bounded_distance(cand, g->name, g->k) <= g->k);
  if (near && g->used < g->len) {
    g->used += (size_t)snprintf(g->out + g->used, g->len - g->used, "%s\"%s\"", g->found ? ", " : "; did you mean ",
                                cand);
    g->found++;
  }
  return g->found >= 3;
}

void oa_archive_suggest(const oa_archive *a, const char *name, char *out, size_t len) {
  out[0] = '\0';
  suggestion g = {.name = name, .out = out, .len = len, .k = strlen(name) / 4 > 2 ? strlen(name) / 4 : 2,
                  .small = a->nrecs <= 20000}; /* edit distances cost ~L^2 each: only for small archives */
  for (size_t k = 0; k < a->nseg && g.found < 3; k++) oa_seg_scan(a->seg[k], near_name, &g);
  if (g.found && g.used < len) snprintf(out + g.used, len - g.used, "?");
}

static int outside(const oa_archive *a, const char *what, uint64_t first, uint64_t n, uint64_t size, oa_err *err) {
  return oa_err_set(err, OA_EARCHIVE, "%s: %s [%llu, +%llu) outside the dataset (%llu)", a->path, what,
                    (unsigned long long)first, (unsigned long long)n, (unsigned long long)size);
}

/* Rows [first, first + n) may span files: each file's part is read from it
 * and moved onto union positions. */
int oa_archive_read_links(oa_archive *a, uint64_t first, uint64_t n, oa_link_row *rows, oa_err *err) {
  if (!range_ok(first, n, a->totals.links)) return outside(a, "links", first, n, a->totals.links, err);
  for (uint64_t done = 0; done < n;) {
    size_t k = SEG_OF(a, links, first + done);
    const seg_base *b = &a->base[k];
    uint64_t here = b[1].links - (first + done);
    if (here > n - done) here = n - done;
    int rc = oa_seg_read_links(a->seg[k], first + done - b->links, here, rows + done, err);
    if (rc != OA_OK) return rc;
    for (uint64_t i = done; i < done + here; i++)
      rows[i].recording += b->recs, rows[i].first_interval += b->intervals, rows[i].data_offset += b->data,
      rows[i].first_packet += rows[i].first_packet == OA_NO_HEADS ? 0 : b->heads;
    done += here;
  }
  return OA_OK;
}

int oa_archive_read_intervals(oa_archive *a, uint64_t first, uint64_t n, oa_interval_row *rows, oa_err *err) {
  if (!range_ok(first, n, a->totals.intervals)) return outside(a, "intervals", first, n, a->totals.intervals, err);
  for (uint64_t done = 0; done < n;) {
    size_t k = SEG_OF(a, intervals, first + done);
    const seg_base *b = &a->base[k];
    uint64_t here = b[1].intervals - (first + done);
    if (here > n - done) here = n - done;
    int rc = oa_seg_read_intervals(a->seg[k], first + done - b->intervals, here, rows + done, err);
    if (rc != OA_OK) return rc;
    for (uint64_t i = done; i < done + here; i++) {
      oa_interval_row *v = &rows[i];
      v->link += b->links, v->data_offset += b->data, v->preroll_offset += b->data, v->state_offset += b->state;
    }
    done += here;
  }
  return OA_OK;
}

typedef int (*byte_reader)(oa_seg *, uint64_t, uint64_t, uint8_t *, oa_err *);

static int read_bytes(oa_archive *a, size_t field, byte_reader fn, uint64_t offset, uint64_t n, uint64_t size,
                      uint8_t *buf, const char *what, oa_err *err) {
  if (!range_ok(offset, n, size)) return outside(a, what, offset, n, size, err);
  for (uint64_t done = 0; done < n;) {
    size_t k = seg_of(a, field, offset + done);
    uint64_t start = *(const uint64_t *)((const char *)&a->base[k] + field);
    uint64_t end = *(const uint64_t *)((const char *)&a->base[k + 1] + field);
    uint64_t here = end - (offset + done);
    if (here > n - done) here = n - done;
    int rc = fn(a->seg[k], offset + done - start, here, buf + done, err);
    if (rc != OA_OK) return rc;
    done += here;
  }
  return OA_OK;
}

int oa_archive_read_data(oa_archive *a, uint64_t offset, uint64_t n, uint8_t *buf, oa_err *err) {
  return read_bytes(a, offsetof(seg_base, data), oa_seg_read_data, offset, n, a->totals.data_bytes, buf,
                    "packet data", err);
}

int oa_archive_read_state(oa_archive *a, uint64_t offset, uint64_t n, uint8_t *buf, oa_err *err) {
  return read_bytes(a, offsetof(seg_base, state), oa_seg_read_state, offset, n, a->totals.state_bytes, buf,
                    "checkpoint state", err);
}

int oa_archive_read_heads(oa_archive *a, uint64_t first, uint64_t n, uint32_t *heads, oa_err *err) {
  if (!range_ok(first, n, a->totals.heads)) return outside(a, "packet heads", first, n, a->totals.heads, err);
  for (uint64_t done = 0; done < n;) {
    size_t k = SEG_OF(a, heads, first + done);
    uint64_t here = a->base[k + 1].heads - (first + done);
    if (here > n - done) here = n - done;
    int rc = oa_seg_read_heads(a->seg[k], first + done - a->base[k].heads, here, heads + done, err);
    if (rc != OA_OK) return rc;
    done += here;
  }
  return OA_OK;
}
