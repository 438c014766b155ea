#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int cli_parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end != '\0' || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

int cli_parse_int64(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end != '\0') return -1;
  *out = v;
  return 0;
}

int cli_parse_position(const char *s, double per_second, int64_t *out) {
  if (per_second <= 0) return cli_parse_int64(s, out);
  double v;
  if (cli_parse_double(s, &v) != 0 || fabs(v) > 1e12) return -1;
  *out = llround(v * per_second);
  return 0;
}

void cli_usage_error(const cli_ctx *cx, const char *cmd, const char *fmt, ...) {
  if (cx->rank != 0) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "opusarc %s: %s\nTry 'opusarc %s --help'.\n", cmd, msg, cmd);
}
