/* Start times (clock.c): the calendar against glibc's timegm/gmtime_r, ISO
 * 8601 parsing and printing, and what AudioMoth comments, GUANO, bext,
 * Opus comments and file names say, with their zones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "opusarc/clock.h"

static int64_t utc(int y, int mo, int d, int h, int mi, int s) {
  struct tm t = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};
  return (int64_t)timegm(&t) * OA_US_PER_S;
}

static void test_calendar_matches_libc(void **state) {
  (void)state;
  srand(7);
  for (int i = 0; i < 20000; i++) {
    time_t when = (time_t)((int64_t)rand() * 3 - 1000000000LL); /* 1938 .. 2174 */
    struct tm t;
    gmtime_r(&when, &t);
    int64_t days = oa_days_from_civil(t.tm_year + 1900, t.tm_mon + 1, t.tm_mday);
    assert_int_equal(days * 86400 + t.tm_hour * 3600 + t.tm_min * 60 + t.tm_sec, (int64_t)when);
    int64_t y;
    int m, d;
    oa_civil_from_days(days, &y, &m, &d);
    assert_int_equal(y, t.tm_year + 1900);
    assert_int_equal(m, t.tm_mon + 1);
    assert_int_equal(d, t.tm_mday);
  }
}

static void test_parse_and_format(void **state) {
  (void)state;
  int64_t us;
  int zone;
  int32_t off;
  assert_int_equal(oa_time_parse("2021-05-01T05:00:00+01:00", &us, &zone, &off), 0);
  assert_int_equal(us, utc(2021, 5, 1, 4, 0, 0));
  assert_int_equal(zone, 1);
  assert_int_equal(off, 3600);
  assert_int_equal(oa_time_parse("2021-05-01 05:00Z", &us, &zone, &off), 0);
  assert_int_equal(us, utc(2021, 5, 1, 5, 0, 0));
  assert_int_equal(oa_time_parse("2021-12-31T23:30:00.250-0530", &us, &zone, &off), 0);
  assert_int_equal(us, utc(2022, 1, 1, 5, 0, 0) + 250000);
  assert_int_equal(off, -19800);
  assert_int_equal(oa_time_parse("2021-05-01T05:00:00", &us, &zone, &off), 0);
  assert_int_equal(zone, 0);
  assert_int_equal(us, utc(2021, 5, 1, 5, 0, 0));
  const char *bad[] = {"2021-05-01", "2021-13-01T00:00", "2021-02-29T00:00", "2021-05-01T25:00", "2021-05-01T05:00 x",
                       "2021-05-01T05:00+15:00", "21-05-01T05:00", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_int_equal(oa_time_parse(bad[i], &us, &zone, &off), -1);
  char s[64];
  oa_time_format(utc(2021, 5, 1, 4, 0, 0), 3600, OA_ZONE_KNOWN, s, sizeof s);
  assert_string_equal(s, "2021-05-01T05:00:00+01:00");
  oa_time_format(utc(2021, 5, 1, 4, 0, 0) + 250000, 0, OA_ZONE_KNOWN, s, sizeof s);
  assert_string_equal(s, "2021-05-01T04:00:00.250Z");
  oa_time_format(utc(2021, 5, 1, 4, 0, 0), 0, OA_ZONE_LOCAL, s, sizeof s);
  assert_string_equal(s, "2021-05-01T04:00:00");
  oa_time_format_compact(utc(2021, 5, 1, 4, 0, 0) + 17, 1, s, sizeof s);
  assert_string_equal(s, "20210501T040000.000017Z");
  int64_t days;
  assert_int_equal(oa_date_parse("2024-02-29", &days), 0);
  assert_int_equal(days * OA_US_PER_DAY, utc(2024, 2, 29, 0, 0, 0));
  assert_int_equal(oa_date_parse("2023-02-29", &days), -1);
  assert_int_equal(oa_clock_parse("21:30", &us), 0);
  assert_int_equal(us, (21 * 3600 + 1800) * OA_US_PER_S);
  assert_int_equal(oa_clock_parse("24:00", &us), 0);
  assert_int_equal(oa_clock_parse("24:01", &us), -1);
  assert_int_equal(oa_offset_parse("-05", &off), 0);
  assert_int_equal(off, -18000);
  assert_int_equal(oa_offset_parse("UTC+5:30", &off), 0);
  assert_int_equal(off, 19800);
  assert_int_equal(oa_offset_parse("+1:00x", &off), -1);
}

static void test_audiomoth(void **state) {
  (void)state;
  oa_start st;
  memset(&st, 0, sizeof st);
  assert_int_equal(oa_start_from_audiomoth("Recorded at 05:00:00 01/05/2021 (UTC+1) by AudioMoth 24E144085F256B40 at "
                                           "medium gain setting while battery state was 4.2V.", &st), 0);
  assert_int_equal(st.us, utc(2021, 5, 1, 4, 0, 0));
  assert_int_equal(st.offset_s, 3600);
  assert_int_equal(st.zone, OA_ZONE_KNOWN);
  assert_int_equal(st.source, OA_START_AUDIOMOTH);
  assert_string_equal(st.recorder, "AudioMoth 24E144085F256B40");
  memset(&st, 0, sizeof st);
  assert_int_equal(oa_start_from_audiomoth("Recorded at 23:59:58 31/12/2020 (UTC) during deployment", &st), 0);
  assert_int_equal(st.us, utc(2020, 12, 31, 23, 59, 58));
  assert_int_equal(st.offset_s, 0);
  assert_string_equal(st.recorder, "");
  memset(&st, 0, sizeof st);
  assert_int_equal(oa_start_from_audiomoth("Recorded at 00:30:00 02/01/2021 (UTC-5:30) by AudioMoth 1", &st), 0);
  assert_int_equal(st.us, utc(2021, 1, 2, 6, 0, 0));
  assert_int_equal(oa_start_from_audiomoth("Recorded at 25:00:00 02/01/2021 (UTC)", &st), -1);
  assert_int_equal(oa_start_from_audiomoth("no time here", &st), -1);
  /* A clock that was never set. */
  memset(&st, 0, sizeof st);
  assert_int_equal(oa_start_from_audiomoth("Recorded at 00:00:10 01/01/1970 (UTC) by AudioMoth 5", &st), 0);
  assert_int_equal(oa_start_refuse_unset_clock(&st), 1);
  assert_int_equal(st.zone, OA_ZONE_NONE);
  assert_string_equal(st.refused, "1970-01-01T00:00:10Z");
}

static void test_guano_bext_names_comments(void **state) {
  (void)state;
  oa_start st;
  memset(&st, 0, sizeof st);
  assert_int_equal(oa_start_from_guano("GUANO|Version: 1.0\nMake: Wildlife Acoustics\nModel:  SM4BAT-FS \n"
                                       "Serial: S4U01234\nTimestamp: 2021-06-01T22:15:00-04:00\n", &st), 0);
  assert_int_equal(st.us, utc(2021, 6, 2, 2, 15, 0));
  assert_int_equal(st.offset_s, -14400);
  assert_string_equal(st.recorder, "Wildlife Acoustics SM4BAT-FS S4U01234");
  /* The GUANO specification: a timestamp without a zone is local time. */
  memset(&st, 0, sizeof st);
  assert_int_equal(oa_start_from_guano("GUANO|Version: 1.0\nTimestamp: 2021-06-01T22:15:00.5\n", &st), 0);
  assert_int_equal(st.zone, OA_ZONE_LOCAL);
  assert_int_equal(st.us, utc(2021, 6, 1, 22, 15, 0) + 500000);
  oa_start_assume_zone(&st, 7200);
  assert_int_equal(st.zone, OA_ZONE_KNOWN);
  assert_int_equal(st.us, utc(2021, 6, 1, 20, 15, 0) + 500000);
  memset(&st, 0, sizeof st);
  assert_int_equal(oa_start_from_bext("2020-01-02", "03:04:05", &st), 0);
  assert_int_equal(st.zone, OA_ZONE_LOCAL);
  assert_int_equal(st.us, utc(2020, 1, 2, 3, 4, 5));
  memset(&st, 0, sizeof st);
  assert_int_equal(oa_start_from_name("site3/20210501_050000.WAV", "%Y%m%d_%H%M%S", &st), 0);
  assert_int_equal(st.us, utc(2021, 5, 1, 5, 0, 0));
  assert_int_equal(st.source, OA_START_NAME);
  assert_int_equal(oa_start_from_name("a/SM4_20210501_0500.wav", "*_%Y%m%d_%H%M", &st), 0);
  assert_int_equal(st.us, utc(2021, 5, 1, 5, 0, 0));
  assert_int_equal(oa_start_from_name("a/notes.wav", "%Y%m%d_%H%M%S", &st), -1);
  assert_int_equal(oa_start_from_name("20211301_050000.wav", "%Y%m%d_%H%M%S", &st), -1);
  char why[160];
  assert_int_equal(oa_name_pattern_check("%Y%m%d_%H%M%S", why, sizeof why), 0);
  assert_int_equal(oa_name_pattern_check("%Y%m%d", why, sizeof why), -1);
  assert_int_equal(oa_name_pattern_check("%Y%m%d%H%M%q", why, sizeof why), -1);
  memset(&st, 0, sizeof st);
  assert_int_equal(oa_start_from_comments("vendor=libopus\nARTIST=AudioMoth 77\ndate=2021-05-01T05:00:00+02:00\n", &st), 0);
  assert_int_equal(st.us, utc(2021, 5, 1, 3, 0, 0));
  assert_int_equal(st.source, OA_START_OPUS_TAGS);
  assert_string_equal(st.recorder, "AudioMoth 77");
  memset(&st, 0, sizeof st);
  assert_int_equal(oa_start_from_comments("DATE=2021\nCOMMENT=Recorded at 05:00:00 01/05/2021 (UTC+1) by AudioMoth A\n",
                                          &st), 0);
  assert_int_equal(st.us, utc(2021, 5, 1, 4, 0, 0));
  assert_string_equal(st.recorder, "AudioMoth A");
  assert_int_equal(oa_start_from_comments("DATE=2021\nTITLE=x\n", &st), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_calendar_matches_libc), cmocka_unit_test(test_parse_and_format),
      cmocka_unit_test(test_audiomoth), cmocka_unit_test(test_guano_bext_names_comments)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
