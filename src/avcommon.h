/* What the libavformat readers (avdemux.c, avimport.c) share. Internal. */
#ifndef OPUSARC_AVCOMMON_H
#define OPUSARC_AVCOMMON_H

#include <libavutil/dict.h>

#include "opusarc/error.h"

/* Sets err to code with "WHAT: <FFmpeg's text for averr>". */
int oa_av_fail(oa_err *err, int code, const char *what, int averr);

/* `head` (e.g. "container=webm\n"), then every entry of the n dictionaries
 * (NULL ones skipped) as "key=value" lines, line breaks in values as
 * spaces; at most 64 KiB. malloc'd; NULL if out of memory. */
char *oa_av_tags(const char *head, const AVDictionary *const *dicts, int n);

#endif
