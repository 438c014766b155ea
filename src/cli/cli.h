/* Shared pieces of the command-line front end. */
#ifndef OPUSARC_CLI_H
#define OPUSARC_CLI_H

#include <mpi.h>
#include <stdint.h>

#include "opusarc/log.h"

/* Exit codes (documented in README and --help). */
enum {
  EXIT_OK = 0,
  EXIT_FAILED = 1,      /* the command failed, or some queries failed */
  EXIT_USAGE = 2,       /* bad command line */
  EXIT_PARTIAL = 3      /* index: archive written, but some recordings failed */
};

typedef struct cli_ctx {
  MPI_Comm comm;
  int rank, size;
  oa_logger log;
  /* Set when HDF5 was left unable to close a file collectively (a failed
   * write): main then leaves without MPI_Finalize, whose HDF5 clean-up
   * would block. */
  int skip_finalize;
} cli_ctx;

int cmd_index(cli_ctx *cx, int argc, char **argv);
int cmd_extract(cli_ctx *cx, int argc, char **argv);
int cmd_info(cli_ctx *cx, int argc, char **argv);
int cmd_verify(cli_ctx *cx, int argc, char **argv);

int cli_parse_double(const char *s, double *out);
int cli_parse_int64(const char *s, int64_t *out);
/* A position in samples: an integer, or with per_second > 0 a number of
 * seconds times per_second (the recording's time base), rounded. */
int cli_parse_position(const char *s, double per_second, int64_t *out);
/* Prints to stderr from rank 0 only, as every rank parses the same argv. */
void cli_usage_error(const cli_ctx *cx, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
