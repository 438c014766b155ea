/* Queries by clock time (extract --from/--to, --daily, time CSVs): spans
 * of absolute time become sweep queries over the recordings they overlap
 * (docs/FORMAT.md, "Start times"; README, "Recordings on a clock").
 *
 * A span is in UTC, or in wall-clock time: each recording's own local time
 * (extract --tz recording), which also reaches recordings whose zone is
 * unknown. Each overlap of a span with a recording is one output, or with
 * --join the consecutive files of one recorder (same recorder id, else the
 * same directory) that together cover the span are one output, the gaps
 * between them filled with silence of the exact length. Every rank builds
 * the same list from the same archive and spans. */
#ifndef OPUSARC_TIMEQUERY_H
#define OPUSARC_TIMEQUERY_H

#include <stdint.h>

#include "opusarc/archive.h"
#include "opusarc/error.h"
#include "opusarc/log.h"
#include "opusarc/sweep.h"

enum oa_join_mode {
  OA_JOIN_NONE = 0,  /* one output per overlap of a span with a recording */
  OA_JOIN_FILL = 1,  /* consecutive files of a recorder as one output, gaps as silence */
  OA_JOIN_STRICT = 2 /* as FILL, but a gap or overlap between files fails the output */
};

typedef struct oa_time_span {
  char id[64];            /* the output's id: prefix (CSV row id), or "" to name outputs by recording and start */
  int64_t from_us, to_us; /* [from, to) */
  int wall_clock;         /* 0: UTC; 1: each recording's own local time */
  int64_t rec;            /* only this recording (and with join its recorder's files), or -1 */
  long line;              /* CSV line, 0 otherwise */
} oa_time_span;

typedef struct oa_time_options {
  const char *glob;    /* only recordings whose name matches; NULL: all */
  int join;            /* enum oa_join_mode */
  double max_gap;      /* seconds: a longer gap between files ends a joined output */
  int id_from_span;    /* outputs named "<span id>" (one per span, else "<span id>@<recording>") */
} oa_time_options;

typedef struct oa_time_stats {
  uint64_t spans, outputs;
  uint64_t spans_empty;      /* spans no recording overlaps */
  /* Counted only when there is a span (a rank with no share of the spans reads no row): */
  uint64_t zone_unknown;     /* matching recordings a UTC span could not place (wall-clock start only) */
  uint64_t no_start;         /* matching recordings without a start time */
  uint64_t gaps, overlaps;   /* between joined files */
  int64_t gap_frames, overlap_frames;
  uint64_t refused;          /* joined outputs refused by strict join (or files that differ in channels/rate) */
} oa_time_stats;

/* Appends the outputs of `spans` to `out` (which may hold queries already).
 * Outputs of a span without an id are named "<recording or recorder, '/'
 * as '~'>@<start, 20210501T040000Z>" (no Z: a wall-clock time). Gaps,
 * overlaps and refusals are logged (log may be NULL) and counted; a span
 * that overlaps nothing is counted in spans_empty (and, from a CSV line,
 * logged and counted in out->bad). */
int oa_time_queries(const oa_archive *a, const oa_time_span *spans, size_t nspans, const oa_time_options *opt,
                    const oa_logger *log, oa_query_list *out, oa_time_stats *st, oa_err *err);

/* The outputs of `spans` as a sweep's source, made a span at a time as the
 * sweep asks for batches (at most a batch plus one span's outputs held, or
 * for a span without --join that overlaps many recordings, a batch plus
 * 65,536 of them; silent: oa_time_source_count logs). a, spans and opt must
 * outlive it. */
struct span_finder;
typedef struct oa_time_source {
  const oa_archive *a;
  const oa_time_span *spans;
  size_t nspans;
  const oa_time_options *opt;
  struct span_finder *finder; /* the spans' recordings, found a group at a time */
  int loaded;                 /* the finder holds a group; in_group: its next span */
  size_t in_group;
  oa_query_list pending;
  int pass, first;
  uint64_t bad_rows;        /* rows a time CSV refused: counted with the first batch */
} oa_time_source;
oa_query_source oa_time_source_of(oa_time_source *t, const oa_archive *a, const oa_time_span *spans, size_t nspans,
                                  const oa_time_options *opt, uint64_t bad_rows);
/* The counts of oa_time_queries without keeping the outputs (one group of
 * spans' recordings at a time): stats, and the rows that gave nothing
 * (*bad), logged to log. When one pass found every span's recordings
 * within the cap, the sweep's passes reuse them instead of reading the
 * rows again. */
int oa_time_source_count(oa_time_source *t, const oa_logger *log, oa_time_stats *st, uint64_t *bad, oa_err *err);
void oa_time_source_free(oa_time_source *t);

/* Daily windows [clock_from, clock_to) (microseconds after midnight; a
 * window past midnight when clock_to <= clock_from) on each day from
 * first_day to last_day (days since 1970), in UTC shifted by tz_offset_s,
 * or with wall_clock in each recording's own local time. */
int oa_daily_spans(int64_t first_day, int64_t last_day, int64_t clock_from, int64_t clock_to, int wall_clock,
                   int32_t tz_offset_s, oa_time_span **spans, size_t *n, oa_err *err);

/* First and last day (days since 1970) any matching recording covers, in
 * UTC shifted by tz_offset_s or in its own wall-clock time. -1 when no
 * matching recording has a start to place. */
int oa_time_days_covered(const oa_archive *a, const char *glob, int wall_clock, int32_t tz_offset_s,
                         int64_t *first_day, int64_t *last_day);

/* A time CSV (header id,recording,start_utc,end_utc or id,start_utc,end_utc;
 * times ISO 8601 with a zone; an empty recording: every matching recording
 * that overlaps). Returns 1 if the header is one of these (and parses the
 * rows into spans: bad rows logged, counted in *bad), 0 if not. A share
 * of a longer CSV: the header line, then lines line_base + 2... */
int oa_time_csv(const oa_archive *a, const char *source, const char *text, size_t len, long line_base,
                const oa_logger *log,
                oa_time_span **spans, size_t *n, uint64_t *bad, oa_err *err);

#endif
