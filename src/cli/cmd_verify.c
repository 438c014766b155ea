#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opusarc/mpiutil.h"
#include "opusarc/archive.h"
#include "opusarc/corpus.h"
#include "opusarc/extract.h"

static const char *HELP =
    "usage: opusarc verify ARCHIVE.h5 [--decode-from-start] [-q]\n"
    "\n"
    "Re-decodes every interval of every recording from its own checkpoint and\n"
    "compares the output with the CRC-32 recorded at indexing. This is how a user\n"
    "on another machine learns whether extraction from the archive is exact there.\n"
    "Recordings are shared among MPI ranks, balanced by bytes.\n"
    "\n"
    "  --decode-from-start  if this host's libopus differs from the archive's,\n"
    "                       decode each link straight through instead of refusing\n"
    "  -q, --quiet          only mismatches and the final summary\n"
    "  -h, --help           this text\n"
    "\n"
    "Each mismatch is reported with the recording and its sample range. Exit: 0\n"
    "every interval matches, 1 mismatches or errors, 2 bad command line.\n";

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

int cmd_verify(cli_ctx *cx, int argc, char **argv) {
  static const struct option opts[] = {{"decode-from-start", no_argument, 0, 'd'}, {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  int decode_from_start = 0, quiet = 0, c;
  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
    if (c == 'd') decode_from_start = 1;
    else if (c == 'q') quiet = 1;
    else if (c == 'h') {
      if (cx->rank == 0) fputs(HELP, stdout);
      return EXIT_OK;
    } else {
      cli_usage_error(cx, "verify", "unknown option '%s'", argv[optind - 1]);
      return EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    cli_usage_error(cx, "verify", "exactly one ARCHIVE.h5 expected");
    return EXIT_USAGE;
  }
  double t0 = MPI_Wtime();
  oa_err err;
  oa_err_clear(&err);
  oa_archive *a = NULL;
  oa_extractor *x = NULL;
  int rc = oa_archive_open(argv[optind], &a, &err);
  if (rc == OA_OK)
    rc = oa_extractor_create(a, decode_from_start ? OA_EXTRACT_DECODE_FROM_START : 0, &x, &err);
  int *owner = rc == OA_OK ? assign(cx, a) : NULL;
  if (rc == OA_OK && !owner) rc = oa_err_set(&err, OA_ENOMEM, "out of memory");
  if (!oa_mpi_agree_err(cx->comm, rc == OA_OK, &err)) {
    if (cx->rank == 0) OA_LOG(&cx->log, ERROR, "%s", err.msg);
    free(owner);
    oa_extractor_free(x);
    oa_archive_close(a);
    return EXIT_FAILED;
  }
  oa_extract_stats st = {0};
  report_ctx rctx = {cx, a};
  uint64_t errors = 0, samples = 0;
  for (uint64_t i = 0; i < oa_archive_recording_count(a); i++) {
    if (owner[i] != cx->rank) continue;
    oa_err e;
    oa_err_clear(&e);
    if (oa_verify_recording(x, i, report, &rctx, &st, &e) != OA_OK) {
      OA_LOG(&cx->log, ERROR, "%s", e.msg);
      errors++;
    }
    samples += (uint64_t)oa_archive_recording(a, i)->samples;
  }
  uint64_t mine[5] = {st.intervals_checked, st.mismatches, errors, samples, st.packets_decoded}, all[5];
  MPI_Allreduce(mine, all, 5, MPI_UINT64_T, MPI_SUM, cx->comm);
  double el = MPI_Wtime() - t0;
  if (cx->rank == 0 && (!quiet || all[1] || all[2]))
    OA_LOG(&cx->log, INFO, "verified %llu intervals of %.3f h audio: %llu mismatched, %llu recordings unreadable; "
           "%.1f s on %d rank%s (%.0fx real time)",
           (unsigned long long)all[0], (double)all[3] / 48000.0 / 3600.0, (unsigned long long)all[1],
           (unsigned long long)all[2], el, cx->size, cx->size == 1 ? "" : "s",
           el > 0 ? (double)all[3] / 48000.0 / el : 0.0);
  free(owner);
  oa_extractor_free(x);
  oa_archive_close(a);
  return all[1] || all[2] ? EXIT_FAILED : EXIT_OK;
}
