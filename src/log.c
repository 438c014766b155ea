#include "opusarc/log.h"

#include "opusarc/error.h"

#include <stdarg.h>
#include <stdio.h>

static const char *level_name(int level) {
  switch (level) {
    case OA_LOG_ERROR: return "error: ";
    case OA_LOG_WARN: return "warning: ";
    case OA_LOG_DEBUG: return "debug: ";
    default: return "";
  }
}

/* Control bytes (an ESC in a recording name, a newline in a tag) would
 * move a terminal's cursor or forge log lines: written as \xNN. */
static void defang(const char *in, char *out, size_t len) {
  size_t k = 0;
  for (const unsigned char *p = (const unsigned char *)in; *p && k + 5 < len; p++) {
    if (*p < 0x20 || *p == 0x7f) k += (size_t)snprintf(out + k, len - k, "\\x%02X", *p);
    else out[k++] = (char)*p;
  }
  out[k] = '\0';
}

void oa_log_write(const oa_logger *lg, int level, const char *fmt, ...) {
  if (lg && level > lg->level && level != OA_LOG_SUMMARY) return;
  char line[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  char safe[4 * sizeof line];
  defang(line, safe, sizeof safe);
  /* One fprintf per line so lines from different ranks do not interleave
   * mid-line; errors and warnings go to stderr, the rest to stdout. */
  FILE *out = level <= OA_LOG_WARN ? stderr : stdout;
  if (lg && lg->size > 1)
    fprintf(out, "opusarc[r%d/%d] %s%s\n", lg->rank, lg->size, level_name(level), safe);
  else
    fprintf(out, "opusarc: %s%s\n", level_name(level), safe);
  fflush(out);
}

const char *oa_log_hint(const oa_logger *lg, int code) {
  const char *hint = lg && lg->hint ? lg->hint(code) : NULL;
  return hint ? hint : "";
}

void oa_log_err(const oa_logger *lg, int level, const oa_err *err) {
  oa_log_write(lg, level, "%s%s", err->msg, oa_log_hint(lg, err->code));
}
