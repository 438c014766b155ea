/* `merge`: archives indexed separately into one (include/opusarc/merge.h).
 * Every rank opens every input (independent reads); the merged order (by
 * name) and the split by bytes follow from the inputs alone, so every rank
 * computes the same ones without messages. Each rank copies its recordings'
 * rows and bytes into batches, moved onto batch-local positions exactly as
 * the indexer lays them out, and the archive writer commits the rounds. */
#include "opusarc/merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opusarc/archive.h"
#include "opusarc/corpus.h"
#include "opusarc/mpiutil.h"
#include "opusarc/packet.h"
#include "opusarc/util.h"
#include "outfile.h"

typedef struct merged_row {
  uint32_t input;
  uint64_t index; /* recording within its input */
} merged_row;

typedef struct merge_ctx {
  MPI_Comm comm;
  int rank, size;
  const oa_merge_job *job;
  const oa_logger *log;
  oa_merge_result *res;
  oa_archive **in;
  merged_row *rows;
  size_t nrows;
  oa_corpus sources; /* one entry per merged row: what each recording was indexed from */
  int *owner;
} merge_ctx;

static int open_inputs(merge_ctx *m, oa_err *err) {
  m->in = calloc((size_t)m->job->ninputs, sizeof *m->in);
  int ok = m->in != NULL;
  if (!ok) oa_err_set(err, OA_ENOMEM, "out of memory");
  for (int i = 0; ok && i < m->job->ninputs; i++) ok = oa_archive_open(m->job->inputs[i], &m->in[i], err) == OA_OK;
  return oa_mpi_agree_err(m->comm, ok, err) ? OA_OK : OA_EARCHIVE;
}

/* One libopus build and one checkpoint rule: checkpoints are copied, not
 * made again, so they must mean the same in every input. */
static int check_alike(const merge_ctx *m, oa_err *err) {
  const oa_archive_meta *a = oa_archive_get_meta(m->in[0]);
  for (int i = 1; i < m->job->ninputs; i++) {
    const oa_archive_meta *b = oa_archive_get_meta(m->in[i]);
    const char *x = m->job->inputs[0], *y = m->job->inputs[i];
    oa_rule_diff d;
    if (oa_meta_rules_differ(a, b, &d))
      return oa_err_set(err, OA_EUSAGE, "cannot merge: the %s of %s is %s, of %s %s", d.what, x, d.a, y, d.b);
  }
  return OA_OK;
}

/* Rank 0: the output is none of the input files (bases and segments). */
static int check_output(const merge_ctx *m, oa_err *err) {
  size_t n = 0;
  for (int i = 0; i < m->job->ninputs; i++) n += oa_archive_segment_count(m->in[i]) + 1;
  oa_file_id *ids = calloc(n, sizeof *ids);
  if (!ids) return oa_err_set(err, OA_ENOMEM, "out of memory");
  size_t k = 0;
  for (int i = 0; i < m->job->ninputs; i++)
    for (size_t f = 0; f <= oa_archive_segment_count(m->in[i]); f++)
      if (oa_file_id_of(oa_archive_file(m->in[i], f), &ids[k]) == 0) k++;
  int rc = oa_out_check(m->job->output, 1, ids, k, "archive", err);
  free(ids);
  return rc;
}

static const char *row_name(const merge_ctx *m, const merged_row *r) {
  return oa_archive_recording_name(m->in[r->input], r->index);
}

static int by_name(const void *x, const void *y, void *ctx) {
  const merged_row *a = x, *b = y;
  int c = strcmp(row_name(ctx, a), row_name(ctx, b));
  if (c) return c;
  if (a->input != b->input) return a->input < b->input ? -1 : 1;
  return a->index < b->index ? -1 : a->index > b->index;
}

static int same_source(const oa_rec_row *a, const oa_rec_row *b) {
  return a->source_size == b->source_size && a->source_mtime_ns == b->source_mtime_ns && a->status == b->status &&
         a->samples == b->samples && a->payload_bytes == b->payload_bytes;
}

/* Every rank: the merged rows in name order. A name in two inputs is kept
 * once when both rows say the same recording, refused otherwise. */
static int plan_rows(merge_ctx *m, oa_err *err) {
  size_t n = 0;
  for (int i = 0; i < m->job->ninputs; i++) n += oa_archive_recording_count(m->in[i]);
  m->rows = malloc((n ? n : 1) * sizeof *m->rows);
  if (!m->rows) return oa_err_set(err, OA_ENOMEM, "out of memory for %zu recordings", n);
  size_t k = 0;
  for (int i = 0; i < m->job->ninputs; i++)
    for (uint64_t r = 0; r < oa_archive_recording_count(m->in[i]); r++) m->rows[k++] = (merged_row){(uint32_t)i, r};
  qsort_r(m->rows, n, sizeof *m->rows, by_name, m);
  size_t out = 0;
  for (size_t i = 0; i < n; i++) {
    const merged_row *prev = out ? &m->rows[out - 1] : NULL, *cur = &m->rows[i];
    if (prev && prev->input != cur->input && strcmp(row_name(m, prev), row_name(m, cur)) == 0) {
      if (!same_source(oa_archive_recording(m->in[prev->input], prev->index),
                       oa_archive_recording(m->in[cur->input], cur->index)))
        return oa_err_set(err, OA_EUSAGE, "cannot merge: %s and %s both hold \"%s\", from different sources; "
                          "nothing was written", m->job->inputs[prev->input], m->job->inputs[cur->input],
                          row_name(m, cur));
      m->res->duplicates++;
      continue;
    }
    m->rows[out++] = *cur;
  }
  m->nrows = out;
  m->res->recordings = out;
  return OA_OK;
}

/* What each merged recording was indexed from, as the writer's corpus: a
 * resumed merge must be the same merge. */
static int make_sources(merge_ctx *m, oa_err *err) {
  oa_corpus *c = &m->sources;
  c->entries = calloc(m->nrows ? m->nrows : 1, sizeof *c->entries);
  if (!c->entries) return oa_err_set(err, OA_ENOMEM, "out of memory");
  c->cap = m->nrows;
  for (size_t i = 0; i < m->nrows; i++) {
    const oa_archive *a = m->in[m->rows[i].input];
    uint64_t k = m->rows[i].index;
    const oa_rec_row *r = oa_archive_recording(a, k);
    oa_corpus_entry *e = &c->entries[c->count++];
    e->name = strdup(oa_archive_recording_name(a, k));
    e->path = strdup(oa_archive_recording_path(a, k));
    e->size = r->source_size, e->mtime_ns = r->source_mtime_ns, e->ino = r->source_inode;
    if (!e->name || !e->path) return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  uint64_t *sizes = malloc((m->nrows ? m->nrows : 1) * sizeof *sizes);
  m->owner = malloc((m->nrows ? m->nrows : 1) * sizeof *m->owner);
  if (!sizes || !m->owner) {
    free(sizes);
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < m->nrows; i++) sizes[i] = oa_archive_recording(m->in[m->rows[i].input], m->rows[i].index)->data_size;
  int rc = oa_partition_by_size(sizes, m->nrows, m->size, m->owner);
  free(sizes);
  return rc == 0 ? OA_OK : oa_err_set(err, OA_ENOMEM, "out of memory");
}

static int damaged(const oa_archive *a, const char *input, uint64_t i, const char *what, oa_err *err) {
  return oa_err_set(err, OA_EARCHIVE, "%s: recording \"%s\": %s; nothing was merged from a damaged archive (run "
                    "opusarc verify on it)", input, oa_archive_recording_name(a, i), what);
}

/* The links of recording i, moved onto batch positions. */
static int copy_links(oa_archive *a, const char *input, uint64_t i, uint64_t row, oa_batch *b, oa_err *err) {
  const oa_rec_row *r = oa_archive_recording(a, i);
  if (oa_grow((void **)&b->links, &b->links_cap, b->nlinks + r->link_count, sizeof *b->links))
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  oa_link_row *l = b->links + b->nlinks;
  int rc = oa_archive_read_links(a, r->first_link, r->link_count, l, err);
  for (uint64_t k = 0; rc == OA_OK && k < r->link_count; k++, l++) {
    if (l->recording != i || l->first_interval < r->first_interval ||
        l->first_interval - r->first_interval > r->interval_count || l->data_offset < r->data_offset ||
        l->data_offset - r->data_offset > r->data_size)
      return damaged(a, input, i, "a link row points outside the recording", err);
    l->recording = row;
    l->first_interval = l->first_interval - r->first_interval + b->nintervals;
    l->data_offset = l->data_offset - r->data_offset + b->data_len;
  }
  return rc;
}

/* Its intervals, and the snapshots they carry, moved likewise. */
static int copy_intervals(oa_archive *a, const char *input, uint64_t i, oa_batch *b, oa_err *err) {
  const oa_rec_row *r = oa_archive_recording(a, i);
  if (oa_grow((void **)&b->intervals, &b->intervals_cap, b->nintervals + r->interval_count, sizeof *b->intervals))
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  oa_interval_row *v = b->intervals + b->nintervals;
  int rc = oa_archive_read_intervals(a, r->first_interval, r->interval_count, v, err);
  for (uint64_t k = 0; rc == OA_OK && k < r->interval_count; k++, v++) {
    uint64_t end = r->data_offset + r->data_size;
    if (v->link < r->first_link || v->link - r->first_link >= r->link_count || v->data_offset < r->data_offset ||
        v->data_offset >= end || v->preroll_offset < r->data_offset || v->preroll_offset > v->data_offset)
      return damaged(a, input, i, "an interval row points outside the recording", err);
    v->link = v->link - r->first_link + (b->nlinks - r->link_count);
    v->data_offset = v->data_offset - r->data_offset + b->data_len;
    v->preroll_offset = v->preroll_offset - r->data_offset + b->data_len;
    if (!OA_CP_HAS_STATE(v->kind)) continue;
    uint8_t *blob = malloc(v->state_size ? v->state_size : 1);
    rc = blob ? oa_archive_read_state(a, v->state_offset, v->state_size, blob, err)
              : oa_err_set(err, OA_ENOMEM, "out of memory");
    if (rc == OA_OK) rc = oa_batch_put_state(b, blob, v->state_size, &v->state_offset, err);
    free(blob);
  }
  if (rc == OA_OK) b->nintervals += r->interval_count;
  return rc;
}

/* Batch position of a packet that began at `old` in the prefixed layout,
 * or UINT64_MAX when no packet began there. */
static uint64_t moved_offset(const uint64_t *from, const uint64_t *to, size_t n, uint64_t old) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (from[mid] < old) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && from[lo] == old ? to[lo] : UINT64_MAX;
}

/* One link copied from a file before format 7 (its packets behind length
 * prefixes): split into heads and bytes, in place (the bytes only shrink:
 * *rd reads ahead of *wr), and its intervals' offsets moved with them. */
static int split_link(oa_link_row *l, oa_batch *b, uint64_t start, uint64_t total, uint64_t *rd, uint64_t *wr,
                      oa_interval_row *iv, size_t niv, uint64_t link, uint64_t *from, uint64_t *to) {
  uint8_t *d = b->data + (start - b->data_spilled); /* in memory: see copy_prefixed */
  uint64_t end = *rd + l->data_size, matrix = 0, first = *wr;
  if (l->data_offset != start + *rd || l->data_size > total - *rd) return -1;
  if (l->mapping_family == 3) matrix = 2 * (uint64_t)l->channels * (uint64_t)(l->streams + l->coupled);
  if (matrix > l->data_size) return -1;
  memmove(d + *wr, d + *rd, matrix);
  *rd += matrix, *wr += matrix;
  if (oa_grow((void **)&b->heads, &b->heads_cap, b->nheads - b->heads_spilled + l->packet_count, sizeof *b->heads))
    return -1;
  l->first_packet = b->nheads;
  for (uint64_t p = 0; p < l->packet_count; p++) {
    uint32_t len;
    size_t used = oa_prefix_read(d + *rd, end - *rd, &len);
    if (used == 0 || len > end - *rd - used) return -1;
    uint32_t head = oa_head_make(len, len ? d[*rd + used] : 0);
    from[p] = start + *rd, to[p] = start + *wr;
    memmove(d + *wr, d + *rd + used + (len > 0), oa_head_body(head));
    b->heads[b->nheads++ - b->heads_spilled] = head;
    *rd += used + len, *wr += oa_head_body(head);
  }
  if (*rd != end) return -1;
  l->data_offset = start + first, l->data_size = *wr - first;
  for (size_t k = 0; k < niv; k++) {
    if (iv[k].link != link) continue;
    iv[k].data_offset = moved_offset(from, to, l->packet_count, iv[k].data_offset);
    iv[k].preroll_offset = moved_offset(from, to, l->packet_count, iv[k].preroll_offset);
    if (iv[k].data_offset == UINT64_MAX || iv[k].preroll_offset == UINT64_MAX) return -1;
  }
  return 0;
}

/* Heads and bytes are copied a piece at a time, so the batch may spill a
 * long recording instead of holding it. */
#define PIECE ((size_t)1 << 20)

static int copy_heads(oa_archive *a, uint64_t first, uint64_t n, oa_batch *b, oa_err *err) {
  uint32_t *heads = malloc(PIECE * sizeof *heads);
  if (!heads) return oa_err_set(err, OA_ENOMEM, "out of memory");
  int rc = OA_OK;
  for (uint64_t at = 0; rc == OA_OK && at < n; at += PIECE) {
    uint64_t k = n - at < PIECE ? n - at : PIECE;
    rc = oa_archive_read_heads(a, first + at, k, heads, err);
    for (uint64_t h = 0; rc == OA_OK && h < k; h++) rc = oa_batch_put_head(b, heads[h], err);
  }
  free(heads);
  return rc;
}

static int copy_data(oa_archive *a, uint64_t offset, uint64_t n, oa_batch *b, oa_err *err) {
  uint8_t *bytes = malloc(PIECE);
  if (!bytes) return oa_err_set(err, OA_ENOMEM, "out of memory");
  int rc = OA_OK;
  for (uint64_t at = 0; rc == OA_OK && at < n; at += PIECE) {
    uint64_t k = n - at < PIECE ? n - at : PIECE;
    rc = oa_archive_read_data(a, offset + at, k, bytes, err);
    if (rc == OA_OK) rc = oa_batch_put_data(b, bytes, (size_t)k, err);
  }
  free(bytes);
  return rc;
}

/* A recording from a file before format 7 (packets behind length
 * prefixes) is read whole into memory and split there (split_link): the
 * batch does not spill meanwhile (nothing but oa_batch_put_* spills). */
static int copy_prefixed(oa_archive *a, uint64_t offset, uint64_t n, oa_batch *b, oa_err *err) {
  size_t used = b->data_len - b->data_spilled;
  if (oa_grow((void **)&b->data, &b->data_cap, used + n, 1)) return oa_err_set(err, OA_ENOMEM, "out of memory");
  return oa_archive_read_data(a, offset, n, b->data + used, err);
}

/* Whether every link of the recording just copied has its heads (format 7). */
static int has_heads(const oa_batch *b, const oa_rec_row *r) {
  for (uint64_t k = 0; k < r->link_count; k++)
    if (b->links[b->nlinks - r->link_count + k].first_packet == OA_NO_HEADS) return 0;
  return 1;
}

/* The packets of a recording just copied (rows and bytes at the end of the
 * batch) get their heads: read from a format-7 file, or split out of the
 * length prefixes of an older one. *size becomes its bytes in the batch. */
static int move_heads(oa_archive *a, const char *input, uint64_t i, const oa_rec_row *r, oa_batch *b, uint64_t *size,
                      oa_err *err) {
  oa_link_row *links = b->links + b->nlinks - r->link_count;
  oa_interval_row *iv = b->intervals + b->nintervals - r->interval_count;
  uint64_t start = b->data_len, rd = 0, wr = 0;
  for (uint64_t k = 0; k < r->link_count; k++) {
    oa_link_row *l = &links[k];
    if (l->first_packet != OA_NO_HEADS) {
      uint64_t from = l->first_packet;
      l->first_packet = b->nheads;
      int rc = copy_heads(a, from, l->packet_count, b, err);
      if (rc != OA_OK) return rc;
      continue;
    }
    uint64_t *from = malloc((l->packet_count + 1) * sizeof *from), *to = malloc((l->packet_count + 1) * sizeof *to);
    int bad = !from || !to ? -2 : split_link(l, b, start, r->data_size, &rd, &wr, iv, r->interval_count,
                                              b->nlinks - r->link_count + k, from, to);
    free(from), free(to);
    if (bad == -2) return oa_err_set(err, OA_ENOMEM, "out of memory");
    if (bad) return damaged(a, input, i, "its packet data does not hold the packets its rows say", err);
  }
  if (rd != 0 && rd != r->data_size) return damaged(a, input, i, "its links do not cover its packet data", err);
  if (rd != 0) *size = wr;
  return OA_OK;
}

/* Recording i of archive a becomes merged row `row` of the batch: rows,
 * packet bytes, snapshots and strings, as the indexer would have added
 * them. On error the batch is not used again (the merge stops). */
static int copy_recording(oa_archive *a, const char *input, uint64_t i, uint64_t row, oa_batch *b, oa_err *err) {
  oa_rec_row r = *oa_archive_recording(a, i);
  oa_batch_begin_recording(b);
  r.first_link = b->nlinks, r.first_interval = b->nintervals, r.data_offset = b->data_len;
  int rc = copy_links(a, input, i, row, b, err);
  if (rc == OA_OK) b->nlinks += r.link_count;
  if (rc == OA_OK) rc = copy_intervals(a, input, i, b, err);
  const uint64_t from = oa_archive_recording(a, i)->data_offset;
  if (rc == OA_OK && has_heads(b, &r)) {
    rc = copy_data(a, from, r.data_size, b, err);
    if (rc == OA_OK) rc = move_heads(a, input, i, &r, b, &r.data_size, err);
  } else if (rc == OA_OK) {
    const size_t spill_at = b->spill_at;
    b->spill_at = 0; /* its bytes are split in memory: no spill meanwhile, whatever its rows say */
    rc = copy_prefixed(a, from, r.data_size, b, err);
    if (rc == OA_OK) rc = move_heads(a, input, i, &r, b, &r.data_size, err);
    if (rc == OA_OK) b->data_len += r.data_size;
    b->spill_at = spill_at;
  }
  if (rc != OA_OK) return rc;
  if (oa_batch_add_string(b, oa_archive_recording_name(a, i), &r.name_off, &r.name_len) ||
      oa_batch_add_string(b, oa_archive_recording_path(a, i), &r.path_off, &r.path_len) ||
      oa_batch_add_string(b, oa_archive_recording_error(a, i), &r.error_off, &r.error_len) ||
      oa_batch_add_string(b, oa_archive_recording_start(a, i), &r.start_off, &r.start_len) ||
      oa_batch_add_string(b, oa_archive_recording_tags(a, i), &r.tags_off, &r.tags_len) ||
      oa_batch_add_string(b, oa_archive_recording_recorder(a, i), &r.recorder_off, &r.recorder_len) ||
      oa_grow((void **)&b->recs, &b->recs_cap, b->nrecs + 1, sizeof *b->recs) ||
      oa_grow((void **)&b->rec_index, &b->rec_index_cap, b->nrecs + 1, sizeof *b->rec_index))
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  b->recs[b->nrecs] = r;
  b->rec_index[b->nrecs++] = row;
  return OA_OK;
}

/* Rounds: each rank copies its recordings up to the budget, then all
 * commit together, until no rank has any left. */
static int copy_all(merge_ctx *m, oa_archive_writer *w, oa_err *err) {
  const size_t budget = (size_t)(m->job->batch_mb * 1024 * 1024);
  oa_batch batch;
  memset(&batch, 0, sizeof batch);
  /* A long recording's bytes wait in a spill file past the budget (as in index). */
  oa_err why;
  if (oa_batch_spill_open(&batch, m->job->output, budget, &why) != OA_OK)
    OA_LOG(m->log, WARN, "%s; a recording larger than the batch is held in memory", why.msg);
  size_t next = 0;
  int rc = OA_OK;
  for (;;) {
    int ok = 1;
    while (ok && next < m->nrows && oa_batch_bytes(&batch) < budget) {
      size_t i = next++;
      if (m->owner[i] != m->rank || oa_writer_is_done(w, i)) continue;
      const merged_row *r = &m->rows[i];
      size_t before = batch.data_len + batch.state_len;
      ok = copy_recording(m->in[r->input], m->job->inputs[r->input], r->index, i, &batch, err) == OA_OK;
      m->res->data_bytes += batch.data_len + batch.state_len - before;
    }
    if (!oa_mpi_agree_err(m->comm, ok, err)) {
      rc = err->code ? err->code : OA_EARCHIVE;
      break;
    }
    rc = oa_writer_append(w, &batch, err);
    if (rc != OA_OK) break;
    int more = next < m->nrows;
    MPI_Allreduce(MPI_IN_PLACE, &more, 1, MPI_INT, MPI_MAX, m->comm);
    if (!more) break;
  }
  oa_batch_free(&batch);
  return rc;
}

static void fill_meta(const merge_ctx *m, oa_archive_meta *meta) {
  *meta = *oa_archive_get_meta(m->in[0]);
  meta->format_version = OA_FORMAT_VERSION;
  meta->recordings = m->nrows;
  meta->segment_of[0] = '\0';
  snprintf(meta->tool_version, sizeof meta->tool_version, "opusarc %s", OPUSARC_VERSION);
  if (m->rank == 0) {
    time_t now = time(NULL);
    strftime(meta->created, sizeof meta->created, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    meta->archive_id = oa_random_id();
  }
  MPI_Bcast(meta->created, sizeof meta->created, MPI_CHAR, 0, m->comm);
  MPI_Bcast(&meta->archive_id, 1, MPI_UINT64_T, 0, m->comm);
}

/* What a resumed merge must share with the interrupted one. */
static void options_of(const merge_ctx *m, char *out, size_t len) {
  size_t k = (size_t)snprintf(out, len, "merge of");
  for (int i = 0; i < m->job->ninputs && k < len; i++)
    k += (size_t)snprintf(out + k, len - k, "%s%s", i ? ";" : " ", m->job->inputs[i]);
}

static int write_merged(merge_ctx *m, oa_err *err) {
  oa_archive_meta meta;
  fill_meta(m, &meta);
  char options[2048], note[OA_ERRMSG_MAX] = "";
  options_of(m, options, sizeof options);
  oa_writer_config cfg = {.overwrite = m->job->force, .resume = m->job->resume, .corpus = &m->sources,
                          .corpus_hash = oa_corpus_hash(&m->sources), .options = options, .note = note,
                          .io_timeout = m->job->io_timeout, .log = m->log};
  oa_archive_writer *w;
  int complete = 0;
  int rc = oa_writer_create(m->comm, m->job->output, &cfg, &meta, &w, &complete, err);
  if (rc != OA_OK || complete) return rc;
  if (note[0] && m->rank == 0) OA_LOG(m->log, SUMMARY, "%s", note);
  rc = copy_all(m, w, err);
  m->res->broken = oa_writer_broken(w);
  m->res->commits = oa_writer_commits(w);
  oa_err why;
  oa_err_clear(&why);
  int frc = oa_writer_finish(w, rc == OA_OK, &why);
  if (rc == OA_OK && frc != OA_OK) *err = why, rc = frc;
  else if (rc != OA_OK && why.msg[0]) oa_err_prefix(err, "%s; ", why.msg);
  m->res->written = rc == OA_OK;
  return rc;
}

int oa_merge_run(MPI_Comm comm, const oa_merge_job *job, const oa_logger *log, oa_merge_result *res, oa_err *err) {
  memset(res, 0, sizeof *res);
  merge_ctx m = {.comm = comm, .job = job, .log = log, .res = res};
  MPI_Comm_rank(comm, &m.rank);
  MPI_Comm_size(comm, &m.size);
  int rc = open_inputs(&m, err);
  if (rc == OA_OK) rc = oa_mpi_agree_err(comm, check_alike(&m, err) == OA_OK, err) ? OA_OK : OA_EUSAGE;
  if (rc == OA_OK) rc = oa_mpi_agree_err(comm, m.rank != 0 || check_output(&m, err) == OA_OK, err) ? OA_OK : OA_EUSAGE;
  if (rc == OA_OK) rc = oa_mpi_agree_err(comm, plan_rows(&m, err) == OA_OK, err) ? OA_OK : OA_EUSAGE;
  if (rc == OA_OK) rc = oa_mpi_agree_err(comm, make_sources(&m, err) == OA_OK, err) ? OA_OK : OA_ENOMEM;
  if (rc == OA_OK) rc = write_merged(&m, err);
  if (rc != OA_OK && m.rank == 0) oa_log_err(log, OA_LOG_ERROR, err);
  for (int i = 0; m.in && i < job->ninputs; i++) oa_archive_close(m.in[i]);
  free(m.in);
  free(m.rows);
  free(m.owner);
  oa_corpus_free(&m.sources);
  return rc;
}
