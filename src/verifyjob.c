#include "opusarc/verifyjob.h"

#include <stdlib.h>

#include "opusarc/archive.h"
#include "opusarc/corpus.h"
#include "opusarc/extract.h"
#include "opusarc/mpiutil.h"
#include "opusarc/progress.h"
#include "opusarc/util.h"

typedef struct verify_job {
  const oa_logger *log;
  oa_archive *archive;
  oa_extractor *extractor;
  int *owner; /* rank of each recording */
  int rank, size;
} verify_job;

static void report(void *ctx, uint64_t rec, uint64_t interval, int64_t start, int64_t end, uint32_t got,
                   uint32_t want) {
  verify_job *j = ctx;
  OA_LOG(j->log, ERROR, "MISMATCH \"%s\" samples [%lld, %lld) (interval %llu): CRC %08x, indexed %08x",
         oa_archive_recording_name(j->archive, rec), (long long)start, (long long)end, (unsigned long long)interval,
         got, want);
}

/* Byte-balanced share of the recordings: owner[i] is recording i's rank. */
static int assign(verify_job *j, oa_err *err) {
  uint64_t n = oa_archive_recording_count(j->archive);
  uint64_t *sizes = malloc((n ? n : 1) * sizeof *sizes);
  j->owner = malloc((n ? n : 1) * sizeof *j->owner);
  if (!sizes || !j->owner) {
    free(sizes);
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  for (uint64_t i = 0; i < n; i++) sizes[i] = oa_archive_recording(j->archive, i)->data_size;
  oa_partition_by_size(sizes, n, j->size, j->owner);
  free(sizes);
  return OA_OK;
}

static oa_progress *start_progress(MPI_Comm comm, const verify_job *j, const oa_verify_options *opt) {
  oa_progress_spec spec = {.what = "recordings", .total_items = (int64_t)oa_archive_recording_count(j->archive),
                           .every = opt->progress_every, .bar = opt->progress_bar};
  for (uint64_t i = 0; i < oa_archive_recording_count(j->archive); i++)
    spec.total_bytes += (int64_t)oa_archive_recording(j->archive, i)->data_size;
  oa_progress *pg = NULL;
  oa_progress_create(comm, &spec, j->log, &pg);
  return pg;
}

/* This rank's recordings; adds to res (this rank's counts). */
static void verify_share(MPI_Comm comm, verify_job *j, const oa_verify_options *opt, oa_verify_result *res) {
  oa_progress *pg = start_progress(comm, j, opt);
  oa_extract_stats st = {0};
  for (uint64_t i = 0; i < oa_archive_recording_count(j->archive); i++) {
    if (j->owner[i] != j->rank) continue;
    oa_err e;
    oa_err_clear(&e);
    if (oa_verify_recording(j->extractor, i, report, j, &st, &e) != OA_OK) {
      OA_LOG(j->log, ERROR, "%s", e.msg);
      res->unreadable++;
    }
    const oa_rec_row *r = oa_archive_recording(j->archive, i);
    res->audio_seconds += (double)r->samples / oa_rec_row_rate(r);
    /* Progress counts 48 kHz samples of real time. */
    if (pg) oa_progress_add(pg, 1, (int64_t)r->data_size, (int64_t)((double)r->samples * (double)OA_SAMPLE_RATE / oa_rec_row_rate(r)));
    if (pg) oa_progress_poll(pg);
  }
  if (pg) oa_progress_free(pg);
  res->intervals = st.intervals_checked;
  res->mismatched = st.mismatches;
  res->packets_decoded = st.packets_decoded;
}

int oa_verify_run(MPI_Comm comm, const char *path, const oa_verify_options *opt, const oa_logger *log,
                  oa_verify_result *res, oa_err *err) {
  *res = (oa_verify_result){0};
  const double t0 = oa_wtime();
  verify_job j = {.log = log};
  oa_mpi_rank_size(comm, &j.rank, &j.size);
  int rc = oa_archive_open(path, &j.archive, err);
  if (rc == OA_OK) rc = oa_extractor_create(j.archive, opt->flags, &j.extractor, err);
  if (rc == OA_OK) rc = assign(&j, err);
  if (oa_mpi_agree_err(comm, rc == OA_OK, err)) {
    res->open_seconds = oa_wtime() - t0;
    verify_share(comm, &j, opt, res);
    res->verify_seconds = oa_wtime() - t0 - res->open_seconds;
    uint64_t *counts[] = {&res->intervals, &res->mismatched, &res->unreadable, &res->packets_decoded};
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) *counts[i] = oa_mpi_sum_u64(comm, *counts[i]);
    res->audio_seconds = oa_mpi_sum_double(comm, res->audio_seconds);
    rc = OA_OK;
  } else {
    rc = err->code ? err->code : OA_EMPI;
  }
  res->wall_seconds = oa_wtime() - t0;
  free(j.owner);
  oa_extractor_free(j.extractor);
  oa_archive_close(j.archive);
  return rc;
}
