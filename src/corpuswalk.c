#include "opusarc/corpuswalk.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "opusarc/mpiutil.h"

static int no_memory(oa_err *err) { return oa_err_set(err, OA_ENOMEM, "out of memory while scanning the corpus"); }

/* Every rank's directories found this round, in rank order, appended to
 * `all`: the next round's list, the same on every rank. */
static int share_dirs(MPI_Comm comm, int size, const oa_dirlist *found, oa_dirlist *all, oa_err *err) {
  uint8_t *mine = NULL, *buf = NULL;
  uint64_t len = 0, total = 0;
  uint64_t *lens = calloc((size_t)size, sizeof *lens);
  int *counts = calloc((size_t)size, sizeof *counts), *displs = calloc((size_t)size, sizeof *displs);
  int ok = lens && counts && displs && oa_dirlist_serialize(found, &mine, &len) == 0;
  if (oa_mpi_agree(comm, ok)) {
    MPI_Allgather(&len, 1, MPI_UINT64_T, lens, 1, MPI_UINT64_T, comm);
    for (int r = 0; r < size; r++) total += lens[r];
    ok = total <= INT_MAX && (buf = malloc(total ? total : 1)) != NULL;
  }
  int rc = OA_OK;
  if (!oa_mpi_agree(comm, ok)) {
    rc = total > INT_MAX ? oa_err_set(err, OA_EUSAGE, "one depth of the corpus tree has over 2 GB of directory "
                                      "paths, more than MPI sends at once")
                         : no_memory(err);
  } else {
    for (int r = 0, at = 0; r < size; r++) counts[r] = (int)lens[r], displs[r] = at, at += counts[r];
    MPI_Allgatherv(mine, (int)len, MPI_BYTE, buf, counts, displs, MPI_BYTE, comm);
    ok = oa_dirlist_append_message(all, buf, total) == 0;
    if (!oa_mpi_agree(comm, ok)) rc = no_memory(err);
  }
  free(mine), free(buf), free(lens), free(counts), free(displs);
  return rc;
}

/* The audio files a rank found this round, dealt out to every rank
 * (file k to rank (rank + k) % size), which stats what it receives: a
 * directory of many files costs its reader one readdir, not every stat.
 * The send buffer holds each destination's files as one oa_dirlist message. */
static uint8_t *deal_pack(int rank, int size, const oa_dirlist *files, uint64_t *lens) {
  const size_t n = (size_t)size;
  uint64_t total = 0;
  for (size_t k = 0; k < files->count; k++) {
    uint64_t bytes = oa_dir_message_size(&files->items[k]);
    lens[((size_t)rank + k) % n] += bytes, total += bytes;
  }
  uint8_t *out = malloc(total ? total : 1);
  uint64_t *at = calloc(n, sizeof *at);
  if (!out || !at) return free(out), free(at), NULL;
  for (size_t r = 1; r < n; r++) at[r] = at[r - 1] + lens[r - 1];
  for (size_t k = 0; k < files->count; k++) {
    size_t r = ((size_t)rank + k) % n;
    at[r] += oa_dir_write_message(&files->items[k], out + at[r]);
  }
  free(at);
  return out;
}

static int deal_files(MPI_Comm comm, int rank, int size, const oa_dirlist *files, oa_corpus *mine, oa_err *err) {
  uint64_t *lens = calloc((size_t)size * 2, sizeof *lens), total = 0;
  uint8_t *out = lens ? deal_pack(rank, size, files, lens) : NULL, *in = NULL;
  int rc = oa_mpi_agree(comm, out != NULL) ? oa_mpi_exchange(comm, out, lens, &in, lens + size, &total, err)
                                           : no_memory(err);
  free(out);
  if (rc == OA_OK) {
    oa_dirlist got = {0};
    int ok = oa_dirlist_append_message(&got, in, total) == 0 && oa_corpus_add_files(mine, &got) == 0;
    oa_dirlist_free(&got);
    if (!oa_mpi_agree(comm, ok)) rc = no_memory(err);
  }
  free(in), free(lens);
  return rc;
}

enum { FILES_PER_ROUND = 65536 };

/* One depth's directories, read by the ranks (directory i by rank
 * i % size) in rounds: a rank reads until it found FILES_PER_ROUND audio
 * files or ran out, then every rank deals out what it found, so a flat
 * directory of a million files is never held whole by its reader. The
 * subdirectories found join `found`. */
typedef struct level_reader {
  const oa_dirlist *level;
  size_t next;        /* this rank's next directory of the level */
  oa_dir_reader *cur; /* the one being read, or NULL */
} level_reader;

static int read_round(level_reader *lr, int size, oa_corpus *mine, oa_dirlist *found, oa_dirlist *files) {
  const size_t most = oa_fault("round") ? 7 : FILES_PER_ROUND; /* tests: many rounds on a small tree */
  while (files->count < most) {
    if (!lr->cur) {
      if (lr->next >= lr->level->count) return 0;
      const oa_dir *d = &lr->level->items[lr->next];
      lr->next += (size_t)size;
      if (oa_dir_open(mine, d->dir, d->rel, &lr->cur) != 0) return -1;
      continue;
    }
    int done = 0;
    if (oa_dir_read_some(lr->cur, most - files->count, found, files, &done) != 0) return -1;
    if (done) oa_dir_close(lr->cur), lr->cur = NULL;
  }
  return 0;
}

static int walk_level(MPI_Comm comm, int rank, int size, oa_corpus *mine, const oa_dirlist *level, oa_dirlist *found,
                      oa_err *err) {
  level_reader lr = {level, (size_t)rank, NULL};
  int rc = OA_OK, more = 1;
  while (rc == OA_OK && more) {
    oa_dirlist files = {0};
    int ok = 1;
    if (oa_fault("walk")) ok = 0, oa_err_set(err, OA_EIO, "cannot walk the corpus (injected fault)");
    else if (read_round(&lr, size, mine, found, &files) != 0) ok = 0, no_memory(err);
    rc = oa_mpi_agree_err(comm, ok, err) ? deal_files(comm, rank, size, &files, mine, err) : err->code;
    oa_dirlist_free(&files);
    more = oa_mpi_max_int(comm, lr.cur != NULL || lr.next < level->count);
  }
  oa_dir_close(lr.cur);
  return rc;
}

/* Depth by depth: the subdirectories found make the next. */
static int walk_levels(MPI_Comm comm, int rank, int size, oa_corpus *mine, oa_dirlist *level, oa_err *err) {
  int rc = OA_OK;
  while (rc == OA_OK && level->count > 0) {
    oa_dirlist found = {0};
    rc = walk_level(comm, rank, size, mine, level, &found, err);
    oa_dirlist_free(level);
    if (rc == OA_OK) rc = share_dirs(comm, size, &found, level, err);
    oa_dirlist_free(&found);
  }
  return rc;
}

/* The ranks' shares: arguments, the tree under the directory arguments,
 * the list's lines, each named; agreed step by step. */
static int scan_shares(MPI_Comm comm, int rank, int size, const char *const *inputs, int ninputs, const char *list_file,
                       const oa_corpus_naming *naming, oa_corpus *mine, oa_err *err) {
  oa_dirlist found = {0}, level = {0};
  int ok = oa_corpus_add_inputs(mine, inputs, ninputs, rank, size, &found) == 0;
  int rc = oa_mpi_agree(comm, ok) ? share_dirs(comm, size, &found, &level, err) : no_memory(err);
  oa_dirlist_free(&found);
  if (rc == OA_OK) rc = walk_levels(comm, rank, size, mine, &level, err);
  oa_dirlist_free(&level);
  if (rc == OA_OK && list_file) {
    ok = oa_corpus_read_list(mine, list_file, rank, size, err) == OA_OK;
    if (!oa_mpi_agree_err(comm, ok, err)) rc = err->code;
  }
  if (rc == OA_OK) {
    ok = oa_corpus_name(mine, naming, err) == OA_OK;
    if (!oa_mpi_agree_err(comm, ok, err)) rc = err->code;
  }
  return rc;
}

int oa_corpus_walk(MPI_Comm comm, const char *const *inputs, int ninputs, const char *list_file,
                   const oa_corpus_naming *naming, oa_corpus *c, oa_err *err) {
  memset(c, 0, sizeof *c);
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int ok = rank != 0 || oa_corpus_check_inputs(inputs, ninputs, err) == OA_OK;
  if (!oa_mpi_agree_err(comm, ok, err)) return err->code ? err->code : OA_EUSAGE;
  oa_corpus mine = {0};
  int rc = scan_shares(comm, rank, size, inputs, ninputs, list_file, naming, &mine, err);
  if (rc == OA_OK) rc = oa_corpus_sort_across(comm, &mine, c, err);
  oa_corpus_free(&mine);
  return rc;
}
