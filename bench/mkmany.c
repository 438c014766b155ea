/* mkmany: a synthetic archive of N recordings for measuring what opening an
 * archive costs against N (bench/scaling_metadata.sh). One real recording
 * is indexed; its rows, packets and checkpoints are stored once, and N
 * recordings rows named rNNNNNNN.opus all point at them (the reader checks
 * each row against the datasets, not against the other rows, so every one
 * of them decodes exactly like the original). Not an archive to keep: it
 * stands for N distinct recordings only where their metadata is concerned.
 * With STEP (seconds), recording i starts at 2021-01-01T00:00:00Z + i STEP
 * (for time queries).
 *   mkmany N OUT.h5 SOURCE.opus [STEP] */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "opusarc/archive.h"
#include "opusarc/clock.h"
#include "opusarc/corpus.h"
#include "opusarc/indexer.h"

static int fail(const char *what, const oa_err *err) {
  fprintf(stderr, "mkmany: %s: %s\n", what, err ? err->msg : "");
  return 1;
}

/* Indexes SOURCE into a one-recording batch. */
static int index_one(const char *source, oa_batch *b, oa_err *err) {
  struct stat st;
  if (stat(source, &st) != 0) return oa_err_set(err, OA_EIO, "%s: cannot stat", source);
  oa_corpus_entry e = {.name = "source.opus", .path = (char *)source, .size = (uint64_t)st.st_size,
                       .mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
                       .dev = (uint64_t)st.st_dev, .ino = (uint64_t)st.st_ino};
  oa_index_options opt = {.checkpoint_every = OA_DEFAULT_CHECKPOINT_SECONDS, .mode = OA_CHECKPOINTS_AUTO,
                          .max_preroll = OA_DEFAULT_MAX_PREROLL};
  oa_encode_options_default(&opt.encode);
  oa_opus_build build;
  oa_index_stats stats = {0};
  char warning[OA_ERRMSG_MAX] = "";
  oa_err failure;
  oa_err_clear(&failure);
  int rc = oa_opus_build_probe(&build, err);
  if (rc == OA_OK) rc = oa_index_entry(&e, 0, &opt, &build, b, &stats, &failure, warning, err);
  if (rc == OA_OK && (b->nrecs != 1 || failure.msg[0]))
    rc = oa_err_set(err, OA_EFORMAT, "%s: not indexed: %s", source, failure.msg);
  return rc;
}

/* Rows 1..n-1: copies of row 0 under their own names; step_s > 0 puts
 * them on a clock, one after another. */
static int replicate(oa_batch *b, uint64_t n, double step_s, oa_err *err) {
  oa_rec_row proto = b->recs[0];
  b->recs = realloc(b->recs, n * sizeof *b->recs);
  b->rec_index = realloc(b->rec_index, n * sizeof *b->rec_index);
  if (!b->recs || !b->rec_index) return oa_err_set(err, OA_ENOMEM, "out of memory for %llu rows", (unsigned long long)n);
  b->recs_cap = b->rec_index_cap = n;
  for (uint64_t i = 0; i < n; i++) {
    oa_rec_row r = proto;
    char name[32];
    snprintf(name, sizeof name, "r%07llu.opus", (unsigned long long)i);
    if (oa_batch_add_string(b, name, &r.name_off, &r.name_len) != 0 ||
        oa_batch_add_string(b, name, &r.path_off, &r.path_len) != 0)
      return oa_err_set(err, OA_ENOMEM, "out of memory");
    if (step_s > 0) {
      r.start_us = INT64_C(1609459200000000) + (int64_t)((double)i * step_s * 1e6);
      r.start_zone = OA_ZONE_KNOWN, r.utc_offset_s = 0, r.start_source = OA_START_NAME;
    }
    b->recs[i] = r;
    b->rec_index[i] = i;
  }
  b->nrecs = n;
  return OA_OK;
}

int main(int argc, char **argv) {
  if ((argc != 4 && argc != 5) || atoll(argv[1]) < 1) {
    fprintf(stderr, "usage: mkmany N OUT.h5 SOURCE.opus [STEP_SECONDS]\n");
    return 2;
  }
  MPI_Init(&argc, &argv);
  uint64_t n = (uint64_t)atoll(argv[1]);
  oa_err err;
  oa_batch b;
  memset(&b, 0, sizeof b);
  int rc = index_one(argv[3], &b, &err);
  if (rc == OA_OK) rc = replicate(&b, n, argc == 5 ? atof(argv[4]) : 0, &err);
  oa_archive_meta meta;
  memset(&meta, 0, sizeof meta);
  meta.recordings = n;
  meta.checkpoint_every = OA_DEFAULT_CHECKPOINT_SECONDS;
  meta.max_preroll = OA_DEFAULT_MAX_PREROLL;
  snprintf(meta.checkpoints, sizeof meta.checkpoints, "%s", oa_checkpoint_mode_name(OA_CHECKPOINTS_AUTO));
  if (rc == OA_OK) rc = oa_opus_build_probe(&meta.build, &err);
  oa_writer_config cfg = {.overwrite = 1, .options = "mkmany"};
  oa_archive_writer *w = NULL;
  int complete = 0;
  if (rc == OA_OK) rc = oa_writer_create(MPI_COMM_WORLD, argv[2], &cfg, &meta, &w, &complete, &err);
  if (rc == OA_OK) rc = oa_writer_append(w, &b, &err);
  if (w) rc = oa_writer_finish(w, rc == OA_OK, &err) == OA_OK ? rc : err.code;
  oa_batch_free(&b);
  MPI_Finalize();
  return rc == OA_OK ? 0 : fail(argv[2], &err);
}
