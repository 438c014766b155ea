/* Recordings on a clock: when a recording started, on what clock, and
 * which recorder made it (docs/FORMAT.md, "Start times").
 *
 * A start is an instant in UTC with the source's own UTC offset kept, or,
 * where the source gives a wall-clock time without a zone (GUANO "local
 * datetime", BWF bext, most file names), that wall-clock time with the
 * zone unknown: such a recording can be found by local time of day
 * (`--tz recording`) but not by an absolute instant, unless `index
 * --start-tz` names the zone. Times are microseconds since 1970-01-01
 * (proleptic Gregorian, no leap seconds), as POSIX time counts. */
#ifndef OPUSARC_CLOCK_H
#define OPUSARC_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Where a recording's start came from (stored in /recordings). */
enum oa_start_source {
  OA_START_NONE = 0,
  OA_START_AUDIOMOTH = 1, /* "Recorded at HH:MM:SS DD/MM/YYYY (UTC+H) by AudioMoth ..." comment */
  OA_START_GUANO = 2,     /* GUANO Timestamp */
  OA_START_BEXT = 3,      /* BWF bext origination date and time */
  OA_START_NAME = 4,      /* the file name, by index --start-from-name */
  OA_START_OPUS_TAGS = 5, /* Ogg Opus comment: DATE with a time, or an AudioMoth text */
  OA_START_FORMAT4 = 6    /* an archive of format 3/4: its UTC start string */
};

enum oa_start_zone {
  OA_ZONE_NONE = 0,  /* no start time */
  OA_ZONE_KNOWN = 1, /* `us` is UTC; offset_s is the source's own UTC offset */
  OA_ZONE_LOCAL = 2  /* `us` is a wall-clock time read as if UTC; the zone is unknown */
};

#define OA_RECORDER_MAX 96

typedef struct oa_start {
  int64_t us;       /* see enum oa_start_zone */
  int32_t offset_s; /* local = UTC + offset_s (zone known) */
  int32_t zone;     /* enum oa_start_zone */
  int32_t source;   /* enum oa_start_source */
  char recorder[OA_RECORDER_MAX]; /* recorder id where the source says it, "" otherwise */
  char refused[96]; /* a start read but refused (a clock never set), as read; "" otherwise */
} oa_start;

#define OA_US_PER_S 1000000LL
#define OA_US_PER_DAY (86400LL * OA_US_PER_S)

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12). */
int64_t oa_days_from_civil(int64_t y, int m, int d);
void oa_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* ISO 8601 / RFC 3339 date-time: YYYY-MM-DD(T| )HH:MM[:SS[.f]] then Z,
 * +HH, +HH:MM, +HHMM (or -) or nothing. *has_zone says whether a zone was
 * given; *us is UTC when it was, the wall clock read as if UTC when not.
 * Returns 0, or -1 when s is not such a time (trailing text included). */
int oa_time_parse(const char *s, int64_t *us, int *has_zone, int32_t *offset_s);
/* A UTC offset alone: Z, UTC, +H, +HH, +HH:MM, +HHMM (or -). 0 or -1. */
int oa_offset_parse(const char *s, int32_t *offset_s);
/* YYYY-MM-DD: days since 1970. 0 or -1. */
int oa_date_parse(const char *s, int64_t *days);
/* HH:MM[:SS] as microseconds after midnight; 24:00 allowed. 0 or -1. */
int oa_clock_parse(const char *s, int64_t *us);

/* "2021-05-01T05:00:00+01:00" (zone known: the wall clock at offset_s),
 * "2021-05-01T04:00:00Z" (offset 0), "2021-05-01T05:00:00" (zone
 * unknown); fractions of a second only when there are any. */
void oa_time_format(int64_t us, int32_t offset_s, int zone, char *out, size_t len);
/* UTC, "2021-05-01T04:00:00Z" (fractions only when there are any). */
void oa_time_format_utc(int64_t us, char *out, size_t len);
/* Compact, for file names: "20210501T040000Z", "20210501T050000.250Z";
 * without the Z when `utc` is 0 (a wall-clock time). */
void oa_time_format_compact(int64_t us, int utc, char *out, size_t len);
/* "+01:00", "-03:30", "Z" */
void oa_offset_format(int32_t offset_s, char *out, size_t len);

/* Start times from what sources say. Each returns 0 and fills *st (source,
 * zone, time; recorder where the text names one) or -1 when the text does
 * not give a start. */
int oa_start_from_audiomoth(const char *comment, oa_start *st);
int oa_start_from_guano(const char *guano, oa_start *st);
int oa_start_from_bext(const char *date10, const char *time8, oa_start *st);
/* Vorbis-comment lines "KEY=value" (Ogg Opus tags): DATE holding a
 * date-time, else an AudioMoth text in any comment. */
int oa_start_from_comments(const char *lines, oa_start *st);
/* The base name of `path` read with PATTERN: %Y %m %d %H %M %S match
 * digits (4 for %Y, 2 for the others), %% a percent sign, '*' any run of
 * characters up to the next literal, anything else itself. The pattern
 * must match from the start of the base name; text after it is ignored. */
int oa_start_from_name(const char *path, const char *pattern, oa_start *st);
/* Checks a pattern for --start-from-name: 0, or -1 with why. */
int oa_name_pattern_check(const char *pattern, char *why, size_t len);

/* A start before 2000-01-01 comes from a clock that was never set (an
 * AudioMoth without time shows 1970): kept in st->refused, start unknown.
 * Returns 1 when it refused one. */
int oa_start_refuse_unset_clock(oa_start *st);
/* Zone-less start given a zone (index --start-tz). */
void oa_start_assume_zone(oa_start *st, int32_t offset_s);

/* The recorder id from an AudioMoth artist tag ("AudioMoth 24E1..."), or
 * GUANO Make / Model / Serial; 0 when found. */
int oa_recorder_from_artist(const char *artist, char *out, size_t len);

#endif
