/* Sweeps (oa_sweep_run): the planner's work units (sweepplan.c) run by
 * one-sided self-scheduling over the ranks; each unit decoded once and its
 * samples delivered to per-query files, staged pieces, or the clips file
 * (clipsfile.c). Query lists are querylist.c's. */
#include "opusarc/sweep.h"
#include "sweepplan.h"
#include "clipsfile.h"
#include "opusarc/progress.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "opusarc/channels.h"
#include "opusarc/clock.h"
#include "opusarc/extract.h"
#include "opusarc/mpiutil.h"
#include "opusarc/pcmout.h"
#include "opusarc/resample.h"
#include "opusarc/util.h"
#include "opusarc/watchdog.h"
#include "outfile.h"
#include "querytext.h"
#include "stop.h"

/* Work units come from sweepplan.c. */
typedef oa_plan_member member;
typedef oa_plan_unit unit;
typedef oa_plan plan;

typedef struct sweep {
  MPI_Comm comm;
  int rank, size;
  oa_archive *a;
  oa_extractor *x;
  oa_query_list *ql;
  const oa_sweep_options *opt;
  const oa_logger *log;
  plan p;
  oa_clips_file cf;
  uint8_t *failed;   /* per query */
  MPI_Win win;
  int64_t solo_next; /* next unit of a process running without MPI (no window) */
  int64_t *counters; /* on rank 0: the next unit */
  oa_progress *progress;
  double t0;
  long tag;             /* rank 0's process id: names this run's temporary files */
  oa_watchdog *watchdog;
  uint8_t *unit_done;   /* per unit: it ran (on any rank, after mark_not_run) */
  uint64_t clipped;     /* samples clipped by an integer format, this rank */
} sweep;

/* ---------------------------------------------------------------- outputs */

/* DIR/ID.FMT, or the shared temporary file of a pieced query,
 * DIR/ID.FMT.partial.<tag> (tag: rank 0's process id, so no run meets
 * another's file). */
static void path_of(const oa_sweep_options *opt, const oa_query *q, long tag, char *buf, size_t len) {
  int n = snprintf(buf, len, "%s/%s.%s", opt->path, q->id, oa_pcm_format_extension(opt->format));
  if (tag && n >= 0 && (size_t)n < len) snprintf(buf + n, len - (size_t)n, ".partial.%ld", tag);
}

/* Queries whose pieces wait in a temporary file for the end of the sweep:
 * pieced queries of a directory sweep, and pieced queries resampled into a
 * clips file (--rate: the range is resampled in one go at the end). */
static int resampled(const oa_query *q) { return q->in_rate != q->out_rate; }

static int staged(const sweep *s, size_t qi) {
  return s->p.pieces_gt1[qi] && (s->opt->output == OA_SWEEP_DIR || resampled(&s->ql->q[qi]));
}

/* A staged query's temporary file holds raw float32 at the decode's rate,
 * or, for raw f32 and s16 outputs at that rate, the output itself (a
 * rename publishes it). */
static int staged_as_final(const sweep *s, const oa_query *q) {
  return s->opt->output == OA_SWEEP_DIR && !resampled(q) &&
         (s->opt->format == OA_PCM_S16 || s->opt->format == OA_PCM_F32);
}

/* DIR/ID.FMT.partial.<tag>, or beside a clips file CLIPS.h5.<query>.partial.<tag>. */
static void stage_path(const sweep *s, size_t qi, char *buf, size_t len) {
  if (s->opt->output == OA_SWEEP_HDF5) snprintf(buf, len, "%s.%zu.partial.%ld", s->opt->path, qi, s->tag);
  else path_of(s->opt, &s->ql->q[qi], s->tag, buf, len);
}

/* The piece's samples at their place in the query's temporary file
 * (several ranks may write pieces of one query). */
static int write_piece(sweep *s, size_t qi, int64_t out_frame, const float *pcm, size_t frames, oa_err *err) {
  const oa_query *q = &s->ql->q[qi];
  char path[4096];
  stage_path(s, qi, path, sizeof path);
  int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC); /* created by rank 0 before the sweep */
  if (fd < 0) return oa_err_set(err, OA_EIO, "%s: %s", path, strerror(errno));
  int as_s16 = staged_as_final(s, q) && s->opt->format == OA_PCM_S16;
  size_t n = frames * (size_t)q->out_channels, width = as_s16 ? 2 : 4;
  void *buf = (void *)pcm;
  short *s16 = NULL;
  if (as_s16) {
    s16 = malloc(n * sizeof *s16);
    if (!s16) {
      close(fd);
      return oa_err_set(err, OA_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
      int32_t v;
      s->clipped += oa_float_to_int(&pcm[i], 1, 16, &v);
      s16[i] = (short)v;
    }
    buf = s16;
  }
  off_t at = (off_t)((uint64_t)out_frame * (uint64_t)q->out_channels * width);
  ssize_t w = pwrite(fd, buf, n * width, at);
  int rc = w == (ssize_t)(n * width) ? OA_OK : oa_err_set(err, OA_EIO, "%s: write failed: %s", path, strerror(errno));
  free(s16);
  if (close(fd) != 0 && rc == OA_OK) rc = oa_err_set(err, OA_EIO, "%s: %s", path, strerror(errno));
  return rc;
}

static oa_pcm_meta meta_of(const oa_archive *a, const oa_query *q) {
  return (oa_pcm_meta){.start_us = q->start_us, .zone = q->start_zone, .offset_s = q->start_offset_s,
                       .recording = oa_archive_recording_name(a, q->rec), .start_sample = q->start,
                       .rate = q->out_rate};
}

static int write_whole(const oa_archive *a, const oa_sweep_options *opt, const oa_query *q, const float *pcm,
                       size_t frames, uint64_t *clipped, oa_err *err) {
  char path[4096];
  path_of(opt, q, 0, path, sizeof path);
  oa_pcm_writer *w;
  oa_pcm_meta meta = meta_of(a, q);
  int rc = oa_pcm_writer_open(path, opt->format, q->out_channels, opt->overwrite, &meta, &w, err);
  if (rc != OA_OK) return rc;
  rc = oa_pcm_writer_sink(w, pcm, frames, q->out_channels, err);
  *clipped += oa_pcm_writer_clipped(w);
  oa_err cerr;
  int crc = oa_pcm_writer_close(w, rc == OA_OK, &cerr);
  if (rc == OA_OK && crc != OA_OK) *err = cerr, rc = crc;
  return rc;
}

/* A member's samples to their place: a staged piece, a piece of a clip, or
 * a whole output (resampled first with --rate). */
static int deliver(sweep *s, const member *m, const float *pcm, size_t frames, oa_err *err) {
  const oa_query *q = &s->ql->q[m->query];
  if (staged(s, m->query)) return write_piece(s, m->query, m->out_frame, pcm, frames, err);
  if (s->p.pieces_gt1[m->query]) return oa_clips_write(&s->cf, q, m->out_frame, pcm, frames, err);
  const float *out = pcm;
  float *resampled_pcm = NULL;
  size_t n = frames;
  if (resampled(q)) {
    int rc = oa_resample_buffer(pcm, frames, q->out_channels, q->in_rate, q->out_rate, &resampled_pcm, &n, err);
    if (rc != OA_OK) return rc;
    out = resampled_pcm;
  }
  int rc = s->opt->output == OA_SWEEP_HDF5 ? oa_clips_write(&s->cf, q, 0, out, n, err)
                                          : write_whole(s->a, s->opt, q, out, n, &s->clipped, err);
  free(resampled_pcm);
  return rc;
}

/* ------------------------------------------------------------- execution */

typedef struct fanout {
  const plan *p;
  const unit *u;
  const oa_query_list *ql;
  float **buf;   /* per member */
  int64_t pos;   /* next sample the sink receives */
} fanout;

static int fanout_sink(void *ctx, const float *pcm, size_t frames, int channels, oa_err *err) {
  (void)err;
  fanout *f = ctx;
  int64_t a = f->pos, b = f->pos + (int64_t)frames;
  for (size_t i = 0; i < f->u->n; i++) {
    const member *m = &f->p->m[f->u->first + i];
    int64_t lo = a > m->from ? a : m->from, hi = b < m->to ? b : m->to;
    if (lo < hi)
      memcpy(f->buf[i] + (size_t)(lo - m->from) * (size_t)channels, pcm + (size_t)(lo - a) * (size_t)channels,
             (size_t)(hi - lo) * (size_t)channels * sizeof(float));
  }
  f->pos = b;
  return OA_OK;
}

static void fail_query(sweep *s, size_t qi, const oa_err *err) {
  if (s->failed[qi]) return;
  s->failed[qi] = 1;
  const oa_query *q = &s->ql->q[qi];
  const char *hint = oa_log_hint(s->log, err->code);
  if (q->line) OA_LOG(s->log, ERROR, "%s:%ld: %s%s", s->opt->source, q->line, err->msg, hint);
  else OA_LOG(s->log, ERROR, "window %s: %s%s", q->id, err->msg, hint);
}

static void run_unit(sweep *s, const unit *u) {
  const oa_query *q0 = &s->ql->q[s->p.m[u->first].query];
  float **buf = calloc(u->n, sizeof *buf);
  oa_err err;
  oa_err_clear(&err);
  int rc = buf ? OA_OK : oa_err_set(&err, OA_ENOMEM, "out of memory");
  for (size_t i = 0; rc == OA_OK && i < u->n; i++) {
    const member *m = &s->p.m[u->first + i];
    size_t n = (size_t)(m->to - m->from) * (size_t)q0->channels;
    buf[i] = u->rec == OA_GAP_REC ? calloc(n ? n : 1, sizeof(float)) : malloc(n * sizeof(float));
    if (!buf[i]) rc = oa_err_set(&err, OA_ENOMEM, "out of memory");
  }
  fanout f = {&s->p, u, s->ql, buf, u->start};
  /* A gap between the files of a joined output is silence: nothing to decode. */
  if (rc == OA_OK && u->rec != OA_GAP_REC)
    rc = oa_extract_range(s->x, u->rec, u->start, u->end, fanout_sink, &f, NULL, &err);
  /* A failure in a shared decode (e.g. a damaged interval under --verify)
   * must not take down members that do not need that part: retry each
   * member on its own. */
  int *own = calloc(u->n, sizeof *own);
  oa_err *own_err = calloc(u->n, sizeof *own_err);
  for (size_t i = 0; rc != OA_OK && rc != OA_ENOMEM && u->n > 1 && own && own_err && i < u->n; i++) {
    const member *m = &s->p.m[u->first + i];
    unit one = {u->rec, m->from, m->to, u->first + i, 1};
    fanout g = {&s->p, &one, s->ql, &buf[i], m->from};
    own[i] = oa_extract_range(s->x, u->rec, m->from, m->to, fanout_sink, &g, NULL, &own_err[i]) == OA_OK ? 1 : -1;
  }
  for (size_t i = 0; i < u->n; i++) {
    const member *m = &s->p.m[u->first + i];
    const oa_query *q = &s->ql->q[m->query];
    oa_err werr = own && own[i] < 0 ? own_err[i] : err;
    int wrc = own && own[i] ? (own[i] > 0 ? OA_OK : werr.code) : rc;
    size_t frames = (size_t)(m->to - m->from);
    if (s->failed[m->query]) { /* refused before the sweep (a channel it lacks): nothing to write */
      if (buf) free(buf[i]);
      continue;
    }
    if (wrc == OA_OK && s->opt->channels && (s->opt->channels->mono || s->opt->channels->n)) {
      /* --mono / --channels: a transformation of the exact decode into a new buffer. */
      float *out = malloc(frames * (size_t)q->out_channels * sizeof *out);
      if (!out) wrc = oa_err_set(&werr, OA_ENOMEM, "out of memory");
      else oa_channel_apply(s->opt->channels, buf[i], frames, q->channels, out), free(buf[i]), buf[i] = out;
    }
    if (wrc == OA_OK) wrc = deliver(s, m, buf[i], frames, &werr);
    if (wrc != OA_OK) fail_query(s, m->query, &werr);
    if (buf) free(buf[i]);
  }
  free(buf);
  free(own);
  free(own_err);
}

/* Self-scheduling: take chunks of units from a counter on rank 0 with
 * one-sided fetch-and-add; chunks shrink as the queue empties. Progress
 * goes through oa_progress, published at most twice a second per rank.
 * After SIGTERM/SIGINT a rank takes no more units. */
static void run_units(sweep *s) {
  int64_t seen = 0;
  while (!oa_stop_requested()) {
    int64_t left = (int64_t)s->p.nu - seen;
    int64_t chunk = left / (4 * (int64_t)s->size);
    if (chunk < 1) chunk = 1;
    if (chunk > 16) chunk = 16;
    int64_t first = s->solo_next;
    if (OA_SOLO(s->comm)) {
      s->solo_next += chunk;
    } else {
      MPI_Fetch_and_op(&chunk, &first, MPI_INT64_T, 0, 0, MPI_SUM, s->win);
      MPI_Win_flush(0, s->win);
    }
    if (first >= (int64_t)s->p.nu) break;
    seen = first + chunk;
    for (int64_t k = first; k < first + chunk && k < (int64_t)s->p.nu; k++) {
      const unit *u = &s->p.u[k];
      if (oa_stop_requested()) break;
      run_unit(s, u);
      s->unit_done[k] = 1;
      if (oa_fault("slow")) usleep(50000); /* tests: a sweep long enough to be signalled */
      oa_progress_add(s->progress, 1, 0, u->end - u->start);
      oa_progress_poll(s->progress);
    }
  }
}

/* Every rank learns which units ran anywhere; queries with a part in a unit
 * that did not run (a stop) are not written. Returns how many. */
static uint64_t mark_not_run(sweep *s) {
  oa_mpi_max_bytes(s->comm, s->unit_done, s->p.nu);
  uint64_t n = 0;
  for (size_t k = 0; k < s->p.nu; k++) {
    if (s->unit_done[k]) continue;
    const unit *u = &s->p.u[k];
    for (size_t i = 0; i < u->n; i++) {
      size_t q = s->p.m[u->first + i].query;
      if (!s->failed[q]) s->failed[q] = 1, n++;
    }
  }
  return n;
}

/* An oa_pcm_sink into a query's clip, from its first frame on. */
typedef struct clip_sink {
  sweep *s;
  const oa_query *q;
  int64_t at;
} clip_sink;

static int clip_sink_fn(void *ctx, const float *pcm, size_t frames, int channels, oa_err *err) {
  (void)channels;
  clip_sink *c = ctx;
  int rc = oa_clips_write(&c->s->cf, c->q, c->at, pcm, frames, err);
  c->at += (int64_t)frames;
  return rc;
}

/* Streams the raw float32 samples of temporary file fd (q->frames frames)
 * into sink, through libsoxr when the query is resampled. */
static int stream_raw(int fd, const char *tmp, const oa_query *q, oa_pcm_sink sink, void *ctx, oa_err *err) {
  oa_resampler *r = NULL;
  int rc = OA_OK;
  if (resampled(q)) {
    rc = oa_resampler_create(q->in_rate, q->out_rate, q->out_channels, q->frames, sink, ctx, &r, err);
    sink = oa_resampler_sink, ctx = r;
  }
  const size_t chunk = 65536, ch = (size_t)q->out_channels;
  float *buf = rc == OA_OK ? malloc(chunk * ch * sizeof *buf) : NULL;
  if (rc == OA_OK && !buf) rc = oa_err_set(err, OA_ENOMEM, "out of memory");
  for (int64_t done = 0; rc == OA_OK && done < q->frames;) {
    size_t want = (size_t)(q->frames - done < (int64_t)chunk ? q->frames - done : (int64_t)chunk);
    ssize_t got = pread(fd, buf, want * ch * sizeof *buf, (off_t)((uint64_t)done * ch * sizeof *buf));
    if (got != (ssize_t)(want * ch * sizeof *buf))
      rc = oa_err_set(err, OA_EIO, "%s: read failed: %s", tmp, got < 0 ? strerror(errno) : "short file");
    else rc = sink(ctx, buf, want, q->out_channels, err), done += (int64_t)want;
  }
  if (rc == OA_OK && r) rc = oa_resampler_finish(r, err);
  oa_resampler_free(r);
  free(buf);
  return rc;
}

/* A staged query whose temporary file holds raw float32: its samples
 * become the output (a file with its start time, or the clip) here. */
static int finish_staged_query(sweep *s, size_t qi, const char *tmp, oa_err *err) {
  const oa_query *q = &s->ql->q[qi];
  int fd = open(tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return oa_err_set(err, OA_EIO, "%s: %s", tmp, strerror(errno));
  if (s->opt->output == OA_SWEEP_HDF5) {
    clip_sink cs = {s, q, 0};
    int rc = stream_raw(fd, tmp, q, clip_sink_fn, &cs, err);
    close(fd);
    return rc;
  }
  char final[4096];
  path_of(s->opt, q, 0, final, sizeof final);
  oa_pcm_writer *w = NULL;
  oa_pcm_meta meta = meta_of(s->a, q);
  int rc = oa_pcm_writer_open(final, s->opt->format, q->out_channels, s->opt->overwrite, &meta, &w, err);
  if (rc == OA_OK) rc = stream_raw(fd, tmp, q, oa_pcm_writer_sink, w, err);
  close(fd);
  if (w) {
    s->clipped += oa_pcm_writer_clipped(w);
    oa_err cerr;
    int crc = oa_pcm_writer_close(w, rc == OA_OK, &cerr);
    if (rc == OA_OK && crc != OA_OK) *err = cerr, rc = crc;
  }
  return rc;
}

/* Staged queries are finished, spread over the ranks (query i on rank
 * i mod size): moved into place (raw f32 and s16 as written), or made into
 * their output from raw float32, or removed if any piece failed (or did not run)
 * anywhere. Every rank has the same `failed` flags here. */
static void finish_staged(sweep *s) {
  for (size_t i = 0; i < s->ql->n; i++) {
    if (!staged(s, i) || (int)(i % (size_t)s->size) != s->rank) continue;
    const oa_query *q = &s->ql->q[i];
    char tmp[4096], final[4096];
    stage_path(s, i, tmp, sizeof tmp);
    path_of(s->opt, q, 0, final, sizeof final);
    oa_err e;
    oa_err_clear(&e);
    int rc = OA_OK;
    if (!s->failed[i])
      rc = staged_as_final(s, q) ? oa_out_publish(tmp, final, s->opt->overwrite, &e)
                                 : finish_staged_query(s, i, tmp, &e);
    if (rc != OA_OK) fail_query(s, i, &e);
    unlink(tmp); /* gone after a rename; removed otherwise */
  }
}

/* The sweep's inputs, which no output may be: the archive and the
 * queries file. */
static size_t sweep_inputs(const oa_sweep_options *opt, oa_file_id *ids) {
  size_t n = 0;
  if (opt->archive_path && oa_file_id_of(opt->archive_path, &ids[n]) == 0) n++;
  if (opt->queries_path && oa_file_id_of(opt->queries_path, &ids[n]) == 0) n++;
  return n;
}

/* The stage files of queries [0, upto). */
static void remove_stage_files(sweep *s, size_t upto) {
  for (size_t i = 0; i < upto; i++) {
    if (!staged(s, i)) continue;
    char tmp[4096];
    stage_path(s, i, tmp, sizeof tmp);
    unlink(tmp);
  }
}

/* Rank 0: the temporary files of staged queries, created afresh
 * (O_EXCL|O_NOFOLLOW) at full size. */
static int create_stage_files(sweep *s, oa_err *err) {
  for (size_t i = 0; i < s->ql->n; i++) {
    if (!staged(s, i)) continue;
    const oa_query *q = &s->ql->q[i];
    char tmp[4096];
    stage_path(s, i, tmp, sizeof tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    int width = staged_as_final(s, q) && s->opt->format == OA_PCM_S16 ? 2 : 4;
    off_t size = (off_t)((uint64_t)q->frames * (uint64_t)q->out_channels * (uint64_t)width);
    if (fd >= 0 && ftruncate(fd, size) == 0) {
      close(fd);
      continue;
    }
    int rc = oa_err_set(err, OA_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    if (fd >= 0) close(fd), unlink(tmp);
    remove_stage_files(s, i); /* only those made here: a name that was there stays */
    return rc;
  }
  return OA_OK;
}

/* Rank 0, before any decoding: the output directory exists and takes
 * files; no output would replace the archive or an existing file (unless
 * --force); the shared temporary files of pieced queries are created
 * afresh at full size. */
static int check_dir_outputs(sweep *s, oa_err *err) {
  const oa_sweep_options *opt = s->opt;
  int rc = oa_out_dir_ready(opt->path, err);
  oa_file_id input[2];
  size_t ninputs = sweep_inputs(opt, input);
  uint64_t existing = 0;
  char first[4096] = "";
  for (size_t i = 0; rc == OA_OK && i < s->ql->n; i++) {
    char path[4096];
    path_of(opt, &s->ql->q[i], 0, path, sizeof path);
    oa_err why;
    oa_err_clear(&why);
    if (oa_out_check(path, opt->overwrite, input, ninputs, "output", &why) == OA_OK) continue;
    if (opt->overwrite || why.code != OA_EEXIST) rc = oa_err_set(err, why.code, "%s", why.msg);
    else if (existing++ == 0) snprintf(first, sizeof first, "%s", path);
  }
  if (rc == OA_OK && existing == 1)
    rc = oa_err_set(err, OA_EEXIST, "%s already exists; nothing was extracted", first);
  else if (rc == OA_OK && existing)
    rc = oa_err_set(err, OA_EEXIST, "%s already exists and so do %llu other output%s; nothing was extracted", first,
                    (unsigned long long)(existing - 1), existing == 2 ? "" : "s");
  return rc == OA_OK ? create_stage_files(s, err) : rc;
}

/* A query refused before any decoding: named on rank 0, flagged everywhere. */
static void refuse_query(sweep *s, size_t qi, const oa_err *e) {
  if (s->rank == 0) fail_query(s, qi, e);
  else s->failed[qi] = 1;
}

/* The rate a query is decoded at, written at, and its frames written
 * (--rate); a joined query's parts must share one time base. */
static void set_out_rate(sweep *s, size_t qi) {
  oa_err e;
  if (oa_query_rates(s->a, s->ql, &s->ql->q[qi], s->opt->rate, &e) != OA_OK) refuse_query(s, qi, &e);
}

/* The channels and rate each query writes (--mono, --channels, --rate); a
 * query asking for a channel its recording lacks fails here, before any
 * decoding. */
static void set_outputs(sweep *s) {
  for (size_t i = 0; i < s->ql->n; i++) {
    oa_query *q = &s->ql->q[i];
    set_out_rate(s, i);
    int oc = oa_channel_spec_out(s->opt->channels, q->channels);
    q->out_channels = oc > 0 ? oc : q->channels;
    if (oc > 0) continue;
    oa_err e;
    oa_err_set(&e, OA_EUSAGE,
               "the channel selection names a channel that recording \"%s\" (%d channel%s) does not have",
               oa_archive_recording_name(s->a, q->rec), q->channels, q->channels == 1 ? "" : "s");
    refuse_query(s, i, &e);
  }
}

/* Everything before the first decode; collective. */
static int sweep_prepare(sweep *s, oa_err *err) {
  const oa_sweep_options *opt = s->opt;
  oa_err local;
  oa_err_clear(&local);
  int ok = oa_extractor_create(s->a, opt->flags, &s->x, &local) == OA_OK;
  size_t n = s->ql->n ? s->ql->n : 1;
  s->failed = calloc(n, 1);
  if (ok && !(s->failed && oa_plan_make(s->ql, opt->piece, &s->p) == 0))
    ok = 0, oa_err_set(&local, OA_ENOMEM, "out of memory");
  s->unit_done = calloc(s->p.nu ? s->p.nu : 1, 1);
  if (ok && !s->unit_done) ok = 0, oa_err_set(&local, OA_ENOMEM, "out of memory");
  if (ok) set_outputs(s);
  if (!oa_mpi_agree_err(s->comm, ok, &local)) return oa_err_set(err, local.code, "%s", local.msg);
  long tag = (long)getpid();
  if (!OA_SOLO(s->comm)) MPI_Bcast(&tag, 1, MPI_LONG, 0, s->comm);
  s->tag = tag;
  if (opt->io_timeout > 0) oa_watchdog_start(s->log, &s->watchdog);
  if (opt->output == OA_SWEEP_HDF5) {
    if (OA_SOLO(s->comm)) /* parallel HDF5 writes need MPI: the caller starts it */
      return oa_err_set(err, OA_EUSAGE, "a clips file is written with MPI started");
    ok = 1;
    if (s->rank == 0) {
      oa_file_id input[2];
      size_t ninputs = sweep_inputs(opt, input);
      ok = oa_out_check(opt->path, opt->overwrite, input, ninputs, "clips file", &local) == OA_OK;
    }
    if (ok && opt->fixed_shape) ok = oa_clips_check_fixed_shape(s->ql, &local) == OA_OK;
    if (ok && s->rank == 0) ok = create_stage_files(s, &local) == OA_OK;
    if (!oa_mpi_agree_err(s->comm, ok, &local)) return oa_err_set(err, local.code, "%s", local.msg);
    oa_clips_config cc = {.comm = s->comm, .path = opt->path, .overwrite = opt->overwrite,
                          .fixed_shape = opt->fixed_shape, .io_timeout = opt->io_timeout, .watchdog = s->watchdog};
    int rc = oa_clips_create(&s->cf, &cc, s->a, s->ql, err);
    if (rc != OA_OK && s->rank == 0) remove_stage_files(s, s->ql->n);
    return rc;
  }
  ok = s->rank != 0 || check_dir_outputs(s, &local) == OA_OK;
  return oa_mpi_agree_err(s->comm, ok, &local) ? OA_OK : oa_err_set(err, local.code, "%s", local.msg);
}

static void sweep_execute(sweep *s) {
  oa_progress_spec spec = {.what = "work units", .total_items = (int64_t)s->p.nu, .every = s->opt->progress_every,
                           .bar = s->opt->progress_bar};
  for (size_t i = 0; i < s->p.nu; i++) spec.total_samples += s->p.u[i].end - s->p.u[i].start;
  oa_progress_create(s->comm, &spec, s->log, &s->progress);
  if (OA_SOLO(s->comm)) {
    run_units(s);
    oa_progress_free(s->progress);
    return;
  }
  MPI_Win_allocate(s->rank == 0 ? sizeof(int64_t) : 0, sizeof(int64_t), MPI_INFO_NULL, s->comm, &s->counters, &s->win);
  if (s->rank == 0) *s->counters = 0;
  MPI_Barrier(s->comm);
  MPI_Win_lock_all(0, s->win);
  run_units(s);
  MPI_Win_unlock_all(s->win);
  MPI_Win_free(&s->win);
  oa_progress_free(s->progress);
}

int oa_sweep_run(MPI_Comm comm, oa_archive *a, oa_query_list *ql, const oa_sweep_options *opt,
                 const oa_logger *log, oa_sweep_result *res, oa_err *err) {
  memset(res, 0, sizeof *res);
  sweep s = {.comm = comm, .a = a, .ql = ql, .opt = opt, .log = log, .t0 = oa_wtime()};
  oa_mpi_rank_size(comm, &s.rank, &s.size);
  oa_stop_install();
  int rc = sweep_prepare(&s, err);
  if (rc == OA_OK) {
    sweep_execute(&s);
    /* Every rank learns which queries failed, or did not run, anywhere. */
    oa_mpi_max_bytes(comm, s.failed, ql->n);
    res->not_run = mark_not_run(&s);
    res->stopped = oa_mpi_max_int(comm, oa_stop_requested());
    finish_staged(&s);
    oa_mpi_max_bytes(comm, s.failed, ql->n);
    if (opt->output == OA_SWEEP_HDF5) rc = oa_clips_finish(&s.cf, s.a, ql, s.failed, &res->broken, err);
    oa_mpi_max_bytes(comm, s.failed, ql->n);
    res->clipped = oa_mpi_sum_u64(comm, s.clipped);
  }
  int ran = rc == OA_OK;
  for (size_t i = 0; i < ql->n; i++) {
    if (!ran || s.failed[i]) res->failed++;
    else res->ok++, res->audio_seconds += (double)ql->q[i].frames / oa_archive_samples_per_second(a, ql->q[i].rec);
  }
  res->failed += ql->bad;
  res->units = s.p.nu;
  res->wall_seconds = oa_wtime() - s.t0;
  if (!res->broken) oa_watchdog_stop(s.watchdog);
  oa_plan_free(&s.p);
  oa_clips_free(&s.cf);
  free(s.failed);
  free(s.unit_done);
  oa_extractor_free(s.x);
  return rc;
}
