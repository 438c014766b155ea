#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "opusarc/merge.h"

static const char *HELP =
    "usage: opusarc merge -o ALL.h5 [options] ARCHIVE.h5...\n"
    "\n"
    "Merges archives indexed separately into one new archive, with MPI: packets,\n"
    "checkpoints and reference CRCs are copied, nothing is decoded again, so\n"
    "`opusarc verify ALL.h5` checks it as it checked the inputs. Recordings are in\n"
    "name order, as if the union had been indexed. Appended segments of an input\n"
    "are merged with it. The inputs must share the libopus build and checkpoint\n"
    "settings (refused otherwise, naming the difference). A name held by two\n"
    "inputs is kept once when both describe the same source, and refused when not.\n"
    "\n"
    "  -o, --output FILE     the merged archive (written as FILE.partial, renamed\n"
    "                        when complete; never one of the inputs)\n"
    "  --batch-mb MB         per-rank rows between commits (default 256)\n"
    "  --io-timeout SECONDS  a collective write round stuck longer ends the job\n"
    "                        (default 900; 0: wait forever)\n"
    "  --force               replace FILE if it exists\n"
    "  --resume              continue an interrupted merge into FILE.partial\n"
    "  -q, --quiet           only errors and the summary\n"
    "  -h, --help            this text\n"
    "\n"
    "Exit: 0 merged, 1 nothing merged (the reason is printed), 2 bad command line.\n";

typedef struct merge_args {
  oa_merge_job job;
  int quiet;
} merge_args;

static int parse_args(cli_ctx *cx, int argc, char **argv, merge_args *a) {
  static const struct option opts[] = {{"output", required_argument, 0, 'o'}, {"batch-mb", required_argument, 0, 'b'},
                                       {"io-timeout", required_argument, 0, 'T'}, {"force", no_argument, 0, 'f'},
                                       {"resume", no_argument, 0, 'R'},         {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
  *a = (merge_args){.job = {.batch_mb = 256, .io_timeout = 900}};
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+o:qh", opts, NULL)) != -1) {
    oa_merge_job *j = &a->job;
    if (c == 'h') {
      if (cx->rank == 0) fputs(HELP, stdout);
      return 1;
    }
    if (c == 'o') j->output = optarg;
    else if (c == 'f') j->force = 1;
    else if (c == 'R') j->resume = 1;
    else if (c == 'q') a->quiet = 1;
    else if (c == 'b' && cli_parse_double(optarg, &j->batch_mb) == 0 && j->batch_mb >= 0.01 && j->batch_mb <= 1024) {
    } else if (c == 'T' && cli_parse_double(optarg, &j->io_timeout) == 0 && j->io_timeout >= 0) {
    } else {
      cli_usage_error(cx, "merge", "unknown option, or bad value, '%s'", argv[optind - 1]);
      return -1;
    }
  }
  a->job.inputs = (const char *const *)(argv + optind);
  a->job.ninputs = argc - optind;
  if (!a->job.output) {
    cli_usage_error(cx, "merge", "-o ALL.h5 is required");
    return -1;
  }
  if (a->job.ninputs < 1) {
    cli_usage_error(cx, "merge", "no input ARCHIVE.h5 given");
    return -1;
  }
  return 0;
}

int cmd_merge(cli_ctx *cx, int argc, char **argv) {
  merge_args a;
  int prc = parse_args(cx, argc, argv, &a);
  if (prc != 0) return prc > 0 ? EXIT_OK : EXIT_USAGE;
  if (a.quiet) cx->log.level = OA_LOG_WARN;
  double t0 = MPI_Wtime();
  oa_merge_result res;
  oa_err err;
  oa_err_clear(&err);
  int rc = oa_merge_run(cx->comm, &a.job, &cx->log, &res, &err); /* logs its own errors */
  cx->skip_finalize = res.broken;
  if (rc != OA_OK) return EXIT_FAILED;
  uint64_t bytes = res.data_bytes;
  MPI_Reduce(cx->rank == 0 ? MPI_IN_PLACE : &bytes, &bytes, 1, MPI_UINT64_T, MPI_SUM, 0, cx->comm);
  if (cx->rank == 0) {
    if (!res.written)
      OA_LOG(&cx->log, SUMMARY, "%s is complete: nothing to resume (it holds this merge)", a.job.output);
    else
      OA_LOG(&cx->log, SUMMARY, "merged %llu recordings from %d archive%s (%llu held twice, kept once): %.2f MB "
             "copied in %.1f s on %d rank%s, %llu commit%s -> %s", (unsigned long long)res.recordings,
             a.job.ninputs, a.job.ninputs == 1 ? "" : "s", (unsigned long long)res.duplicates, (double)bytes / 1e6,
             MPI_Wtime() - t0, cx->size, cx->size == 1 ? "" : "s", (unsigned long long)res.commits,
             res.commits == 1 ? "" : "s", a.job.output);
  }
  return EXIT_OK;
}
