/* Query lists (sweep.h): adding and freeing queries, fitting a range to
 * its recording, output rates and clocks, unique ids, and the windows of
 * --windows. Parsing CSV and detector tables is querytable.c's; turning
 * queries into work units sweepplan.c's. */
#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opusarc/clock.h"
#include "opusarc/extract.h"
#include "opusarc/resample.h"
#include "opusarc/sweep.h"
#include "opusarc/util.h"
#include "querytext.h"

int oa_query_list_add(oa_query_list *l, const oa_query *q, const oa_query_part *parts, size_t nparts) {
  if (oa_grow((void **)&l->q, &l->cap, l->n + 1, sizeof *l->q) ||
      (nparts && oa_grow((void **)&l->parts, &l->parts_cap, l->nparts + nparts, sizeof *l->parts)))
    return -1;
  l->q[l->n] = *q;
  l->q[l->n].first_part = l->nparts;
  l->q[l->n].nparts = nparts;
  if (nparts) memcpy(l->parts + l->nparts, parts, nparts * sizeof *parts);
  l->nparts += nparts;
  l->n++;
  return 0;
}

void oa_query_list_free(oa_query_list *l) {
  free(l->q);
  free(l->parts);
  for (size_t k = 0; l->label_names && k < l->nlabels; k++) free(l->label_names[k]);
  free(l->label_names);
  free(l->label_text);
  free(l->label_at);
  memset(l, 0, sizeof *l);
}

void oa_query_set_clock(const oa_archive *a, oa_query *q) {
  const oa_rec_row *r = oa_archive_recording(a, q->rec);
  q->start_zone = r->start_zone;
  q->start_offset_s = r->utc_offset_s;
  q->start_us = r->start_zone == OA_ZONE_NONE ? 0
                : r->start_us + llround((double)q->start / oa_archive_samples_per_second(a, q->rec) * 1e6);
}

int oa_query_rates(const oa_archive *a, const oa_query_list *ql, oa_query *q, int32_t rate, oa_err *err) {
  int32_t base = (int32_t)oa_archive_samples_per_second(a, q->rec);
  q->in_rate = rate == OA_RATE_NATIVE ? OA_SAMPLE_RATE : base;
  q->out_rate = rate > 0 ? rate : q->in_rate;
  q->out_frames = oa_resampled_frames(q->frames, q->in_rate, q->out_rate);
  for (size_t j = 0; ql && j < q->nparts; j++) {
    const oa_query_part *p = &ql->parts[q->first_part + j];
    if (p->rec == OA_GAP_REC || (int32_t)oa_archive_samples_per_second(a, p->rec) == base) continue;
    return oa_err_set(err, OA_EUSAGE, "the output joins \"%s\" and \"%s\", whose time bases differ (%d and %.0f Hz): "
                      "one output has one rate", oa_archive_recording_name(a, q->rec),
                      oa_archive_recording_name(a, p->rec), (int)base, oa_archive_samples_per_second(a, p->rec));
  }
  return OA_OK;
}

int oa_query_fit(const oa_archive *a, oa_query *q, unsigned flags, int *clamped, oa_err *err) {
  const oa_rec_row *r = oa_archive_recording(a, q->rec);
  *clamped = 0;
  if ((flags & OA_QUERY_CLAMP) && OA_REC_READABLE(r) && q->start < q->end && (q->start < 0 || q->end > r->samples)) {
    int64_t s = q->start < 0 ? 0 : q->start, e = q->end > r->samples ? r->samples : q->end;
    if (s < e) *clamped = 1, q->start = s, q->end = e;
  }
  int rc = oa_range_check(a, q->rec, q->start, q->end, (flags & OA_QUERY_SECONDS) != 0, err);
  if (rc == OA_ERANGE && OA_REC_READABLE(r) && (flags & OA_QUERY_CLAMP)) { /* clamping could not help */
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof err->msg - n, "%s",
             q->start >= q->end ? " (after clamping)" : " (entirely: nothing to cut to)");
  }
  if (rc != OA_OK) return rc;
  q->channels = r->channels;
  q->frames = q->end - q->start;
  oa_query_set_clock(a, q);
  return OA_OK;
}

static int by_id(const void *x, const void *y) {
  const oa_query *a = *(const oa_query *const *)x, *b = *(const oa_query *const *)y;
  int r = strcmp(a->id, b->id);
  return r ? r : (a->line > b->line) - (a->line < b->line);
}

int oa_queries_check_unique(const oa_query_list *l, const char *source, oa_err *err) {
  if (l->n < 2) return OA_OK;
  const oa_query **order = malloc(l->n * sizeof *order);
  if (!order) return oa_err_set(err, OA_ENOMEM, "out of memory");
  for (size_t i = 0; i < l->n; i++) order[i] = &l->q[i];
  qsort(order, l->n, sizeof *order, by_id);
  int rc = OA_OK;
  for (size_t i = 1; i < l->n && rc == OA_OK; i++) {
    const oa_query *a = order[i - 1], *b = order[i];
    if (strcmp(a->id, b->id) != 0) continue;
    if (a->line)
      rc = oa_err_set(err, OA_EUSAGE, "%s:%ld and %s:%ld: duplicate id \"%s\" (an id names the query's output and "
                      "must be unique); nothing was extracted", source, a->line, source, b->line, a->id);
    else
      rc = oa_err_set(err, OA_EUSAGE, "two windows have the id \"%s\"; nothing was extracted", a->id);
  }
  free(order);
  return rc;
}

int oa_queries_windows(const oa_archive *a, const oa_window_spec *w, oa_query_list *out, oa_window_stats *st,
                       oa_err *err) {
  const oa_query q0 = {0};
  memset(out, 0, sizeof *out);
  memset(st, 0, sizeof *st);
  uint64_t total = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (uint64_t i = 0; i < oa_archive_recording_count(a); i++) {
      const oa_rec_row *r = oa_archive_recording(a, i);
      const char *name = oa_archive_recording_name(a, i);
      if (!OA_REC_READABLE(r) || (w->glob && fnmatch(w->glob, name, 0) != 0)) continue;
      double scale = w->seconds ? oa_archive_samples_per_second(a, i) : 1.0;
      int64_t len = llround(w->length * scale), hop = llround(w->hop * scale);
      if (len <= 0 || hop <= 0) {
        oa_query_list_free(out);
        return oa_err_set(err, OA_EUSAGE, "window length and hop must be at least one sample");
      }
      int64_t n = r->samples >= len ? (r->samples - len) / hop + 1 : 0;
      int64_t covered = n ? (n - 1) * hop + len : 0, tail_start = n * hop;
      /* With pad/keep one more window starts at n * hop when audio is left there. */
      int extra = w->tail != OA_TAIL_DROP && tail_start < r->samples && covered < r->samples;
      if (pass == 0) {
        st->recordings++;
        total += (uint64_t)(n + extra);
        if (extra && w->tail == OA_TAIL_PAD) st->padded++;
        else if (extra) st->short_windows++;
        else if (n == 0) st->short_recordings++, st->uncovered_seconds += (double)r->samples / scale;
        else if (covered < r->samples) st->tails++, st->uncovered_seconds += (double)(r->samples - covered) / scale;
        continue;
      }
      char stem[sizeof q0.id - 22]; /* room for "_" and 20 digits of the start */
      oa_name_stem(name, stem, sizeof stem);
      for (int64_t k = 0; k < n + extra; k++) {
        int64_t s = k * hop, e = s + len < r->samples ? s + len : r->samples;
        oa_query q = {.rec = i, .start = s, .end = e, .frames = e - s, .channels = r->channels};
        oa_query_part pad[2] = {{i, s, e, 0}, {OA_GAP_REC, 0, len - (e - s), e - s}};
        int padded = w->tail == OA_TAIL_PAD && e - s < len;
        if (padded) q.frames = len; /* the window's samples, then zeros to its length */
        oa_query_set_clock(a, &q);
        snprintf(q.id, sizeof q.id, "%s_%" PRId64, stem, s);
        if (oa_query_list_add(out, &q, padded ? pad : NULL, padded ? 2 : 0)) {
          oa_query_list_free(out);
          return oa_err_set(err, OA_ENOMEM, "out of memory for %" PRIu64 " windows", total);
        }
      }
    }
    if (pass == 0 && st->recordings == 0)
      return oa_err_set(err, OA_EUSAGE, w->glob ? "the name pattern '%s' matches no indexed recording" :
                        "the archive holds no indexed recording%s", w->glob ? w->glob : "");
    if (pass == 0 && w->max_windows && total > w->max_windows)
      return oa_err_set(err, OA_EUSAGE, "%" PRIu64 " windows (about %.0f MB of query list on every rank) is more "
                        "than the window limit, %" PRIu64 ": use a longer hop, a name pattern, or raise the limit", total,
                        (double)total * (sizeof(oa_query) + 64) / 1e6, w->max_windows);
    st->windows = total;
  }
  return oa_queries_check_unique(out, "windows", err);
}

