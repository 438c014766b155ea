/* no_mpi_shim: preloaded (LD_PRELOAD) into opusarc to prove a command runs
 * without starting MPI: MPI_Init and MPI_Init_thread print a line and end
 * the process with exit code 99. */
#include <stdio.h>
#include <stdlib.h>

static void refuse(const char *what) {
  fprintf(stderr, "no_mpi_shim: %s called\n", what);
  fflush(stderr);
  _Exit(99);
}

int MPI_Init(int *argc, char ***argv) {
  (void)argc, (void)argv;
  refuse("MPI_Init");
  return 0;
}

int MPI_Init_thread(int *argc, char ***argv, int required, int *provided) {
  (void)argc, (void)argv, (void)required, (void)provided;
  refuse("MPI_Init_thread");
  return 0;
}
