/* Shared pieces of the command-line front end. */
#ifndef OPUSARC_CLI_H
#define OPUSARC_CLI_H

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>

#include "opusarc/error.h"
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

/* The option table every command parses with: one row per option. */
typedef enum {
  CLI_FLAG,   /* no value: *(int *)dest = set (1 when set is 0) */
  CLI_TEXT,   /* *(const char **)dest = the value as typed */
  CLI_NUMBER, /* *(double *)dest, within [min, max] */
  CLI_INT,    /* *(int *)dest, a whole number within [min, max] */
  CLI_INT64,  /* *(int64_t *)dest, likewise */
  CLI_CHOICE, /* one of choices ("a|b|c"): *(int *)dest = values[i] (or i) */
  CLI_CALL,   /* call(dest, value, why, len): 0, or -1 (why filled, or `need` is used) */
  CLI_HELP    /* prints dest (the help text) from rank 0 */
} cli_opt_kind;

typedef struct cli_opt {
  const char *name; /* long form, without "--"; NULL ends the table */
  char letter;      /* short form, or 0 */
  cli_opt_kind kind;
  void *dest;
  double min, max;     /* CLI_NUMBER, CLI_INT, CLI_INT64 */
  const char *need;    /* what the value must be, for the message: "seconds from 0.01 to 60" */
  const char *choices; /* CLI_CHOICE */
  const int *values;   /* CLI_CHOICE: the value stored per choice (NULL: its index) */
  int (*call)(void *dest, const char *value, char *why, size_t len); /* CLI_CALL */
  int *given;          /* set to 1 when the option appears (may be NULL) */
  int set;             /* CLI_FLAG */
  int optional_value;  /* --opt or --opt=VALUE (value NULL when absent) */
} cli_opt;

#define CLI_STR2(x) #x
#define CLI_STR(x) CLI_STR2(x) /* a number's macro as text, for `need` */

/* A row: CLI_OPT("name", 'n', CLI_NUMBER, &x, .min = 0, .max = 1, .need = "...") */
#define CLI_OPT(long_name, short_name, opt_kind, where, ...) \
  { .name = (long_name), .letter = (short_name), .kind = (opt_kind), .dest = (void *)(where), __VA_ARGS__ }

/* Parses argv's options by `table`; `in_order`: options end at the first
 * argument (index, merge: an input may look like an option after it).
 * Returns 0 (*first_arg = the index of the first argument), 1 when --help
 * was printed, or -1 after a usage message naming the option and why. */
int cli_parse_options(const cli_ctx *cx, const char *cmd, int argc, char **argv, const cli_opt *table,
                      int in_order, int *first_arg);

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

/* Logs a library error with the command line's hint for its code (the
 * library names no options): OA_EEXIST --force, OA_EBUILD
 * --decode-from-start. */
void cli_log_error(cli_ctx *cx, const oa_err *err);
const char *cli_hint(int code);

/* Prints to stderr from rank 0 only, as every rank parses the same argv. */
void cli_usage_error(const cli_ctx *cx, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
