/* One logging macro. Every line is tagged with the MPI rank that wrote it,
 * so interleaved job logs stay readable:  "opusarc[r3/16] error: ..." */
#ifndef OPUSARC_LOG_H
#define OPUSARC_LOG_H

/* SUMMARY lines (final results, what a resume did) print like INFO but are
 * never filtered: --quiet keeps them. */
enum oa_log_level { OA_LOG_ERROR = 0, OA_LOG_WARN = 1, OA_LOG_INFO = 2, OA_LOG_DEBUG = 3, OA_LOG_SUMMARY = 4 };

typedef struct oa_logger {
  int rank, size;
  int level; /* lines above this level are dropped */
  /* The front end's advice for an error code (" (use --force ...)"), or
   * NULL: library messages name no option, so the front end adds it. */
  const char *(*hint)(int code);
} oa_logger;

struct oa_err;

void oa_log_write(const oa_logger *lg, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* err->msg and the front end's hint for err->code, at `level`. */
void oa_log_err(const oa_logger *lg, int level, const struct oa_err *err);
/* The front end's hint for `code`, or "" (lg may be NULL). */
const char *oa_log_hint(const oa_logger *lg, int code);

#define OA_LOG(lg, level, ...) oa_log_write((lg), OA_LOG_##level, __VA_ARGS__)

#endif
