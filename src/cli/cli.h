/* Shared pieces of the command-line front end. */
#ifndef OPUSARC_CLI_H
#define OPUSARC_CLI_H

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>

#include "opusarc/log.h"

/* Exit codes (documented in README and --help). */
enum {
  EXIT_OK = 0,
  EXIT_FAILED = 1,      /* the command failed, or some queries failed */
  EXIT_USAGE = 2,       /* bad command line */
  EXIT_PARTIAL = 3,     /* index: archive written, but some recordings failed */
  EXIT_CONFLICT = 4     /* index --append: some inputs conflict with recordings of the same name */
};

typedef struct cli_ctx {
  MPI_Comm comm;
  int rank, size;
  oa_logger log;
  /* Set when HDF5 was left unable to close a file collectively (a failed
   * write): main then leaves without MPI_Finalize, whose HDF5 clean-up
   * would block. */
  int skip_finalize;
  /* Started by a launcher (mpirun, srun), told apart before MPI_Init: a
   * singleton's MPI_Init sets some of the same variables. */
  int launched;
} cli_ctx;

/* Starts MPI if this process runs without it (cx->comm MPI_COMM_NULL),
 * with cheap singleton settings outside a launcher; main finalizes it. */
void cli_mpi_start(cli_ctx *cx);

int cmd_index(cli_ctx *cx, int argc, char **argv);
int cmd_extract(cli_ctx *cx, int argc, char **argv);
int cmd_info(cli_ctx *cx, int argc, char **argv);
int cmd_verify(cli_ctx *cx, int argc, char **argv);
int cmd_merge(cli_ctx *cx, int argc, char **argv);

int cli_parse_double(const char *s, double *out);
int cli_parse_int64(const char *s, int64_t *out);
/* A position in samples: an integer, or with per_second > 0 a number of
 * seconds times per_second (the recording's time base), rounded. */
int cli_parse_position(const char *s, double per_second, int64_t *out);
/* A plain process writing to a terminal (not under mpirun or srun, whose
 * forwarded output may look like a terminal but ends up in a log). */
int cli_is_terminal(const cli_ctx *cx);

/* Collective. Starts progress for `spec` (totals filled in by the caller):
 * lines every `every` seconds, or on a terminal a bar redrawn every second
 * unless --progress was given; none with --quiet. NULL if it cannot. */
struct oa_progress_spec;
struct oa_progress *cli_start_progress(cli_ctx *cx, struct oa_progress_spec *spec, int quiet, double every,
                                       int every_given);

/* A JSON string literal: always valid JSON (bytes that are not UTF-8
 * become U+FFFD). */
void cli_json_string(FILE *out, const char *s);
/* Text for a terminal: control bytes (ESC, C1 controls) and bytes that are
 * not UTF-8 are written as \xNN, so a recording name cannot move the
 * cursor or recolour the screen. */
void cli_text_safe(FILE *out, const char *s);

/* Collective: whether rank 0 can create `path` (tried and removed at once),
 * so that an unwritable --summary-json fails before hours of work, not
 * after. Logs the reason. */
int cli_check_writable(const cli_ctx *cx, const char *path);

/* --summary-json: every rank passes its seconds per phase; rank 0 writes
 * FILE (temporary name, renamed) with the command's `fields` (a JSON object
 * body, e.g. "\"indexed\": 5, ...") and, per phase, the largest and the
 * mean seconds over ranks. Collective. Returns 0, or -1 (logged). */
int cli_write_summary_json(const cli_ctx *cx, const char *path, const char *command, const char *fields,
                           const char *const *phases, const double *seconds, int nphases, double wall);

/* Collective: every rank sees the same file at PATH (inode, size, mtime);
 * otherwise rank 0 says so and all return 0. Ranks that read different
 * archives would produce outputs that match neither. */
int cli_same_file_everywhere(const cli_ctx *cx, const char *path);

/* Prints to stderr from rank 0 only, as every rank parses the same argv. */
void cli_usage_error(const cli_ctx *cx, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
