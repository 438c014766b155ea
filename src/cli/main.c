/* opusarc: thin front end over libopusarc. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "opusarc/mpiutil.h"

static const char *USAGE =
    "usage: opusarc COMMAND [OPTIONS]\n"
    "\n"
    "Stores Ogg Opus corpora in one parallel HDF5 archive and extracts any sample\n"
    "range bit-exactly. Runs as a plain process or under mpirun/srun.\n"
    "\n"
    "commands:\n"
    "  index    build an archive from Ogg Opus files and directories\n"
    "  extract  write sample ranges of archived recordings to files\n"
    "  info     describe an archive\n"
    "  verify   re-decode every interval and check it against the indexed decode\n"
    "  merge    merge archives indexed separately into one (no re-decode)\n"
    "\n"
    "'opusarc COMMAND --help' shows each command's options.\n"
    "exit codes: 0 ok, 1 failure, 2 bad command line, 3 archive written but some\n"
    "recordings failed (index), 4 some inputs conflict with recordings already in\n"
    "the archive (index --append).\n";

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? EXIT_USAGE : EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    puts("opusarc " OPUSARC_VERSION);
    return EXIT_OK;
  }
  int (*command)(cli_ctx *, int, char **) = NULL;
  if (strcmp(argv[1], "index") == 0) command = cmd_index;
  else if (strcmp(argv[1], "extract") == 0) command = cmd_extract;
  else if (strcmp(argv[1], "info") == 0) command = cmd_info;
  else if (strcmp(argv[1], "verify") == 0) command = cmd_verify;
  else if (strcmp(argv[1], "merge") == 0) command = cmd_merge;
  if (!command) {
    fprintf(stderr, "opusarc: unknown command '%s'\n\n%s", argv[1], USAGE);
    return EXIT_USAGE;
  }
  int launched = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK") || getenv("SLURM_STEP_ID");
  /* `info`, `extract` and `verify` read, and a plain process outside a
   * launcher runs them without starting MPI (cx.comm stays MPI_COMM_NULL until a clips
   * file, written by parallel HDF5, needs it: cli_mpi_start). */
  cli_ctx cx = {.comm = MPI_COMM_NULL, .rank = 0, .size = 1, .launched = launched};
  cx.log = (oa_logger){.rank = 0, .size = 1, .level = OA_LOG_INFO, .hint = cli_hint};
  if (launched || (command != cmd_info && command != cmd_extract && command != cmd_verify)) cli_mpi_start(&cx);
  int rc = command(&cx, argc - 1, argv + 1);
  if (OA_SOLO(cx.comm)) return rc;
  /* Every rank returns the same code; take the worst in case one differs. */
  int worst = rc;
  MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, cx.comm);
  if (cx.skip_finalize) {
    fflush(NULL);
    _exit(worst);
  }
  MPI_Finalize();
  return worst;
}
