#include "opusarc/indexjob.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "archlock.h"
#include "inputdiff.h"
#include "opusarc/corpus.h"
#include "opusarc/corpuswalk.h"
#include "opusarc/commit.h"
#include "opusarc/mpiutil.h"
#include "opusarc/progress.h"
#include "opusarc/util.h"
#include "outfile.h"
#include "segments.h"
#include "stop.h"

/* What one job works with; lives for one oa_index_run. */
typedef struct job_ctx {
  MPI_Comm comm;
  int rank, size;
  const oa_index_job *job;
  const oa_logger *log;
  oa_opus_build build;
  oa_corpus corpus; /* this rank's run of the sorted list (src/corpussort.c), until the split */
  oa_corpus mine;   /* this rank's share to index, each entry with its /recordings row */
  uint64_t total;   /* recordings in the whole list */
  oa_index_result *res;
  char segment_of[128]; /* --append: identity of the archive extended ("" otherwise) */
} job_ctx;

/* Before the scan: the archive can be written (its directory exists and
 * takes files, it is not a directory nor the --list file), so a mistake
 * costs no corpus walk. */
static int check_output_early(job_ctx *j, oa_err *err) {
  oa_file_id list;
  size_t nlist = j->job->list && oa_file_id_of(j->job->list, &list) == 0;
  int ok = j->rank != 0 || oa_out_check(j->job->output, 1, &list, nlist, "archive", err) == OA_OK;
  return oa_mpi_agree_err(j->comm, ok, err) ? OA_OK : OA_EUSAGE;
}

/* The ranks walk the inputs together and sort the list among them
 * (src/corpuswalk.h): each holds one run of it, none the whole. */
static int scan_corpus(job_ctx *j, oa_err *err) {
  oa_corpus_naming naming = {j->job->root, j->job->prefix};
  int rc = oa_corpus_walk(j->comm, j->job->inputs, j->job->ninputs, j->job->list, &naming, &j->corpus, err);
  if (rc != OA_OK) return rc;
  j->total = oa_mpi_sum_u64(j->comm, j->corpus.count);
  return OA_OK;
}

/* The runs cut again by bytes, each rank receiving the share it indexes:
 * memory per rank falls as ranks are added. */
static int share_work(job_ctx *j, oa_err *err) {
  int rc = oa_corpus_split_bytes(j->comm, &j->corpus, &j->mine, err);
  int ok = rc == OA_OK;
  if (ok && oa_fault("share")) ok = 0, oa_err_set(err, OA_EMPI, "this rank's share not received (injected fault)");
  if (!oa_mpi_agree_err(j->comm, ok, err)) return oa_err_prefix(err, "cannot share the corpus list: "), OA_EMPI;
  return OA_OK;
}

/* All ranks must run the same libopus: snapshots from any rank go into one
 * archive that records one build. */
static int check_same_build(job_ctx *j, oa_err *err) {
  uint64_t lo = j->build.code_hash, hi = j->build.code_hash;
  MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, j->comm);
  MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, j->comm);
  if (lo != hi)
    return oa_err_set(err, OA_EUSAGE, "ranks run different libopus builds (code fingerprints differ); an archive "
                      "must be written by one build");
  return OA_OK;
}

/* Everything before the archive: the libopus build, the corpus, its split. */
static int prepare(job_ctx *j, oa_err *err) {
  int ok = oa_opus_build_probe(&j->build, err) == OA_OK;
  if (!oa_mpi_agree_err(j->comm, ok, err)) return err->code;
  int rc = check_same_build(j, err);
  if (rc == OA_OK) rc = scan_corpus(j, err);
  if (rc != OA_OK) return rc;
  if (j->total == 0) return oa_err_set(err, OA_EUSAGE, "no .opus, .ogg, .oga (any letter case) or PCM (.wav, .flac...) files found in the inputs");
  uint64_t bytes = 0;
  for (size_t i = 0; i < j->corpus.count; i++) bytes += j->corpus.entries[i].size;
  bytes = oa_mpi_sum_u64(j->comm, bytes);
  if (j->rank == 0 && !j->job->quiet)
    OA_LOG(j->log, INFO, "%llu recordings, %.1f MB, on %d rank%s; libopus: %s", (unsigned long long)j->total,
           (double)bytes / 1e6, j->size, j->size == 1 ? "" : "s", j->build.version);
  return OA_OK;
}

/* This run's checkpoint rules (what oa_meta_rules_differ compares). */
static void fill_rules(const job_ctx *j, oa_archive_meta *m) {
  const oa_index_options *o = &j->job->index;
  memset(m, 0, sizeof *m);
  m->build = j->build;
  m->checkpoint_every = o->checkpoint_every;
  snprintf(m->checkpoints, sizeof m->checkpoints, "%s", oa_checkpoint_mode_name(o->mode));
  m->max_preroll = o->max_preroll;
}

/* Collective: every rank gets identical attributes. */
static void fill_meta(job_ctx *j, oa_archive_meta *m) {
  fill_rules(j, m);
  m->format_version = OA_FORMAT_VERSION;
  m->recordings = j->total;
  snprintf(m->tool_version, sizeof m->tool_version, "opusarc %s", OPUSARC_VERSION);
  snprintf(m->segment_of, sizeof m->segment_of, "%s", j->segment_of);
  if (j->rank == 0) {
    time_t now = time(NULL);
    strftime(m->created, sizeof m->created, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    m->archive_id = oa_random_id();
  }
  /* Attributes are written collectively: every rank needs identical values. */
  MPI_Bcast(m->created, sizeof m->created, MPI_CHAR, 0, j->comm);
  MPI_Bcast(&m->archive_id, 1, MPI_UINT64_T, 0, j->comm);
  MPI_Bcast(&m->build.arch, 1, MPI_INT32_T, 0, j->comm);
  MPI_Bcast(m->build.cpu_features, sizeof m->build.cpu_features, MPI_CHAR, 0, j->comm);
}

static oa_progress *start_progress(job_ctx *j, oa_archive_writer *w) {
  oa_progress_spec spec = {.what = "recordings", .every = j->job->progress_every, .bar = j->job->progress_bar};
  for (size_t k = 0; k < j->mine.count; k++) {
    if (oa_writer_is_done(w, j->mine.entries[k].row)) continue;
    spec.total_items++;
    spec.total_bytes += (int64_t)j->mine.entries[k].size;
  }
  int64_t sums[2] = {spec.total_items, spec.total_bytes};
  MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_INT64_T, MPI_SUM, j->comm);
  spec.total_items = sums[0], spec.total_bytes = sums[1];
  oa_progress *pg = NULL;
  oa_progress_create(j->comm, &spec, j->log, &pg);
  return pg;
}

/* Progress inside a recording: its intervals' samples, and its file bytes
 * in proportion to the packets done, as they are done; corrected when the
 * recording ends (a failed one counts nothing). */
typedef struct interval_tick {
  oa_progress *pg;
  int64_t file_size;
  int64_t samples_reported, bytes_reported;
} interval_tick;

static void on_interval(void *ctx, int64_t samples, double share_done) {
  interval_tick *tick = ctx;
  if (share_done > 1) share_done = 1;
  int64_t bytes_now = (int64_t)(share_done * (double)tick->file_size);
  int64_t bytes = bytes_now > tick->bytes_reported ? bytes_now - tick->bytes_reported : 0;
  tick->samples_reported += samples;
  tick->bytes_reported += bytes;
  oa_progress_add(tick->pg, 0, bytes, samples);
  oa_progress_poll(tick->pg);
}

/* This rank's entries from `*next` on, until the batch is full: 0, or -1
 * when the batch cannot grow (logged). */
static int fill_batch(job_ctx *j, oa_archive_writer *w, oa_batch *batch, size_t *next, oa_progress *pg,
                      interval_tick *tick, const oa_index_options *opt) {
  const size_t budget = (size_t)(j->job->batch_mb * 1024 * 1024);
  oa_index_stats *stats = &j->res->stats;
  while (*next < j->mine.count && oa_batch_bytes(batch) < budget && !oa_stop_requested()) {
    const oa_corpus_entry *e = &j->mine.entries[(*next)++];
    if (oa_writer_is_done(w, e->row)) continue;
    char warning[OA_ERRMSG_MAX] = "";
    oa_err err, why;
    oa_err_clear(&err);
    oa_err_clear(&why);
    int64_t samples_before = stats->samples;
    *tick = (interval_tick){pg, (int64_t)e->size, 0, 0};
    if (oa_index_entry(e, e->row, opt, &j->build, batch, stats, &why, warning, &err) != OA_OK) {
      oa_log_err(j->log, OA_LOG_ERROR, &err);
      return -1;
    }
    if (why.msg[0]) OA_LOG(j->log, WARN, "%s: not indexed: %s%s", e->path, why.msg, oa_log_hint(j->log, why.code));
    if (warning[0]) OA_LOG(j->log, WARN, "%s: %s", e->path, warning);
    if (oa_fault("slow")) usleep(200000); /* tests: a run long enough to be signalled */
    if (pg) {
      oa_progress_add(pg, 1, tick->file_size - tick->bytes_reported,
                      stats->samples - samples_before - tick->samples_reported);
      oa_progress_poll(pg);
    }
  }
  return 0;
}

/* Each rank fills its batch up to the memory budget, then all ranks append
 * together (a commit); rounds continue until every rank is out of files,
 * or a signal on any rank stops every rank after a commit. */
static int index_all(job_ctx *j, oa_archive_writer *w, oa_err *err) {
  int rc = share_work(j, err);
  if (rc != OA_OK) {
    if (j->rank == 0) oa_log_err(j->log, OA_LOG_ERROR, err);
    return rc;
  }
  oa_progress *pg = start_progress(j, w);
  interval_tick tick = {pg, 0, 0, 0};
  oa_index_options opt = j->job->index;
  opt.on_interval = pg ? on_interval : NULL;
  opt.on_interval_ctx = &tick;
  oa_batch batch;
  memset(&batch, 0, sizeof batch);
  /* Past the budget, a long recording's packets wait in a spill file. */
  oa_err why;
  if (oa_batch_spill_open(&batch, j->job->output, (size_t)(j->job->batch_mb * 1024 * 1024), &why) != OA_OK)
    OA_LOG(j->log, WARN, "%s; a recording larger than the batch is held in memory", why.msg);
  double *t = j->res->seconds;
  size_t next = 0;
  for (;;) {
    double t0 = MPI_Wtime();
    int local_ok = fill_batch(j, w, &batch, &next, pg, &tick, &opt) == 0;
    double t1 = MPI_Wtime();
    t[OA_PHASE_DECODE] += t1 - t0;
    if (!oa_mpi_agree(j->comm, local_ok)) {
      rc = oa_err_set(err, OA_EIO, "a rank could not go on indexing (its error says why)");
      break;
    }
    rc = oa_writer_append(w, &batch, err);
    t[OA_PHASE_WRITE] += MPI_Wtime() - t1;
    if (rc != OA_OK) {
      if (j->rank == 0) oa_log_err(j->log, OA_LOG_ERROR, err);
      break;
    }
    if (pg) oa_progress_poll(pg);
    int state[2] = {next < j->mine.count, oa_stop_requested()}, any[2] = {0, 0};
    MPI_Allreduce(state, any, 2, MPI_INT, MPI_MAX, j->comm);
    if (any[1]) {
      j->res->stopped = any[1];
      rc = OA_EIO;
      break;
    }
    if (!any[0]) break;
  }
  /* After a failed collective write HDF5 may block in MPI: skip the
   * progress window's collective clean-up then (the process leaves anyway). */
  if (pg && !oa_writer_broken(w)) oa_progress_free(pg);
  oa_batch_free(&batch);
  return rc;
}

/* After the rounds: rename the archive into place, or keep the partial
 * for --resume, and say which. */
static int finish(job_ctx *j, oa_archive_writer *w, int ok, oa_err *err) {
  oa_err why;
  oa_err_clear(&why);
  double tm = MPI_Wtime();
  int rc = oa_writer_finish(w, ok, &why);
  j->res->seconds[OA_PHASE_META] += MPI_Wtime() - tm;
  if (rc == OA_OK) {
    j->res->written = 1;
    return OA_OK;
  }
  if (j->res->stopped) {
    oa_err_set(err, why.msg[0] ? why.code : OA_EIO, "stopped by %s at a commit: %s", oa_stop_name(j->res->stopped),
               why.msg[0] ? why.msg : "nothing was committed");
    if (j->rank == 0) oa_log_err(j->log, OA_LOG_SUMMARY, err);
  } else if (why.msg[0]) {
    *err = why;
    if (j->rank == 0) oa_log_err(j->log, ok ? OA_LOG_ERROR : OA_LOG_SUMMARY, &why);
  }
  return rc;
}

/* The writer's way to the whole list, for a refusal that names what differs. */
static int gather_list(void *ctx, oa_corpus *whole, oa_err *err) {
  job_ctx *j = ctx;
  return oa_corpus_gather(j->comm, &j->corpus, whole, err);
}

/* The archive, and the rounds into it. */
static int write_archive(job_ctx *j, oa_err *err) {
  oa_archive_meta meta;
  fill_meta(j, &meta);
  char note[OA_ERRMSG_MAX] = "";
  const oa_index_job *job = j->job;
  oa_writer_config cfg = {.overwrite = job->force, .resume = job->resume, .run = &j->corpus, .gather = gather_list,
                          .gather_ctx = j, .corpus_hash = oa_corpus_hash_across(j->comm, &j->corpus), .options = job->options_text,
                          .note = note, .io_timeout = job->io_timeout, .log = j->log};
  oa_archive_writer *w;
  double tm = MPI_Wtime();
  int rc = oa_writer_create(j->comm, job->output, &cfg, &meta, &w, &j->res->complete, err);
  j->res->seconds[OA_PHASE_META] += MPI_Wtime() - tm;
  if (rc != OA_OK) {
    if (j->rank == 0) oa_log_err(j->log, OA_LOG_ERROR, err);
    return rc;
  }
  if (j->res->complete) {
    if (j->rank == 0)
      OA_LOG(j->log, SUMMARY, "%s is complete: nothing to resume (it holds exactly these inputs)", job->output);
    return OA_OK;
  }
  if (note[0] && j->rank == 0) oa_log_write(j->log, strstr(note, "cannot") ? OA_LOG_WARN : OA_LOG_SUMMARY, "%s", note);
  oa_writer_resumed(w, &j->res->kept);
  rc = index_all(j, w, err);
  j->res->broken = oa_writer_broken(w);
  j->res->commits = oa_writer_commits(w);
  int frc = finish(j, w, rc == OA_OK, err);
  return rc != OA_OK ? rc : frc;
}

/* ---- --append: a new segment beside the archive (src/segments.h) ---- */

/* What rank 0 decides before the segment is written; shared with all. */
typedef struct append_plan {
  oa_archlock *lock;   /* rank 0: the archive's own lock, held for the whole append */
  oa_seglist list;     /* rank 0: the segments listed, adopted ones included */
  oa_archive *archive; /* rank 0: the archive as it stands */
  unsigned number;     /* of the segment this run writes */
  uint8_t *keep;       /* this rank's run: the entries to add */
} append_plan;

/* An append keeps the archive's checkpoint rules and libopus build: one
 * archive, one way its checkpoints are read. */
static int check_settings(const job_ctx *j, const oa_archive_meta *m, oa_err *err) {
  oa_archive_meta mine;
  fill_rules(j, &mine);
  oa_rule_diff d;
  if (!oa_meta_rules_differ(m, &mine, &d)) return OA_OK;
  return oa_err_set(err, OA_EUSAGE, "cannot append to %s: its %s is %s, this run's %s; an append must use the "
                    "archive's settings", j->job->output, d.what, d.a, d.b);
}

/* Rank 0: the archive and its list, with the segment a killed append
 * finished but did not list added to the list (adopted). Segment names a
 * replaced archive left behind are passed over. */
static int open_for_append(job_ctx *j, append_plan *p, oa_err *err) {
  const char *out = j->job->output;
  int rc = oa_archive_open(out, &p->archive, err);
  if (rc != OA_OK) {
    if (access(out, F_OK) != 0)
      return oa_err_set(err, OA_EUSAGE, "cannot append to %s: no such archive (an append adds to an archive "
                        "made before)", out);
    return oa_err_prefix(err, "cannot append: "), rc;
  }
  if (oa_archive_get_meta(p->archive)->segment_of[0])
    return oa_err_set(err, OA_EUSAGE, "cannot append to %s: it is a segment of another archive; append to that "
                      "archive", out);
  rc = check_settings(j, oa_archive_get_meta(p->archive), err);
  if (rc == OA_OK) rc = oa_base_identity(out, oa_archive_get_meta(p->archive), j->segment_of, sizeof j->segment_of, err);
  int found = 0;
  if (rc == OA_OK) rc = oa_seglist_load(out, &p->list, &found, err);
  if (rc == OA_OK && found && strcmp(p->list.base, j->segment_of) != 0) {
    OA_LOG(j->log, WARN, "%s.segments belonged to an archive since replaced under this name: a new list is begun",
           out);
    oa_seglist_free(&p->list);
  }
  if (rc == OA_OK && !p->list.names) snprintf(p->list.base, sizeof p->list.base, "%s", j->segment_of);
  for (p->number = (unsigned)p->list.n + 1; rc == OA_OK; p->number++) {
    char path[4096];
    oa_segment_path(out, p->number, path, sizeof path);
    if (access(path, F_OK) != 0) break;
    oa_archive *seg = NULL;
    rc = oa_archive_open(path, &seg, err);
    if (rc != OA_OK) {
      rc = oa_err_set(err, OA_EUSAGE, "cannot append to %s: %s exists but cannot be read (%s); move it away", out,
                      path, err->msg);
      break;
    }
    int ours = strcmp(oa_archive_get_meta(seg)->segment_of, j->segment_of) == 0;
    oa_archive_close(seg);
    if (!ours) continue;
    const char *slash = strrchr(path, '/');
    if (oa_seglist_add(&p->list, slash ? slash + 1 : path) != 0) rc = oa_err_set(err, OA_ENOMEM, "out of memory");
    if (rc == OA_OK) rc = oa_seglist_save(out, &p->list, err);
    if (rc == OA_OK) {
      OA_LOG(j->log, SUMMARY, "%s: segment finished by an interrupted append, now listed", path);
      j->res->adopted++;
      oa_archive_close(p->archive);
      rc = oa_archive_open(out, &p->archive, err);
    }
  }
  return rc;
}

/* Each rank, for its run: which inputs are new. A name already in the
 * archive is skipped when its source is unchanged and is a conflict
 * (reported, not added) when its size, modification time or inode changed. */
static int classify(job_ctx *j, append_plan *p, const oa_archive *a, oa_err *err) {
  const oa_corpus *run = &j->corpus;
  p->keep = calloc(run->count ? run->count : 1, 1);
  if (!p->keep) return oa_err_set(err, OA_ENOMEM, "out of memory");
  for (size_t i = 0; i < run->count; i++) {
    const oa_corpus_entry *e = &run->entries[i];
    uint64_t at;
    oa_err none;
    if (oa_archive_find(a, e->name, &at, &none) != OA_OK) {
      p->keep[i] = 1;
      continue;
    }
    /* A copy elsewhere (another path) has another inode by nature: then
     * size and modification time say whether it is the same recording. */
    oa_rec_row was = *oa_archive_recording(a, at);
    if (strcmp(oa_archive_recording_path(a, at), e->path) != 0) was.source_inode = 0;
    char what[300];
    oa_source_changes(e, &was, what, sizeof what);
    if (!what[0]) {
      j->res->skipped++;
      continue;
    }
    j->res->conflicts++;
    OA_LOG(j->log, WARN, "%s: not added: a recording of this name is in %s and its source changed since "
           "(%s); nothing was replaced", e->name, j->job->output, what);
  }
  return OA_OK;
}

/* Every rank: rank 0's plan (the segment's number, what it adopted), then
 * each rank classifies its run against the archive as it now stands and
 * cuts the run down to the new inputs; the counts are summed. */
static int share_plan(job_ctx *j, append_plan *p, int ok, oa_err *err) {
  if (!oa_mpi_agree_err(j->comm, ok, err)) return err->code ? err->code : OA_EUSAGE;
  uint64_t nums[2] = {p->number, j->res->adopted};
  MPI_Bcast(nums, 2, MPI_UINT64_T, 0, j->comm);
  p->number = (unsigned)nums[0], j->res->adopted = nums[1];
  MPI_Bcast(j->segment_of, sizeof j->segment_of, MPI_CHAR, 0, j->comm);
  oa_archive *a = NULL;
  ok = oa_archive_open(j->job->output, &a, err) == OA_OK && classify(j, p, a, err) == OA_OK;
  if (a) j->res->held = oa_archive_recording_count(a);
  oa_archive_close(a);
  if (!oa_mpi_agree_err(j->comm, ok, err)) return err->code ? err->code : OA_EARCHIVE;
  oa_corpus_keep_across(j->comm, &j->corpus, p->keep);
  j->res->skipped = oa_mpi_sum_u64(j->comm, j->res->skipped);
  j->res->conflicts = oa_mpi_sum_u64(j->comm, j->res->conflicts);
  j->total = j->res->added = oa_mpi_sum_u64(j->comm, j->corpus.count);
  return OA_OK;
}

/* Rank 0, after the segment is complete: list it. Until this rename the
 * archive reads as before; a job killed here leaves a complete unlisted
 * segment, which the next append adopts. */
static int list_segment(job_ctx *j, append_plan *p, oa_err *err) {
  if (oa_fault("list")) _exit(137); /* tests: killed between the segment and the list */
  const char *slash = strrchr(j->res->segment, '/');
  if (oa_seglist_add(&p->list, slash ? slash + 1 : j->res->segment) != 0)
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  int rc = oa_seglist_save(j->job->output, &p->list, err);
  if (rc != OA_OK)
    oa_err_prefix(err, "%s is complete but not listed (rerun the same command to list it): ", j->res->segment);
  return rc;
}

static int append_segment(job_ctx *j, append_plan *p, oa_err *err) {
  oa_index_job seg_job = *j->job;
  char options[OA_COMMIT_OPTIONS_MAX];
  /* A resumed segment must extend the same archive as the interrupted one. */
  snprintf(options, sizeof options, "%s;appended to=%s", j->job->options_text ? j->job->options_text : "",
           j->segment_of);
  seg_job.output = j->res->segment;
  seg_job.options_text = options;
  seg_job.append = 0;
  const oa_index_job *outer = j->job;
  j->job = &seg_job;
  int rc = write_archive(j, err);
  j->job = outer;
  if (rc != OA_OK || !j->res->written) return rc;
  int ok = j->rank != 0 || list_segment(j, p, err) == OA_OK;
  if (!oa_mpi_agree_err(j->comm, ok, err)) {
    if (j->rank == 0) oa_log_err(j->log, OA_LOG_ERROR, err);
    j->res->written = 0;
    return OA_EIO;
  }
  return OA_OK;
}

static int run_append(job_ctx *j, oa_err *err) {
  append_plan p = {0};
  int ok = 1;
  if (j->rank == 0) {
    char note[OA_ERRMSG_MAX] = "";
    ok = oa_archlock_acquire(j->job->output, &p.lock, note, err) == OA_OK;
    if (note[0]) OA_LOG(j->log, WARN, "%s", note);
    ok = ok && open_for_append(j, &p, err) == OA_OK;
    oa_archive_close(p.archive); /* each rank opens it to classify its run */
    p.archive = NULL;
  }
  int rc = share_plan(j, &p, ok, err);
  if (rc == OA_OK) oa_segment_path(j->job->output, p.number, j->res->segment, sizeof j->res->segment);
  if (rc == OA_OK && j->total == 0) {
    j->res->complete = 1;
    j->res->segment[0] = '\0';
  } else if (rc == OA_OK) {
    rc = append_segment(j, &p, err);
  } else if (j->rank == 0) {
    oa_log_err(j->log, OA_LOG_ERROR, err);
  }
  if (j->rank == 0) {
    oa_seglist_free(&p.list);
    oa_archlock_release(p.lock);
  }
  free(p.keep);
  return rc;
}

int oa_index_run(MPI_Comm comm, const oa_index_job *job, const oa_logger *log, oa_index_result *res, oa_err *err) {
  memset(res, 0, sizeof *res);
  job_ctx j = {.comm = comm, .job = job, .log = log, .res = res};
  MPI_Comm_rank(comm, &j.rank);
  MPI_Comm_size(comm, &j.size);
  oa_stop_install();
  double t0 = MPI_Wtime();
  int rc = check_output_early(&j, err);
  if (rc == OA_OK) rc = prepare(&j, err);
  res->seconds[OA_PHASE_SCAN] = MPI_Wtime() - t0;
  if (rc != OA_OK && j.rank == 0) oa_log_err(log, OA_LOG_ERROR, err);
  if (rc == OA_OK) rc = job->append ? run_append(&j, err) : write_archive(&j, err);
  oa_corpus_free(&j.mine);
  oa_corpus_free(&j.corpus);
  return rc;
}
