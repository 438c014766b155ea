#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opusarc/extract.h"
#include "opusarc/verifyjob.h"

static const char *HELP =
    "usage: opusarc verify ARCHIVE.h5 [--decode-from-start] [--no-snapshots] [--progress S]\n"
    "                      [--summary-json F] [-q]\n"
    "\n"
    "Re-decodes every interval of every recording from its own checkpoint and\n"
    "compares the output with the CRC-32 recorded at indexing. This is how a user\n"
    "on another machine learns whether extraction from the archive is exact there.\n"
    "Recordings are shared among MPI ranks, balanced by bytes.\n"
    "\n"
    "  --decode-from-start  if this host's libopus differs from the archive's,\n"
    "                       decode each link straight through instead of refusing\n"
    "  --no-snapshots       never load decoder memory from the archive: intervals\n"
    "                       that start from a snapshot are checked by decoding their\n"
    "                       link straight through (for archives you do not trust)\n"
    "  --progress SECONDS   rank 0 reports recordings done / total, bytes, audio,\n"
    "                       speed and ETA this often (default 10; a bar redrawn every\n"
    "                       second on a terminal; 0: off)\n"
    "  --summary-json FILE  also write the summary as JSON, with the seconds spent\n"
    "                       in open and verify per rank\n"
    "  -q, --quiet          only mismatches and the final summary\n"
    "  -h, --help           this text\n"
    "\n"
    "Each mismatch is reported with the recording and its sample range. Exit: 0\n"
    "every interval matches, 1 mismatches or errors, 2 bad command line.\n";

typedef struct verify_args {
  int decode_from_start, no_snapshots, quiet, progress_default;
  double progress;
  const char *summary_json, *archive;
} verify_args;

static int parse_args(cli_ctx *cx, int argc, char **argv, verify_args *a) {
  *a = (verify_args){.progress = 10};
  int progress_given = 0, first;
  const cli_opt opts[] = {
      CLI_OPT("decode-from-start", 0, CLI_FLAG, &a->decode_from_start),
      CLI_OPT("no-snapshots", 0, CLI_FLAG, &a->no_snapshots),
      CLI_OPT("quiet", 'q', CLI_FLAG, &a->quiet),
      CLI_OPT("summary-json", 0, CLI_TEXT, &a->summary_json),
      CLI_OPT("progress", 0, CLI_NUMBER, &a->progress, .min = 0, .max = 1e9, .need = "seconds (0: off)",
              .given = &progress_given),
      CLI_OPT("help", 'h', CLI_HELP, HELP),
      {0}};
  int rc = cli_parse_options(cx, "verify", argc, argv, opts, 0, &first);
  if (rc != 0) return rc;
  a->progress_default = !progress_given;
  if (first != argc - 1) {
    cli_usage_error(cx, "verify", "exactly one ARCHIVE.h5 expected");
    return -1;
  }
  a->archive = argv[first];
  return 0;
}

enum { T_OPEN, T_VERIFY, T_COUNT };
static const char *const PHASES[T_COUNT] = {"open", "verify"};

int cmd_verify(cli_ctx *cx, int argc, char **argv) {
  verify_args va;
  int prc = parse_args(cx, argc, argv, &va);
  if (prc != 0) return prc > 0 ? EXIT_OK : EXIT_USAGE;
  if (va.quiet) cx->log.level = OA_LOG_WARN;
  if (va.summary_json && !cli_check_writable(cx, va.summary_json)) return EXIT_FAILED;
  if (cx->size > 1 && !cli_same_file_everywhere(cx, va.archive)) return EXIT_FAILED;
  oa_verify_options opt = {
      .flags = (va.decode_from_start ? OA_EXTRACT_DECODE_FROM_START : 0) | (va.no_snapshots ? OA_EXTRACT_NO_SNAPSHOTS : 0),
      .progress_bar = cli_is_terminal(cx)};
  opt.progress_every = va.quiet ? 0 : opt.progress_bar && va.progress_default ? 1.0 : va.progress;
  oa_verify_result res;
  oa_err err;
  oa_err_clear(&err);
  if (oa_verify_run(cx->comm, va.archive, &opt, &cx->log, &res, &err) != OA_OK) {
    if (cx->rank == 0) cli_log_error(cx, &err);
    return EXIT_FAILED;
  }
  const double el = res.wall_seconds, hours = res.audio_seconds / 3600.0;
  if (cx->rank == 0)
    OA_LOG(&cx->log, SUMMARY, "verified %llu intervals of %.3f h audio: %llu mismatched, %llu recordings unreadable; "
           "%.1f s on %d rank%s (%.0fx real time)",
           (unsigned long long)res.intervals, hours, (unsigned long long)res.mismatched,
           (unsigned long long)res.unreadable, el, cx->size, cx->size == 1 ? "" : "s",
           el > 0 ? hours * 3600.0 / el : 0.0);
  int failed = res.mismatched || res.unreadable;
  if (va.summary_json) {
    char fields[512];
    snprintf(fields, sizeof fields,
             "\"intervals\": %llu, \"mismatched\": %llu, \"recordings_unreadable\": %llu, \"audio_hours\": %.6f, "
             "\"packets_decoded\": %llu, \"x_real_time\": %.1f",
             (unsigned long long)res.intervals, (unsigned long long)res.mismatched,
             (unsigned long long)res.unreadable, hours, (unsigned long long)res.packets_decoded,
             el > 0 ? hours * 3600.0 / el : 0.0);
    const double t[T_COUNT] = {res.open_seconds, res.verify_seconds};
    if (cli_write_summary_json(cx, va.summary_json, "verify", fields, PHASES, t, T_COUNT, el) != 0) failed = 1;
  }
  return failed ? EXIT_FAILED : EXIT_OK;
}
