#include <opus/opus_defines.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "opusarc/archive.h"
#include "opusarc/clock.h"
#include "opusarc/commit.h"
#include "opusarc/mpiutil.h"
#include "opusarc/indexjob.h"
#include "opusarc/util.h"

static const char *HELP =
    "usage: opusarc index -o ARCHIVE.h5 [options] INPUT...\n"
    "\n"
    "Indexes recordings into one HDF5 archive. INPUTs are files or directories\n"
    "(searched recursively for *.opus, *.ogg, *.oga, *.webm, *.mka, *.mkv, *.mp4,\n"
    "*.m4a, *.mov, *.caf, *.wav, *.flac, *.w64, *.rf64, *.aif, *.aiff, in any\n"
    "letter case). Opus is indexed as it is (no re-encoding): Ogg Opus of channel\n"
    "mapping families 0, 1, 2 and 3 (ambisonics; 3 with a demixing matrix, up to\n"
    "18 channels) and 255, and Opus in WebM, Matroska,\n"
    "MP4 and CAF (read by libavformat; samples as FFmpeg decodes them with\n"
    "libopus, the container's pre-skip and end trimming applied). A recording is\n"
    "named by its path relative to the directory argument it was found under, or\n"
    "by the path as given for a file argument. Ranks share the corpus balanced by\n"
    "bytes.\n"
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
    "  --root DIR                 name every recording by its path below DIR, whatever\n"
    "                             the arguments (index small/* and index small then\n"
    "                             agree); a file outside DIR is a failed row\n"
    "  --prefix P                 put P in front of every name (e.g. card07/)\n"
    "Start times are read from AudioMoth comments, GUANO, BWF bext and Ogg Opus\n"
    "comments (DATE=2021-05-01T05:00:00+01:00, or an AudioMoth text); a start\n"
    "before 2000 (a clock never set) is stored as unknown, with a warning:\n"
    "  --start-from-name PATTERN  for files whose metadata gives no start: read it\n"
    "                             from the file name, e.g. '%Y%m%d_%H%M%S' (fields\n"
    "                             %Y %m %d %H %M %S, '*' any text, %% a percent)\n"
    "  --start-tz OFFSET          the zone of starts given as a wall-clock time only\n"
    "                             (GUANO without a zone, bext, file names): Z, +01:00,\n"
    "                             -0500; without it their zone stays unknown: found\n"
    "                             by local time (extract --tz recording), not by UTC\n"
    "PCM sources (WAV, RF64, W64, FLAC, AIFF), and other audio libavcodec decodes\n"
    "(*.mp3, *.aac, *.ac3, *.wma, *.ape, *.wv, *.tta, *.mpc, *.amr, *.m4b, Ogg\n"
    "Vorbis/FLAC, AAC or ALAC in MP4) are encoded with libopus:\n"
    "  --import-lossy             also encode lossy sources (MP3, AAC, Vorbis, ...):\n"
    "                             refused by default, as it loses quality again\n"
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
    "                             (default 256, from 0.01); packets past it, or past\n"
    "                             16 MB of one recording, wait in a spill file next\n"
    "                             to the output (deleted at once: nothing is left)\n"
    "  --io-timeout SECONDS       a collective write round that takes longer than this\n"
    "                             (plus 1 s per 10 MB it writes) is stuck: end the job\n"
    "                             with a message; committed work stays resumable\n"
    "                             (default 900; 0: wait forever)\n"
    "  --append                   add the recordings of INPUT to the existing archive\n"
    "                             FILE as a new segment file beside it (FILE without\n"
    "                             .h5, then .seg-NNNN.h5) listed in FILE.segments;\n"
    "                             FILE itself is never rewritten. A name already in\n"
    "                             FILE is skipped if its source is unchanged and is a\n"
    "                             conflict (reported, not added; exit 4) if its size,\n"
    "                             mtime or inode changed. Checkpoint options must be\n"
    "                             FILE's. Killed: rerun with --resume\n"
    "  --force                    replace FILE (and FILE.partial) if it exists (never\n"
    "                             an input); with --append: discard an interrupted\n"
    "                             append's partial segment (FILE is never replaced)\n"
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
    "  --allow-failures           exit 0 even if some recordings failed (or are damaged)\n"
    "  --allow-damaged            exit 0 when recordings are damaged but none failed\n"
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
    "the reason; the others are unaffected. A damaged Ogg file (cut short, pages\n"
    "missing or corrupt) keeps every complete page: audio after a hole is placed by\n"
    "its granule position with silence for what was lost, and the recording is\n"
    "marked damaged with the byte offsets and samples lost (`info` shows them).\n"
    "Exit: 0 all indexed, 3 archive written but some recordings failed or are\n"
    "damaged, 4 (--append) some inputs conflict with recordings already in the\n"
    "archive, 1 no archive, 2 bad command line.\n";

typedef struct index_args {
  const char *output, *list, *root, *prefix;
  double checkpoint_every;
  int mode, max_preroll;
  oa_encode_options encode;
  double batch_mb, progress, io_timeout;
  const char *summary_json;
  const char *start_from_name;
  int start_tz_set;
  int32_t start_tz;
  int force, resume, append, allow_failures, allow_damaged, quiet, progress_default;
  char **inputs;
  int ninputs;
} index_args;

/* --start-from-name PATTERN: checked now, applied per file. */
static int take_name_pattern(void *dest, const char *value, char *why, size_t len) {
  if (oa_name_pattern_check(value, why, len) != 0) return -1;
  *(const char **)dest = value;
  return 0;
}

static int take_utc_offset(void *dest, const char *value, char *why, size_t len) {
  (void)why, (void)len;
  return oa_offset_parse(value, dest);
}

static int take_frame_ms(void *dest, const char *value, char *why, size_t len) {
  double v;
  (void)why, (void)len;
  if (oa_parse_double(value, &v) != 0 || (v != 2.5 && v != 5 && v != 10 && v != 20 && v != 40 && v != 60)) return -1;
  *(double *)dest = v;
  return 0;
}

static const int APPLICATIONS[] = {OPUS_APPLICATION_AUDIO, OPUS_APPLICATION_VOIP};
static const int HIGH_RATES[] = {OA_HIGH_RATE_RESAMPLE, OA_HIGH_RATE_TIME_EXPAND};
static const int MODES[] = {OA_CHECKPOINTS_AUTO, OA_CHECKPOINTS_PREROLL, OA_CHECKPOINTS_SNAPSHOT};

static int parse_args(cli_ctx *cx, int argc, char **argv, index_args *a) {
  *a = (index_args){.checkpoint_every = OA_DEFAULT_CHECKPOINT_SECONDS, .batch_mb = 256, .io_timeout = 900,
                    .mode = OA_CHECKPOINTS_AUTO, .max_preroll = OA_DEFAULT_MAX_PREROLL, .progress = 10};
  oa_encode_options_default(&a->encode);
  double kbps = a->encode.bitrate / 1000.0;
  int cbr = 0, progress_given = 0;
  oa_encode_options *e = &a->encode;
  const cli_opt opts[] = {
      CLI_OPT("output", 'o', CLI_TEXT, &a->output),
      CLI_OPT("list", 0, CLI_TEXT, &a->list),
      CLI_OPT("root", 0, CLI_TEXT, &a->root),
      CLI_OPT("prefix", 0, CLI_TEXT, &a->prefix),
      CLI_OPT("force", 0, CLI_FLAG, &a->force),
      CLI_OPT("resume", 0, CLI_FLAG, &a->resume),
      CLI_OPT("append", 0, CLI_FLAG, &a->append),
      CLI_OPT("allow-failures", 0, CLI_FLAG, &a->allow_failures),
      CLI_OPT("allow-damaged", 0, CLI_FLAG, &a->allow_damaged),
      CLI_OPT("import-lossy", 0, CLI_FLAG, &e->import_lossy),
      CLI_OPT("cbr", 0, CLI_FLAG, &cbr),
      CLI_OPT("quiet", 'q', CLI_FLAG, &a->quiet),
      CLI_OPT("summary-json", 0, CLI_TEXT, &a->summary_json),
      CLI_OPT("start-from-name", 0, CLI_CALL, &a->start_from_name, .call = take_name_pattern),
      CLI_OPT("start-tz", 0, CLI_CALL, &a->start_tz, .need = "a UTC offset such as Z, +01:00 or -0500", .call = take_utc_offset, .given = &a->start_tz_set),
      CLI_OPT("progress", 0, CLI_NUMBER, &a->progress, .min = 0, .max = 1e9, .need = "seconds (0: off)", .given = &progress_given),
      CLI_OPT("checkpoint-every", 0, CLI_NUMBER, &a->checkpoint_every, .min = 0.01, .max = 60, .need = "seconds from 0.01 to 60"),
      CLI_OPT("batch-mb", 0, CLI_NUMBER, &a->batch_mb, .min = 0.01, .max = 1024, .need = "a number from 0.01 to 1024"),
      CLI_OPT("io-timeout", 0, CLI_NUMBER, &a->io_timeout, .min = 0, .max = 1e9, .need = "seconds (0: none)"),
      CLI_OPT("checkpoints", 0, CLI_CHOICE, &a->mode, .choices = "auto|preroll|snapshot", .values = MODES),
      CLI_OPT("max-preroll", 0, CLI_INT, &a->max_preroll, .min = 1, .max = 100000, .need = "a packet count from 1 to 100000"),
      CLI_OPT("bitrate", 0, CLI_NUMBER, &kbps, .min = 1, .max = 512, .need = "kbit/s from 1 to 512"),
      CLI_OPT("complexity", 0, CLI_INT, &e->complexity, .min = 0, .max = 10, .need = "a whole number from 0 to 10"),
      CLI_OPT("frame-ms", 0, CLI_CALL, &e->frame_ms, .need = "2.5, 5, 10, 20, 40 or 60", .call = take_frame_ms),
      CLI_OPT("application", 0, CLI_CHOICE, &e->application, .choices = "audio|voip", .values = APPLICATIONS),
      CLI_OPT("high-rate", 0, CLI_CHOICE, &e->high_rate, .choices = "resample|time-expand", .values = HIGH_RATES),
      CLI_OPT("help", 'h', CLI_HELP, (void *)HELP),
      {0}};
  int first;
  int rc = cli_parse_options(cx, "index", argc, argv, opts, 1, &first);
  if (rc != 0) return rc;
  e->bitrate = (int)(kbps * 1000);
  if (cbr) e->vbr = 0;
  a->progress_default = !progress_given;
  a->inputs = argv + first;
  a->ninputs = argc - first;
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

/* Everything that shapes the archive's content, as the user types it: a
 * resumed run must match, and a difference is named option by option. */
static void options_text(const index_args *a, const oa_opus_build *b, char *out, size_t len) {
  const oa_encode_options *e = &a->encode;
  const char *high = e->high_rate == OA_HIGH_RATE_RESAMPLE ? "resample"
                     : e->high_rate == OA_HIGH_RATE_TIME_EXPAND ? "time-expand" : "(none)";
  char tz[16] = "(none)";
  if (a->start_tz_set) oa_offset_format(a->start_tz, tz, sizeof tz);
  snprintf(out, len,
           "--checkpoint-every=%g;--checkpoints=%s;--max-preroll=%d;--bitrate=%g;--cbr=%s;--complexity=%d;"
           "--frame-ms=%g;--application=%s;--high-rate=%s;--import-lossy=%s;--start-from-name=%s;--start-tz=%s;"
           "libopus build=%s/%016llx;archive format=%d",
           a->checkpoint_every, oa_checkpoint_mode_name(a->mode), a->max_preroll, e->bitrate / 1000.0,
           e->vbr ? "no" : "yes", e->complexity, e->frame_ms, e->application == OPUS_APPLICATION_VOIP ? "voip" : "audio", high,
           e->import_lossy ? "yes" : "no",
           a->start_from_name ? a->start_from_name : "(none)", tz, b->version, (unsigned long long)b->code_hash,
           OA_FORMAT_VERSION);
}

/* Seconds each rank spent per phase (for --summary-json), in the order of OA_PHASE_*. */
static const char *const PHASES[OA_PHASE_COUNT] = {"scan", "decode", "hdf5_write", "metadata"};

/* Collective: the summary lines, and the JSON summary if asked for. */
static void summarize(cli_ctx *cx, const index_args *a, const oa_index_result *res, double seconds) {
  const oa_index_stats *s = &res->stats;
  const oa_resumed_totals *kept = &res->kept;
  const uint64_t commits = res->commits;
  const double *t = res->seconds;
  enum { OK, FAILED, SAMPLES, PAYLOAD, DATA, STATE, PACKETS, INTERVALS, PREROLLS, SNAPSHOTS, RSUM, SEARCH, EXT,
         SOURCE, KNOWN, LOCAL, REFUSED, DAMAGED, LOST, PATCHES, N };
  uint64_t mine[N] = {s->recordings_ok, s->recordings_failed, (uint64_t)s->samples, s->payload_bytes,
                      s->data_bytes, s->state_bytes, s->packets, s->intervals, s->prerolls, s->snapshots,
                      s->preroll_packets, s->search_decodes, s->extended, s->source_bytes, s->starts_known,
                      s->starts_local, s->starts_refused, s->recordings_damaged, (uint64_t)s->lost_samples,
                      s->patches};
  uint64_t all[N] = {0};
  MPI_Reduce(mine, all, N, MPI_UINT64_T, MPI_SUM, 0, cx->comm);
  double run_seconds = 0; /* real seconds of audio (time-expanded recordings at their source rate) */
  MPI_Reduce(&s->seconds, &run_seconds, 1, MPI_DOUBLE, MPI_SUM, 0, cx->comm);
  /* The archive's totals: this run's rows plus those kept from the
   * interrupted run (the rates are this run's own work). */
  const uint64_t resumed[2] = {kept->ok, kept->failed};
  const uint64_t damaged = all[DAMAGED] + kept->damaged, lost = all[LOST] + (uint64_t)kept->lost_samples;
  double run_hours = run_seconds / 3600.0;
  double hours = (run_seconds + kept->seconds) / 3600.0;
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
            "\"intervals\": %llu, \"patches\": %llu, \"snapshots\": %llu, \"commits\": %llu, \"x_real_time\": %.1f, \"starts_utc\": %llu, "
            "\"starts_local_only\": %llu, \"starts_refused\": %llu, \"damaged\": %llu, \"lost_samples\": %llu",
            (unsigned long long)(all[OK] + resumed[0]), (unsigned long long)(all[FAILED] + resumed[1]),
            (unsigned long long)(resumed[0] + resumed[1]), hours, (unsigned long long)all[SAMPLES],
            (unsigned long long)all[SOURCE],
            (unsigned long long)all[PAYLOAD], (unsigned long long)all[DATA], (unsigned long long)all[STATE],
            (unsigned long long)all[INTERVALS], (unsigned long long)all[PATCHES], (unsigned long long)all[SNAPSHOTS],
            (unsigned long long)commits,
            seconds > 0 ? run_hours * 3600.0 / seconds : 0.0, (unsigned long long)all[KNOWN],
            (unsigned long long)all[LOCAL], (unsigned long long)all[REFUSED], (unsigned long long)damaged,
            (unsigned long long)lost);
    if (a->append) {
      fprintf(f, ", \"segment\": ");
      cli_json_string(f, res->segment);
      fprintf(f, ", \"added\": %llu, \"skipped\": %llu, \"conflicts\": %llu, \"held_before\": %llu, "
              "\"holds_now\": %llu", (unsigned long long)res->added, (unsigned long long)res->skipped,
              (unsigned long long)res->conflicts, (unsigned long long)res->held,
              (unsigned long long)(res->held + res->added));
    }
    fclose(f);
    cli_write_summary_json(cx, a->summary_json, "index", fields, PHASES, t, OA_PHASE_COUNT, seconds);
    free(fields);
  }
  if (cx->rank != 0) return;
  if (resumed[0] + resumed[1])
    OA_LOG(&cx->log, SUMMARY, "kept from the interrupted run: %llu indexed, %llu failed recordings",
           (unsigned long long)resumed[0], (unsigned long long)resumed[1]);
  OA_LOG(&cx->log, INFO,
         "intervals: %llu (%llu link starts, %llu verified pre-rolls of %.1f packets on average, %llu pre-rolls "
         "with a patch, %llu snapshots, together %.2f MB, %llu merged into the interval before); verification "
         "decoded %.2fx the packets",
         (unsigned long long)all[INTERVALS],
         (unsigned long long)(all[INTERVALS] - all[PREROLLS] - all[SNAPSHOTS] - all[PATCHES]),
         (unsigned long long)all[PREROLLS], all[PREROLLS] ? (double)all[RSUM] / (double)all[PREROLLS] : 0.0,
         (unsigned long long)all[PATCHES], (unsigned long long)all[SNAPSHOTS],
         (double)all[STATE] / 1e6, (unsigned long long)all[EXT],
         all[PACKETS] ? (double)all[SEARCH] / (double)all[PACKETS] : 0.0);
  if (all[OK])
    OA_LOG(&cx->log, INFO, "start times (this run): %llu in UTC, %llu wall-clock only (zone "
           "unknown: give --start-tz), %llu refused (before 2000: a clock never set), %llu none",
           (unsigned long long)all[KNOWN], (unsigned long long)all[LOCAL], (unsigned long long)all[REFUSED],
           (unsigned long long)(all[OK] - all[KNOWN] - all[LOCAL] - all[REFUSED]));
  if (damaged)
    OA_LOG(&cx->log, SUMMARY, "damaged: %llu of the indexed recordings (everything their files still hold is "
           "kept; %.3f s of lost audio kept as silence); `opusarc info` names the damage",
           (unsigned long long)damaged, (double)lost / (double)OA_SAMPLE_RATE);
  OA_LOG(&cx->log, SUMMARY,
         "indexed %llu, failed %llu recordings%s: %.3f h audio, %llu packets, %.2f MB payload; this run %.3f h in "
         "%.1f s on %d rank%s (%.0fx real time) -> %s",
         (unsigned long long)(all[OK] + resumed[0]), (unsigned long long)(all[FAILED] + resumed[1]),
         resumed[0] + resumed[1] ? " (incl. the interrupted run's)" : "", hours, (unsigned long long)packets,
         (double)payload / 1e6, run_hours, seconds, cx->size, cx->size == 1 ? "" : "s",
         seconds > 0 ? run_hours * 3600.0 / seconds : 0.0, a->output);
}

/* Rank 0: what an append found, before the usual summary of what it wrote. */
static void say_append(cli_ctx *cx, const index_args *a, const oa_index_result *res) {
  if (cx->rank != 0) return;
  if (res->complete)
    OA_LOG(&cx->log, SUMMARY, "nothing to append to %s: %llu input%s already in it and unchanged, %llu "
           "conflict%s; it holds %llu recordings", a->output, (unsigned long long)res->skipped,
           res->skipped == 1 ? "" : "s", (unsigned long long)res->conflicts, res->conflicts == 1 ? "" : "s",
           (unsigned long long)res->held);
  else
    OA_LOG(&cx->log, SUMMARY, "appended %llu recordings to %s as %s: %llu skipped (already in it, unchanged), "
           "%llu conflict%s (not added); it holds %llu recordings now, %llu before", (unsigned long long)res->added,
           a->output, res->segment, (unsigned long long)res->skipped, (unsigned long long)res->conflicts,
           res->conflicts == 1 ? "" : "s", (unsigned long long)(res->held + res->added),
           (unsigned long long)res->held);
}

int cmd_index(cli_ctx *cx, int argc, char **argv) {
  index_args a;
  int prc = parse_args(cx, argc, argv, &a);
  if (prc != 0) return prc > 0 ? EXIT_OK : EXIT_USAGE;
  if (a.quiet) cx->log.level = OA_LOG_WARN;
  if (a.summary_json && !cli_check_writable(cx, a.summary_json)) return EXIT_FAILED;
  double t0 = MPI_Wtime();
  oa_opus_build build;
  oa_err err;
  oa_err_clear(&err);
  if (!oa_mpi_agree(cx->comm, oa_opus_build_probe(&build, &err) == OA_OK)) {
    if (cx->rank == 0) OA_LOG(&cx->log, ERROR, "%s", err.msg[0] ? err.msg : "cannot probe libopus");
    return EXIT_FAILED;
  }
  char options[OA_COMMIT_OPTIONS_MAX];
  options_text(&a, &build, options, sizeof options);
  oa_index_job job = {.output = a.output, .inputs = (const char *const *)a.inputs, .ninputs = a.ninputs,
                      .list = a.list, .root = a.root, .prefix = a.prefix, .batch_mb = a.batch_mb, .io_timeout = a.io_timeout, .force = a.force,
                      .resume = a.resume, .append = a.append, .options_text = options, .quiet = a.quiet,
                      .index = {.checkpoint_every = a.checkpoint_every, .mode = a.mode, .max_preroll = a.max_preroll,
                                .encode = a.encode, .start_from_name = a.start_from_name,
                                .start_tz_set = a.start_tz_set, .start_tz = a.start_tz}};
  job.progress_bar = cli_is_terminal(cx);
  job.progress_every = a.quiet ? 0 : job.progress_bar && a.progress_default ? 1.0 : a.progress;
  oa_index_result res;
  int rc = oa_index_run(cx->comm, &job, &cx->log, &res, &err); /* logs its own errors */
  cx->skip_finalize = res.broken;
  if (rc != OA_OK) return EXIT_FAILED;
  if (a.append) say_append(cx, &a, &res);
  if (res.complete) return res.conflicts ? EXIT_CONFLICT : EXIT_OK;
  summarize(cx, &a, &res, MPI_Wtime() - t0);
  uint64_t bad[2] = {res.stats.recordings_failed, res.stats.recordings_damaged};
  MPI_Allreduce(MPI_IN_PLACE, bad, 2, MPI_UINT64_T, MPI_SUM, cx->comm);
  if (res.conflicts) return EXIT_CONFLICT;
  int failed = bad[0] + res.kept.failed && !a.allow_failures;
  int damaged = bad[1] + res.kept.damaged && !a.allow_failures && !a.allow_damaged;
  return failed || damaged ? EXIT_PARTIAL : EXIT_OK;
}
