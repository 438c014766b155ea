#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opusarc/mpiutil.h"
#include "opusarc/progress.h"
#include "opusarc/archive.h"
#include "opusarc/corpus.h"
#include "opusarc/extract.h"

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

typedef struct report_ctx {
  cli_ctx *cx;
  oa_archive *archive;
} report_ctx;

static void report(void *ctx, uint64_t rec, uint64_t interval, int64_t start, int64_t end, uint32_t got,
                   uint32_t want) {
  report_ctx *r = ctx;
  OA_LOG(&r->cx->log, ERROR, "MISMATCH \"%s\" samples [%lld, %lld) (interval %llu): CRC %08x, indexed %08x",
         oa_archive_recording_name(r->archive, rec), (long long)start, (long long)end, (unsigned long long)interval,
         got, want);
}

/* Byte-balanced share of the recordings for this rank. */
static int *assign(cli_ctx *cx, const oa_archive *a) {
  uint64_t n = oa_archive_recording_count(a);
  uint64_t *sizes = malloc((n ? n : 1) * sizeof *sizes);
  int *owner = malloc((n ? n : 1) * sizeof *owner);
  if (!sizes || !owner) {
    free(sizes), free(owner);
    return NULL;
  }
  for (uint64_t i = 0; i < n; i++) sizes[i] = oa_archive_recording(a, i)->data_size;
  oa_partition_by_size(sizes, n, cx->size, owner);
  free(sizes);
  return owner;
}

static int parse_args(cli_ctx *cx, int argc, char **argv, verify_args *a) {
  static const struct option opts[] = {{"decode-from-start", no_argument, 0, 'd'}, {"quiet", no_argument, 0, 'q'},
                                       {"no-snapshots", no_argument, 0, 'n'},
                                       {"progress", required_argument, 0, 'p'},
                                       {"summary-json", required_argument, 0, 'j'},
                                       {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  *a = (verify_args){.progress = 10, .progress_default = 1};
  int c;
  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
    if (c == 'd') a->decode_from_start = 1;
    else if (c == 'n') a->no_snapshots = 1;
    else if (c == 'q') a->quiet = 1;
    else if (c == 'j') a->summary_json = optarg;
    else if (c == 'p' && cli_parse_double(optarg, &a->progress) == 0 && a->progress >= 0) a->progress_default = 0;
    else if (c == 'h') {
      if (cx->rank == 0) fputs(HELP, stdout);
      return 1;
    } else {
      cli_usage_error(cx, "verify", "unknown option, or bad value, '%s'", argv[optind - 1]);
      return -1;
    }
  }
  if (optind != argc - 1) {
    cli_usage_error(cx, "verify", "exactly one ARCHIVE.h5 expected");
    return -1;
  }
  a->archive = argv[optind];
  return 0;
}

static oa_progress *start_progress(cli_ctx *cx, const verify_args *va, const oa_archive *a) {
  oa_progress_spec spec = {.what = "recordings", .total_items = (int64_t)oa_archive_recording_count(a)};
  for (uint64_t i = 0; i < oa_archive_recording_count(a); i++)
    spec.total_bytes += (int64_t)oa_archive_recording(a, i)->data_size;
  return cli_start_progress(cx, &spec, va->quiet, va->progress, !va->progress_default);
}

enum { T_OPEN, T_VERIFY, T_COUNT };
static const char *const PHASES[T_COUNT] = {"open", "verify"};

int cmd_verify(cli_ctx *cx, int argc, char **argv) {
  verify_args va;
  int prc = parse_args(cx, argc, argv, &va);
  if (prc != 0) return prc > 0 ? EXIT_OK : EXIT_USAGE;
  if (va.quiet) cx->log.level = OA_LOG_WARN;
  if (va.summary_json && !cli_check_writable(cx, va.summary_json)) return EXIT_FAILED;
  double t0 = MPI_Wtime(), t[T_COUNT] = {0};
  oa_err err;
  oa_err_clear(&err);
  oa_archive *a = NULL;
  oa_extractor *x = NULL;
  int flags = (va.decode_from_start ? OA_EXTRACT_DECODE_FROM_START : 0) | (va.no_snapshots ? OA_EXTRACT_NO_SNAPSHOTS : 0);
  int rc = oa_archive_open(va.archive, &a, &err);
  if (rc == OA_OK) rc = oa_extractor_create(a, flags, &x, &err);
  int *owner = rc == OA_OK ? assign(cx, a) : NULL;
  if (rc == OA_OK && !owner) rc = oa_err_set(&err, OA_ENOMEM, "out of memory");
  int opened = oa_mpi_agree_err(cx->comm, rc == OA_OK, &err);
  if (!opened && cx->rank == 0) OA_LOG(&cx->log, ERROR, "%s", err.msg);
  if (opened && cx->size > 1 && !cli_same_file_everywhere(cx, va.archive)) opened = 0;
  if (!opened) {
    free(owner);
    oa_extractor_free(x);
    oa_archive_close(a);
    return EXIT_FAILED;
  }
  t[T_OPEN] = MPI_Wtime() - t0;
  oa_progress *pg = start_progress(cx, &va, a);
  oa_extract_stats st = {0};
  report_ctx rctx = {cx, a};
  uint64_t errors = 0, samples = 0;
  double seconds = 0; /* real seconds: a time-expanded recording at its source rate */
  for (uint64_t i = 0; i < oa_archive_recording_count(a); i++) {
    if (owner[i] != cx->rank) continue;
    oa_err e;
    oa_err_clear(&e);
    if (oa_verify_recording(x, i, report, &rctx, &st, &e) != OA_OK) {
      OA_LOG(&cx->log, ERROR, "%s", e.msg);
      errors++;
    }
    const oa_rec_row *r = oa_archive_recording(a, i);
    samples += (uint64_t)r->samples;
    seconds += (double)r->samples / oa_rec_row_rate(r);
    /* Progress counts 48 kHz samples of real time. */
    if (pg) oa_progress_add(pg, 1, (int64_t)r->data_size, (int64_t)((double)r->samples * 48000.0 / oa_rec_row_rate(r)));
    if (pg) oa_progress_poll(pg);
  }
  t[T_VERIFY] = MPI_Wtime() - t0 - t[T_OPEN];
  if (pg) oa_progress_free(pg);
  uint64_t mine[5] = {st.intervals_checked, st.mismatches, errors, samples, st.packets_decoded}, all[5] = {0};
  MPI_Allreduce(mine, all, 5, MPI_UINT64_T, MPI_SUM, cx->comm);
  MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_SUM, cx->comm);
  double el = MPI_Wtime() - t0, hours = seconds / 3600.0;
  if (cx->rank == 0)
    OA_LOG(&cx->log, SUMMARY, "verified %llu intervals of %.3f h audio: %llu mismatched, %llu recordings unreadable; "
           "%.1f s on %d rank%s (%.0fx real time)",
           (unsigned long long)all[0], hours, (unsigned long long)all[1], (unsigned long long)all[2], el, cx->size,
           cx->size == 1 ? "" : "s", el > 0 ? hours * 3600.0 / el : 0.0);
  if (va.summary_json) {
    char fields[512];
    snprintf(fields, sizeof fields,
             "\"intervals\": %llu, \"mismatched\": %llu, \"recordings_unreadable\": %llu, \"audio_hours\": %.6f, "
             "\"packets_decoded\": %llu, \"x_real_time\": %.1f",
             (unsigned long long)all[0], (unsigned long long)all[1], (unsigned long long)all[2], hours,
             (unsigned long long)all[4], el > 0 ? hours * 3600.0 / el : 0.0);
    if (cli_write_summary_json(cx, va.summary_json, "verify", fields, PHASES, t, T_COUNT, el) != 0) all[2]++;
  }
  free(owner);
  oa_extractor_free(x);
  oa_archive_close(a);
  return all[1] || all[2] ? EXIT_FAILED : EXIT_OK;
}
