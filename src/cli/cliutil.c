#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "opusarc/mpiutil.h"
#include "opusarc/progress.h"
#include "opusarc/util.h"
#include "../outfile.h"

/* The command line's advice for a library error code: library messages
 * name no option (the Python package gives its own advice). */
const char *cli_hint(int code) {
  switch (code) {
    case OA_EEXIST: return " (use --force to replace existing outputs)";
    case OA_EBUILD: return " (use --decode-from-start to decode every range from its recording start instead)";
    case OA_EPARTIAL: return " (use --resume to continue it, or --force to start over)";
    case OA_ECHANGED: return " (rerun with the same inputs and options, or use --force to start over)";
    case OA_ENEWINPUTS: return " (add the new recordings with index --append, or rebuild it with --force)";
    case OA_EREBUILD: return " (rerun with --force --resume to finish the rebuild)";
    case OA_ELOSSY: return " (index --import-lossy imports it anyway)";
    case OA_EHIGHRATE: return " (choose --high-rate resample or --high-rate time-expand)";
    default: return NULL;
  }
}

void cli_log_error(cli_ctx *cx, const oa_err *err) { oa_log_err(&cx->log, OA_LOG_ERROR, err); }

void cli_usage_error(const cli_ctx *cx, const char *cmd, const char *fmt, ...) {
  if (cx->rank != 0) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "opusarc %s: %s\nTry 'opusarc %s --help'.\n", cmd, msg, cmd);
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0: overlong forms,
 * surrogates and code points past U+10FFFF are invalid. */
static size_t utf8_length(const unsigned char *p) {
  if (p[0] < 0x80) return 1;
  size_t n = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 ? 2 : 0;
  if (n == 0 || p[0] > 0xF4) return 0;
  for (size_t k = 1; k < n; k++)
    if ((p[k] & 0xC0) != 0x80) return 0;
  if (n == 3 && ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0))) return 0;
  if (n == 4 && ((p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))) return 0;
  return n;
}

void cli_json_string(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    size_t n = utf8_length(p);
    if (*p == '"' || *p == '\\') fprintf(out, "\\%c", *p);
    else if (*p < 0x20 || *p == 0x7f) fprintf(out, "\\u%04x", *p);
    else if (n == 0) fputs("\\ufffd", out); /* not UTF-8: JSON cannot carry the byte */
    else fwrite(p, 1, n, out);
    p += n ? n : 1;
  }
  fputc('"', out);
}

void cli_text_safe(FILE *out, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    size_t n = utf8_length(p);
    int c1 = n == 2 && p[0] == 0xC2 && p[1] < 0xA0; /* C1 controls, e.g. CSI */
    if (*p < 0x20 || *p == 0x7f || n == 0 || c1) {
      for (size_t k = 0; k < (n ? n : 1); k++) fprintf(out, "\\x%02X", p[k]);
    } else {
      fwrite(p, 1, n, out);
    }
    p += n ? n : 1;
  }
}

/* A new temporary file beside PATH (never a planted name); its name in
 * tmp. PATH itself may be replaced (a report rewritten by each resubmitted
 * job) but must not be a directory, a FIFO or one of the inputs. Logs the
 * reason if not. */
static FILE *open_partial(const cli_ctx *cx, const char *path, char *tmp, size_t len) {
  oa_err err;
  oa_err_clear(&err);
  int fd = oa_out_check(path, 1, NULL, 0, "--summary-json", &err) == OA_OK ? oa_out_create_temp(path, tmp, len, &err)
                                                                          : -1;
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f) {
    if (fd >= 0) close(fd), unlink(tmp);
    OA_LOG(&cx->log, ERROR, "%s", err.msg[0] ? err.msg : strerror(errno));
  }
  return f;
}

int cli_write_summary_json(const cli_ctx *cx, const char *path, const char *command, const char *fields,
                           const char *const *phases, const double *seconds, int nphases, double wall) {
  double max[16] = {0}, sum[16] = {0};
  if (nphases > 16) nphases = 16;
  if (OA_SOLO(cx->comm)) {
    for (int i = 0; i < nphases; i++) max[i] = sum[i] = seconds[i];
  } else {
    MPI_Reduce(seconds, max, nphases, MPI_DOUBLE, MPI_MAX, 0, cx->comm);
    MPI_Reduce(seconds, sum, nphases, MPI_DOUBLE, MPI_SUM, 0, cx->comm);
  }
  int ok = 1;
  if (cx->rank == 0) {
    char tmp[4096];
    FILE *f = open_partial(cx, path, tmp, sizeof tmp);
    ok = f != NULL;
    if (f) {
      fprintf(f, "{\"command\": ");
      cli_json_string(f, command);
      fprintf(f, ", \"ranks\": %d, \"wall_seconds\": %.3f, %s,\n \"phases\": {", cx->size, wall, fields);
      for (int i = 0; i < nphases; i++)
        fprintf(f, "%s\n  \"%s\": {\"max_seconds\": %.3f, \"mean_seconds\": %.3f}", i ? "," : "", phases[i], max[i],
                sum[i] / cx->size);
      fprintf(f, "}}\n");
      ok = fclose(f) == 0 && rename(tmp, path) == 0;
      if (!ok) OA_LOG(&cx->log, ERROR, "cannot write %s: %s", path, strerror(errno));
      if (!ok) unlink(tmp);
    }
  }
  oa_mpi_bcast_int(cx->comm, &ok);
  return ok ? 0 : -1;
}

int cli_is_terminal(const cli_ctx *cx) {
  return cx->size == 1 && !cx->launched && isatty(fileno(stdout)) && !getenv("SLURM_JOB_ID");
}

int cli_check_writable(const cli_ctx *cx, const char *path) {
  int ok = 1;
  if (cx->rank == 0) {
    char tmp[4096];
    FILE *f = open_partial(cx, path, tmp, sizeof tmp);
    ok = f != NULL;
    if (f) fclose(f), unlink(tmp);
  }
  oa_mpi_bcast_int(cx->comm, &ok);
  return ok;
}

oa_progress *cli_start_progress(cli_ctx *cx, oa_progress_spec *spec, int quiet, double every, int every_given) {
  spec->bar = cli_is_terminal(cx);
  spec->every = quiet ? 0 : spec->bar && !every_given ? 1.0 : every;
  oa_progress *pg = NULL;
  oa_progress_create(cx->comm, spec, &cx->log, &pg);
  return pg;
}

int cli_same_file_everywhere(const cli_ctx *cx, const char *path) {
  struct stat st;
  uint64_t fp[2] = {0, 0};
  if (stat(path, &st) == 0) {
    uint64_t v[3] = {(uint64_t)st.st_ino, (uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec * 1000000000u +
                     (uint64_t)st.st_mtim.tv_nsec};
    fp[0] = fp[1] = oa_fnv1a(1469598103934665603ull, (const uint8_t *)v, sizeof v);
  }
  uint64_t lo = 0, hi = 0;
  if (OA_SOLO(cx->comm)) return 1;
  MPI_Allreduce(&fp[0], &lo, 1, MPI_UINT64_T, MPI_MIN, cx->comm);
  MPI_Allreduce(&fp[1], &hi, 1, MPI_UINT64_T, MPI_MAX, cx->comm);
  if (lo == hi) return 1;
  if (cx->rank == 0)
    OA_LOG(&cx->log, ERROR, "%s: the ranks opened different files under this name (replaced or changed while the "
           "job started?); nothing was done", path);
  return 0;
}

/* A process that no launcher started runs MPI as a singleton. Open MPI
 * would then start a helper daemon (orted) and set up every network
 * transport (UCX): ~0.3 s of a 0.4 s run. A singleton never spawns
 * processes nor talks to others, so it needs neither; a value the user set
 * is kept. */
static void singleton_defaults(void) {
#ifdef OPEN_MPI
  setenv("OMPI_MCA_ess_singleton_isolated", "1", 0);
  setenv("OMPI_MCA_pml", "ob1", 0);
#endif
}

void cli_mpi_start(cli_ctx *cx) {
  if (!OA_SOLO(cx->comm)) return;
  if (!cx->launched) singleton_defaults();
  MPI_Init(NULL, NULL);
  cx->comm = MPI_COMM_WORLD;
  MPI_Comm_rank(cx->comm, &cx->rank);
  MPI_Comm_size(cx->comm, &cx->size);
  cx->log.rank = cx->rank;
  cx->log.size = cx->size;
}
