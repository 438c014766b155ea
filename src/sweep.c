/* Sweeps (oa_sweep_run): each rank plans its share of the queries
 * (sweepplan.c) and runs its units, then other ranks' (sweepqueue.c);
 * each unit decoded once and its samples delivered to per-query files,
 * staged pieces, or the clips file (clipsfile.c). Failures and units left
 * unrun are reported to the rank holding the query at the end. Query lists
 * are querylist.c's, shares of queries files queryshare.c's. */
#include "opusarc/sweep.h"
#include "sweepplan.h"
#include "sweepqueue.h"
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

typedef oa_sweep_work work;

enum { FAILED = 1, NOT_RUN = 2 };

/* What a rank tells another at the end: one of its queries failed (or was
 * not run) here, or one of its units was claimed here but not run. */
enum report_kind { QUERY_FAILED = FAILED, QUERY_NOT_RUN = NOT_RUN, UNIT_NOT_RUN, UNIT_LOST };
typedef struct report {
  uint64_t kind, value; /* value: the query's index in the whole list, or the unit in its rank's plan */
  int dest;
} report;

typedef struct sweep {
  MPI_Comm comm;
  int rank, size;
  oa_archive *a;
  oa_extractor *x;
  const oa_query_source *src; /* this rank's share of the queries, batch by batch */
  size_t batch;       /* queries per batch (the last may be shorter) */
  uint64_t rounds;    /* batches of the rank with the most (every rank joins every round) */
  oa_query_list *ql;  /* this round's batch: queries ql->first .. ql->first + ql->n - 1 */
  uint64_t total;     /* queries over every rank */
  uint64_t *firsts;   /* per rank (and one past): the first query of its share */
  uint64_t share_first, share_n, done; /* this rank's share: its place, size, queries run so far */
  /* From the survey: rows rejected while parsing, ranges clamped, frames
   * asked for; the clips file's layout, or outputs that already exist. */
  uint64_t bad, clamped, survey_frames;
  oa_clips_layout layout;
  uint64_t existing;
  char first_existing[4096];
  oa_err out_refusal;
  /* Results over the rounds, this rank's share. */
  uint64_t n_ok, n_failed, n_not_run, units;
  double seconds;
  int rows_ok;        /* every round's /queries rows were written */
  int stopped;
  const oa_sweep_options *opt;
  const oa_logger *log;
  plan p;             /* of this rank's share */
  oa_clips_file cf;
  uint8_t *failed;    /* per query of the share: FAILED or NOT_RUN */
  report *remote;     /* for other ranks: their queries that failed here, their units not run */
  size_t nremote, remote_cap;
  int reports_lost;   /* a report could not be kept (no memory): every query counts as failed */
  oa_sweep_queue qu;  /* this rank's units, and the way to the others' (sweepqueue.h) */
  oa_progress *progress;
  double t0;
  long tag;             /* rank 0's process id: names this run's temporary files */
  oa_watchdog *watchdog;
  uint64_t clipped;     /* samples clipped by an integer format, this rank */
  uint64_t taken;       /* units this rank ran from other ranks' queues */
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

static int staged(const sweep *s, const oa_query *q) {
  return q->pieced && (s->opt->output == OA_SWEEP_DIR || resampled(q));
}

/* A staged query's temporary file holds raw float32 at the decode's rate,
 * or, for raw f32 and s16 outputs at that rate, the output itself (a
 * rename publishes it). */
static int staged_as_final(const sweep *s, const oa_query *q) {
  return s->opt->output == OA_SWEEP_DIR && !resampled(q) &&
         (s->opt->format == OA_PCM_S16 || s->opt->format == OA_PCM_F32);
}

/* DIR/ID.FMT.partial.<tag>, or beside a clips file CLIPS.h5.<query>.partial.<tag>. */
static void stage_path(const sweep *s, const oa_query *q, char *buf, size_t len) {
  if (s->opt->output == OA_SWEEP_HDF5)
    snprintf(buf, len, "%s.%" PRIu64 ".partial.%ld", s->opt->path, q->index, s->tag);
  else path_of(s->opt, q, s->tag, buf, len);
}

/* The piece's samples at their place in the query's temporary file
 * (several ranks may write pieces of one query). */
static int write_piece(sweep *s, const oa_query *q, int64_t out_frame, const float *pcm, size_t frames,
                       oa_err *err) {
  char path[4096];
  stage_path(s, q, path, sizeof path);
  int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC); /* created by the query's rank before the sweep */
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
static int deliver(sweep *s, const oa_query *q, const member *m, const float *pcm, size_t frames, oa_err *err) {
  if (staged(s, q)) return write_piece(s, q, m->out_frame, pcm, frames, err);
  if (q->pieced) return oa_clips_write(&s->cf, q, m->out_frame, pcm, frames, err);
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
  const work *w;
  float **buf;   /* per member */
  int64_t pos;   /* next sample the sink receives */
} fanout;

static int fanout_sink(void *ctx, const float *pcm, size_t frames, int channels, oa_err *err) {
  (void)err;
  fanout *f = ctx;
  int64_t a = f->pos, b = f->pos + (int64_t)frames;
  for (size_t i = 0; i < f->w->u.n; i++) {
    const member *m = &f->w->m[i];
    int64_t lo = a > m->from ? a : m->from, hi = b < m->to ? b : m->to;
    if (lo < hi)
      memcpy(f->buf[i] + (size_t)(lo - m->from) * (size_t)channels, pcm + (size_t)(lo - a) * (size_t)channels,
             (size_t)(hi - lo) * (size_t)channels * sizeof(float));
  }
  f->pos = b;
  return OA_OK;
}

static int mine(const sweep *s, const oa_query *q) {
  return q->index >= s->ql->first && q->index - s->ql->first < s->ql->n;
}

static int owner_of(const sweep *s, uint64_t index) {
  int lo = 0, hi = s->size - 1; /* the last rank whose share starts at or before index */
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (s->firsts[mid] <= index) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

static void add_report(sweep *s, int dest, uint64_t kind, uint64_t value) {
  if (s->nremote && s->remote[s->nremote - 1].dest == dest && s->remote[s->nremote - 1].kind == kind &&
      s->remote[s->nremote - 1].value == value)
    return;
  if (oa_grow((void **)&s->remote, &s->remote_cap, s->nremote + 1, sizeof *s->remote) == 0)
    s->remote[s->nremote++] = (report){kind, value, dest};
  else s->reports_lost = 1;
}

/* Query i of this rank's share failed or was not run (the first verdict stays). */
static int mark(sweep *s, size_t i, int how) {
  if (s->failed[i]) return 0;
  s->failed[i] = (uint8_t)how;
  return 1;
}

/* A query failed (FAILED: named here, by the rank that ran it) or was not
 * run (NOT_RUN: a stop). A query of another rank's share is reported to
 * that rank at the end (exchange_reports). */
static void fail_query(sweep *s, const oa_query *q, const oa_err *err, int how) {
  if (mine(s, q)) {
    if (!mark(s, q->index - s->ql->first, how)) return;
  } else {
    add_report(s, owner_of(s, q->index), (uint64_t)how, q->index);
  }
  if (how != FAILED) return;
  const char *hint = oa_log_hint(s->log, err->code);
  if (q->line) OA_LOG(s->log, ERROR, "%s:%ld: %s%s", s->opt->source, q->line, err->msg, hint);
  else OA_LOG(s->log, ERROR, "window %s: %s%s", q->id, err->msg, hint);
}

/* Unit k of this rank's plan did not run: its queries are not written. */
static void unit_not_run(sweep *s, size_t k, int how) {
  const unit *u = &s->p.u[k];
  for (size_t i = 0; i < u->n; i++) mark(s, s->p.m[u->first + i].query, how);
}

/* The member's samples, as written: --mono / --channels make a new buffer
 * from the exact decode (*buf is replaced). */
static int shape_channels(sweep *s, const oa_query *q, float **buf, size_t frames, oa_err *err) {
  if (!s->opt->channels || !(s->opt->channels->mono || s->opt->channels->n)) return OA_OK;
  float *out = malloc(frames * (size_t)q->out_channels * sizeof *out);
  if (!out) return oa_err_set(err, OA_ENOMEM, "out of memory");
  oa_channel_apply(s->opt->channels, *buf, frames, q->channels, out);
  free(*buf);
  *buf = out;
  return OA_OK;
}

/* A failure in a shared decode (e.g. a damaged interval under --verify)
 * must not take down members that do not need that part: each member is
 * retried on its own (own[i]: 1 done, -1 failed with own_err[i]). */
static void retry_members(sweep *s, const work *w, float **buf, int *own, oa_err *own_err) {
  for (size_t i = 0; i < w->u.n; i++) {
    const member *m = &w->m[i];
    work one = {{w->u.rec, m->from, m->to, 0, 1}, (member *)m, &w->q[i]};
    fanout g = {&one, &buf[i], m->from};
    own[i] = oa_extract_range(s->x, w->u.rec, m->from, m->to, fanout_sink, &g, NULL, &own_err[i]) == OA_OK ? 1 : -1;
  }
}

static void run_unit(sweep *s, const work *w) {
  size_t n = w->u.n;
  float **buf = calloc(n, sizeof *buf);
  oa_err err;
  oa_err_clear(&err);
  int rc = buf ? OA_OK : oa_err_set(&err, OA_ENOMEM, "out of memory");
  for (size_t i = 0; rc == OA_OK && i < n; i++) {
    size_t floats = (size_t)(w->m[i].to - w->m[i].from) * (size_t)w->q[0].channels;
    buf[i] = w->u.rec == OA_GAP_REC ? calloc(floats ? floats : 1, sizeof(float)) : malloc(floats * sizeof(float));
    if (!buf[i]) rc = oa_err_set(&err, OA_ENOMEM, "out of memory");
  }
  fanout f = {w, buf, w->u.start};
  /* A gap between the files of a joined output is silence: nothing to decode. */
  if (rc == OA_OK && w->u.rec != OA_GAP_REC)
    rc = oa_extract_range(s->x, w->u.rec, w->u.start, w->u.end, fanout_sink, &f, NULL, &err);
  int *own = calloc(n, sizeof *own);
  oa_err *own_err = calloc(n, sizeof *own_err);
  if (rc != OA_OK && rc != OA_ENOMEM && n > 1 && own && own_err) retry_members(s, w, buf, own, own_err);
  for (size_t i = 0; i < n; i++) {
    const oa_query *q = &w->q[i];
    oa_err werr = own && own[i] < 0 ? own_err[i] : err;
    int wrc = own && own[i] ? (own[i] > 0 ? OA_OK : werr.code) : rc;
    size_t frames = (size_t)(w->m[i].to - w->m[i].from);
    if (!q->refused) { /* refused before the sweep (a channel it lacks): nothing to write */
      if (wrc == OA_OK) wrc = shape_channels(s, q, &buf[i], frames, &werr);
      if (wrc == OA_OK) wrc = deliver(s, q, &w->m[i], buf[i], frames, &werr);
      if (wrc != OA_OK) fail_query(s, q, &werr, FAILED);
    }
    if (buf) free(buf[i]);
  }
  free(buf);
  free(own);
  free(own_err);
}

/* Runs the claimed units; after a stop, the claimed ones it did not run
 * are marked (their queries are not written), as are units that could not
 * be read for want of memory. */
static void run_claimed(sweep *s, int r, int64_t first, int64_t chunk) {
  int64_t nu = (int64_t)s->qu.units_of[r], end = first + chunk < nu ? first + chunk : nu;
  for (int64_t k = first; k < end; k++) {
    int stop = oa_stop_requested();
    work w = {0};
    int got = stop ? -1 : oa_queue_take(&s->qu, r, k, &w);
    if (got != 0) {
      if (!stop) OA_LOG(s->log, ERROR, "out of memory for a work unit: its queries are not written");
      if (r == s->rank) unit_not_run(s, (size_t)k, stop ? NOT_RUN : FAILED);
      else add_report(s, r, stop ? UNIT_NOT_RUN : UNIT_LOST, (uint64_t)k);
      continue;
    }
    run_unit(s, &w);
    int64_t asked = 0; /* the samples its queries asked for (progress counts those) */
    for (size_t i = 0; i < w.u.n; i++) asked += w.m[i].to - w.m[i].from;
    oa_sweep_work_free(&w);
    if (r != s->rank) s->taken++;
    if (oa_fault("slow")) usleep(50000); /* tests: a sweep long enough to be signalled */
    oa_progress_add(s->progress, 0, 0, asked);
    oa_progress_poll(s->progress);
  }
}

/* Self-scheduling: a rank takes chunks of its own units, longest first,
 * then single units from the other ranks' queues until every queue is
 * empty. After SIGTERM/SIGINT a rank takes no more units. */
static void run_units(sweep *s) {
  for (int step = 0; step < s->size && !oa_stop_requested(); step++) {
    int r = (s->rank + step) % s->size;
    int64_t first, chunk;
    while (!oa_stop_requested() && oa_queue_claim(&s->qu, r, &first, &chunk)) run_claimed(s, r, first, chunk);
  }
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
static int finish_staged_query(sweep *s, const oa_query *q, const char *tmp, oa_err *err) {
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

/* Each rank finishes the staged queries of its share, once every piece
 * anywhere is written and reported: moved into place (raw f32 and s16 as
 * written), made into their output from raw float32, or removed if any
 * piece failed or did not run. */
static void finish_staged(sweep *s) {
  for (size_t i = 0; i < s->ql->n; i++) {
    const oa_query *q = &s->ql->q[i];
    if (!staged(s, q)) continue;
    char tmp[4096], final[4096];
    stage_path(s, q, tmp, sizeof tmp);
    path_of(s->opt, q, 0, final, sizeof final);
    oa_err e;
    oa_err_clear(&e);
    int rc = OA_OK;
    if (!s->failed[i])
      rc = staged_as_final(s, q) ? oa_out_publish(tmp, final, s->opt->overwrite, &e)
                                 : finish_staged_query(s, q, tmp, &e);
    if (rc != OA_OK) fail_query(s, q, &e, FAILED);
    unlink(tmp); /* gone after a rename; removed otherwise */
  }
}

/* Every rank tells the others what it saw of their queries and units
 * (collective): a query failed or not run, a claimed unit not run. */
static int exchange_reports(sweep *s) {
  if (OA_SOLO(s->comm)) return s->reports_lost ? -1 : 0; /* alone, every query is this process's */
  int *counts = calloc((size_t)s->size * 4, sizeof *counts);
  uint64_t *send = malloc((s->nremote ? s->nremote : 1) * 2 * sizeof *send), *recv = NULL;
  int ok = counts && send && !s->reports_lost;
  if (!oa_mpi_agree(s->comm, ok)) return free(counts), free(send), -1;
  int *sd = counts + s->size, *rc = counts + 2 * s->size, *rd = counts + 3 * s->size;
  for (size_t i = 0; i < s->nremote; i++) counts[s->remote[i].dest] += 2;
  for (int r = 0, at = 0; r < s->size; r++) sd[r] = at, at += counts[r], counts[r] = 0;
  for (size_t i = 0; i < s->nremote; i++) {
    const report *e = &s->remote[i];
    uint64_t *p = send + sd[e->dest] + counts[e->dest];
    p[0] = e->kind, p[1] = e->value;
    counts[e->dest] += 2;
  }
  MPI_Alltoall(counts, 1, MPI_INT, rc, 1, MPI_INT, s->comm);
  int total = 0;
  for (int r = 0; r < s->size; r++) rd[r] = total, total += rc[r];
  recv = malloc((total ? (size_t)total : 1) * sizeof *recv);
  if (!oa_mpi_agree(s->comm, recv != NULL)) return free(counts), free(send), free(recv), -1;
  MPI_Alltoallv(send, counts, sd, MPI_UINT64_T, recv, rc, rd, MPI_UINT64_T, s->comm);
  for (int i = 0; i + 1 < total; i += 2) {
    uint64_t kind = recv[i], v = recv[i + 1];
    if (kind == UNIT_NOT_RUN || kind == UNIT_LOST) {
      if (v < s->p.nu) unit_not_run(s, (size_t)v, kind == UNIT_LOST ? FAILED : NOT_RUN);
    } else if (v >= s->ql->first && v - s->ql->first < s->ql->n) {
      mark(s, (size_t)(v - s->ql->first), (int)kind);
    }
  }
  free(counts), free(send), free(recv);
  return 0;
}

/* Units of this rank's queue that no rank claimed (a stop): not run. */
static void mark_unclaimed(sweep *s) {
  for (size_t k = (size_t)(s->qu.own_next < 0 ? 0 : s->qu.own_next); k < s->p.nu; k++) unit_not_run(s, k, NOT_RUN);
}

/* The sweep's inputs, which no output may be: the archive and the
 * queries file. */
static size_t sweep_inputs(const oa_sweep_options *opt, oa_file_id *ids) {
  size_t n = 0;
  if (opt->archive_path && oa_file_id_of(opt->archive_path, &ids[n]) == 0) n++;
  if (opt->queries_path && oa_file_id_of(opt->queries_path, &ids[n]) == 0) n++;
  return n;
}

/* The stage files of this rank's queries [0, upto). */
static void remove_stage_files(sweep *s, size_t upto) {
  for (size_t i = 0; i < upto; i++) {
    if (!staged(s, &s->ql->q[i])) continue;
    char tmp[4096];
    stage_path(s, &s->ql->q[i], tmp, sizeof tmp);
    unlink(tmp);
  }
}

/* The temporary files of this rank's staged queries, created afresh
 * (O_EXCL|O_NOFOLLOW) at full size before any rank decodes. */
static int create_stage_files(sweep *s, oa_err *err) {
  for (size_t i = 0; i < s->ql->n; i++) {
    const oa_query *q = &s->ql->q[i];
    if (!staged(s, q)) continue;
    char tmp[4096];
    stage_path(s, q, tmp, sizeof tmp);
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

/* Collective, every rank for its share: the staged files are made, or
 * none is left. */
static int make_stage_files(sweep *s, oa_err *err) {
  int ok = create_stage_files(s, err) == OA_OK;
  if (oa_mpi_agree_err_as_is(s->comm, ok, err)) return OA_OK;
  if (ok) remove_stage_files(s, s->ql->n);
  return err->code ? err->code : OA_EIO;
}

/* This rank's outputs in batch b: none would replace an input or (without
 * --force) an existing file. Adds how many exist to *existing and names
 * the first in `first`; *err holds another refusal. */
static void check_own_outputs(sweep *s, const oa_query_list *b, uint64_t *existing, char *first, size_t len,
                              oa_err *err) {
  oa_file_id input[2];
  size_t ninputs = sweep_inputs(s->opt, input);
  for (size_t i = 0; i < b->n && !err->msg[0]; i++) {
    char path[4096];
    path_of(s->opt, &b->q[i], 0, path, sizeof path);
    oa_err why;
    oa_err_clear(&why);
    if (oa_out_check(path, s->opt->overwrite, input, ninputs, "output", &why) == OA_OK) continue;
    if (s->opt->overwrite || why.code != OA_EEXIST) *err = why;
    else if ((*existing)++ == 0) snprintf(first, len, "%s", path);
  }
}

/* Before the survey (collective): the output directory exists and takes
 * files (rank 0 looks, and makes it). */
static int check_out_dir(sweep *s, oa_err *err) {
  int ok = s->rank != 0 || oa_out_dir_ready(s->opt->path, err) == OA_OK;
  return oa_mpi_agree_err_as_is(s->comm, ok, err) ? OA_OK : err->code;
}

/* Before any decoding (collective): no output would replace the archive
 * or an existing file (unless --force): each rank looked at its share's in
 * the survey. */
static int check_dir_outputs(sweep *s, oa_err *err) {
  *err = s->out_refusal;
  if (!oa_mpi_agree_err_as_is(s->comm, !err->msg[0], err)) return err->code;
  uint64_t existing = s->existing, all = oa_mpi_sum_u64(s->comm, existing);
  if (existing == all && all == 1)
    oa_err_set(err, OA_EEXIST, "%s already exists; nothing was extracted", s->first_existing);
  else if (existing)
    oa_err_set(err, OA_EEXIST, "%s already exists and so do %llu other output%s; nothing was extracted",
               s->first_existing, (unsigned long long)(all - 1), all == 2 ? "" : "s");
  return oa_mpi_agree_err_as_is(s->comm, existing == 0, err) ? OA_OK : OA_EEXIST;
}

/* The rate a query is decoded at and written at, its frames written
 * (--rate) and its channels written (--mono, --channels). Fails, naming
 * why, when the parts of a joined query differ in time base or the
 * channel selection names a channel its recording lacks. */
static int query_outputs(const sweep *s, const oa_query_list *b, oa_query *q, oa_err *e) {
  /* Channels first: a query refused for its rates still reports (and
   * reserves) its recording's channels, as one refused for nothing. */
  int oc = oa_channel_spec_out(s->opt->channels, q->channels);
  q->out_channels = oc > 0 ? oc : q->channels;
  if (oa_query_rates(s->a, b, q, s->opt->rate, e) != OA_OK) return -1;
  if (oc > 0) return 0;
  oa_err_set(e, OA_EUSAGE, "the channel selection names a channel that recording \"%s\" (%d channel%s) does not have",
             oa_archive_recording_name(s->a, q->rec), q->channels, q->channels == 1 ? "" : "s");
  return -1;
}

/* Each query's place in the whole list, whether it was cut into pieces,
 * its outputs; a query that cannot be written as asked fails here, before
 * any decoding, named by the rank that holds it. */
static void set_outputs(sweep *s) {
  for (size_t i = 0; i < s->ql->n; i++) {
    oa_query *q = &s->ql->q[i];
    q->index = s->ql->first + i;
    q->pieced = s->p.pieces_gt1[i];
    q->refused = 0;
    oa_err e;
    oa_err_clear(&e);
    if (query_outputs(s, s->ql, q, &e) == 0) continue;
    q->refused = 1;
    fail_query(s, q, &e, FAILED);
  }
}

/* ------------------------------------------------------------ the rounds */

/* The next batch of this rank's share (empty once it has none: every
 * rank takes part in every round). Collective: a source's failure on any
 * rank ends the pass on all. */
static int next_batch(sweep *s, int pass, int *more, oa_query_list *b, oa_err *err) {
  memset(b, 0, sizeof *b);
  oa_err local;
  oa_err_clear(&local);
  int ok = !*more || s->src->next(s->src->ctx, pass, s->batch, b, &local) == OA_OK;
  if (*more && ok) *more = b->n == s->batch;
  if (ok && pass == 1 && (s->done + b->n > s->share_n || (!*more && s->done + b->n < s->share_n)))
    ok = 0, oa_err_set(&local, OA_EIO, "%s: the queries changed between the sweep's survey and its run",
                       s->opt->source);
  if (oa_mpi_agree_err(s->comm, ok, &local)) return OA_OK;
  oa_query_list_free(b);
  return oa_err_set(err, local.code ? local.code : OA_EIO, "%s", local.msg);
}

/* One batch of the survey: counted, its outputs measured (clips) or looked
 * for (files), its ids sent to be checked. */
static int survey_batch(sweep *s, oa_query_list *b, oa_id_check *ids, oa_err *err) {
  s->share_n += b->n, s->bad += b->bad, s->clamped += b->clamped;
  for (size_t i = 0; i < b->n; i++) {
    oa_err e;
    query_outputs(s, b, &b->q[i], &e);
    s->survey_frames += (uint64_t)b->q[i].frames;
  }
  if (s->opt->output == OA_SWEEP_HDF5) oa_clips_measure(&s->layout, s->a, b);
  else check_own_outputs(s, b, &s->existing, s->first_existing, sizeof s->first_existing, &s->out_refusal);
  return oa_id_check_add(ids, b, err);
}

/* Pass 0 (collective): every batch of every rank's share is read once and
 * dropped, leaving what the run needs before it starts: the share's size
 * and place in the whole list, the rounds, the clips file's layout or the
 * outputs that exist, and ids checked unique over the whole list. */
static int survey(sweep *s, oa_err *err) {
  oa_id_check ids;
  oa_id_check_init(&ids, s->comm);
  int more = 1, rc = OA_OK;
  s->rounds = 0;
  while (rc == OA_OK && oa_mpi_max_int(s->comm, more)) {
    oa_query_list b;
    rc = next_batch(s, 0, &more, &b, err);
    if (rc == OA_OK) rc = survey_batch(s, &b, &ids, err);
    oa_query_list_free(&b);
    s->rounds++;
  }
  if (rc == OA_OK) rc = oa_id_check_finish(&ids, s->opt->source, err);
  oa_id_check_free(&ids);
  if (rc != OA_OK) return rc;
  uint64_t n = s->share_n, before, total;
  oa_mpi_offsets(s->comm, &n, &before, &total, 1);
  s->share_first = before;
  s->total = total;
  if (!OA_SOLO(s->comm)) MPI_Allgather(&before, 1, MPI_UINT64_T, s->firsts, 1, MPI_UINT64_T, s->comm);
  s->firsts[s->size] = total;
  return OA_OK;
}

/* The clips file: the path is checked by rank 0, the shape by every rank
 * for its share, then the file is made (its offsets follow the whole list). */
static int prepare_clips(sweep *s, oa_err *err) {
  const oa_sweep_options *opt = s->opt;
  if (OA_SOLO(s->comm)) /* parallel HDF5 writes need MPI: the caller starts it */
    return oa_err_set(err, OA_EUSAGE, "a clips file is written with MPI started");
  int ok = 1;
  if (s->rank == 0) {
    oa_file_id input[2];
    size_t ninputs = sweep_inputs(opt, input);
    ok = oa_out_check(opt->path, opt->overwrite, input, ninputs, "clips file", err) == OA_OK;
  }
  if (!oa_mpi_agree_err_as_is(s->comm, ok, err)) return err->code;
  if (opt->fixed_shape && oa_clips_check_fixed_shape(s->comm, &s->layout, err) != OA_OK) return err->code;
  oa_clips_config cc = {.comm = s->comm, .path = opt->path, .overwrite = opt->overwrite,
                        .fixed_shape = opt->fixed_shape, .io_timeout = opt->io_timeout, .watchdog = s->watchdog};
  return oa_clips_create(&s->cf, &cc, &s->layout, err);
}

/* Everything before the first round; collective. */
static int sweep_prepare(sweep *s, oa_err *err) {
  const oa_sweep_options *opt = s->opt;
  oa_err local;
  oa_err_clear(&local);
  int ok = oa_extractor_create(s->a, opt->flags, &s->x, &local) == OA_OK;
  s->firsts = calloc((size_t)s->size + 1, sizeof *s->firsts);
  if (ok && !s->firsts) ok = 0, oa_err_set(&local, OA_ENOMEM, "out of memory");
  if (!oa_mpi_agree_err(s->comm, ok, &local)) return oa_err_set(err, local.code, "%s", local.msg);
  int rc = opt->output == OA_SWEEP_DIR ? check_out_dir(s, err) : OA_OK;
  if (rc == OA_OK) rc = survey(s, err);
  if (rc != OA_OK) return rc;
  long tag = (long)getpid();
  if (!OA_SOLO(s->comm)) MPI_Bcast(&tag, 1, MPI_LONG, 0, s->comm);
  s->tag = tag;
  if (opt->io_timeout > 0) oa_watchdog_start(s->log, &s->watchdog);
  return opt->output == OA_SWEEP_HDF5 ? prepare_clips(s, err) : check_dir_outputs(s, err);
}

/* Progress counts queries and the samples they ask for (the units of a
 * round exist only in that round). */
static void start_progress(sweep *s) {
  oa_progress_spec spec = {.what = "queries", .every = s->opt->progress_every, .bar = s->opt->progress_bar};
  uint64_t mine[2] = {s->share_n, s->survey_frames}, before[2], all[2];
  oa_mpi_offsets(s->comm, mine, before, all, 2);
  spec.total_items = (int64_t)all[0], spec.total_samples = (int64_t)all[1];
  oa_progress_create(s->comm, &spec, s->log, &s->progress);
}

/* A round's plan, queue and query records; collective. */
static int round_prepare(sweep *s, oa_err *err) {
  s->failed = calloc(s->ql->n ? s->ql->n : 1, 1);
  int ok = s->failed && oa_plan_make(s->ql, s->opt->piece, &s->p) == 0;
  if (!oa_mpi_agree(s->comm, ok)) return oa_err_set(err, OA_ENOMEM, "out of memory");
  if (oa_queue_init(&s->qu, s->comm, &s->p, s->ql) != 0) return oa_err_set(err, OA_ENOMEM, "out of memory");
  set_outputs(s);
  if (s->opt->output == OA_SWEEP_HDF5) oa_clips_place(&s->cf, s->ql);
  return make_stage_files(s, err);
}

/* The counts of a round's batch. */
static void count_round(sweep *s, int ran) {
  for (size_t i = 0; i < s->ql->n; i++) {
    if (!ran || s->failed[i]) s->n_failed++;
    else s->n_ok++, s->seconds += (double)s->ql->q[i].frames / oa_archive_samples_per_second(s->a, s->ql->q[i].rec);
    if (ran && s->failed[i] == NOT_RUN) s->n_not_run++;
  }
  s->units += s->p.nu;
}

static void round_free(sweep *s) {
  oa_queue_release(&s->qu);
  oa_queue_free(&s->qu);
  oa_plan_free(&s->p);
  memset(&s->p, 0, sizeof s->p);
  free(s->failed);
  s->failed = NULL;
  s->nremote = 0;
}

/* One round (collective): the batch's units run on every rank, failures
 * reported, staged queries finished, its /queries rows written. */
static int run_round(sweep *s, oa_query_list *b, oa_err *err) {
  s->ql = b;
  b->first = s->share_first + s->done;
  int rc = round_prepare(s, err);
  if (rc == OA_OK) {
    if (!OA_SOLO(s->comm)) oa_queue_open(&s->qu);
    run_units(s);
    oa_queue_close(&s->qu);
    int stop = oa_mpi_max_int(s->comm, oa_stop_requested());
    if (stop) s->stopped = stop;
    mark_unclaimed(s);
    if (exchange_reports(s) != 0) { /* without them no query can be said to be written */
      memset(s->failed, FAILED, b->n);
      OA_LOG(s->log, ERROR, "out of memory collecting the sweep's failures");
    }
    finish_staged(s);
    if (s->opt->output == OA_SWEEP_HDF5) s->rows_ok &= oa_clips_write_rows(&s->cf, s->a, b, s->failed);
    oa_progress_add(s->progress, (int64_t)b->n, 0, 0);
  }
  count_round(s, rc == OA_OK);
  s->done += b->n;
  round_free(s);
  s->ql = NULL;
  return rc;
}

/* Pass 1: the same batches again, each run in its round. After a failed
 * round (out of memory, stage files), the rest are counted as failed. */
static int sweep_rounds(sweep *s, oa_err *err) {
  start_progress(s);
  int more = 1, rc = OA_OK;
  for (uint64_t r = 0; r < s->rounds && rc == OA_OK; r++) {
    oa_query_list b;
    rc = next_batch(s, 1, &more, &b, err);
    if (rc == OA_OK) rc = run_round(s, &b, err);
    oa_query_list_free(&b);
  }
  oa_progress_free(s->progress);
  s->progress = NULL;
  if (s->done < s->share_n) s->n_failed += s->share_n - s->done; /* never run */
  return rc;
}

/* The counts of the result over every rank's share. */
static void count_results(sweep *s, oa_sweep_result *res) {
  uint64_t mine[6] = {s->n_failed, s->n_not_run, s->bad, s->n_ok, s->units, s->taken}, before[6], all[6];
  oa_mpi_offsets(s->comm, mine, before, all, 6);
  res->failed = all[0] + all[2];
  res->not_run = all[1];
  res->ok = all[3];
  res->units = all[4];
  res->units_taken = all[5];
  res->audio_seconds = oa_mpi_sum_double(s->comm, s->seconds);
  res->clamped = oa_mpi_sum_u64(s->comm, s->clamped);
  res->queries = s->total;
}

/* Queries per round and rank: a round's plan, window and records stay
 * this size whatever the length of the list. */
enum { BATCH = 65536 };

int oa_sweep_run(MPI_Comm comm, oa_archive *a, const oa_query_source *src, const oa_sweep_options *opt,
                 const oa_logger *log, oa_sweep_result *res, oa_err *err) {
  memset(res, 0, sizeof *res);
  sweep s = {.comm = comm, .a = a, .src = src, .opt = opt, .log = log, .t0 = oa_wtime(), .rows_ok = 1};
  s.batch = oa_fault("batch") ? 3 : BATCH; /* tests: many rounds */
  oa_mpi_rank_size(comm, &s.rank, &s.size);
  oa_stop_install();
  int rc = sweep_prepare(&s, err);
  if (rc == OA_OK) {
    oa_err round_err;
    oa_err_clear(&round_err);
    int rrc = sweep_rounds(&s, &round_err);
    res->stopped = s.stopped;
    if (opt->output == OA_SWEEP_HDF5) rc = oa_clips_finish(&s.cf, s.rows_ok, rrc == OA_OK, &res->broken, err);
    if (rrc != OA_OK) rc = rrc, *err = round_err; /* the first cause, not the file it left unwritten */
    res->clipped = oa_mpi_sum_u64(comm, s.clipped);
    res->partial = rrc != OA_OK && opt->output == OA_SWEEP_DIR && oa_mpi_sum_u64(comm, s.n_ok) > 0;
  } else {
    s.n_failed = s.share_n;
  }
  count_results(&s, res);
  res->wall_seconds = oa_wtime() - s.t0;
  if (!res->broken) oa_watchdog_stop(s.watchdog);
  oa_clips_free(&s.cf);
  oa_clips_layout_free(&s.layout);
  free(s.remote);
  free(s.firsts);
  oa_extractor_free(s.x);
  return rc;
}
