#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "opusarc/archive.h"
#include "opusarc/corpus.h"
#include "opusarc/indexer.h"
#include "opusarc/journal.h"
#include "opusarc/mpiutil.h"
#include "opusarc/progress.h"
#include "../outfile.h"
#include "../stop.h"

static const char *HELP =
    "usage: opusarc index -o ARCHIVE.h5 [options] INPUT...\n"
    "\n"
    "Indexes recordings into one HDF5 archive. INPUTs are files or directories\n"
    "(searched recursively for *.opus, *.ogg, *.wav, *.flac, *.w64, *.rf64, *.aif,\n"
    "*.aiff). A recording is named by its path relative to the directory argument\n"
    "it was found under, or by the path as given for a file argument. Ranks share\n"
    "the corpus balanced by bytes.\n"
    "\n"
    "  -o, --output FILE          archive to write (written as FILE.partial, renamed\n"
    "                             when complete)\n"
    "  --checkpoint-every SECONDS interval length: extraction decodes at most about\n"
    "                             this much audio beyond a range (default 2)\n"
    "  --checkpoints MODE         how each interval's decoder is obtained:\n"
    "                             auto (default): a pre-roll verified at indexing to\n"
    "                               give exact output, else a full decoder snapshot\n"
    "                             preroll: verified pre-roll only (from the link\n"
    "                               start where no short one is exact)\n"
    "                             snapshot: full decoder snapshots only\n"
    "  --max-preroll PACKETS      longest pre-roll tried (default 128); where none is\n"
    "                             exact, auto lets the previous interval grow over\n"
    "                             this one (up to 4 lengths), else stores a snapshot\n"
    "  --list FILE                also index the paths listed in FILE, one per line\n"
    "PCM sources (WAV, RF64, W64, FLAC, AIFF) are encoded with libopus:\n"
    "  --bitrate KBPS             per channel (default 32)\n"
    "  --cbr                      constant bitrate (default VBR)\n"
    "  --complexity N             encoder complexity 0-10 (default 10)\n"
    "  --frame-ms MS              2.5, 5, 10, 20, 40 or 60 (default 20)\n"
    "  --application A            audio (default) or voip\n"
    "  --high-rate MODE           sources above 48 kHz: resample (low-pass to 48 kHz)\n"
    "                             or time-expand (samples stored as if at 48 kHz; the\n"
    "                             source rate is kept as the recording's time base);\n"
    "                             without it such files fail\n"
    "  --batch-mb MB              per-rank memory for rows between collective writes;\n"
    "                             each write is a commit that --resume keeps\n"
    "                             (default 256, from 0.01)\n"
    "  --io-timeout SECONDS       a collective write round that takes longer than this\n"
    "                             (plus 1 s per 10 MB it writes) is stuck: end the job\n"
    "                             with a message; committed work stays resumable\n"
    "                             (default 900; 0: wait forever)\n"
    "  --force                    replace FILE (and FILE.partial) if it exists (never\n"
    "                             an input)\n"
    "  --resume                   continue an interrupted run from FILE.partial: the\n"
    "                             recordings it committed are kept, the rest are\n"
    "                             indexed; the same inputs (unchanged: size, mtime,\n"
    "                             inode) and options are required, else it refuses and\n"
    "                             says what differs. Starts a new archive when there\n"
    "                             is nothing to resume; with FILE complete it checks\n"
    "                             that FILE holds exactly these inputs (exit 0) or\n"
    "                             names what is new, gone or changed (exit 1). Job\n"
    "                             scripts can always pass it. --force --resume: a\n"
    "                             rebuild that continues if interrupted\n"
    "  --allow-failures           exit 0 even if some recordings failed\n"
    "  --progress SECONDS         rank 0 reports recordings done / total, bytes, audio,\n"
    "                             speed and ETA this often (default 10; a bar redrawn\n"
    "                             every second on a terminal; 0: off)\n"
    "  --summary-json FILE        also write the summary as JSON, with the seconds spent\n"
    "                             in scan, decode, hdf5_write and metadata per rank\n"
    "  -q, --quiet                only errors and the final summary\n"
    "  -h, --help                 this text\n"
    "\n"
    "One job writes an archive at a time: a second one on the same FILE refuses,\n"
    "naming the holder of FILE.lock (host, pid, Slurm job). SIGTERM/SIGINT stop at\n"
    "the next commit; FILE.partial is kept for --resume. --list FILE: one path per\n"
    "line; empty lines and lines starting with '#' are skipped.\n"
    "A recording that cannot be indexed is kept in the archive as a failed row with\n"
    "the reason; the others are unaffected. Exit: 0 all indexed, 3 archive written\n"
    "but some recordings failed, 1 no archive, 2 bad command line.\n";

typedef struct index_args {
  const char *output, *list;
  double checkpoint_every;
  int mode, max_preroll;
  oa_encode_options encode;
  double batch_mb, progress, io_timeout;
  const char *summary_json;
  int force, resume, allow_failures, quiet, progress_default;
  char **inputs;
  int ninputs;
} index_args;

static int parse_args(cli_ctx *cx, int argc, char **argv, index_args *a) {
  static const struct option opts[] = {
      {"output", required_argument, 0, 'o'}, {"checkpoint-every", required_argument, 0, 'c'},
      {"list", required_argument, 0, 'l'},   {"batch-mb", required_argument, 0, 'b'},
      {"force", no_argument, 0, 'f'},        {"allow-failures", no_argument, 0, 'a'},
      {"resume", no_argument, 0, 'R'},       {"progress", required_argument, 0, 'P'},
      {"summary-json", required_argument, 0, 'J'}, {"io-timeout", required_argument, 0, 'T'},
      {"quiet", no_argument, 0, 'q'},        {"help", no_argument, 0, 'h'},
      {"checkpoints", required_argument, 0, 'm'}, {"max-preroll", required_argument, 0, 'r'},
      {"bitrate", required_argument, 0, 'B'},     {"cbr", no_argument, 0, 'C'},
      {"complexity", required_argument, 0, 'X'},  {"frame-ms", required_argument, 0, 'F'},
      {"application", required_argument, 0, 'A'}, {"high-rate", required_argument, 0, 'H'},
      {0, 0, 0, 0}};
  *a = (index_args){.checkpoint_every = OA_DEFAULT_CHECKPOINT_SECONDS, .batch_mb = 256, .io_timeout = 900,
                    .mode = OA_CHECKPOINTS_AUTO, .max_preroll = OA_DEFAULT_MAX_PREROLL,
                    .progress = 10, .progress_default = 1};
  oa_encode_options_default(&a->encode);
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+o:qh", opts, NULL)) != -1) {
    switch (c) {
      case 'o': a->output = optarg; break;
      case 'l': a->list = optarg; break;
      case 'f': a->force = 1; break;
      case 'R': a->resume = 1; break;
      case 'J': a->summary_json = optarg; break;
      case 'P':
        if (cli_parse_double(optarg, &a->progress) != 0 || a->progress < 0) {
          cli_usage_error(cx, "index", "--progress needs seconds (0: off), not '%s'", optarg);
          return -1;
        }
        a->progress_default = 0;
        break;
      case 'a': a->allow_failures = 1; break;
      case 'q': a->quiet = 1; break;
      case 'h':
        if (cx->rank == 0) fputs(HELP, stdout);
        return 1;
      case 'c':
        if (cli_parse_double(optarg, &a->checkpoint_every) != 0 || a->checkpoint_every < 0.01 ||
            a->checkpoint_every > 60) {
          cli_usage_error(cx, "index", "--checkpoint-every needs seconds from 0.01 to 60, not '%s'", optarg);
          return -1;
        }
        break;
      case 'b':
        if (cli_parse_double(optarg, &a->batch_mb) != 0 || a->batch_mb < 0.01 || a->batch_mb > 1024) {
          cli_usage_error(cx, "index", "--batch-mb needs a number from 0.01 to 1024, not '%s'", optarg);
          return -1;
        }
        break;
      case 'T':
        if (cli_parse_double(optarg, &a->io_timeout) != 0 || a->io_timeout < 0) {
          cli_usage_error(cx, "index", "--io-timeout needs seconds (0: none), not '%s'", optarg);
          return -1;
        }
        break;
      case 'm':
        if (oa_checkpoint_mode_parse(optarg, &a->mode) != 0) {
          cli_usage_error(cx, "index", "--checkpoints must be auto, preroll or snapshot, not '%s'", optarg);
          return -1;
        }
        break;
      case 'B': case 'X': case 'F': {
        double v;
        int bad = cli_parse_double(optarg, &v) != 0;
        if (c == 'B') bad |= v < 1 || v > 512, a->encode.bitrate = (int)(v * 1000);
        if (c == 'X') bad |= v < 0 || v > 10 || v != (int)v, a->encode.complexity = (int)v;
        if (c == 'F') bad |= v != 2.5 && v != 5 && v != 10 && v != 20 && v != 40 && v != 60, a->encode.frame_ms = v;
        if (bad) {
          cli_usage_error(cx, "index", "bad value '%s' for --%s", optarg,
                          c == 'B' ? "bitrate (1-512 kbit/s)" : c == 'X' ? "complexity (0-10)" : "frame-ms (2.5, 5, 10, 20, 40, 60)");
          return -1;
        }
        break;
      }
      case 'C': a->encode.vbr = 0; break;
      case 'A':
        if (strcmp(optarg, "audio") == 0) a->encode.application = 2049;
        else if (strcmp(optarg, "voip") == 0) a->encode.application = 2048;
        else {
          cli_usage_error(cx, "index", "--application must be audio or voip, not '%s'", optarg);
          return -1;
        }
        break;
      case 'H':
        if (strcmp(optarg, "resample") == 0) a->encode.high_rate = OA_HIGH_RATE_RESAMPLE;
        else if (strcmp(optarg, "time-expand") == 0) a->encode.high_rate = OA_HIGH_RATE_TIME_EXPAND;
        else {
          cli_usage_error(cx, "index", "--high-rate must be resample or time-expand, not '%s'", optarg);
          return -1;
        }
        break;
      case 'r': {
        int64_t v;
        if (cli_parse_int64(optarg, &v) != 0 || v < 1 || v > 100000) {
          cli_usage_error(cx, "index", "--max-preroll needs a packet count from 1 to 100000, not '%s'", optarg);
          return -1;
        }
        a->max_preroll = (int)v;
        break;
      }
      default:
        cli_usage_error(cx, "index", "unknown or incomplete option '%s'", argv[optind - 1]);
        return -1;
    }
  }
  a->inputs = argv + optind;
  a->ninputs = argc - optind;
  if (!a->output) {
    cli_usage_error(cx, "index", "-o ARCHIVE.h5 is required");
    return -1;
  }
  if (a->ninputs == 0 && !a->list) {
    cli_usage_error(cx, "index", "no INPUT files or directories given");
    return -1;
  }
  return 0;
}

/* Rank 0 scans; everyone receives the same sorted corpus. */
static int share_corpus(cli_ctx *cx, const index_args *a, oa_corpus *corpus) {
  oa_err err;
  oa_err_clear(&err);
  uint8_t *buf = NULL;
  uint64_t len = 0;
  int ok = 1;
  if (cx->rank == 0) {
    ok = oa_corpus_scan((const char *const *)a->inputs, a->ninputs, a->list, corpus, &err) == OA_OK &&
         oa_corpus_serialize(corpus, &buf, &len) == 0;
    if (!ok) OA_LOG(&cx->log, ERROR, "%s", err.msg[0] ? err.msg : "out of memory");
  }
  if (!oa_mpi_agree(cx->comm, ok)) {
    free(buf);
    return -1;
  }
  ok = oa_mpi_bcast_bytes(cx->comm, 0, &buf, &len) == 0;
  if (ok && cx->rank != 0) ok = oa_corpus_deserialize(buf, len, corpus, &err) == OA_OK;
  free(buf);
  if (!oa_mpi_agree(cx->comm, ok)) {
    OA_LOG(&cx->log, ERROR, "cannot distribute the corpus list: %s", err.msg);
    return -1;
  }
  return 0;
}

/* All ranks must run the same libopus: snapshots from any rank go into one
 * archive that records one build. */
static int check_same_build(cli_ctx *cx, const oa_opus_build *b) {
  uint64_t lo = b->code_hash, hi = b->code_hash;
  MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, cx->comm);
  MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, cx->comm);
  if (lo != hi) {
    if (cx->rank == 0)
      OA_LOG(&cx->log, ERROR, "ranks run different libopus builds (code fingerprints differ); an archive "
             "must be written by one build");
    return -1;
  }
  return 0;
}

static void fill_meta(cli_ctx *cx, const oa_opus_build *b, const index_args *a, uint64_t n, oa_archive_meta *m) {
  memset(m, 0, sizeof *m);
  m->format_version = OA_FORMAT_VERSION;
  m->build = *b;
  m->checkpoint_every = a->checkpoint_every;
  snprintf(m->checkpoints, sizeof m->checkpoints, "%s", oa_checkpoint_mode_name(a->mode));
  m->max_preroll = a->max_preroll;
  m->recordings = n;
  snprintf(m->tool_version, sizeof m->tool_version, "opusarc %s", OPUSARC_VERSION);
  if (cx->rank == 0) {
    time_t now = time(NULL);
    strftime(m->created, sizeof m->created, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  }
  /* Attributes are written collectively: every rank needs identical values. */
  MPI_Bcast(m->created, sizeof m->created, MPI_CHAR, 0, cx->comm);
  MPI_Bcast(&m->build.arch, 1, MPI_INT32_T, 0, cx->comm);
  MPI_Bcast(m->build.cpu_features, sizeof m->build.cpu_features, MPI_CHAR, 0, cx->comm);
}

/* Everything that shapes the archive's content, as the user types it: a
 * resumed run must match, and a difference is named option by option. */
static void options_text(const index_args *a, const oa_opus_build *b, char *out, size_t len) {
  const oa_encode_options *e = &a->encode;
  const char *high = e->high_rate == OA_HIGH_RATE_RESAMPLE ? "resample"
                     : e->high_rate == OA_HIGH_RATE_TIME_EXPAND ? "time-expand" : "(none)";
  snprintf(out, len,
           "--checkpoint-every=%g;--checkpoints=%s;--max-preroll=%d;--bitrate=%g;--cbr=%s;--complexity=%d;"
           "--frame-ms=%g;--application=%s;--high-rate=%s;libopus build=%s/%016llx",
           a->checkpoint_every, oa_checkpoint_mode_name(a->mode), a->max_preroll, e->bitrate / 1000.0,
           e->vbr ? "no" : "yes", e->complexity, e->frame_ms, e->application == 2048 ? "voip" : "audio", high,
           b->version, (unsigned long long)b->code_hash);
}

/* Seconds each rank spent per phase (for --summary-json). */
enum { T_SCAN, T_DECODE, T_WRITE, T_META, T_COUNT };
static const char *const PHASES[T_COUNT] = {"scan", "decode", "hdf5_write", "metadata"};

static oa_progress *start_progress(cli_ctx *cx, const index_args *a, const oa_corpus *corpus, oa_archive_writer *w) {
  oa_progress_spec spec = {.what = "recordings"};
  for (size_t i = 0; i < corpus->count; i++) {
    if (oa_writer_is_done(w, i)) continue;
    spec.total_items++;
    spec.total_bytes += (int64_t)corpus->entries[i].size;
  }
  return cli_start_progress(cx, &spec, a->quiet, a->progress, !a->progress_default);
}

/* Each rank fills its batch up to the memory budget, then all ranks append
 * together; rounds continue until every rank is out of files. */
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

static int index_all(cli_ctx *cx, const index_args *a, const oa_corpus *corpus, const int *owner,
                     const oa_opus_build *build, oa_archive_writer *w, oa_index_stats *stats, double *t,
                     int *stopped) {
  oa_progress *pg = start_progress(cx, a, corpus, w);
  interval_tick tick = {pg, 0, 0, 0};
  oa_index_options opt = {.checkpoint_every = a->checkpoint_every, .mode = a->mode, .max_preroll = a->max_preroll,
                          .encode = a->encode, .on_interval = pg ? on_interval : NULL, .on_interval_ctx = &tick};
  oa_batch batch;
  memset(&batch, 0, sizeof batch);
  const size_t budget = (size_t)(a->batch_mb * 1024 * 1024);
  size_t next = 0;
  int rc = 0;
  for (;;) {
    int local_ok = 1;
    double t0 = MPI_Wtime();
    while (next < corpus->count && oa_batch_bytes(&batch) < budget && !oa_stop_requested()) {
      size_t i = next++;
      if (owner[i] != cx->rank || oa_writer_is_done(w, i)) continue;
      char why[OA_ERRMSG_MAX] = "";
      oa_err err;
      oa_err_clear(&err);
      int64_t samples_before = stats->samples;
      tick = (interval_tick){pg, (int64_t)corpus->entries[i].size, 0, 0};
      if (oa_index_entry(&corpus->entries[i], i, &opt, build, &batch, stats, why, &err) != OA_OK) {
        OA_LOG(&cx->log, ERROR, "%s", err.msg);
        local_ok = 0;
        break;
      }
      if (why[0]) OA_LOG(&cx->log, WARN, "%s: not indexed: %s", corpus->entries[i].path, why);
      if (oa_fault("slow")) usleep(200000); /* tests: a run long enough to be signalled */
      if (pg)
        oa_progress_add(pg, 1, tick.file_size - tick.bytes_reported,
                        stats->samples - samples_before - tick.samples_reported);
      if (pg) oa_progress_poll(pg);
    }
    double t1 = MPI_Wtime();
    t[T_DECODE] += t1 - t0;
    if (!oa_mpi_agree(cx->comm, local_ok)) {
      rc = -1;
      break;
    }
    oa_err err;
    oa_err_clear(&err);
    rc = oa_writer_append(w, &batch, &err) == OA_OK ? 0 : -1;
    t[T_WRITE] += MPI_Wtime() - t1;
    if (rc != 0) {
      if (cx->rank == 0) OA_LOG(&cx->log, ERROR, "%s", err.msg);
      break;
    }
    if (pg) oa_progress_poll(pg);
    /* A signal on any rank stops every rank here, after a commit. */
    int state[2] = {next < corpus->count, oa_stop_requested()}, any[2] = {0, 0};
    MPI_Allreduce(state, any, 2, MPI_INT, MPI_MAX, cx->comm);
    if (any[1]) {
      *stopped = any[1];
      rc = -1;
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

/* Collective: the summary lines, and the JSON summary if asked for. */
static void summarize(cli_ctx *cx, const index_args *a, const oa_index_stats *s, const oa_resumed_totals *kept,
                      uint64_t commits, const double *t, double seconds) {
  enum { OK, FAILED, SAMPLES, PAYLOAD, DATA, STATE, PACKETS, INTERVALS, PREROLLS, SNAPSHOTS, RSUM, SEARCH, EXT,
         SOURCE, N };
  uint64_t mine[N] = {s->recordings_ok, s->recordings_failed, (uint64_t)s->samples, s->payload_bytes,
                      s->data_bytes, s->state_bytes, s->packets, s->intervals, s->prerolls, s->snapshots,
                      s->preroll_packets, s->search_decodes, s->extended, s->source_bytes};
  uint64_t all[N] = {0};
  MPI_Reduce(mine, all, N, MPI_UINT64_T, MPI_SUM, 0, cx->comm);
  /* The archive's totals: this run's rows plus those kept from the
   * interrupted run (the rates are this run's own work). */
  const uint64_t resumed[2] = {kept->ok, kept->failed};
  double run_hours = (double)all[SAMPLES] / 48000.0 / 3600.0;
  double hours = (double)(all[SAMPLES] + (uint64_t)kept->samples) / 48000.0 / 3600.0;
  uint64_t packets = all[PACKETS] + kept->packets, payload = all[PAYLOAD] + kept->payload_bytes;
  if (a->summary_json) {
    char *fields = NULL;
    size_t flen = 0;
    FILE *f = open_memstream(&fields, &flen);
    fprintf(f, "\"archive\": ");
    cli_json_string(f, a->output);
    fprintf(f,
            ", \"indexed\": %llu, \"failed\": %llu, \"kept_from_interrupted_run\": %llu, \"audio_hours\": %.6f, "
            "\"samples\": %llu, \"source_bytes\": %llu, \"payload_bytes\": %llu, \"packet_data_bytes\": %llu, \"snapshot_bytes\": %llu, "
            "\"intervals\": %llu, \"commits\": %llu, \"x_real_time\": %.1f",
            (unsigned long long)(all[OK] + resumed[0]), (unsigned long long)(all[FAILED] + resumed[1]),
            (unsigned long long)(resumed[0] + resumed[1]), hours, (unsigned long long)all[SAMPLES],
            (unsigned long long)all[SOURCE],
            (unsigned long long)all[PAYLOAD], (unsigned long long)all[DATA], (unsigned long long)all[STATE],
            (unsigned long long)all[INTERVALS], (unsigned long long)commits,
            seconds > 0 ? run_hours * 3600.0 / seconds : 0.0);
    fclose(f);
    cli_write_summary_json(cx, a->summary_json, "index", fields, PHASES, t, T_COUNT, seconds);
    free(fields);
  }
  if (cx->rank != 0) return;
  if (resumed[0] + resumed[1])
    OA_LOG(&cx->log, SUMMARY, "kept from the interrupted run: %llu indexed, %llu failed recordings",
           (unsigned long long)resumed[0], (unsigned long long)resumed[1]);
  OA_LOG(&cx->log, INFO,
         "intervals: %llu (%llu link starts, %llu verified pre-rolls of %.1f packets on average, %llu snapshots "
         "of %.2f MB, %llu merged into the interval before); verification decoded %.2fx the packets",
         (unsigned long long)all[INTERVALS],
         (unsigned long long)(all[INTERVALS] - all[PREROLLS] - all[SNAPSHOTS]), (unsigned long long)all[PREROLLS],
         all[PREROLLS] ? (double)all[RSUM] / (double)all[PREROLLS] : 0.0, (unsigned long long)all[SNAPSHOTS],
         (double)all[STATE] / 1e6, (unsigned long long)all[EXT],
         all[PACKETS] ? (double)all[SEARCH] / (double)all[PACKETS] : 0.0);
  OA_LOG(&cx->log, SUMMARY,
         "indexed %llu, failed %llu recordings%s: %.3f h audio, %llu packets, %.2f MB payload; this run %.3f h in "
         "%.1f s on %d rank%s (%.0fx real time) -> %s",
         (unsigned long long)(all[OK] + resumed[0]), (unsigned long long)(all[FAILED] + resumed[1]),
         resumed[0] + resumed[1] ? " (incl. the interrupted run's)" : "", hours, (unsigned long long)packets,
         (double)payload / 1e6, run_hours, seconds, cx->size, cx->size == 1 ? "" : "s",
         seconds > 0 ? run_hours * 3600.0 / seconds : 0.0, a->output);
}

/* Everything before the archive: the libopus build, the corpus, its split. */
static int prepare(cli_ctx *cx, const index_args *a, oa_opus_build *build, oa_corpus *corpus, int **owner) {
  oa_err err;
  oa_err_clear(&err);
  int ok = oa_opus_build_probe(build, &err) == OA_OK;
  if (!ok) OA_LOG(&cx->log, ERROR, "%s", err.msg);
  if (!oa_mpi_agree(cx->comm, ok) || check_same_build(cx, build) != 0) return -1;
  if (share_corpus(cx, a, corpus) != 0) return -1;
  if (corpus->count == 0) {
    if (cx->rank == 0) OA_LOG(&cx->log, ERROR, "no .opus or .ogg files found in the inputs");
    return -1;
  }
  *owner = malloc(corpus->count * sizeof **owner);
  ok = *owner && oa_corpus_partition(corpus, cx->size, *owner) == 0;
  if (!oa_mpi_agree(cx->comm, ok)) {
    OA_LOG(&cx->log, ERROR, "out of memory partitioning %zu recordings", corpus->count);
    return -1;
  }
  if (cx->rank == 0 && !a->quiet) {
    uint64_t bytes = 0;
    for (size_t i = 0; i < corpus->count; i++) bytes += corpus->entries[i].size;
    OA_LOG(&cx->log, INFO, "%zu recordings, %.1f MB, on %d rank%s; libopus: %s", corpus->count, (double)bytes / 1e6,
           cx->size, cx->size == 1 ? "" : "s", build->version);
  }
  return 0;
}

/* Before the scan: -o can be written (its directory exists and takes
 * files, it is not a directory), so a mistake costs no corpus walk. */
static int check_output_early(cli_ctx *cx, const index_args *a) {
  oa_err err;
  oa_err_clear(&err);
  oa_file_id list;
  size_t nlist = a->list && oa_file_id_of(a->list, &list) == 0;
  int ok = cx->rank != 0 || oa_out_check(a->output, 1, &list, nlist, "-o", &err) == OA_OK;
  if (!ok) OA_LOG(&cx->log, ERROR, "%s", err.msg);
  return oa_mpi_agree(cx->comm, ok);
}

/* After the run: keep or rename the archive, and say which. */
static int finish(cli_ctx *cx, const index_args *a, oa_archive_writer *w, int ok, int stopped, oa_err *err) {
  if (oa_writer_finish(w, ok, err) == OA_OK) return 0;
  if (cx->rank != 0) return -1;
  if (stopped)
    OA_LOG(&cx->log, SUMMARY, "stopped by %s at a commit: %s", oa_stop_name(stopped),
           err->msg[0] ? err->msg : "nothing was committed");
  else if (err->msg[0])
    oa_log_write(&cx->log, ok ? OA_LOG_ERROR : OA_LOG_SUMMARY, "%s", err->msg);
  (void)a;
  return -1;
}

int cmd_index(cli_ctx *cx, int argc, char **argv) {
  index_args a;
  int prc = parse_args(cx, argc, argv, &a);
  if (prc != 0) return prc > 0 ? EXIT_OK : EXIT_USAGE;
  if (a.quiet) cx->log.level = OA_LOG_WARN;
  if (a.summary_json && !cli_check_writable(cx, a.summary_json)) return EXIT_FAILED;
  if (!check_output_early(cx, &a)) return EXIT_FAILED;
  oa_stop_install();
  double t0 = MPI_Wtime(), t[T_COUNT] = {0};
  oa_opus_build build;
  oa_corpus corpus;
  memset(&corpus, 0, sizeof corpus);
  int *owner = NULL, rc = EXIT_FAILED;
  if (prepare(cx, &a, &build, &corpus, &owner) != 0) {
    free(owner);
    oa_corpus_free(&corpus);
    return EXIT_FAILED;
  }
  t[T_SCAN] = MPI_Wtime() - t0;
  oa_archive_meta meta;
  fill_meta(cx, &build, &a, corpus.count, &meta);
  char options[OA_COMMIT_OPTIONS_MAX], note[OA_ERRMSG_MAX] = "";
  options_text(&a, &build, options, sizeof options);
  oa_writer_config cfg = {.overwrite = a.force, .resume = a.resume, .corpus = &corpus,
                          .corpus_hash = oa_corpus_hash(&corpus), .options = options, .note = note,
                          .io_timeout = a.io_timeout};
  oa_archive_writer *w;
  oa_index_stats stats;
  memset(&stats, 0, sizeof stats);
  oa_resumed_totals kept;
  memset(&kept, 0, sizeof kept);
  uint64_t commits = 0;
  oa_err err;
  oa_err_clear(&err);
  double tm = MPI_Wtime();
  int complete = 0;
  if (oa_writer_create(cx->comm, a.output, &cfg, &meta, &w, &complete, &err) != OA_OK) {
    if (cx->rank == 0) OA_LOG(&cx->log, ERROR, "%s", err.msg);
  } else if (complete) {
    if (cx->rank == 0) OA_LOG(&cx->log, SUMMARY, "%s is complete: nothing to resume (it holds exactly these inputs)",
                              a.output);
    rc = EXIT_OK;
  } else {
    t[T_META] += MPI_Wtime() - tm;
    if (note[0]) oa_log_write(&cx->log, strstr(note, "cannot") ? OA_LOG_WARN : OA_LOG_SUMMARY, "%s", note);
    oa_writer_resumed(w, &kept);
    int stopped = 0;
    int ok = index_all(cx, &a, &corpus, owner, &build, w, &stats, t, &stopped) == 0; /* logs its own errors */
    oa_err_clear(&err);
    cx->skip_finalize = oa_writer_broken(w);
    commits = oa_writer_commits(w);
    tm = MPI_Wtime();
    if (finish(cx, &a, w, ok, stopped, &err) == 0) {
      t[T_META] += MPI_Wtime() - tm;
      uint64_t failed = stats.recordings_failed;
      MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_UINT64_T, MPI_SUM, cx->comm);
      rc = failed + kept.failed && !a.allow_failures ? EXIT_PARTIAL : EXIT_OK;
    }
  }
  if (rc != EXIT_FAILED && !complete) summarize(cx, &a, &stats, &kept, commits, t, MPI_Wtime() - t0);
  free(owner);
  oa_corpus_free(&corpus);
  return rc;
}
