#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "opusarc/archive.h"
#include "opusarc/clock.h"
#include "opusarc/util.h"

static const char *HELP =
    "usage: opusarc info ARCHIVE.h5 [--json] [--summary]\n"
    "\n"
    "Describes an archive: its libopus build, recordings, durations, packets,\n"
    "checkpoints, and bytes of audio payload against bytes of index. Per\n"
    "recording: real seconds (a time-expanded file at its source rate), start and\n"
    "end in the recording's own wall-clock time and its UTC offset ('unknown' for\n"
    "a wall-clock start without a zone, '-' for no start); --json adds start and\n"
    "end in UTC, where the start came from, and the recorder id.\n"
    "\n"
    "  --json      machine-readable output\n"
    "  --summary   totals only, no per-recording table\n"
    "  -h, --help  this text\n";

typedef struct info_totals {
  uint64_t ok, failed, damaged, file_bytes; /* ok includes damaged */
  int64_t lost_samples;
  uint64_t kinds[OA_CP_KINDS]; /* intervals by checkpoint kind */
  uint64_t preroll_packets;
  int64_t samples;
  double seconds; /* real seconds: a time-expanded recording counts at its source rate */
  oa_archive_totals t;
} info_totals;

static const char *status_name(const oa_rec_row *r) {
  return r->status == OA_REC_OK ? "ok" : r->status == OA_REC_DAMAGED ? "damaged" : "failed";
}

static int count_row(void *ctx, uint64_t i, const oa_rec_row *r, const oa_row_texts *tx) {
  info_totals *it = ctx;
  (void)i, (void)tx;
  it->damaged += r->status == OA_REC_DAMAGED;
  it->lost_samples += r->lost_samples;
  if (OA_REC_READABLE(r)) it->ok++, it->samples += r->samples, it->seconds += (double)r->samples / oa_rec_row_rate(r);
  else it->failed++;
  return 0;
}

/* Rows are read a block at a time and not kept: --summary of a large
 * archive holds one block of rows. */
static int compute_totals(oa_archive *a, const char *path, info_totals *it, oa_err *err) {
  memset(it, 0, sizeof *it);
  oa_archive_get_totals(a, &it->t);
  if (oa_archive_scan(a, count_row, it) < 0) return oa_err_set(err, OA_ENOMEM, "out of memory");
  oa_interval_row rows[1024];
  for (uint64_t k = 0; k < it->t.intervals; k += 1024) {
    uint64_t m = it->t.intervals - k < 1024 ? it->t.intervals - k : 1024;
    int rc = oa_archive_read_intervals(a, k, m, rows, err);
    if (rc != OA_OK) return rc;
    for (uint64_t j = 0; j < m; j++) {
      it->kinds[rows[j].kind]++;
      if (rows[j].kind == OA_CP_PREROLL) it->preroll_packets += rows[j].preroll;
    }
  }
  (void)path;
  for (size_t k = 0; k <= oa_archive_segment_count(a); k++) {
    struct stat st;
    if (stat(oa_archive_file(a, k), &st) == 0) it->file_bytes += (uint64_t)st.st_size;
  }
  return OA_OK;
}

static const char *const START_SOURCES[] = {"none", "audiomoth", "guano", "bext", "name", "opus-tags", "format-4"};

/* A recording's start and end in its own wall-clock time, its UTC offset,
 * and (zone known) both in UTC; "" where unknown. */
typedef struct rec_times {
  char start_local[48], end_local[48], offset[16], start_utc[48], end_utc[48];
} rec_times;

static void times_of(const oa_rec_row *r, rec_times *t) {
  memset(t, 0, sizeof *t);
  if (r->start_zone == OA_ZONE_NONE) return;
  int64_t end = r->start_us + (int64_t)llround((double)r->samples / oa_rec_row_rate(r) * 1e6);
  int zone_known = r->start_zone == OA_ZONE_KNOWN;
  int64_t shift = zone_known ? (int64_t)r->utc_offset_s * OA_US_PER_S : 0;
  oa_time_format(r->start_us + shift, 0, OA_ZONE_LOCAL, t->start_local, sizeof t->start_local);
  oa_time_format(end + shift, 0, OA_ZONE_LOCAL, t->end_local, sizeof t->end_local);
  if (!zone_known) return;
  oa_offset_format(r->utc_offset_s, t->offset, sizeof t->offset);
  oa_time_format_utc(r->start_us, t->start_utc, sizeof t->start_utc);
  oa_time_format_utc(end, t->end_utc, sizeof t->end_utc);
}

/* "null" for an empty text, else a JSON string. */
static void json_or_null(const char *s) {
  if (s[0]) cli_json_string(stdout, s);
  else fputs("null", stdout);
}

/* (file bytes - packet payload bytes) / payload bytes, in percent. */
static double overhead(const info_totals *it) {
  double p = (double)it->t.payload_bytes;
  return p > 0 ? 100.0 * ((double)it->file_bytes - p) / p : 0.0;
}

/* One recording of `info --json` (rows streamed: a block at a time). */
static int json_row(void *ctx, uint64_t i, const oa_rec_row *r, const oa_row_texts *tx) {
  (void)ctx;
  printf("%s\n  {\"name\": ", i ? "," : "");
  cli_json_string(stdout, tx->name);
  printf(", \"path\": ");
  cli_json_string(stdout, tx->path);
  printf(", \"status\": \"%s\", \"channels\": %d, \"samples\": %lld, \"seconds\": %.6f, \"links\": %llu, "
         "\"packets\": %llu, \"intervals\": %llu, \"payload_bytes\": %llu, \"source_bytes\": %llu, "
         "\"first_interval\": %llu, \"data_offset\": %llu, \"data_size\": %llu",
         status_name(r), r->channels, (long long)r->samples, (double)r->samples / oa_rec_row_rate(r),
         (unsigned long long)r->link_count, (unsigned long long)r->packet_count,
         (unsigned long long)r->interval_count, (unsigned long long)r->payload_bytes,
         (unsigned long long)r->source_size, (unsigned long long)r->first_interval,
         (unsigned long long)r->data_offset, (unsigned long long)r->data_size);
  static const char *const modes[] = {"opus", "native", "resampled", "time-expanded"};
  printf(", \"source_rate\": %d, \"source_frames\": %lld, \"source_format\": %d, \"rate_mode\": \"%s\"",
         r->source_rate, (long long)r->source_frames, r->source_format, modes[r->rate_mode & 3]);
  rec_times tm;
  times_of(r, &tm);
  printf(", \"start\": ");
  cli_json_string(stdout, tx->start);
  printf(", \"start_utc\": ");
  json_or_null(tm.start_utc);
  printf(", \"end_utc\": ");
  json_or_null(tm.end_utc);
  printf(", \"start_local\": ");
  json_or_null(tm.start_local);
  printf(", \"end_local\": ");
  json_or_null(tm.end_local);
  printf(", \"utc_offset\": ");
  json_or_null(tm.offset);
  printf(", \"start_source\": \"%s\", \"recorder\": ", START_SOURCES[r->start_source]);
  cli_json_string(stdout, tx->recorder);
  printf(", \"tags\": ");
  cli_json_string(stdout, tx->tags);
  if (r->status == OA_REC_DAMAGED) {
    printf(", \"lost_samples\": %lld, \"damage\": ", (long long)r->lost_samples);
    cli_json_string(stdout, tx->error);
  } else if (r->status != OA_REC_OK) {
    printf(", \"failed_packet\": %lld, \"error\": ", (long long)r->failed_packet);
    cli_json_string(stdout, tx->error);
  }
  printf("}");
  return 0;
}

/* 0, or -1 when the rows could not all be read (out of memory). */
static int print_json(const oa_archive *a, const info_totals *it, int summary_only) {
  const oa_archive_meta *m = oa_archive_get_meta(a);
  printf("{\"format_version\": %d, \"created\": ", m->format_version);
  cli_json_string(stdout, m->created);
  printf(", \"libopus\": ");
  cli_json_string(stdout, m->build.version);
  printf(", \"libopus_code_hash\": \"%016llx\", \"checkpoint_every_seconds\": %g,\n",
         (unsigned long long)m->build.code_hash, m->checkpoint_every);
  printf(" \"recordings_ok\": %llu, \"recordings_failed\": %llu, \"recordings_damaged\": %llu, "
         "\"lost_samples\": %lld, \"samples\": %lld, \"hours\": %.6f,\n",
         (unsigned long long)(it->ok - it->damaged), (unsigned long long)it->failed,
         (unsigned long long)it->damaged, (long long)it->lost_samples, (long long)it->samples,
         it->seconds / 3600.0);
  printf(" \"checkpoints\": \"%s\", \"max_preroll_packets\": %d, \"packets\": %llu, \"links\": %llu, "
         "\"intervals\": %llu, \"link_starts\": %llu, \"prerolls\": %llu, \"patches\": %llu, \"snapshots\": %llu, "
         "\"preroll_packets\": %llu,\n",
         m->checkpoints, m->max_preroll, (unsigned long long)it->t.packets, (unsigned long long)it->t.links,
         (unsigned long long)it->t.intervals, (unsigned long long)it->kinds[OA_CP_START],
         (unsigned long long)it->kinds[OA_CP_PREROLL], (unsigned long long)it->kinds[OA_CP_PATCH],
         (unsigned long long)it->kinds[OA_CP_SNAPSHOT], (unsigned long long)it->preroll_packets);
  printf(" \"payload_bytes\": %llu, \"packet_data_bytes\": %llu, \"snapshot_bytes\": %llu, "
         "\"stored_data_bytes\": %llu, \"stored_index_bytes\": %llu, \"stored_snapshot_bytes\": %llu, "
         "\"file_bytes\": %llu, \"overhead_percent\": %.3f, \"segments\": %zu",
         (unsigned long long)it->t.payload_bytes, (unsigned long long)it->t.data_bytes,
         (unsigned long long)it->t.state_bytes, (unsigned long long)it->t.stored_data,
         (unsigned long long)it->t.stored_index, (unsigned long long)it->t.stored_checkpoints,
         (unsigned long long)it->file_bytes, overhead(it), oa_archive_segment_count(a));
  if (!summary_only) {
    printf(",\n \"recordings\": [");
    if (oa_archive_scan(a, json_row, NULL) < 0) return -1;
    printf("\n ]");
  }
  printf("}\n");
  return 0;
}

/* One recording of the text table (rows streamed: a block at a time). */
static int text_row(void *ctx, uint64_t i, const oa_rec_row *r, const oa_row_texts *tx) {
  (void)ctx, (void)i;
  rec_times tm;
  times_of(r, &tm);
  printf("%-8s %4d %12.3f %-23s %-23s %-7s %6llu %9llu %9llu  ",
         r->status == OA_REC_OK ? "ok" : r->status == OA_REC_DAMAGED ? "DAMAGED" : "FAILED", r->channels,
         (double)r->samples / oa_rec_row_rate(r), tm.start_local[0] ? tm.start_local : "-",
         tm.end_local[0] ? tm.end_local : "-", tm.offset[0] ? tm.offset : tm.start_local[0] ? "unknown" : "-",
         (unsigned long long)r->link_count, (unsigned long long)r->packet_count,
         (unsigned long long)r->interval_count);
  cli_text_safe(stdout, tx->name);
  putchar('\n');
  if (r->status != OA_REC_OK) {
    fputs(r->status == OA_REC_DAMAGED ? "         " : "         reason: ", stdout);
    cli_text_safe(stdout, tx->error);
    putchar('\n');
  }
  return 0;
}

static int print_text(const oa_archive *a, const char *path, const info_totals *it, int summary_only) {
  const oa_archive_meta *m = oa_archive_get_meta(a);
  printf("archive      %s (format %d, created %s by %s)\n", path, m->format_version, m->created, m->tool_version);
  printf("libopus      %s, decoder %d/%d bytes, code %016llx, arch %d, %s\n", m->build.version,
         m->build.dec_size_mono, m->build.dec_size_stereo, (unsigned long long)m->build.code_hash, m->build.arch,
         m->build.cpu_features);
  printf("recordings   %llu ok, %llu failed, %.3f h of audio\n", (unsigned long long)(it->ok - it->damaged),
         (unsigned long long)it->failed, it->seconds / 3600.0);
  if (it->damaged)
    printf("damaged      %llu recordings kept what their files hold; %.3f s of lost audio is silence\n",
           (unsigned long long)it->damaged, (double)it->lost_samples / (double)OA_SAMPLE_RATE);
  printf("packets      %llu in %llu links\n", (unsigned long long)it->t.packets, (unsigned long long)it->t.links);
  printf("intervals    %llu of %g s (%s): %llu link starts, %llu verified pre-rolls (%.1f packets on average), "
         "%llu pre-rolls with a patch, %llu snapshots\n",
         (unsigned long long)it->t.intervals, m->checkpoint_every, m->checkpoints,
         (unsigned long long)it->kinds[OA_CP_START], (unsigned long long)it->kinds[OA_CP_PREROLL],
         it->kinds[OA_CP_PREROLL] ? (double)it->preroll_packets / (double)it->kinds[OA_CP_PREROLL] : 0.0,
         (unsigned long long)it->kinds[OA_CP_PATCH], (unsigned long long)it->kinds[OA_CP_SNAPSHOT]);
  const oa_archive_totals *t = &it->t;
  printf("bytes        payload %.3f MB; in the file: packets %.3f MB, index %.3f MB, snapshots %.3f MB\n",
         (double)t->payload_bytes / 1e6, (double)t->stored_data / 1e6, (double)t->stored_index / 1e6,
         (double)t->stored_checkpoints / 1e6);
  printf("overhead     file%s %.3f MB = payload + %.2f%%\n", oa_archive_segment_count(a) ? "s" : "",
         (double)it->file_bytes / 1e6, overhead(it));
  size_t nseg = oa_archive_segment_count(a);
  if (nseg) {
    printf("segments     %zu appended (%s.segments):", nseg, path);
    for (size_t k = 1; k <= nseg; k++)
      printf(" %s (%llu)", oa_archive_file(a, k), (unsigned long long)oa_archive_file_recordings(a, k));
    printf("\n");
  }
  if (oa_archive_stale_segments(a))
    printf("segments     %s.segments is stale (it lists %zu segments of an archive since replaced under this "
           "name): ignored\n", path, oa_archive_stale_segments(a));
  if (summary_only) return 0;
  printf("\n%-8s %4s %12s %-23s %-23s %-7s %6s %9s %9s  %s\n", "status", "ch", "seconds", "start (local)",
         "end (local)", "offset", "links", "packets", "intervals", "name");
  return oa_archive_scan(a, text_row, NULL) < 0 ? -1 : 0;
}

int cmd_info(cli_ctx *cx, int argc, char **argv) {
  int json = 0, summary = 0, first;
  const cli_opt opts[] = {CLI_OPT("json", 0, CLI_FLAG, &json), CLI_OPT("summary", 0, CLI_FLAG, &summary),
                          CLI_OPT("help", 'h', CLI_HELP, HELP), {0}};
  int rc = cli_parse_options(cx, "info", argc, argv, opts, 0, &first);
  if (rc != 0) return rc > 0 ? EXIT_OK : EXIT_USAGE;
  if (first != argc - 1) {
    cli_usage_error(cx, "info", "exactly one ARCHIVE.h5 expected");
    return EXIT_USAGE;
  }
  const char *path = argv[first];
  if (cx->rank != 0) return EXIT_OK;
  oa_archive *a;
  oa_err err;
  if (oa_archive_open(path, &a, &err) != OA_OK) {
    OA_LOG(&cx->log, ERROR, "%s", err.msg);
    return EXIT_FAILED;
  }
  info_totals it;
  if (compute_totals(a, path, &it, &err) != OA_OK) {
    OA_LOG(&cx->log, ERROR, "%s", err.msg);
    oa_archive_close(a);
    return EXIT_FAILED;
  }
  int printed = json ? print_json(a, &it, summary) : print_text(a, path, &it, summary);
  oa_archive_close(a);
  if (printed != 0) {
    fflush(stdout);
    OA_LOG(&cx->log, ERROR, "%s: out of memory reading the recordings rows: the listing above is incomplete", path);
    return EXIT_FAILED;
  }
  return EXIT_OK;
}
