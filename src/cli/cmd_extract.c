#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opusarc/mpiutil.h"
#include "opusarc/archive.h"
#include "opusarc/extract.h"
#include "opusarc/pcmout.h"
#include "opusarc/querytable.h"
#include "opusarc/queryshare.h"
#include "opusarc/sweep.h"
#include "opusarc/timequery.h"
#include "opusarc/clock.h"
#include "opusarc/channels.h"
#include "opusarc/resample.h"
#include "opusarc/util.h"
#include "../outfile.h"
#include "../stop.h"

static const char *HELP =
    "usage: opusarc extract ARCHIVE.h5 --recording NAME --start A --end B\n"
    "                       [--units samples|seconds] --format f32|s16|wav -o OUT\n"
    "       opusarc extract ARCHIVE.h5 (--queries Q.csv | --windows LEN --hop HOP)\n"
    "                       (--out-dir DIR --format FMT | --out CLIPS.h5)\n"
    "       opusarc extract ARCHIVE.h5 (--from T --to T | --daily HH:MM-HH:MM\n"
    "                       [--days D1..D2] [--tz OFFSET|recording]) [--match GLOB]\n"
    "                       [--join[=strict]] (-o OUT | --out-dir DIR | --out CLIPS.h5)\n"
    "\n"
    "Writes samples [A, B) of a recording, counted in 48 kHz sample frames from the\n"
    "first sample after pre-skip (or in seconds with --units seconds, rounded to the\n"
    "nearest sample; a time-expanded recording counts seconds at its source rate).\n"
    "The samples equal a straight decode of the recording from its start, bit for\n"
    "bit.\n"
    "\n"
    "  --recording NAME     recording name as shown by 'opusarc info'\n"
    "  --start A, --end B   range, A < B\n"
    "  --units U            samples (default) or seconds\n"
    "  --clamp              a range that crosses the recording's start or end is cut\n"
    "                       to the recording (said, counted) instead of failing\n"
    "  --format F           f32: raw little-endian float32, interleaved (exact)\n"
    "                       s16: raw little-endian int16\n"
    "                       wav: WAV with float32 samples (exact)\n"
    "                       wav16, wav24: WAV with 16/24-bit PCM\n"
    "                       flac, flac24: FLAC, 16/24-bit\n"
    "                       Integer formats: x * 2^15 (2^23) rounded to nearest,\n"
    "                       clipped to the range; clipped samples are counted and\n"
    "                       reported. WAV/FLAC headers give the recording's time\n"
    "                       base: 48000, or a time-expanded recording's source rate\n"
    "  --rate HZ|native     write at HZ (8000-384000; libsoxr, very high quality:\n"
    "                       28-bit, linear phase, passband to 91.3% of the lower\n"
    "                       Nyquist frequency; each output resampled as one\n"
    "                       signal). Default: the recording's time base (48000,\n"
    "                       or a time-expanded recording's source rate, in real\n"
    "                       time); native: the stored 48 kHz samples as they are\n"
    "  --mono               write the mean of the channels (summed in double, one\n"
    "                       rounding to float)\n"
    "  --channels LIST      write these channels, in this order (1-based: 2,1)\n"
    "  -o, --output OUT     output file (an existing file is replaced only with\n"
    "                       --force; never the archive; not a directory or FIFO)\n"
    "  --queries Q.csv      many ranges: CSV with header id,recording,start,end\n"
    "                       (more columns: labels, kept in /queries of --out)\n"
    "  --queries-format F   csv (default); raven: a Raven selection table (Begin\n"
    "                       File or Begin Path, Begin Time (s), End Time (s), File\n"
    "                       Offset (s)); birdnet: BirdNET-Analyzer results (Start\n"
    "                       (s), End (s), File; or its Raven table). Files are\n"
    "                       matched to recordings by path tail, name, or name\n"
    "                       without extension; other columns become labels\n"
    "  --pad-seconds S      widen each query by S on both sides (cut at the\n"
    "                       recording's edges)\n"
    "  --windows LEN        many ranges: every recording cut into windows of LEN,\n"
    "  --hop HOP              starting every HOP (units as --units; default LEN)\n"
    "  --tail MODE          --windows: the audio after the last whole window, and a\n"
    "                       recording shorter than a window: drop (default; counted\n"
    "                       in the summary), pad (one more window, zeros to the full\n"
    "                       length) or keep (one shorter last window)\n"
    "  --match GLOB         --windows and time queries: only recordings whose name\n"
    "                       matches\n"
    "Time queries use each recording's start time (opusarc info shows them):\n"
    "  --from T, --to T     the span [T, T2): ISO 8601 with a zone, e.g.\n"
    "                       2021-05-01T05:00:00+01:00 or 2021-05-01T04:00:00Z\n"
    "  --daily HH:MM-HH:MM  the same window every day (past midnight if the end is\n"
    "                       not after the start), on the days of --days\n"
    "  --days D1..D2        first and last day (YYYY-MM-DD) of --daily windows\n"
    "                       (default: every day some matching recording covers)\n"
    "  --tz Z|+01:00|recording  the clock of --daily: a UTC offset, or each\n"
    "                       recording's own local time (default: recording; also\n"
    "                       reaches recordings whose zone is unknown)\n"
    "  Each overlap of the span with a recording is one output, named\n"
    "  <recording, '/' as '~'>@<start, e.g. 20210501T040000Z>. A queries CSV with\n"
    "  the header id,recording,start_utc,end_utc (or id,start_utc,end_utc, or an\n"
    "  empty recording: every matching recording) gives spans too.\n"
    "  --join[=strict]      consecutive files of one recorder (same recorder id, else\n"
    "                       the same directory) that together cover a span are one\n"
    "                       output; gaps between files are filled with silence of\n"
    "                       the exact length and reported (strict: refused); a\n"
    "                       file that starts before the previous ends cuts it\n"
    "  --max-gap SECONDS    a longer gap between files ends a joined output and\n"
    "                       starts the next (default 10)\n"
    "  --max-windows N      refuse --windows that would make more than N queries\n"
    "                       (default 5000000: a guard against a mistyped hop; windows\n"
    "                       are made a batch at a time, so memory does not grow with N)\n"
    "  --out-dir DIR        one file per query: DIR/<id>.<format> (ids must be unique;\n"
    "                       window ids: the name with '/' as '~', '_<start sample>')\n"
    "  --out CLIPS.h5       one HDF5 file: /clips (float32, concatenated) and\n"
    "                       /queries (id, recording, start, end, channels, offset,\n"
    "                       length, rate, status)\n"
    "  --shape flat|fixed   --out: /clips flat (default: float32, concatenated), or\n"
    "                       fixed: [n, frames] (mono) or [n, frames, channels], one\n"
    "                       row per query in /queries order, chunked by row (every\n"
    "                       clip must have the same length and channels: windows,\n"
    "                       --tail pad, --mono, --rate make them so)\n"
    "  --force              replace existing outputs (never the archive itself)\n"
    "  --io-timeout SECONDS --out: a collective step of the clips file that takes\n"
    "                       longer is stuck (an I/O error on some rank): end the\n"
    "                       job with a message (default 900; 0: wait forever)\n"
    "  --piece SECONDS      queries longer than this are cut into pieces decoded by\n"
    "                       different ranks (default 30; not for wav/flac)\n"
    "  --progress SECONDS   rank 0 reports progress this often (default 10; a bar\n"
    "                       redrawn every second on a terminal; 0: off)\n"
    "  --decode-from-start  if this host's libopus differs from the archive's,\n"
    "                       decode from the recording start instead of refusing\n"
    "  --verify             decode every interval a range touches in full and check\n"
    "                       it against the CRC stored at indexing (slower)\n"
    "  --no-snapshots       never load decoder memory from the archive: ranges that\n"
    "                       would start from a snapshot are decoded from their link\n"
    "                       start (for archives from a source you do not trust)\n"
    "  -q, --quiet          only errors and the final summary\n"
    "  -h, --help           this text\n"
    "\n"
    "Outputs are written under a temporary name and renamed when complete; an\n"
    "existing output is an error before any decoding, unless --force. SIGTERM or\n"
    "SIGINT stops a sweep after the work units in progress: complete queries are\n"
    "kept, temporary files removed. Exit: 0 all ranges written, 1 some or all\n"
    "failed (or stopped), 2 bad command line.\n";

typedef struct extract_args {
  const char *archive, *recording, *start, *end, *output, *queries, *out_dir, *out_h5, *window, *hop, *match;
  int seconds, format, decode_from_start, verify, no_snapshots, quiet, force;
  double piece, progress;
  int progress_given;
  int64_t max_windows;
  double io_timeout;
  const char *from, *to, *daily, *days, *tz;
  int join;
  double max_gap;
  oa_channel_spec chan; /* --mono, --channels */
  int tail;             /* --tail: enum oa_tail */
  int clamp;            /* --clamp */
  int tail_given;
  int32_t rate;         /* --rate: Hz, 0 (the time base) or OA_RATE_NATIVE */
  int fixed_shape;      /* --shape fixed */
  int table_format;     /* --queries-format: enum oa_table_format */
  double pad_seconds;   /* --pad-seconds */
} extract_args;

/* "native" or a whole number of Hz in [OA_RATE_MIN, OA_RATE_MAX]. */
static int take_rate(void *dest, const char *text, char *why, size_t len) {
  int32_t *rate = dest;
  (void)why, (void)len;
  if (strcmp(text, "native") == 0) return *rate = OA_RATE_NATIVE, 0;
  int64_t hz;
  if (oa_parse_int64(text, &hz) != 0 || hz < OA_RATE_MIN || hz > OA_RATE_MAX) return -1;
  *rate = (int32_t)hz;
  return 0;
}

/* --join, or --join=strict. */
static int take_join(void *dest, const char *text, char *why, size_t len) {
  (void)why, (void)len;
  if (text && strcmp(text, "strict") != 0) return -1;
  *(int *)dest = text ? OA_JOIN_STRICT : OA_JOIN_FILL;
  return 0;
}

static int take_channels(void *dest, const char *text, char *why, size_t len) {
  oa_channel_spec *spec = dest;
  if (spec->n) return snprintf(why, len, "given twice"), -1;
  return oa_channel_spec_parse(text, spec, why, len);
}

static const int TAILS[] = {OA_TAIL_DROP, OA_TAIL_PAD, OA_TAIL_KEEP};
static const int TABLE_FORMATS[] = {OA_TABLE_CSV, OA_TABLE_RAVEN, OA_TABLE_BIRDNET};

static int time_mode(const extract_args *a) { return a->from || a->to || a->daily; }

static int extractor_flags(const extract_args *a) {
  return (a->decode_from_start ? OA_EXTRACT_DECODE_FROM_START : 0) | (a->verify ? OA_EXTRACT_VERIFY : 0) |
         (a->no_snapshots ? OA_EXTRACT_NO_SNAPSHOTS : 0);
}

/* The time options go together in a few ways only. */
static int check_time_args(cli_ctx *cx, const extract_args *a) {
  const char *why = NULL;
  if ((a->from || a->to) && a->daily) why = "--from/--to and --daily exclude each other";
  else if (!!a->from != !!a->to) why = "--from and --to go together";
  else if ((a->days || a->tz) && !a->daily) why = "--days and --tz go with --daily";
  else if (time_mode(a) && (a->recording || a->start || a->end || a->queries || a->window))
    why = "time queries do not go with --recording/--start/--end, --queries or --windows";
  else if ((a->join || a->max_gap != 10) && !time_mode(a) && !a->queries)
    why = "--join and --max-gap go with time queries (--from/--to, --daily, or a start_utc CSV)";
  else if (time_mode(a) && !a->output && !a->out_dir && !a->out_h5)
    why = "a time query needs -o OUT (one output), --out-dir DIR or --out CLIPS.h5";
  if (why) cli_usage_error(cx, "extract", "%s", why);
  return why ? -1 : 0;
}

static int parse_args(cli_ctx *cx, int argc, char **argv, extract_args *a) {
  *a = (extract_args){.format = -1, .piece = 30, .progress = 10, .max_windows = 5000000, .io_timeout = 900,
                      .max_gap = 10};
  const char *format = NULL;
  int mono = 0;
  const cli_opt opts[] = {
      CLI_OPT("recording", 0, CLI_TEXT, &a->recording),
      CLI_OPT("start", 0, CLI_TEXT, &a->start),
      CLI_OPT("end", 0, CLI_TEXT, &a->end),
      CLI_OPT("units", 0, CLI_CHOICE, &a->seconds, .choices = "samples|seconds"),
      CLI_OPT("format", 0, CLI_TEXT, &format),
      CLI_OPT("output", 'o', CLI_TEXT, &a->output),
      CLI_OPT("queries", 0, CLI_TEXT, &a->queries),
      CLI_OPT("queries-format", 0, CLI_CHOICE, &a->table_format, .choices = "csv|raven|birdnet",
              .values = TABLE_FORMATS),
      CLI_OPT("pad-seconds", 0, CLI_NUMBER, &a->pad_seconds, .min = 0, .max = 86400,
              .need = "a number of seconds from 0 to 86400"),
      CLI_OPT("out-dir", 0, CLI_TEXT, &a->out_dir),
      CLI_OPT("out", 0, CLI_TEXT, &a->out_h5),
      CLI_OPT("windows", 0, CLI_TEXT, &a->window),
      CLI_OPT("hop", 0, CLI_TEXT, &a->hop),
      CLI_OPT("match", 0, CLI_TEXT, &a->match),
      CLI_OPT("max-windows", 0, CLI_INT64, &a->max_windows, .min = 1, .max = 1e18, .need = "a positive count"),
      CLI_OPT("tail", 0, CLI_CHOICE, &a->tail, .choices = "drop|pad|keep", .values = TAILS, .given = &a->tail_given),
      CLI_OPT("from", 0, CLI_TEXT, &a->from),
      CLI_OPT("to", 0, CLI_TEXT, &a->to),
      CLI_OPT("daily", 0, CLI_TEXT, &a->daily),
      CLI_OPT("days", 0, CLI_TEXT, &a->days),
      CLI_OPT("tz", 0, CLI_TEXT, &a->tz),
      CLI_OPT("join", 0, CLI_CALL, &a->join, .call = take_join, .need = "no value or =strict", .optional_value = 1),
      CLI_OPT("max-gap", 0, CLI_NUMBER, &a->max_gap, .min = 0, .max = 1e12, .need = "seconds (>= 0)"),
      CLI_OPT("mono", 0, CLI_FLAG, &mono),
      CLI_OPT("channels", 0, CLI_CALL, &a->chan, .call = take_channels),
      CLI_OPT("clamp", 0, CLI_FLAG, &a->clamp),
      CLI_OPT("rate", 0, CLI_CALL, &a->rate, .call = take_rate,
              .need = "native or a whole number of Hz from " CLI_STR(OA_RATE_MIN) " to " CLI_STR(OA_RATE_MAX)),
      CLI_OPT("shape", 0, CLI_CHOICE, &a->fixed_shape, .choices = "flat|fixed"),
      CLI_OPT("piece", 0, CLI_NUMBER, &a->piece, .min = 1, .max = 1e9, .need = "a number of seconds >= 1"),
      CLI_OPT("progress", 0, CLI_NUMBER, &a->progress, .min = 0, .max = 1e9, .need = "seconds (0: off)",
              .given = &a->progress_given),
      CLI_OPT("io-timeout", 0, CLI_NUMBER, &a->io_timeout, .min = 0, .max = 1e9, .need = "seconds (0: none)"),
      CLI_OPT("decode-from-start", 0, CLI_FLAG, &a->decode_from_start),
      CLI_OPT("verify", 0, CLI_FLAG, &a->verify),
      CLI_OPT("no-snapshots", 0, CLI_FLAG, &a->no_snapshots),
      CLI_OPT("force", 0, CLI_FLAG, &a->force),
      CLI_OPT("quiet", 'q', CLI_FLAG, &a->quiet),
      CLI_OPT("help", 'h', CLI_HELP, HELP),
      {0}};
  int first, rc = cli_parse_options(cx, "extract", argc, argv, opts, 0, &first);
  if (rc != 0) return rc;
  if (mono && a->chan.n) {
    cli_usage_error(cx, "extract", "--mono and --channels exclude each other");
    return -1;
  }
  a->chan.mono = mono;
  if (first != argc - 1) {
    cli_usage_error(cx, "extract", first >= argc ? "ARCHIVE.h5 is required" : "exactly one ARCHIVE.h5 expected");
    return -1;
  }
  a->archive = argv[first];
  if (check_time_args(cx, a) != 0) return -1;
  int sweep = a->queries || a->window || (time_mode(a) && !a->output);
  if (a->queries && a->window) {
    cli_usage_error(cx, "extract", "--queries and --windows exclude each other");
    return -1;
  }
  if (a->window && !a->hop) a->hop = a->window; /* back to back */
  if (a->clamp && !a->recording && !a->queries) {
    cli_usage_error(cx, "extract", "--clamp goes with --recording or --queries");
    return -1;
  }
  if ((a->table_format != OA_TABLE_CSV || a->pad_seconds > 0) && !a->queries) {
    cli_usage_error(cx, "extract", "--queries-format and --pad-seconds go with --queries");
    return -1;
  }
  if (a->fixed_shape && !a->out_h5) {
    cli_usage_error(cx, "extract", "--shape fixed goes with --out CLIPS.h5");
    return -1;
  }
  if (a->tail_given && !a->window) {
    cli_usage_error(cx, "extract", "--tail goes with --windows");
    return -1;
  }
  if (sweep && !!a->out_dir == !!a->out_h5) {
    cli_usage_error(cx, "extract", "--queries/--windows need exactly one of --out-dir DIR or --out CLIPS.h5");
    return -1;
  }
  if (sweep && (a->recording || a->output)) {
    cli_usage_error(cx, "extract", "--queries/--windows do not go with --recording or -o");
    return -1;
  }
  if (time_mode(a) && a->output && (a->out_dir || a->out_h5)) {
    cli_usage_error(cx, "extract", "a time query writes to one of -o OUT, --out-dir DIR or --out CLIPS.h5");
    return -1;
  }
  if (!sweep && !time_mode(a) && (!a->recording || !a->start || !a->end || !a->output)) {
    cli_usage_error(cx, "extract", "--recording, --start, --end and -o are required (or use --queries/--windows)");
    return -1;
  }
  if (a->out_h5) {
    a->format = OA_PCM_F32;
    if (format && strcmp(format, "f32") != 0) {
      cli_usage_error(cx, "extract", "--out CLIPS.h5 holds float32 samples; --format must be f32 or absent");
      return -1;
    }
  } else if (!format || oa_pcm_format_parse(format, &a->format) != 0) {
    cli_usage_error(cx, "extract", "--format f32, s16, wav, wav16, wav24, flac or flac24 is required");
    return -1;
  }
  return 0;
}

/* --mono / --channels, then --rate, between the decoder and the writer. */
typedef struct out_chain {
  const oa_channel_spec *spec;
  oa_pcm_sink next; /* the resampler or the writer */
  void *next_ctx;
  float *buf;
  size_t cap;
} out_chain;

static int chain_sink(void *ctx, const float *pcm, size_t frames, int channels, oa_err *err) {
  out_chain *c = ctx;
  if (!c->spec->mono && !c->spec->n) return c->next(c->next_ctx, pcm, frames, channels, err);
  int oc = oa_channel_spec_out(c->spec, channels);
  if (oc <= 0) return oa_err_set(err, OA_EUSAGE, "--channels selects a channel the recording (%d) lacks", channels);
  if (oa_grow((void **)&c->buf, &c->cap, frames * (size_t)oc, sizeof *c->buf))
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  oa_channel_apply(c->spec, pcm, frames, channels, c->buf);
  return c->next(c->next_ctx, c->buf, frames, oc, err);
}

/* Silence for a gap between the files of a joined output (after the
 * channel selection: `channels` as written). */
static int write_silence(out_chain *c, int64_t frames, int channels, oa_err *err) {
  const size_t chunk = 4800;
  float *zeros = calloc(chunk * (size_t)channels, sizeof *zeros);
  if (!zeros) return oa_err_set(err, OA_ENOMEM, "out of memory");
  int rc = OA_OK;
  for (int64_t done = 0; rc == OA_OK && done < frames; done += (int64_t)chunk)
    rc = c->next(c->next_ctx, zeros, (size_t)(frames - done < (int64_t)chunk ? frames - done : (int64_t)chunk),
                 channels, err);
  free(zeros);
  return rc;
}

/* The decode of q (a range, or the parts of a joined output) into sink. */
static int decode_query(oa_extractor *x, const oa_query_list *ql, const oa_query *q, out_chain *c, int oc,
                        oa_extract_stats *st, oa_err *err) {
  if (!q->nparts) return oa_extract_range(x, q->rec, q->start, q->end, chain_sink, c, st, err);
  int rc = OA_OK;
  for (size_t i = 0; rc == OA_OK && i < q->nparts; i++) {
    const oa_query_part *p = &ql->parts[q->first_part + i];
    rc = p->rec == OA_GAP_REC ? write_silence(c, p->end - p->start, oc, err)
                              : oa_extract_range(x, p->rec, p->start, p->end, chain_sink, c, st, err);
  }
  return rc;
}

/* Extracts one query into a file; the file exists only if this succeeds.
 * *written: frames in the file, *rate: their rate. */
static int extract_to_file(oa_extractor *x, const oa_archive *ar, const oa_query_list *ql, const oa_query *q,
                           const extract_args *a, const char *path, oa_extract_stats *st, uint64_t *clipped,
                           int64_t *written, int32_t *rate, oa_err *err) {
  int oc = oa_channel_spec_out(&a->chan, q->channels);
  if (oc <= 0)
    return oa_err_set(err, OA_EUSAGE, "--channels selects a channel that recording \"%s\" (%d channel%s) does not "
                      "have", oa_archive_recording_name(ar, q->rec), q->channels, q->channels == 1 ? "" : "s");
  oa_query rq = *q; /* q with its rates (--rate) */
  int rc = oa_query_rates(ar, ql, &rq, a->rate, err);
  if (rc != OA_OK) return rc;
  const int32_t in_rate = rq.in_rate, out_rate = rq.out_rate;
  oa_pcm_meta meta = {.start_us = q->start_us, .zone = q->start_zone, .offset_s = q->start_offset_s,
                      .recording = oa_archive_recording_name(ar, q->rec), .start_sample = q->start,
                      .rate = out_rate};
  oa_pcm_writer *w;
  rc = oa_pcm_writer_open(path, a->format, oc, a->force, &meta, &w, err);
  if (rc != OA_OK) return rc;
  oa_resampler *r = NULL;
  if (in_rate != out_rate) rc = oa_resampler_create(in_rate, out_rate, oc, q->frames, oa_pcm_writer_sink, w, &r, err);
  out_chain c = {&a->chan, r ? oa_resampler_sink : oa_pcm_writer_sink, r ? (void *)r : (void *)w, NULL, 0};
  if (rc == OA_OK) rc = decode_query(x, ql, q, &c, oc, st, err);
  if (rc == OA_OK && r) rc = oa_resampler_finish(r, err);
  oa_resampler_free(r);
  free(c.buf);
  *clipped = oa_pcm_writer_clipped(w);
  *written = rq.out_frames;
  *rate = out_rate;
  oa_err close_err;
  int crc = oa_pcm_writer_close(w, rc == OA_OK, &close_err);
  if (rc == OA_OK && crc != OA_OK) {
    *err = close_err;
    rc = crc;
  }
  return rc;
}

/* Rank 0, after a file was written: clipping is said, never silent. */
static void say_clipped(cli_ctx *cx, const extract_args *a, uint64_t clipped) {
  if (clipped)
    OA_LOG(&cx->log, SUMMARY, "%llu samples clipped to the %d-bit range (|x| >= 1.0 in the decode)",
           (unsigned long long)clipped, oa_pcm_format_bits(a->format));
}

static unsigned query_flags(const extract_args *a) {
  return (a->seconds ? OA_QUERY_SECONDS : 0) | (a->clamp ? OA_QUERY_CLAMP : 0);
}

static int run_single(cli_ctx *cx, const extract_args *a, oa_extractor *x, oa_archive *ar) {
  if (cx->rank != 0) return EXIT_OK;
  int64_t start = 0, end = 0;
  oa_err err;
  oa_err_clear(&err);
  uint64_t rec = 0;
  oa_extract_stats st = {0};
  oa_file_id input;
  size_t ninputs = oa_file_id_of(a->archive, &input) == 0;
  if (oa_out_check(a->output, a->force, &input, ninputs, "-o", &err) != OA_OK) {
    cli_log_error(cx, &err);
    return EXIT_FAILED;
  }
  int rc = oa_archive_find(ar, a->recording, &rec, &err);
  if (rc == OA_ENOTFOUND) {
    char hint[700];
    oa_archive_suggest(ar, a->recording, hint, sizeof hint);
    size_t n = strlen(err.msg);
    snprintf(err.msg + n, sizeof err.msg - n, "%s", hint);
  }
  double per_second = a->seconds && rc == OA_OK ? oa_archive_samples_per_second(ar, rec) : 0;
  if (rc == OA_OK && (oa_parse_position(a->start, per_second, &start) != 0 ||
                      oa_parse_position(a->end, per_second, &end) != 0)) {
    OA_LOG(&cx->log, ERROR, "--start/--end must be %s", a->seconds ? "numbers of seconds" : "integer sample counts");
    return EXIT_USAGE;
  }
  oa_query q = {.rec = rec, .start = start, .end = end};
  int clamped = 0;
  if (rc == OA_OK) rc = oa_query_fit(ar, &q, query_flags(a), &clamped, &err);
  if (rc == OA_OK && clamped)
    OA_LOG(&cx->log, SUMMARY, "the range was cut to the recording (--clamp): %.6f-%.6f s", q.start /
           oa_archive_samples_per_second(ar, rec), q.end / oa_archive_samples_per_second(ar, rec));
  uint64_t clipped = 0;
  int64_t written = 0;
  int32_t rate = 0;
  if (rc == OA_OK) rc = extract_to_file(x, ar, NULL, &q, a, a->output, &st, &clipped, &written, &rate, &err);
  if (rc == OA_OK) say_clipped(cx, a, clipped);
  if (rc != OA_OK) {
    cli_log_error(cx, &err);
    return EXIT_FAILED;
  }
  if (!a->quiet)
    OA_LOG(&cx->log, INFO,
           "wrote %lld frames x %d channels at %d Hz of \"%s\" to %s (%llu packets decoded, %llu pre-rolls, %llu "
           "snapshots%s)", (long long)written, oa_channel_spec_out(&a->chan, oa_archive_recording(ar, rec)->channels),
           (int)rate, a->recording, a->output,
           (unsigned long long)st.packets_decoded, (unsigned long long)st.prerolls,
           (unsigned long long)st.snapshots_restored, a->verify ? ", every interval verified" : "");
  return EXIT_OK;
}

/* --daily HH:MM-HH:MM over --days (default: the days matching recordings
 * cover) on the clock of --tz. */
static int daily_spans(cli_ctx *cx, const extract_args *a, oa_archive *ar, oa_time_span **spans, size_t *n,
                       oa_err *err) {
  char from[16] = "", to[16] = "";
  const char *dash = strchr(a->daily, '-');
  int64_t c0, c1, d0, d1;
  int32_t tz = 0;
  int wall = !a->tz || strcmp(a->tz, "recording") == 0;
  if (dash && dash - a->daily < (long)sizeof from) snprintf(from, sizeof from, "%.*s", (int)(dash - a->daily), a->daily);
  if (dash) snprintf(to, sizeof to, "%s", dash + 1);
  if (oa_clock_parse(from, &c0) || oa_clock_parse(to, &c1) || c0 == c1 || c0 >= OA_US_PER_DAY) {
    cli_usage_error(cx, "extract", "--daily needs HH:MM-HH:MM (two different times of day), not '%s'", a->daily);
    return EXIT_USAGE;
  }
  if (!wall && oa_offset_parse(a->tz, &tz) != 0) {
    cli_usage_error(cx, "extract", "--tz needs a UTC offset (Z, +01:00, -0500) or 'recording', not '%s'", a->tz);
    return EXIT_USAGE;
  }
  if (a->days) {
    char first[16] = "";
    const char *dots = strstr(a->days, "..");
    if (dots && dots - a->days < (long)sizeof first) snprintf(first, sizeof first, "%.*s", (int)(dots - a->days), a->days);
    if (dots ? oa_date_parse(first, &d0) || oa_date_parse(dots + 2, &d1) : oa_date_parse(a->days, &d0)) {
      cli_usage_error(cx, "extract", "--days needs YYYY-MM-DD..YYYY-MM-DD (or one day), not '%s'", a->days);
      return EXIT_USAGE;
    }
    if (!dots) d1 = d0;
  } else if (oa_time_days_covered(ar, a->match, wall, tz, &d0, &d1) != 0) {
    oa_err_set(err, OA_EUSAGE, "no %srecording has a start time%s: --daily has no days to cover (opusarc info "
               "shows start times)", a->match ? "matching " : "", wall ? "" : " in UTC (give --tz recording for "
               "recordings whose zone is unknown)");
    return EXIT_FAILED;
  } else if (c1 <= c0) {
    d0--; /* a window past midnight that ends on the first day starts the day before */
  }
  return oa_daily_spans(d0, d1, c0, c1, wall, tz, spans, n, err) == OA_OK ? EXIT_OK
         : err->code == OA_EUSAGE ? EXIT_USAGE : EXIT_FAILED;
}

/* --from/--to: one span in UTC. */
static int from_to_span(cli_ctx *cx, const extract_args *a, oa_time_span **spans, size_t *n) {
  int64_t f, t;
  int zf, zt;
  int32_t off;
  if (oa_time_parse(a->from, &f, &zf, &off) || !zf || oa_time_parse(a->to, &t, &zt, &off) || !zt) {
    cli_usage_error(cx, "extract", "--from and --to need ISO 8601 times with a zone, e.g. 2021-05-01T05:00:00+01:00 "
                    "or 2021-05-01T04:00:00Z (found '%s', '%s')", a->from, a->to);
    return EXIT_USAGE;
  }
  if (t <= f) {
    cli_usage_error(cx, "extract", "--to %s is not after --from %s", a->to, a->from);
    return EXIT_USAGE;
  }
  *spans = calloc(1, sizeof **spans);
  if (!*spans) return EXIT_FAILED;
  (*spans)[0] = (oa_time_span){.from_us = f, .to_us = t, .rec = -1};
  *n = 1;
  return EXIT_OK;
}

/* Rank 0: what the spans found, for the summary. */
static void say_time_stats(cli_ctx *cx, int rank, const oa_time_stats *st, int wall_clock) {
  if (rank != 0) return;
  OA_LOG(&cx->log, SUMMARY, "time spans: %llu, giving %llu outputs (%llu spans overlap no recording)",
         (unsigned long long)st->spans, (unsigned long long)st->outputs, (unsigned long long)st->spans_empty);
  if (st->zone_unknown && !wall_clock)
    OA_LOG(&cx->log, SUMMARY, "%llu matching recordings have a wall-clock start without a zone and cannot be placed "
           "in UTC: use --daily ... --tz recording, or index them with --start-tz", (unsigned long long)st->zone_unknown);
  if (st->no_start)
    OA_LOG(&cx->log, SUMMARY, "%llu matching recordings have no start time (not searched)",
           (unsigned long long)st->no_start);
  if (st->gaps || st->overlaps || st->refused)
    OA_LOG(&cx->log, SUMMARY, "joined outputs: %llu gaps (%lld samples in all) filled with silence, %llu overlaps "
           "(%lld samples) cut, %llu outputs refused (--join=strict)", (unsigned long long)st->gaps,
           (long long)st->gap_frames, (unsigned long long)st->overlaps, (long long)st->overlap_frames,
           (unsigned long long)st->refused);
}

/* The spans' counts over every rank's share. The recordings that cannot
 * be placed are counted alike on every rank that holds spans, and not on
 * a rank without: their maximum stands. */
static void sum_time_stats(MPI_Comm comm, oa_time_stats *st) {
  st->zone_unknown = oa_mpi_max_u64(comm, st->zone_unknown), st->no_start = oa_mpi_max_u64(comm, st->no_start);
  uint64_t v[8] = {st->spans, st->outputs, st->spans_empty, st->gaps, st->overlaps, (uint64_t)st->gap_frames,
                   (uint64_t)st->overlap_frames, st->refused}, before[8], all[8];
  oa_mpi_offsets(comm, v, before, all, 8);
  st->spans = all[0], st->outputs = all[1], st->spans_empty = all[2], st->gaps = all[3], st->overlaps = all[4];
  st->gap_frames = (int64_t)all[5], st->overlap_frames = (int64_t)all[6], st->refused = all[7];
}

/* A sweep's queries: a table parsed, windows or time spans' outputs made,
 * a batch at a time as the sweep asks (or, for -o, a list made whole). */
typedef struct sweep_input {
  oa_query_list ql;
  oa_list_source held;
  oa_table_source *table;
  oa_window_spec spec;
  oa_window_source windows;
  oa_time_span *spans;    /* owned */
  oa_time_options time_opt;
  oa_time_source times;
  int whole;              /* -o: the list made whole (one output expected) */
  int made;               /* src is set (a table or windows): not the list */
  oa_query_source src;
} sweep_input;

static void sweep_input_free(sweep_input *in) {
  oa_query_list_free(&in->ql);
  oa_time_source_free(&in->times);
  free(in->spans);
  in->spans = NULL;
  oa_table_source_free(in->table);
  in->table = NULL;
}

/* Time queries: spans from --from/--to, --daily or a time CSV (this rank's
 * share of them) become queries (each overlap, or with --join each run of
 * a recorder's files). */
static int make_time_queries(cli_ctx *cx, MPI_Comm comm, const extract_args *a, oa_archive *ar,
                             oa_time_span *spans, size_t n, uint64_t bad_rows, sweep_input *in, oa_err *err) {
  int rank, size;
  oa_mpi_rank_size(comm, &rank, &size);
  in->spans = spans, in->time_opt = (oa_time_options){.glob = a->match, .join = a->join, .max_gap = a->max_gap};
  oa_time_stats st;
  uint64_t bad = 0;
  if (!in->whole) { /* made a span at a time as the sweep asks */
    in->src = oa_time_source_of(&in->times, ar, spans, n, &in->time_opt, bad_rows);
    in->made = 1;
  }
  int ok = (in->whole ? oa_time_queries(ar, spans, n, &in->time_opt, &cx->log, &in->ql, &st, err)
                      : oa_time_source_count(&in->times, &cx->log, &st, &bad, err)) == OA_OK;
  if (!oa_mpi_agree_err(comm, ok, err)) return EXIT_FAILED;
  in->ql.bad += bad_rows;
  int wall = oa_mpi_max_int(comm, n > 0 && spans[0].wall_clock); /* the spans of one command share a clock */
  sum_time_stats(comm, &st);
  say_time_stats(cx, rank, &st, wall);
  if (st.outputs == 0) {
    oa_err_set(err, OA_EUSAGE, "no %srecording overlaps the time span%s: nothing to extract", a->match ? "matching " : "",
               st.spans == 1 ? "" : "s");
    return EXIT_FAILED;
  }
  return EXIT_OK; /* ids are checked over every rank's share by the sweep */
}

/* Spans the same on every rank (--from/--to, --daily): this rank takes its
 * share, in order. */
static int share_spans(MPI_Comm comm, oa_time_span **spans, size_t *n) {
  int rank, size;
  oa_mpi_rank_size(comm, &rank, &size);
  size_t lo = *n * (size_t)rank / (size_t)size, hi = *n * (size_t)(rank + 1) / (size_t)size;
  memmove(*spans, *spans + lo, (hi - lo) * sizeof **spans);
  *n = hi - lo;
  return EXIT_OK;
}

/* A queries file, this rank's share of its rows: a time CSV, or a table. */
static int table_queries(cli_ctx *cx, MPI_Comm comm, const extract_args *a, oa_archive *ar, sweep_input *in,
                         oa_err *err) {
  oa_text_share sh;
  if (oa_text_share_read(comm, a->queries, &sh, err) != OA_OK) return EXIT_FAILED;
  oa_time_span *spans = NULL;
  size_t nspans = 0;
  uint64_t bad = 0;
  /* The header says whether it is a time CSV; its rows are then read whole. */
  int rc = a->table_format != OA_TABLE_CSV ? 0 : oa_time_csv(ar, a->queries, sh.text, sh.len, sh.line_base, &cx->log,
                                                             &spans, &nspans, &bad, err);
  if (rc == 1 && sh.fd >= 0) {
    free(spans), spans = NULL, nspans = 0, bad = 0;
    rc = oa_text_share_load(&sh, err) != OA_OK ? -1
         : oa_time_csv(ar, a->queries, sh.text, sh.len, sh.line_base, &cx->log, &spans, &nspans, &bad, err);
  }
  if (!oa_mpi_agree_err(comm, rc >= 0, err)) return oa_text_share_free(&sh), free(spans), EXIT_FAILED;
  if (rc == 1) {
    oa_text_share_free(&sh);
    return make_time_queries(cx, comm, a, ar, spans, nspans, bad, in, err);
  }
  if (rc < 0 || a->join || a->max_gap != 10) {
    oa_text_share_free(&sh);
    if (rc < 0) return EXIT_FAILED;
    oa_err_set(err, OA_EUSAGE, "%s: --join needs a time CSV (header id,recording,start_utc,end_utc)", a->queries);
    return EXIT_USAGE;
  }
  oa_table_options topt = {.format = a->table_format, .flags = query_flags(a), .pad_seconds = a->pad_seconds};
  int ok = oa_table_source_open(ar, a->queries, &sh, &topt, &cx->log, &in->table, &in->src, err) == OA_OK;
  if (!oa_mpi_agree_err(comm, ok, err)) return EXIT_FAILED;
  in->made = 1;
  int rank;
  oa_mpi_rank_size(comm, &rank, &(int){0});
  const char *first;
  size_t nlabels = oa_table_reader_labels(oa_table_source_reader(in->table), &first);
  if (nlabels && a->out_dir && rank == 0)
    OA_LOG(&cx->log, INFO, "%s: %zu label column%s (first: %s) are kept in clips files (--out) only", a->queries,
           nlabels, nlabels == 1 ? "" : "s", first);
  return EXIT_OK;
}

/* --windows: this rank's share of the windows, made from the rows a batch
 * at a time. */
static int window_queries(cli_ctx *cx, MPI_Comm comm, const extract_args *a, oa_archive *ar, sweep_input *in,
                          oa_err *err) {
  int rank = 0;
  if (!OA_SOLO(comm)) MPI_Comm_rank(comm, &rank);
  oa_window_spec *spec = &in->spec; /* the source reads it batch by batch */
  *spec = (oa_window_spec){.seconds = a->seconds, .glob = a->match, .max_windows = (uint64_t)a->max_windows,
                           .tail = a->tail};
  if (oa_parse_double(a->window, &spec->length) != 0 || oa_parse_double(a->hop, &spec->hop) != 0 ||
      spec->length <= 0 || spec->hop <= 0 ||
      (!a->seconds && (spec->length != (int64_t)spec->length || spec->hop != (int64_t)spec->hop))) {
    cli_usage_error(cx, "extract", "--windows and --hop need positive %s", a->seconds ? "seconds" : "sample counts");
    return EXIT_USAGE;
  }
  oa_window_stats st;
  if (oa_windows_open(comm, ar, spec, &in->windows, &st, err) != OA_OK) return EXIT_FAILED;
  if (rank == 0 && (st.short_recordings || st.tails))
    OA_LOG(&cx->log, SUMMARY, "windows: %llu over %llu recordings; not covered: %llu recording%s shorter than a "
           "window and the tails of %llu (%.1f s of audio in all)", (unsigned long long)st.windows,
           (unsigned long long)st.recordings, (unsigned long long)st.short_recordings,
           st.short_recordings == 1 ? "" : "s", (unsigned long long)st.tails, st.uncovered_seconds);
  if (rank == 0 && (st.padded || st.short_windows))
    OA_LOG(&cx->log, SUMMARY, "windows: %llu over %llu recordings; %llu last windows padded with zeros to the full "
           "length, %llu shorter last windows kept", (unsigned long long)st.windows,
           (unsigned long long)st.recordings, (unsigned long long)st.padded, (unsigned long long)st.short_windows);
  if (st.windows == 0) {
    oa_err_set(err, OA_EUSAGE, "no window fits: every matching recording is shorter than %s %s (--tail pad or keep "
               "makes one window of each)", a->window,
               a->seconds ? "s" : "samples");
    return EXIT_FAILED;
  }
  in->src = oa_window_source_of(&in->windows);
  in->made = 1;
  return EXIT_OK;
}

/* This rank's share of the queries (collective over comm; MPI_COMM_NULL:
 * all of them): the shares in rank order are the whole list. */
static int list_queries(cli_ctx *cx, MPI_Comm comm, const extract_args *a, oa_archive *ar, sweep_input *in,
                        oa_err *err) {
  if (a->queries) return table_queries(cx, comm, a, ar, in, err);
  if (!time_mode(a)) return window_queries(cx, comm, a, ar, in, err);
  oa_time_span *spans = NULL;
  size_t nspans = 0;
  int rc = a->from ? from_to_span(cx, a, &spans, &nspans) : daily_spans(cx, a, ar, &spans, &nspans, err);
  if (rc == EXIT_OK) rc = share_spans(comm, &spans, &nspans);
  if (rc == EXIT_OK) return make_time_queries(cx, comm, a, ar, spans, nspans, 0, in, err);
  free(spans);
  return rc;
}

static int make_queries(cli_ctx *cx, MPI_Comm comm, const extract_args *a, oa_archive *ar, sweep_input *in,
                        int whole, oa_err *err) {
  memset(in, 0, sizeof *in);
  in->whole = whole;
  int rc = list_queries(cx, comm, a, ar, in, err);
  if (rc == EXIT_OK && !in->made) in->src = oa_list_source_of(&in->held, &in->ql);
  return rc;
}

/* A time query with -o: it must give exactly one output (rank 0). */
static int run_time_single(cli_ctx *cx, const extract_args *a, oa_extractor *x, oa_archive *ar) {
  if (cx->rank != 0) return EXIT_OK;
  sweep_input in;
  oa_err err;
  oa_err_clear(&err);
  int rc = make_queries(cx, MPI_COMM_NULL, a, ar, &in, 1, &err);
  oa_query_list ql = in.ql;
  oa_file_id input;
  size_t ninputs = oa_file_id_of(a->archive, &input) == 0;
  if (rc == EXIT_OK && ql.n != 1)
    rc = EXIT_FAILED, oa_err_set(&err, OA_EUSAGE, "the time span gives %zu outputs (the first: %s): -o writes one; "
                                 "use --out-dir DIR or --out CLIPS.h5 (or narrow it with --match, or --join)", ql.n,
                                 ql.q[0].id);
  if (rc == EXIT_OK && oa_out_check(a->output, a->force, &input, ninputs, "-o", &err) != OA_OK) rc = EXIT_FAILED;
  oa_extract_stats st = {0};
  uint64_t clipped = 0;
  int64_t written = 0;
  int32_t rate = 0;
  if (rc == EXIT_OK &&
      extract_to_file(x, ar, &ql, &ql.q[0], a, a->output, &st, &clipped, &written, &rate, &err) != OA_OK)
    rc = EXIT_FAILED;
  if (rc == EXIT_OK) say_clipped(cx, a, clipped);
  if (rc != EXIT_OK && err.msg[0]) cli_log_error(cx, &err);
  if (rc == EXIT_OK && !a->quiet) {
    char when[64];
    oa_time_format(ql.q[0].start_us, ql.q[0].start_offset_s, ql.q[0].start_zone, when, sizeof when);
    OA_LOG(&cx->log, INFO, "wrote %lld frames x %d channels at %d Hz (%s, starting %s, %u gap%s filled) to %s",
           (long long)written, oa_channel_spec_out(&a->chan, ql.q[0].channels), (int)rate, ql.q[0].id, when,
           ql.q[0].gaps, ql.q[0].gaps == 1 ? "" : "s",
           a->output);
  }
  sweep_input_free(&in);
  return rc;
}

/* Many ranges: the sweep engine spreads them over the ranks. */
static int run_sweep(cli_ctx *cx, const extract_args *a, oa_archive *ar) {
  sweep_input in;
  oa_err err;
  oa_err_clear(&err);
  int rc = make_queries(cx, cx->comm, a, ar, &in, 0, &err);
  if (rc != EXIT_OK) {
    if (cx->rank == 0 && err.msg[0]) cli_log_error(cx, &err);
    sweep_input_free(&in);
    return rc;
  }
  oa_sweep_options opt = {
      .output = a->out_h5 ? OA_SWEEP_HDF5 : OA_SWEEP_DIR, .path = a->out_h5 ? a->out_h5 : a->out_dir,
      .format = a->format, .overwrite = a->force, .progress_bar = cli_is_terminal(cx),
      .flags = extractor_flags(a), .archive_path = a->archive, .queries_path = a->queries, .io_timeout = a->io_timeout,
      .source = a->queries ? a->queries : "windows", .channels = &a->chan, .rate = a->rate,
      .fixed_shape = a->fixed_shape};
  opt.progress_every = a->quiet ? 0 : opt.progress_bar && !a->progress_given ? 1.0 : a->progress;
  /* WAV and FLAC files are written by one libsndfile writer each: never cut
   * (a joined query is assembled from its parts at the end). */
  opt.piece = oa_pcm_format_is_file(a->format) && !a->out_h5 ? INT64_MAX / 4 : (int64_t)(a->piece * (double)OA_SAMPLE_RATE);
  oa_sweep_result res;
  rc = oa_sweep_run(cx->comm, ar, &in.src, &opt, &cx->log, &res, &err);
  cx->skip_finalize = res.broken;
  if (rc != OA_OK && cx->rank == 0) cli_log_error(cx, &err);
  if (cx->rank == 0 && res.clamped)
    OA_LOG(&cx->log, SUMMARY, "%llu ranges cut to their recording (--clamp)", (unsigned long long)res.clamped);
  if (cx->rank == 0 && res.clipped)
    OA_LOG(&cx->log, SUMMARY, "%llu samples clipped to the %d-bit range (|x| >= 1.0 in the decode)",
           (unsigned long long)res.clipped, oa_pcm_format_bits(a->format));
  if (cx->rank == 0 && res.units_taken && !a->quiet)
    OA_LOG(&cx->log, INFO, "work units: %llu, %llu of them run by a rank other than the one holding their queries",
           (unsigned long long)res.units, (unsigned long long)res.units_taken);
  if (cx->rank == 0 && res.stopped)
    OA_LOG(&cx->log, SUMMARY, "stopped by %s: %llu queries written, %llu not extracted (temporary files removed)",
           oa_stop_name(res.stopped), (unsigned long long)res.ok, (unsigned long long)res.not_run);
  if (cx->rank == 0)
    OA_LOG(&cx->log, SUMMARY,
           "extracted %llu, failed %llu queries: %.1f s of audio in %.2f s on %d rank%s (%.1f queries/s, %.0fx real "
           "time) -> %s",
           (unsigned long long)res.ok, (unsigned long long)res.failed, res.audio_seconds, res.wall_seconds, cx->size,
           cx->size == 1 ? "" : "s", res.wall_seconds > 0 ? (double)res.ok / res.wall_seconds : 0.0,
           res.wall_seconds > 0 ? res.audio_seconds / res.wall_seconds : 0.0,
           rc == OA_OK ? opt.path : res.partial ? "some files written, the rest not (see above)" : "nothing written");
  sweep_input_free(&in);
  return rc != OA_OK || res.failed ? EXIT_FAILED : EXIT_OK;
}

int cmd_extract(cli_ctx *cx, int argc, char **argv) {
  extract_args a;
  int prc = parse_args(cx, argc, argv, &a);
  if (prc != 0) return prc > 0 ? EXIT_OK : EXIT_USAGE;
  if (a.quiet) cx->log.level = OA_LOG_WARN;
  if (a.out_h5) cli_mpi_start(cx); /* a clips file is written by parallel HDF5 */
  oa_err err;
  oa_err_clear(&err);
  oa_archive *ar = NULL;
  oa_extractor *x = NULL;
  int rc = oa_archive_open(a.archive, &ar, &err);
  if (rc == OA_OK) rc = oa_extractor_create(ar, extractor_flags(&a), &x, &err);
  int exit_code = EXIT_FAILED;
  int all_ok = oa_mpi_agree_err(cx->comm, rc == OA_OK, &err);
  if (!all_ok && cx->rank == 0) cli_log_error(cx, &err);
  if (all_ok && cx->size > 1) all_ok = cli_same_file_everywhere(cx, a.archive);
  if (all_ok)
    exit_code = a.queries || a.window || (time_mode(&a) && !a.output) ? run_sweep(cx, &a, ar)
                : time_mode(&a) ? run_time_single(cx, &a, x, ar) : run_single(cx, &a, x, ar);
  oa_mpi_bcast_int(cx->comm, &exit_code);
  oa_extractor_free(x);
  oa_archive_close(ar);
  return exit_code;
}
