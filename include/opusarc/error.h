/* One error convention for the whole library: functions return 0 on success
 * or a negative oa_code, and fill an oa_err with a message that names the
 * thing and the reason. Callers print err.msg as-is; a message never names
 * a command-line option: a front end adds its own advice by code (OA_EBUILD:
 * decode from the recording start instead; OA_EEXIST: allow replacing;
 * OA_EPARTIAL: resume or start over; ...). */
#ifndef OPUSARC_ERROR_H
#define OPUSARC_ERROR_H

#include <stddef.h>

enum oa_code {
  OA_OK = 0,
  OA_EIO = -1,        /* reading or writing a file failed */
  OA_EFORMAT = -2,    /* input is not valid Ogg Opus / corrupt */
  OA_EDECODE = -3,    /* libopus rejected a packet */
  OA_ENOMEM = -4,
  OA_EARCHIVE = -5,   /* archive unreadable, foreign or inconsistent */
  OA_EBUILD = -6,     /* libopus build differs from the archive's */
  OA_ERANGE = -7,     /* request outside what exists */
  OA_EUSAGE = -8,     /* bad argument */
  OA_ENOTFOUND = -9,
  OA_EMPI = -10,
  OA_ENOTOPUS = -11,  /* input holds audio, but not Opus (it may be imported) */
  OA_EEXIST = -12,    /* an output exists and is not to be replaced */
  OA_EPARTIAL = -13,  /* an interrupted run's partial output is kept: it can be resumed */
  OA_ECHANGED = -14,  /* a resume's inputs or options differ from the interrupted run's */
  OA_ENEWINPUTS = -15, /* a complete archive holds other inputs than asked (add them, or rebuild) */
  OA_EREBUILD = -16,  /* an interrupted rebuild of an existing archive is pending */
  OA_ELOSSY = -17,    /* lossy audio, not imported unless asked to */
  OA_EHIGHRATE = -18  /* a sample rate above 48 kHz, and no way chosen to store it */
};

#define OA_ERRMSG_MAX 1024

typedef struct oa_err {
  int code;
  char msg[OA_ERRMSG_MAX];
} oa_err;

void oa_err_clear(oa_err *err);
/* Sets code and message (printf-style) and returns code, so callers can
 * write `return oa_err_set(err, OA_EIO, "...")`. err may be NULL. */
int oa_err_set(oa_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes context to an existing message ("file.opus: " + msg). */
int oa_err_prefix(oa_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
