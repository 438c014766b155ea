#include "opusarc/clock.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------- calendar */

/* Days since 1970-01-01 (H. Hinnant's days_from_civil algorithm). */
int64_t oa_days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void oa_civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m) {
  static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 ? 28 + leap : n[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

/* ---------------------------------------------------------------- parsing */

/* Exactly `n` digits at *p; advances. */
static int digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i])) return -1;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

static int valid_date(int64_t y, int m, int d) {
  return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

/* Z, UTC, +H, +HH, +HH:MM, +HHMM (or -) at *p; advances. */
static int parse_zone(const char **p, int32_t *offset_s) {
  const char *s = *p;
  if (*s == 'Z' || *s == 'z') {
    *offset_s = 0, *p = s + 1;
    return 0;
  }
  if (strncasecmp(s, "UTC", 3) == 0) {
    s += 3;
    if (*s != '+' && *s != '-') { /* "UTC" alone, as in AudioMoth's "(UTC)" */
      *offset_s = 0, *p = s;
      return 0;
    }
  }
  if (*s != '+' && *s != '-') return -1;
  int sign = *s == '-' ? -1 : 1, h = 0, m = 0;
  s++;
  if (!isdigit((unsigned char)s[0])) return -1;
  h = s[0] - '0', s++;
  if (isdigit((unsigned char)s[0])) h = h * 10 + (s[0] - '0'), s++;
  if (*s == ':') {
    s++;
    if (digits(&s, 2, &m)) return -1;
  } else if (isdigit((unsigned char)s[0])) {
    if (digits(&s, 2, &m)) return -1;
  }
  if (h > 14 || m > 59) return -1;
  *offset_s = sign * (h * 3600 + m * 60);
  *p = s;
  return 0;
}

int oa_offset_parse(const char *s, int32_t *offset_s) {
  const char *p = s;
  return s && parse_zone(&p, offset_s) == 0 && *p == '\0' ? 0 : -1;
}

int oa_date_parse(const char *s, int64_t *days) {
  int y, m, d;
  const char *p = s;
  if (!s || digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &m) || *p++ != '-' || digits(&p, 2, &d) || *p)
    return -1;
  if (!valid_date(y, m, d)) return -1;
  *days = oa_days_from_civil(y, m, d);
  return 0;
}

/* HH:MM[:SS[.f]] at *p; advances. */
static int parse_clock(const char **p, int64_t *us) {
  int h, mi, sec = 0;
  int64_t frac = 0;
  const char *s = *p;
  if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi)) return -1;
  if (*s == ':') {
    s++;
    if (digits(&s, 2, &sec)) return -1;
    if (*s == '.' || *s == ',') {
      s++;
      int64_t scale = 100000;
      if (!isdigit((unsigned char)*s)) return -1;
      for (; isdigit((unsigned char)*s); s++) {
        frac += (*s - '0') * scale;
        scale /= 10;
      }
    }
  }
  if (h > 24 || mi > 59 || sec > 60 || (h == 24 && (mi || sec || frac))) return -1;
  if (sec == 60) sec = 59, frac = 999999; /* a leap second: POSIX time has none */
  *us = ((int64_t)h * 3600 + mi * 60 + sec) * OA_US_PER_S + frac;
  *p = s;
  return 0;
}

int oa_clock_parse(const char *s, int64_t *us) {
  const char *p = s;
  return s && parse_clock(&p, us) == 0 && *p == '\0' ? 0 : -1;
}

int oa_time_parse(const char *s, int64_t *us, int *has_zone, int32_t *offset_s) {
  int y, m, d;
  const char *p = s;
  if (!s || digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &m) || *p++ != '-' || digits(&p, 2, &d)) return -1;
  if (!valid_date(y, m, d) || (*p != 'T' && *p != 't' && *p != ' ')) return -1;
  p++;
  int64_t clock;
  if (parse_clock(&p, &clock)) return -1;
  int32_t off = 0;
  int zone = 0;
  if (*p) {
    if (parse_zone(&p, &off) || *p) return -1;
    zone = 1;
  }
  *us = oa_days_from_civil(y, m, d) * OA_US_PER_DAY + clock - (int64_t)off * OA_US_PER_S;
  *has_zone = zone;
  *offset_s = off;
  return 0;
}

/* ------------------------------------------------------------- formatting */

static void split(int64_t us, int64_t *y, int *mo, int *d, int *h, int *mi, int *s, int64_t *frac) {
  int64_t days = floor_div(us, OA_US_PER_DAY), rest = us - days * OA_US_PER_DAY;
  oa_civil_from_days(days, y, mo, d);
  *frac = rest % OA_US_PER_S;
  rest /= OA_US_PER_S;
  *h = (int)(rest / 3600), *mi = (int)(rest / 60 % 60), *s = (int)(rest % 60);
}

static void format_fraction(int64_t frac, char *out, size_t len) {
  if (frac == 0) out[0] = '\0';
  else if (frac % 1000 == 0) snprintf(out, len, ".%03lld", (long long)(frac / 1000));
  else snprintf(out, len, ".%06lld", (long long)frac);
}

void oa_offset_format(int32_t offset_s, char *out, size_t len) {
  if (offset_s == 0) {
    snprintf(out, len, "Z");
    return;
  }
  int32_t a = offset_s < 0 ? -offset_s : offset_s;
  snprintf(out, len, "%c%02d:%02d", offset_s < 0 ? '-' : '+', (int)(a / 3600), (int)(a / 60 % 60));
}

void oa_time_format(int64_t us, int32_t offset_s, int zone, char *out, size_t len) {
  if (zone == OA_ZONE_NONE) {
    snprintf(out, len, "%s", "");
    return;
  }
  int64_t y, frac;
  int mo, d, h, mi, s;
  char fr[16], tz[16] = "";
  split(us + (zone == OA_ZONE_KNOWN ? (int64_t)offset_s * OA_US_PER_S : 0), &y, &mo, &d, &h, &mi, &s, &frac);
  format_fraction(frac, fr, sizeof fr);
  if (zone == OA_ZONE_KNOWN) oa_offset_format(offset_s, tz, sizeof tz);
  snprintf(out, len, "%04lld-%02d-%02dT%02d:%02d:%02d%s%s", (long long)y, mo, d, h, mi, s, fr, tz);
}

void oa_time_format_utc(int64_t us, char *out, size_t len) { oa_time_format(us, 0, OA_ZONE_KNOWN, out, len); }

void oa_time_format_compact(int64_t us, int utc, char *out, size_t len) {
  int64_t y, frac;
  int mo, d, h, mi, s;
  char fr[16];
  split(us, &y, &mo, &d, &h, &mi, &s, &frac);
  format_fraction(frac, fr, sizeof fr);
  snprintf(out, len, "%04lld%02d%02dT%02d%02d%02d%s%s", (long long)y, mo, d, h, mi, s, fr, utc ? "Z" : "");
}

/* ---------------------------------------------------------------- sources */

static void start_set(oa_start *st, int source, int64_t us, int zone, int32_t offset_s) {
  st->source = source;
  st->us = us;
  st->zone = zone;
  st->offset_s = zone == OA_ZONE_KNOWN ? offset_s : 0;
}

/* Copies the token after `key` (up to white space or punctuation). */
static void copy_token(const char *from, char *out, size_t len) {
  size_t n = 0;
  while (from[n] && n + 1 < len && (isalnum((unsigned char)from[n]) || from[n] == '-' || from[n] == '_')) n++;
  memcpy(out, from, n);
  out[n] = '\0';
}

int oa_recorder_from_artist(const char *artist, char *out, size_t len) {
  const char *at = artist ? strstr(artist, "AudioMoth ") : NULL;
  if (!at) return -1;
  char serial[64];
  copy_token(at + 10, serial, sizeof serial);
  if (!serial[0]) return -1;
  snprintf(out, len, "AudioMoth %s", serial);
  return 0;
}

int oa_start_from_audiomoth(const char *c, oa_start *st) {
  const char *at = c ? strstr(c, "Recorded at ") : NULL;
  if (!at) return -1;
  int h, mi, s, d, mo, y, n = 0;
  if (sscanf(at, "Recorded at %2d:%2d:%2d %2d/%2d/%4d (%n", &h, &mi, &s, &d, &mo, &y, &n) < 6 || n == 0) return -1;
  if (!valid_date(y, mo, d) || h > 23 || mi > 59 || s > 59) return -1;
  const char *p = at + n;
  int32_t off = 0;
  if (parse_zone(&p, &off) || *p != ')') return -1;
  int64_t wall = oa_days_from_civil(y, mo, d) * OA_US_PER_DAY + ((int64_t)h * 3600 + mi * 60 + s) * OA_US_PER_S;
  start_set(st, OA_START_AUDIOMOTH, wall - (int64_t)off * OA_US_PER_S, OA_ZONE_KNOWN, off);
  oa_recorder_from_artist(strstr(p, "by AudioMoth ") ? strstr(p, "by AudioMoth ") + 3 : NULL, st->recorder,
                          sizeof st->recorder);
  return 0;
}

/* The value of GUANO field `key` (a line "key: value"), trimmed; 0 if found. */
static int guano_field(const char *g, const char *key, char *out, size_t len) {
  size_t klen = strlen(key);
  for (const char *line = g; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    while (*line == ' ' || *line == '\t') line++;
    if (strncmp(line, key, klen) != 0) continue;
    const char *p = line + klen;
    while (*p == ' ' || *p == '\t') p++;
    if (*p != ':') continue;
    p++;
    while (*p == ' ' || *p == '\t') p++;
    size_t n = strcspn(p, "\r\n");
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\0')) n--;
    if (n >= len) n = len - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
  }
  return -1;
}

/* GUANO: "Timestamp" is a UTC, UTC-relative or local date-time; the
 * specification calls one without a zone local time, so its zone is
 * unknown here (index --start-tz can supply it). */
int oa_start_from_guano(const char *g, oa_start *st) {
  char v[128], make[64] = "", model[64] = "", serial[64] = "";
  if (!g || guano_field(g, "Timestamp", v, sizeof v) != 0) return -1;
  int64_t us;
  int zone;
  int32_t off;
  if (oa_time_parse(v, &us, &zone, &off) != 0) return -1;
  start_set(st, OA_START_GUANO, us, zone ? OA_ZONE_KNOWN : OA_ZONE_LOCAL, off);
  guano_field(g, "Make", make, sizeof make);
  guano_field(g, "Model", model, sizeof model);
  guano_field(g, "Serial", serial, sizeof serial);
  /* "Make Model Serial", the parts there are (appended by hand: snprintf's
   * truncation warnings cannot see that the buffer bounds the result). */
  const char *parts[] = {make, model, serial};
  size_t k = 0;
  for (size_t i = 0; i < 3; i++)
    for (const char *p = parts[i]; *p && k + 2 < sizeof st->recorder; p++) {
      if (p == parts[i] && k) st->recorder[k++] = ' ';
      st->recorder[k++] = *p;
    }
  st->recorder[k] = '\0';
  return 0;
}

/* BWF bext: origination date "yyyy-mm-dd" and time "hh:mm:ss" (any
 * separators), local time of the recorder: the zone is unknown. */
int oa_start_from_bext(const char *date10, const char *time8, oa_start *st) {
  int y, mo, d, h, mi, s = 0;
  if (sscanf(date10, "%4d%*1[-:/.]%2d%*1[-:/.]%2d", &y, &mo, &d) != 3 || !valid_date(y, mo, d)) return -1;
  if (sscanf(time8, "%2d%*1[-:.]%2d%*1[-:.]%2d", &h, &mi, &s) < 2 || h > 23 || mi > 59 || s > 59) return -1;
  int64_t wall = oa_days_from_civil(y, mo, d) * OA_US_PER_DAY + ((int64_t)h * 3600 + mi * 60 + s) * OA_US_PER_S;
  start_set(st, OA_START_BEXT, wall, OA_ZONE_LOCAL, 0);
  return 0;
}

/* The value of comment KEY in "KEY=value" lines (case-insensitive key). */
static const char *comment_value(const char *lines, const char *key, char *out, size_t len) {
  size_t klen = strlen(key);
  for (const char *line = lines; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    if (strncasecmp(line, key, klen) != 0 || line[klen] != '=') continue;
    size_t n = strcspn(line + klen + 1, "\n");
    if (n >= len) n = len - 1;
    memcpy(out, line + klen + 1, n);
    out[n] = '\0';
    return out;
  }
  return NULL;
}

int oa_start_from_comments(const char *lines, oa_start *st) {
  if (!lines) return -1;
  char v[512], artist[128];
  if (comment_value(lines, "DATE", v, sizeof v)) {
    int64_t us;
    int zone;
    int32_t off;
    if (oa_time_parse(v, &us, &zone, &off) == 0) {
      start_set(st, OA_START_OPUS_TAGS, us, zone ? OA_ZONE_KNOWN : OA_ZONE_LOCAL, off);
      if (comment_value(lines, "ARTIST", artist, sizeof artist))
        oa_recorder_from_artist(artist, st->recorder, sizeof st->recorder);
      return 0;
    }
  }
  const char *keys[] = {"COMMENT", "DESCRIPTION"};
  for (size_t i = 0; i < 2; i++) {
    if (comment_value(lines, keys[i], v, sizeof v) && oa_start_from_audiomoth(v, st) == 0) {
      st->source = OA_START_OPUS_TAGS;
      if (!st->recorder[0] && comment_value(lines, "ARTIST", artist, sizeof artist))
        oa_recorder_from_artist(artist, st->recorder, sizeof st->recorder);
      return 0;
    }
  }
  return -1;
}

int oa_name_pattern_check(const char *pattern, char *why, size_t len) {
  int seen[128] = {0};
  for (const char *p = pattern; *p; p++) {
    if (*p != '%') continue;
    p++;
    if (!*p || !strchr("YmdHMS%", *p)) {
      snprintf(why, len, "unknown field '%%%c' (known: %%Y %%m %%d %%H %%M %%S %%%%, '*' for any text)", *p ? *p : ' ');
      return -1;
    }
    seen[(unsigned char)*p]++;
  }
  if (!seen['Y'] || !seen['m'] || !seen['d'] || !seen['H'] || !seen['M']) {
    snprintf(why, len, "needs at least %%Y %%m %%d %%H %%M");
    return -1;
  }
  return 0;
}

int oa_start_from_name(const char *path, const char *pattern, oa_start *st) {
  const char *base = strrchr(path, '/');
  const char *s = base ? base + 1 : path;
  int f[128] = {0};
  for (const char *p = pattern; *p; p++) {
    if (*p == '*') {
      /* Any text up to the next literal character (or a digit field). */
      const char lit = p[1] == '%' && p[2] == '%' ? '%' : p[1] == '%' ? 0 : p[1];
      if (lit) {
        const char *q = strchr(s, lit);
        if (!q) return -1;
        s = q;
      } else {
        while (*s && !isdigit((unsigned char)*s)) s++;
      }
      continue;
    }
    if (*p == '%' && p[1] && p[1] != '%') {
      p++;
      if (!strchr("YmdHMS", *p)) return -1; /* an unchecked pattern: never index f[] with it */
      int v;
      if (digits(&s, *p == 'Y' ? 4 : 2, &v)) return -1;
      f[(unsigned char)*p] = v;
      continue;
    }
    if (*p == '%') p++;
    if (*s != *p) return -1;
    s++;
  }
  int y = f['Y'], mo = f['m'], d = f['d'], h = f['H'], mi = f['M'], sec = f['S'];
  if (!valid_date(y, mo, d) || h > 23 || mi > 59 || sec > 59) return -1;
  int64_t wall = oa_days_from_civil(y, mo, d) * OA_US_PER_DAY + ((int64_t)h * 3600 + mi * 60 + sec) * OA_US_PER_S;
  start_set(st, OA_START_NAME, wall, OA_ZONE_LOCAL, 0);
  return 0;
}

int oa_start_refuse_unset_clock(oa_start *st) {
  if (st->zone == OA_ZONE_NONE) return 0;
  int64_t wall = st->us + (st->zone == OA_ZONE_KNOWN ? (int64_t)st->offset_s * OA_US_PER_S : 0);
  if (wall >= oa_days_from_civil(2000, 1, 1) * OA_US_PER_DAY) return 0;
  oa_time_format(st->us, st->offset_s, st->zone, st->refused, sizeof st->refused);
  st->us = 0, st->offset_s = 0, st->zone = OA_ZONE_NONE, st->source = OA_START_NONE;
  return 1;
}

void oa_start_assume_zone(oa_start *st, int32_t offset_s) {
  if (st->zone != OA_ZONE_LOCAL) return;
  st->us -= (int64_t)offset_s * OA_US_PER_S;
  st->offset_s = offset_s;
  st->zone = OA_ZONE_KNOWN;
}
