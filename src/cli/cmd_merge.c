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
  *a = (merge_args){.job = {.batch_mb = 256, .io_timeout = 900}};
  oa_merge_job *j = &a->job;
  const cli_opt opts[] = {
      CLI_OPT("output", 'o', CLI_TEXT, &j->output),
      CLI_OPT("force", 0, CLI_FLAG, &j->force),
      CLI_OPT("resume", 0, CLI_FLAG, &j->resume),
      CLI_OPT("quiet", 'q', CLI_FLAG, &a->quiet),
      CLI_OPT("batch-mb", 0, CLI_NUMBER, &j->batch_mb, .min = 0.01, .max = 1024, .need = "a number from 0.01 to 1024"),
      CLI_OPT("io-timeout", 0, CLI_NUMBER, &j->io_timeout, .min = 0, .max = 1e9, .need = "seconds (0: none)"),
      CLI_OPT("help", 'h', CLI_HELP, HELP),
      {0}};
  int first, rc = cli_parse_options(cx, "merge", argc, argv, opts, 1, &first);
  if (rc != 0) return rc;
  a->job.inputs = (const char *const *)(argv + first);
  a->job.ninputs = argc - first;
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
