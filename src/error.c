#include "opusarc/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void oa_err_clear(oa_err *err) {
  if (err) {
    err->code = OA_OK;
    err->msg[0] = '\0';
  }
}

int oa_err_set(oa_err *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
  }
  return code;
}

int oa_err_prefix(oa_err *err, const char *fmt, ...) {
  if (!err) return OA_OK;
  char prefix[OA_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  /* Build prefix + message, cutting the tail if it does not fit. */
  char joined[2 * OA_ERRMSG_MAX];
  size_t lp = strlen(prefix), lm = strlen(err->msg);
  memcpy(joined, prefix, lp);
  memcpy(joined + lp, err->msg, lm + 1);
  if (lp + lm >= OA_ERRMSG_MAX) joined[OA_ERRMSG_MAX - 1] = '\0';
  memcpy(err->msg, joined, OA_ERRMSG_MAX);
  return err->code;
}
