#include "opusarc/channels.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int oa_channel_spec_parse(const char *list, oa_channel_spec *s, char *why, size_t len) {
  s->mono = 0, s->n = 0;
  const char *p = list;
  while (*p) {
    char *end;
    errno = 0;
    long c = strtol(p, &end, 10);
    if (end == p || errno || c < 1 || c > OA_MAX_OUT_CHANNELS || (*end && *end != ',')) {
      snprintf(why, len, "'%s' is not a list of channel numbers from 1 (e.g. 1,2 or 2)", list);
      return -1;
    }
    if (s->n == OA_MAX_OUT_CHANNELS) {
      snprintf(why, len, "more than %d channels", OA_MAX_OUT_CHANNELS);
      return -1;
    }
    s->map[s->n++] = (int)c - 1;
    p = *end ? end + 1 : end;
    if (*end == ',' && !*p) {
      snprintf(why, len, "'%s' ends with a comma", list);
      return -1;
    }
  }
  if (s->n == 0) {
    snprintf(why, len, "no channel given");
    return -1;
  }
  return 0;
}

int oa_channel_spec_out(const oa_channel_spec *s, int in_channels) {
  if (!s || (!s->mono && s->n == 0)) return in_channels;
  if (s->mono) return 1;
  for (int i = 0; i < s->n; i++)
    if (s->map[i] >= in_channels) return -1;
  return s->n;
}

void oa_channel_apply(const oa_channel_spec *s, const float *in, size_t frames, int in_channels, float *out) {
  const size_t ic = (size_t)in_channels;
  if (s->mono) {
    for (size_t f = 0; f < frames; f++) {
      double sum = 0;
      for (size_t c = 0; c < ic; c++) sum += in[f * ic + c];
      out[f] = (float)(sum / (double)in_channels);
    }
    return;
  }
  const size_t oc = (size_t)s->n;
  for (size_t f = 0; f < frames; f++)
    for (size_t c = 0; c < oc; c++) out[f * oc + c] = in[f * ic + (size_t)s->map[c]];
}
