/* libFuzzer target: start times from hostile metadata text (AudioMoth
 * comments, GUANO chunks, Ogg Opus comments, bext fields, file names and
 * ISO 8601 times; src/clock.c). The first byte picks the parser. Whatever
 * is accepted must print back within its buffer and, for ISO 8601 with a
 * zone, parse back to the same instant. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opusarc/clock.h"

static void round_trip(const oa_start *st) {
  if (st->zone == OA_ZONE_NONE) return;
  char s[64];
  oa_time_format(st->us, st->offset_s, st->zone, s, sizeof s);
  int64_t us;
  int zone;
  int32_t off;
  if (oa_time_parse(s, &us, &zone, &off) != 0) abort(); /* what we print, we read */
  if (st->zone == OA_ZONE_KNOWN && (us != st->us || off != st->offset_s)) abort();
  if (memchr(st->recorder, '\0', sizeof st->recorder) == NULL) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  char *text = malloc(size);
  if (!text) return 0;
  memcpy(text, data + 1, size - 1);
  text[size - 1] = '\0';
  oa_start st;
  memset(&st, 0, sizeof st);
  int64_t v;
  int zone;
  int32_t off;
  switch (data[0] % 8) {
    case 0: if (oa_start_from_audiomoth(text, &st) == 0) round_trip(&st); break;
    case 1: if (oa_start_from_guano(text, &st) == 0) round_trip(&st); break;
    case 2: if (oa_start_from_comments(text, &st) == 0) round_trip(&st); break;
    case 3: if (size > 19 && oa_start_from_bext(text, text + 10, &st) == 0) round_trip(&st); break;
    case 4: {
      char why[160];
      const char *slash = strchr(text, '|'); /* "pattern|name" */
      if (slash && oa_name_pattern_check(text, why, sizeof why) == 0 && oa_start_from_name(slash + 1, text, &st) == 0)
        round_trip(&st);
      break;
    }
    case 5:
      if (oa_time_parse(text, &v, &zone, &off) == 0) {
        st.us = v, st.offset_s = off, st.zone = zone ? OA_ZONE_KNOWN : OA_ZONE_LOCAL;
        round_trip(&st);
        oa_start_refuse_unset_clock(&st);
      }
      break;
    case 6: oa_offset_parse(text, &off); oa_clock_parse(text, &v); oa_date_parse(text, &v); break;
    default: {
      char out[OA_RECORDER_MAX];
      oa_recorder_from_artist(text, out, sizeof out);
    }
  }
  free(text);
  return 0;
}
