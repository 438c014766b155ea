#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "opusarc/archive.h"

static const char *HELP =
    "usage: opusarc info ARCHIVE.h5 [--json] [--summary]\n"
    "\n"
    "Describes an archive: its libopus build, recordings, durations, packets,\n"
    "checkpoints, and bytes of audio payload against bytes of index.\n"
    "\n"
    "  --json      machine-readable output\n"
    "  --summary   totals only, no per-recording table\n"
    "  -h, --help  this text\n";

static void json_string(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(out, "\\%c", *p);
    else if (*p < 0x20) fprintf(out, "\\u%04x", *p);
    else fputc(*p, out);
  }
  fputc('"', out);
}

typedef struct info_totals {
  uint64_t ok, failed, index_bytes, file_bytes;
  int64_t samples;
  oa_archive_totals t;
} info_totals;

static void compute_totals(const oa_archive *a, const char *path, info_totals *it) {
  memset(it, 0, sizeof *it);
  oa_archive_get_totals(a, &it->t);
  uint64_t n = oa_archive_recording_count(a);
  for (uint64_t i = 0; i < n; i++) {
    const oa_rec_row *r = oa_archive_recording(a, i);
    if (r->status == OA_REC_OK) it->ok++, it->samples += r->samples;
    else it->failed++;
  }
  it->index_bytes = it->t.packets * sizeof(oa_packet_row) + it->t.links * sizeof(oa_link_row) +
                    n * sizeof(oa_rec_row) + it->t.string_bytes;
  struct stat st;
  if (stat(path, &st) == 0) it->file_bytes = (uint64_t)st.st_size;
}

static void print_json(const oa_archive *a, const info_totals *it, int summary_only) {
  const oa_archive_meta *m = oa_archive_get_meta(a);
  printf("{\"format_version\": %d, \"created\": ", m->format_version);
  json_string(stdout, m->created);
  printf(", \"libopus\": ");
  json_string(stdout, m->build.version);
  printf(", \"libopus_code_hash\": \"%016llx\", \"checkpoint_every_seconds\": %g,\n",
         (unsigned long long)m->build.code_hash, m->checkpoint_every);
  printf(" \"recordings_ok\": %llu, \"recordings_failed\": %llu, \"samples\": %lld, \"hours\": %.6f,\n",
         (unsigned long long)it->ok, (unsigned long long)it->failed, (long long)it->samples,
         (double)it->samples / 48000.0 / 3600.0);
  printf(" \"packets\": %llu, \"links\": %llu, \"checkpoints\": %llu, \"payload_bytes\": %llu, "
         "\"checkpoint_state_bytes\": %llu, \"index_bytes\": %llu, \"stored_payload_bytes\": %llu, "
         "\"stored_index_bytes\": %llu, \"stored_checkpoint_bytes\": %llu, \"file_bytes\": %llu",
         (unsigned long long)it->t.packets, (unsigned long long)it->t.links, (unsigned long long)it->t.checkpoints,
         (unsigned long long)it->t.payload_bytes, (unsigned long long)it->t.state_bytes,
         (unsigned long long)it->index_bytes, (unsigned long long)it->t.stored_payload,
         (unsigned long long)it->t.stored_index, (unsigned long long)it->t.stored_checkpoints,
         (unsigned long long)it->file_bytes);
  if (!summary_only) {
    printf(",\n \"recordings\": [");
    uint64_t n = oa_archive_recording_count(a);
    for (uint64_t i = 0; i < n; i++) {
      const oa_rec_row *r = oa_archive_recording(a, i);
      printf("%s\n  {\"name\": ", i ? "," : "");
      json_string(stdout, oa_archive_recording_name(a, i));
      printf(", \"path\": ");
      json_string(stdout, oa_archive_recording_path(a, i));
      printf(", \"status\": \"%s\", \"channels\": %d, \"samples\": %lld, \"seconds\": %.6f, \"links\": %llu, "
             "\"packets\": %llu, \"checkpoints\": %llu, \"payload_bytes\": %llu, \"source_bytes\": %llu",
             r->status == OA_REC_OK ? "ok" : "failed", r->channels, (long long)r->samples,
             (double)r->samples / 48000.0, (unsigned long long)r->link_count, (unsigned long long)r->packet_count,
             (unsigned long long)r->checkpoint_count, (unsigned long long)r->payload_bytes,
             (unsigned long long)r->source_size);
      if (r->status != OA_REC_OK) {
        printf(", \"failed_packet\": %lld, \"error\": ", (long long)r->failed_packet);
        json_string(stdout, oa_archive_recording_error(a, i));
      }
      printf("}");
    }
    printf("\n ]");
  }
  printf("}\n");
}

static void print_text(const oa_archive *a, const char *path, const info_totals *it, int summary_only) {
  const oa_archive_meta *m = oa_archive_get_meta(a);
  printf("archive      %s (format %d, created %s by %s)\n", path, m->format_version, m->created, m->tool_version);
  printf("libopus      %s, decoder %d/%d bytes, code %016llx, arch %d, %s\n", m->build.version,
         m->build.dec_size_mono, m->build.dec_size_stereo, (unsigned long long)m->build.code_hash, m->build.arch,
         m->build.cpu_features);
  printf("recordings   %llu ok, %llu failed, %.3f h of audio\n", (unsigned long long)it->ok,
         (unsigned long long)it->failed, (double)it->samples / 48000.0 / 3600.0);
  printf("packets      %llu in %llu links\n", (unsigned long long)it->t.packets, (unsigned long long)it->t.links);
  printf("checkpoints  %llu snapshots every %g s, %.3f MB\n", (unsigned long long)it->t.checkpoints,
         m->checkpoint_every, (double)it->t.state_bytes / 1e6);
  double payload = (double)it->t.payload_bytes;
  const oa_archive_totals *t = &it->t;
  printf("bytes        payload %.3f MB; index %.3f MB (%.2f%% of payload); checkpoints %.3f MB (%.2f%%)\n",
         payload / 1e6, (double)it->index_bytes / 1e6, payload > 0 ? 100.0 * (double)it->index_bytes / payload : 0.0,
         (double)t->state_bytes / 1e6, payload > 0 ? 100.0 * (double)t->state_bytes / payload : 0.0);
  printf("in the file  payload %.3f MB, index %.3f MB, checkpoints %.3f MB (allocated chunks); file %.3f MB\n",
         (double)t->stored_payload / 1e6, (double)t->stored_index / 1e6, (double)t->stored_checkpoints / 1e6,
         (double)it->file_bytes / 1e6);
  if (summary_only) return;
  printf("\n%-8s %4s %12s %6s %9s %6s  %s\n", "status", "ch", "seconds", "links", "packets", "ckpts", "name");
  uint64_t n = oa_archive_recording_count(a);
  for (uint64_t i = 0; i < n; i++) {
    const oa_rec_row *r = oa_archive_recording(a, i);
    printf("%-8s %4d %12.3f %6llu %9llu %6llu  %s\n", r->status == OA_REC_OK ? "ok" : "FAILED", r->channels,
           (double)r->samples / 48000.0, (unsigned long long)r->link_count, (unsigned long long)r->packet_count,
           (unsigned long long)r->checkpoint_count, oa_archive_recording_name(a, i));
    if (r->status != OA_REC_OK) printf("         reason: %s\n", oa_archive_recording_error(a, i));
  }
}

int cmd_info(cli_ctx *cx, int argc, char **argv) {
  static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {"summary", no_argument, 0, 's'},
                                       {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  int json = 0, summary = 0, c;
  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'j') json = 1;
    else if (c == 's') summary = 1;
    else if (c == 'h') {
      if (cx->rank == 0) fputs(HELP, stdout);
      return EXIT_OK;
    } else {
      cli_usage_error(cx, "info", "unknown option '%s'", argv[optind - 1]);
      return EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    cli_usage_error(cx, "info", "exactly one ARCHIVE.h5 expected");
    return EXIT_USAGE;
  }
  if (cx->rank != 0) return EXIT_OK;
  oa_archive *a;
  oa_err err;
  if (oa_archive_open(argv[optind], &a, &err) != OA_OK) {
    OA_LOG(&cx->log, ERROR, "%s", err.msg);
    return EXIT_FAILED;
  }
  info_totals it;
  compute_totals(a, argv[optind], &it);
  if (json) print_json(a, &it, summary);
  else print_text(a, argv[optind], &it, summary);
  oa_archive_close(a);
  return EXIT_OK;
}
