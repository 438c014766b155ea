/* The corpus list across the ranks, with no rank holding all of it: a
 * sample sort by name (each rank ends with one run of the sorted list, rows
 * numbered), the checks oa_corpus_finish makes on a whole list made on the
 * runs (equal names meet on one rank; one file's names meet on the rank
 * its device and inode hash to), the fingerprint along the runs, and the
 * moves the index job needs: to the ranks that index them (by bytes), to
 * rank 0 (only for a refusal that names what differs), and the cut of an
 * append. */
#include "opusarc/corpuswalk.h"

#include <stdlib.h>
#include <string.h>

#include "opusarc/mpiutil.h"
#include "opusarc/util.h"

enum { SAMPLES_PER_RANK = 32, HASH_TAG = 4243 };

static int no_memory(oa_err *err) { return oa_err_set(err, OA_ENOMEM, "out of memory sorting the corpus list"); }

/* Entries order[first[r]] .. order[first[r + 1] - 1] of c go to rank r
 * (order NULL: entries first[r] ..); what every rank sent this one is
 * appended to out, in rank order. `given` is c when the caller gives it
 * up (else NULL): it is freed once packed, so a rank holds at most two
 * copies of its entries at a time. Collective, agreed. */
static int send_entries(MPI_Comm comm, int size, const oa_corpus *c, oa_corpus *given, const size_t *order,
                        const size_t *first, oa_corpus *out, oa_err *err) {
  if (size == 1 && given && !order && out->count == 0) { /* alone: the entries stay where they are */
    oa_corpus_free(out);
    *out = *given;
    memset(given, 0, sizeof *given);
    return OA_OK;
  }
  size_t *pick = order ? NULL : malloc((c->count ? c->count : 1) * sizeof *pick);
  uint64_t *lens = calloc((size_t)size * 2, sizeof *lens), *got = lens ? lens + size : NULL, total = 0, at = 0;
  for (size_t i = 0; pick && i < c->count; i++) pick[i] = i;
  const size_t *by = order ? order : pick;
  int ok = by && lens;
  for (int r = 0; ok && r < size; r++) total += lens[r] = oa_corpus_message_size(c, by + first[r], first[r + 1] - first[r]);
  uint8_t *buf = ok ? malloc(total ? total : 1) : NULL, *in = NULL;
  for (int r = 0; buf && r < size; at += lens[r], r++)
    oa_corpus_write_message(c, by + first[r], first[r + 1] - first[r], buf + at);
  free(pick);
  if (given) oa_corpus_free(given);
  int rc = oa_mpi_agree(comm, buf != NULL) ? oa_mpi_exchange(comm, buf, lens, &in, got, &total, err) : no_memory(err);
  free(buf);
  ok = rc == OA_OK;
  for (int r = 0, off = 0; ok && r < size; off += (int)got[r], r++)
    ok = oa_corpus_append_message(out, in + off, got[r], err) == OA_OK;
  free(in), free(lens);
  if (rc != OA_OK) return rc;
  return oa_mpi_agree_err(comm, ok, err) ? OA_OK : OA_EMPI;
}

/* Names at evenly spaced places of the sorted c, NUL-terminated, end to end. */
static char *sample_names(const oa_corpus *c, int *len) {
  size_t k = c->count < SAMPLES_PER_RANK ? c->count : SAMPLES_PER_RANK, bytes = 0;
  for (size_t i = 0; i < k; i++) bytes += strlen(c->entries[(2 * i + 1) * c->count / (2 * k)].name) + 1;
  char *out = bytes <= (size_t)INT32_MAX ? malloc(bytes ? bytes : 1) : NULL;
  for (size_t i = 0, at = 0; out && i < k; i++) {
    const char *name = c->entries[(2 * i + 1) * c->count / (2 * k)].name;
    memcpy(out + at, name, strlen(name) + 1);
    at += strlen(name) + 1;
  }
  *len = (int)bytes;
  return out;
}

/* The names packed end to end in buf (len bytes), as pointers into it. */
static const char **unpack_names(const char *buf, size_t len, size_t *n) {
  *n = 0;
  for (size_t i = 0; i < len; i++) *n += buf[i] == '\0';
  const char **v = malloc((*n ? *n : 1) * sizeof *v);
  for (size_t i = 0, k = 0; v && i < len; i += strlen(buf + i) + 1) v[k++] = buf + i;
  return v;
}

static int by_text(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Rank 0: of every rank's samples, sorted, the size - 1 splitters, packed. */
static char *pick_splitters(const char *all, size_t len, int size, uint64_t *out_len) {
  size_t n;
  const char **v = unpack_names(all, len, &n);
  if (!v) return NULL;
  qsort(v, n, sizeof *v, by_text);
  size_t bytes = 0;
  for (int r = 1; n && r < size; r++) bytes += strlen(v[(size_t)r * n / (size_t)size]) + 1;
  char *out = malloc(bytes ? bytes : 1);
  for (size_t r = 1, at = 0; out && n && r < (size_t)size; r++) {
    const char *s = v[r * n / (size_t)size];
    memcpy(out + at, s, strlen(s) + 1);
    at += strlen(s) + 1;
  }
  free(v);
  *out_len = bytes;
  return out;
}

/* Every rank: the splitters of the sample sort (packed names, sorted; none
 * when the corpus is empty). */
static int agree_splitters(MPI_Comm comm, int rank, int size, const oa_corpus *c, uint8_t **split, uint64_t *len,
                           oa_err *err) {
  int mine = 0, *lens = rank == 0 ? calloc((size_t)size * 2, sizeof *lens) : NULL, *at = lens ? lens + size : NULL;
  char *samples = sample_names(c, &mine), *all = NULL;
  int ok = samples && (rank != 0 || lens);
  if (!oa_mpi_agree(comm, ok)) return free(samples), free(lens), no_memory(err);
  MPI_Gather(&mine, 1, MPI_INT, lens, 1, MPI_INT, 0, comm);
  int64_t total = 0;
  for (int r = 0; rank == 0 && r < size; r++) at[r] = (int)total, total += lens[r];
  ok = rank != 0 || (total <= INT32_MAX && (all = malloc(total ? (size_t)total : 1)));
  if (!oa_mpi_agree(comm, ok)) return free(samples), free(lens), no_memory(err);
  MPI_Gatherv(samples, mine, MPI_CHAR, all, lens, at, MPI_CHAR, 0, comm);
  free(samples), free(lens);
  *split = NULL, *len = 0;
  ok = rank != 0 || (*split = (uint8_t *)pick_splitters(all, (size_t)total, size, len)) != NULL;
  free(all);
  if (!oa_mpi_agree(comm, ok)) return free(*split), *split = NULL, no_memory(err);
  if (oa_mpi_bcast_bytes(comm, 0, split, len) != 0) {
    if (rank == 0) free(*split);
    *split = NULL;
    return no_memory(err);
  }
  return OA_OK;
}

/* first[r] .. first[r + 1] - 1: the entries of the sorted c whose names
 * fall in rank r's range, the names from splitter r - 1 up to splitter r
 * (an equal name goes up, so equal names meet). */
static void cut_by_name(const oa_corpus *c, const char *const *split, size_t nsplit, int size, size_t *first) {
  size_t b = 0;
  memset(first, 0, ((size_t)size + 1) * sizeof *first);
  for (size_t i = 0; i < c->count; i++) {
    while (b < nsplit && strcmp(split[b], c->entries[i].name) <= 0) b++;
    first[b + 1]++;
  }
  for (int r = 0; r < size; r++) first[r + 1] += first[r];
}

/* The sample sort: *run gets this rank's run of the sorted list (mine is
 * emptied). */
static int sort_across(MPI_Comm comm, int rank, int size, oa_corpus *mine, oa_corpus *run, oa_err *err) {
  oa_corpus_sort(mine);
  uint8_t *packed = NULL;
  uint64_t len = 0;
  int rc = agree_splitters(comm, rank, size, mine, &packed, &len, err);
  if (rc != OA_OK) return rc;
  size_t nsplit = 0;
  const char **split = unpack_names((const char *)packed, len, &nsplit);
  size_t *first = malloc(((size_t)size + 1) * sizeof *first);
  int ok = split && first;
  if (ok) cut_by_name(mine, split, nsplit, size, first);
  rc = oa_mpi_agree(comm, ok) ? send_entries(comm, size, mine, mine, NULL, first, run, err) : no_memory(err);
  free(split), free(first), free(packed);
  oa_corpus_free(mine);
  if (rc == OA_OK) oa_corpus_sort(run);
  return rc;
}

/* The first row of every rank's run (size + 1 values: the last is the total). */
static int run_starts(MPI_Comm comm, int size, const oa_corpus *run, uint64_t **starts) {
  *starts = calloc((size_t)size + 1, sizeof **starts);
  if (!oa_mpi_agree(comm, *starts != NULL)) return free(*starts), *starts = NULL, -1;
  uint64_t n = run->count;
  MPI_Allgather(&n, 1, MPI_UINT64_T, *starts + 1, 1, MPI_UINT64_T, comm);
  for (int r = 0; r < size; r++) (*starts)[r + 1] += (*starts)[r];
  return 0;
}

static int holder_of(const uint64_t *starts, int size, uint64_t row) {
  int lo = 0, hi = size - 1; /* the last rank whose run starts at or before row */
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (starts[mid] <= row) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

static uint64_t file_hash(const oa_corpus_entry *e) {
  uint64_t key[2] = {e->dev, e->ino};
  return oa_fnv1a(OA_CORPUS_HASH_START, (const uint8_t *)key, sizeof key);
}

/* Entries of c listed by destination: order[first[r]] .. to rank r. */
typedef struct by_rank {
  size_t *order, *first;
} by_rank;

static int group(const oa_corpus *c, const int *dest, int size, by_rank *g) {
  g->order = malloc((c->count ? c->count : 1) * sizeof *g->order);
  g->first = calloc((size_t)size + 2, sizeof *g->first);
  if (!g->order || !g->first) return -1;
  for (size_t i = 0; i < c->count; i++) if (dest[i] >= 0) g->first[dest[i] + 2]++;
  for (int r = 0; r < size; r++) g->first[r + 2] += g->first[r + 1];
  for (size_t i = 0; i < c->count; i++) if (dest[i] >= 0) g->order[g->first[dest[i] + 1]++] = i;
  return 0;
}

/* The claims of a run on their files, sent to the rank their file hashes
 * to: name, row, device and inode, and whether the entry already failed
 * (its error a mark). They borrow the run's names. */
static int send_claims(MPI_Comm comm, int size, const oa_corpus *run, oa_corpus *got, oa_err *err) {
  oa_corpus claims = {calloc(run->count ? run->count : 1, sizeof *claims.entries), run->count, run->count};
  int *dest = malloc((run->count ? run->count : 1) * sizeof *dest);
  by_rank g = {0};
  int ok = claims.entries && dest;
  for (size_t i = 0; ok && i < run->count; i++) {
    const oa_corpus_entry *e = &run->entries[i];
    claims.entries[i] = (oa_corpus_entry){.name = e->name, .path = "", .dev = e->dev, .ino = e->ino, .row = e->row,
                                          .error = e->error ? "failed" : NULL};
    dest[i] = e->ino ? (int)(file_hash(e) % (uint64_t)size) : -1;
  }
  ok = ok && group(&claims, dest, size, &g) == 0;
  int rc = oa_mpi_agree(comm, ok) ? send_entries(comm, size, &claims, NULL, g.order, g.first, got, err) : no_memory(err);
  free(claims.entries), free(dest), free(g.order), free(g.first);
  return rc;
}

static int by_row(const void *a, const void *b) {
  const oa_corpus_entry *x = a, *y = b;
  return x->row < y->row ? -1 : x->row > y->row;
}

/* This rank's share of the same-file check: the claims it received, in
 * row order, marked; the new marks go back to the rows' holders. */
static int judge_claims(MPI_Comm comm, int size, oa_corpus *got, const uint64_t *starts, oa_corpus *verdicts,
                        oa_err *err) {
  if (got->count) qsort(got->entries, got->count, sizeof *got->entries, by_row);
  uint8_t *failed = malloc(got->count ? got->count : 1);
  int *dest = malloc((got->count ? got->count : 1) * sizeof *dest);
  by_rank g = {0};
  int ok = failed && dest;
  for (size_t i = 0; ok && i < got->count; i++) failed[i] = got->entries[i].error != NULL;
  ok = ok && oa_corpus_mark_same_files(got) == 0;
  for (size_t i = 0; ok && i < got->count; i++)
    dest[i] = !failed[i] && got->entries[i].error ? holder_of(starts, size, got->entries[i].row) : -1;
  ok = ok && group(got, dest, size, &g) == 0;
  int rc = oa_mpi_agree(comm, ok) ? send_entries(comm, size, got, NULL, g.order, g.first, verdicts, err) : no_memory(err);
  free(failed), free(dest), free(g.order), free(g.first);
  return rc;
}

/* oa_corpus_mark_same_files over the whole list, made on the runs. */
static int mark_same_files_across(MPI_Comm comm, int size, oa_corpus *run, oa_err *err) {
  uint64_t *starts = NULL;
  if (run_starts(comm, size, run, &starts) != 0) return no_memory(err);
  oa_corpus got = {0}, verdicts = {0};
  int rc = send_claims(comm, size, run, &got, err);
  if (rc == OA_OK) rc = judge_claims(comm, size, &got, starts, &verdicts, err);
  for (size_t i = 0; rc == OA_OK && i < verdicts.count; i++) {
    oa_corpus_entry *v = &verdicts.entries[i], *e;
    int mine = run->count && v->row >= run->entries[0].row && v->row - run->entries[0].row < run->count;
    if (!mine) { /* rows come only from this rank's own claims */
      rc = oa_err_set(err, OA_EMPI, "a same-file verdict for row %llu reached the wrong rank",
                      (unsigned long long)v->row);
      break;
    }
    e = &run->entries[v->row - run->entries[0].row];
    free(e->error);
    e->error = v->error, v->error = NULL;
  }
  oa_corpus_free(&got), oa_corpus_free(&verdicts);
  free(starts);
  return oa_mpi_agree_err(comm, rc == OA_OK, err) ? OA_OK : (rc != OA_OK ? rc : OA_EMPI);
}

/* Rows of the run: its place in the whole list. */
static void number_rows(MPI_Comm comm, oa_corpus *run) {
  uint64_t n = run->count, before = 0, total = 0;
  oa_mpi_offsets(comm, &n, &before, &total, 1);
  for (size_t i = 0; i < run->count; i++) run->entries[i].row = before + i;
}

int oa_corpus_sort_across(MPI_Comm comm, oa_corpus *mine, oa_corpus *run, oa_err *err) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  memset(run, 0, sizeof *run);
  int rc = sort_across(comm, rank, size, mine, run, err);
  if (rc == OA_OK) {
    number_rows(comm, run);
    int ok = oa_corpus_mark_duplicates(run) == 0;
    rc = oa_mpi_agree(comm, ok) ? mark_same_files_across(comm, size, run, err) : no_memory(err);
  }
  if (rc != OA_OK) oa_corpus_free(run);
  return rc;
}

uint64_t oa_corpus_hash_across(MPI_Comm comm, const oa_corpus *run) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  uint64_t h = OA_CORPUS_HASH_START;
  if (rank > 0) MPI_Recv(&h, 1, MPI_UINT64_T, rank - 1, HASH_TAG, comm, MPI_STATUS_IGNORE);
  h = oa_corpus_hash_from(h, run);
  if (rank < size - 1) MPI_Send(&h, 1, MPI_UINT64_T, rank + 1, HASH_TAG, comm);
  MPI_Bcast(&h, 1, MPI_UINT64_T, size - 1, comm);
  return h;
}

int oa_corpus_split_bytes(MPI_Comm comm, oa_corpus *run, oa_corpus *mine, oa_err *err) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  memset(mine, 0, sizeof *mine);
  /* Small files still cost an open and a header parse. */
  uint64_t weight = 0, before = 0, total = 0;
  for (size_t i = 0; i < run->count; i++) weight += run->entries[i].size + 4096;
  oa_mpi_offsets(comm, &weight, &before, &total, 1);
  size_t *first = calloc((size_t)size + 1, sizeof *first);
  if (!oa_mpi_agree(comm, first != NULL)) return free(first), no_memory(err);
  for (size_t i = 0; i < run->count; i++) { /* each entry to the rank whose byte range holds its middle */
    uint64_t w = run->entries[i].size + 4096;
    double mid = (double)(before + w / 2);
    int r = (int)(mid / (double)total * size);
    first[(r < size ? r : size - 1) + 1]++;
    before += w;
  }
  for (int r = 0; r < size; r++) first[r + 1] += first[r];
  int rc = send_entries(comm, size, run, run, NULL, first, mine, err);
  free(first);
  oa_corpus_free(run);
  return rc;
}

int oa_corpus_gather(MPI_Comm comm, const oa_corpus *run, oa_corpus *whole, oa_err *err) {
  int size;
  MPI_Comm_size(comm, &size);
  memset(whole, 0, sizeof *whole);
  size_t *first = malloc(((size_t)size + 1) * sizeof *first);
  if (!oa_mpi_agree(comm, first != NULL)) return free(first), no_memory(err);
  first[0] = 0;
  for (int r = 1; r <= size; r++) first[r] = run->count; /* everything to rank 0 */
  int rc = send_entries(comm, size, run, NULL, NULL, first, whole, err);
  free(first);
  return rc;
}

void oa_corpus_keep_across(MPI_Comm comm, oa_corpus *run, const uint8_t *keep) {
  oa_corpus_keep(run, keep);
  number_rows(comm, run);
}
