/* Archive format round trip: batches written through the parallel writer
 * (one rank) come back from the reader with every index rebased; the
 * reader refuses inconsistent rows; the writer never leaves a partial file
 * under the final name. */
#include <mpi.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "opusarc/archive.h"
#include "opusarc/packet.h"
#include "opusarc/extract.h"
#include "archive_seg.h" /* OA_SEG_BLOCK */

static char dir[256];

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

static const oa_writer_config cfg = {.options = "test"};
static int complete; /* set by oa_writer_create when resume finds a complete archive */

static oa_archive_meta meta_for(uint64_t recordings) {
  oa_archive_meta m;
  memset(&m, 0, sizeof m);
  oa_err err;
  oa_opus_build_probe(&m.build, &err);
  m.checkpoint_every = 10;
  snprintf(m.checkpoints, sizeof m.checkpoints, "auto");
  m.max_preroll = 64;
  m.recordings = recordings;
  snprintf(m.created, sizeof m.created, "2026-01-01T00:00:00Z");
  snprintf(m.tool_version, sizeof m.tool_version, "test");
  return m;
}

/* Adds a good recording as row `row`: one link of `np` packets of `psize`
 * bytes (format 7: a head each, and psize - 1 bytes of data), in two
 * intervals. Packet k's bytes are all 'a' + k. */
static void add_good(oa_batch *b, uint64_t row, const char *name, int np, int psize) {
  uint64_t data_start = b->data_len;
  oa_rec_row r = {.status = OA_REC_OK, .channels = 2, .samples = np * 960 - 312, .first_link = b->nlinks,
                  .link_count = 1, .first_interval = b->nintervals, .interval_count = 2,
                  .data_offset = data_start, .data_size = (uint64_t)np * (uint64_t)(psize - 1),
                  .packet_count = (uint64_t)np, .payload_bytes = (uint64_t)(np * psize), .failed_packet = -1};
  oa_batch_add_string(b, name, &r.name_off, &r.name_len);
  oa_batch_add_string(b, "/data/x", &r.path_off, &r.path_len);
  oa_batch_add_string(b, "", &r.error_off, &r.error_len);
  uint64_t first_head = b->nheads;
  for (int k = 0; k < np; k++) {
    b->data = realloc(b->data, b->data_len + (size_t)psize);
    b->heads = realloc(b->heads, (b->nheads + 1) * sizeof *b->heads);
    b->heads[b->nheads++] = oa_head_make((uint32_t)psize, (uint8_t)('a' + k % 26));
    memset(b->data + b->data_len, 'a' + k % 26, (size_t)psize - 1);
    b->data_len += (size_t)psize - 1;
  }
  b->intervals = realloc(b->intervals, (b->nintervals + 2) * sizeof *b->intervals);
  b->intervals[b->nintervals++] = (oa_interval_row){.link = b->nlinks, .data_offset = data_start,
                                                    .preroll_offset = data_start, .packet_count = 1,
                                                    .samples = 960, .kind = OA_CP_START};
  b->intervals[b->nintervals++] = (oa_interval_row){
      .link = b->nlinks, .packet = 1, .link_pos = 960, .data_offset = data_start + (uint64_t)psize - 1,
      .preroll_offset = data_start, .preroll = 1, .packet_count = (uint32_t)np - 1,
      .samples = (uint32_t)(np - 1) * 960, .kind = OA_CP_SNAPSHOT, .state_size = 5, .state_offset = b->state_len};
  b->state = realloc(b->state, b->state_len + 5);
  memcpy(b->state + b->state_len, "STATE", 5);
  b->state_len += 5;
  b->links = realloc(b->links, (b->nlinks + 1) * sizeof *b->links);
  b->links[b->nlinks++] = (oa_link_row){.recording = row, .first_interval = r.first_interval, .interval_count = 2,
                                        .data_offset = data_start, .data_size = r.data_size,
                                        .packet_count = (uint64_t)np, .first_packet = first_head,
                                        .out_samples = np * 960 - 312,
                                        .decoded_samples = np * 960, .channels = 2, .streams = 1, .coupled = 1,
                                        .pre_skip = 312};
  b->recs = realloc(b->recs, (b->nrecs + 1) * sizeof *b->recs);
  b->rec_index = realloc(b->rec_index, (b->nrecs + 1) * sizeof *b->rec_index);
  b->recs[b->nrecs] = r;
  b->rec_index[b->nrecs++] = row;
}

static void add_failed(oa_batch *b, uint64_t row, const char *name, const char *why) {
  oa_rec_row r = {.status = OA_REC_FAILED, .first_link = b->nlinks, .first_interval = b->nintervals,
                  .data_offset = b->data_len, .failed_packet = 7};
  oa_batch_add_string(b, name, &r.name_off, &r.name_len);
  oa_batch_add_string(b, "/data/bad", &r.path_off, &r.path_len);
  oa_batch_add_string(b, why, &r.error_off, &r.error_len);
  b->recs = realloc(b->recs, (b->nrecs + 1) * sizeof *b->recs);
  b->rec_index = realloc(b->rec_index, (b->nrecs + 1) * sizeof *b->rec_index);
  b->recs[b->nrecs] = r;
  b->rec_index[b->nrecs++] = row;
}

static void test_round_trip(void **state) {
  (void)state;
  char path[512];
  path_in(path, sizeof path, "rt.h5");
  oa_archive_meta meta = meta_for(3);
  oa_archive_writer *w;
  oa_err err;
  assert_int_equal(oa_writer_create(MPI_COMM_WORLD, path, &cfg, &meta, &w, &complete, &err), OA_OK);
  oa_batch b;
  memset(&b, 0, sizeof b);
  add_good(&b, 2, "zeta.opus", 4, 10);
  add_failed(&b, 1, "middle.opus", "truncated at byte 12");
  assert_int_equal(oa_writer_append(w, &b, &err), OA_OK);
  assert_int_equal(b.data_len, 0); /* the batch is emptied */
  add_good(&b, 0, "alpha.opus", 3, 7);
  assert_int_equal(oa_writer_append(w, &b, &err), OA_OK);
  assert_int_equal(access(path, F_OK), -1); /* not under the final name yet */
  assert_int_equal(oa_writer_finish(w, 1, &err), OA_OK);
  oa_batch_free(&b);

  oa_archive *a;
  assert_int_equal(oa_archive_open(path, &a, &err), OA_OK);
  assert_int_equal(oa_archive_recording_count(a), 3);
  assert_string_equal(oa_archive_recording_name(a, 0), "alpha.opus");
  assert_string_equal(oa_archive_recording_error(a, 1), "truncated at byte 12");
  assert_int_equal(oa_archive_recording(a, 1)->status, OA_REC_FAILED);
  const oa_rec_row *alpha = oa_archive_recording(a, 0);
  assert_int_equal(alpha->data_offset, 36); /* after zeta's 4 packets of 10 bytes less their first */
  assert_int_equal(alpha->first_link, 1);
  assert_int_equal(alpha->first_interval, 2);
  uint64_t idx;
  assert_int_equal(oa_archive_find(a, "zeta.opus", &idx, &err), OA_OK);
  assert_int_equal(idx, 2);
  assert_int_equal(oa_archive_find(a, "nope", &idx, &err), OA_ENOTFOUND);
  oa_link_row l;
  assert_int_equal(oa_archive_read_links(a, 1, 1, &l, &err), OA_OK);
  assert_int_equal(l.data_offset, 36);
  assert_int_equal(l.first_packet, 4); /* after zeta's 4 heads */
  uint32_t heads[3];
  assert_int_equal(oa_archive_read_heads(a, l.first_packet, 3, heads, &err), OA_OK);
  assert_int_equal(heads[1], 7u << 8 | 'b');
  assert_int_equal(oa_archive_read_heads(a, 5, 3, heads, &err), OA_EARCHIVE); /* past the end */
  assert_int_equal(l.first_interval, 2);
  assert_int_equal(l.recording, 0);
  oa_interval_row v[2];
  assert_int_equal(oa_archive_read_intervals(a, 2, 2, v, &err), OA_OK);
  assert_int_equal(v[0].link, 1);
  assert_int_equal(v[1].data_offset, 36 + 6);
  assert_int_equal(v[1].preroll_offset, 36);
  assert_int_equal(v[1].state_offset, 5);
  uint8_t bytes[6];
  assert_int_equal(oa_archive_read_data(a, v[1].data_offset, 6, bytes, &err), OA_OK);
  assert_memory_equal(bytes, "bbbbbb", 6);
  assert_int_equal(oa_archive_read_intervals(a, 3, 2, v, &err), OA_EARCHIVE); /* past the end */
  oa_archive_totals t;
  oa_archive_get_totals(a, &t);
  assert_int_equal(t.packets, 7);
  assert_int_equal(t.payload_bytes, 61);
  assert_int_equal(t.data_bytes, 54);
  assert_int_equal(t.heads, 7);
  const oa_archive_meta *m = oa_archive_get_meta(a);
  assert_int_equal(m->format_version, OA_FORMAT_VERSION);
  assert_int_equal(m->build.code_hash, meta.build.code_hash);
  assert_string_equal(m->build.version, meta.build.version);
  assert_string_equal(m->checkpoints, "auto");
  oa_archive_close(a);

  /* An existing archive is not replaced without overwrite. */
  assert_int_equal(oa_writer_create(MPI_COMM_WORLD, path, &cfg, &meta, &w, &complete, &err), OA_EEXIST);
  unlink(path);
}

static void test_failed_write_leaves_nothing(void **state) {
  (void)state;
  char path[512], partial[600];
  path_in(path, sizeof path, "abandoned.h5");
  snprintf(partial, sizeof partial, "%s.partial", path);
  oa_archive_meta meta = meta_for(1);
  oa_archive_writer *w;
  oa_err err;
  assert_int_equal(oa_writer_create(MPI_COMM_WORLD, path, &cfg, &meta, &w, &complete, &err), OA_OK);
  assert_int_equal(access(partial, F_OK), 0);
  oa_writer_finish(w, 0, &err);
  assert_int_equal(access(partial, F_OK), -1);
  assert_int_equal(access(path, F_OK), -1);
}

/* A row inconsistent with the datasets is read as a failed row saying so
 * (rows are checked as their block is loaded): never decoded, and the
 * other rows are unaffected. */
static void test_reader_refuses_inconsistent_rows(void **state) {
  (void)state;
  char path[512];
  path_in(path, sizeof path, "bad.h5");
  oa_archive_meta meta = meta_for(2);
  oa_archive_writer *w;
  oa_err err;
  assert_int_equal(oa_writer_create(MPI_COMM_WORLD, path, &cfg, &meta, &w, &complete, &err), OA_OK);
  oa_batch b;
  memset(&b, 0, sizeof b);
  add_good(&b, 0, "x.opus", 2, 5);
  add_good(&b, 1, "y.opus", 2, 5);
  b.recs[0].data_size = 999; /* more bytes than exist */
  assert_int_equal(oa_writer_append(w, &b, &err), OA_OK);
  assert_int_equal(oa_writer_finish(w, 1, &err), OA_OK);
  oa_batch_free(&b);
  oa_archive *a;
  assert_int_equal(oa_archive_open(path, &a, &err), OA_OK);
  const oa_rec_row *r = oa_archive_recording(a, 0);
  assert_int_equal(r->status, OA_REC_FAILED);
  assert_non_null(strstr(oa_archive_recording_error(a, 0), "inconsistent"));
  assert_int_equal(oa_range_check(a, 0, 0, 10, 0, &err), OA_ERANGE);
  assert_int_equal(oa_archive_recording(a, 1)->status, OA_REC_OK);
  assert_string_equal(oa_archive_recording_name(a, 1), "y.opus");
  oa_archive_close(a);
  unlink(path);
}

/* Opening reads no recordings row; a row is read with its block only. A
 * name lookup scans without keeping blocks; totals sum every row. */
static void test_rows_load_on_demand(void **state) {
  (void)state;
  enum { N = 2 * OA_SEG_BLOCK + 5 };
  char path[512];
  path_in(path, sizeof path, "many.h5");
  oa_archive_meta meta = meta_for(N);
  oa_archive_writer *w;
  oa_err err;
  assert_int_equal(oa_writer_create(MPI_COMM_WORLD, path, &cfg, &meta, &w, &complete, &err), OA_OK);
  oa_batch b;
  memset(&b, 0, sizeof b);
  for (int i = 0; i < N; i++) {
    char name[32];
    snprintf(name, sizeof name, "r%05d.opus", i);
    add_good(&b, (uint64_t)i, name, 2, 5);
  }
  assert_int_equal(oa_writer_append(w, &b, &err), OA_OK);
  assert_int_equal(oa_writer_finish(w, 1, &err), OA_OK);
  oa_batch_free(&b);
  oa_archive *a;
  assert_int_equal(oa_archive_open(path, &a, &err), OA_OK);
  assert_int_equal(oa_archive_blocks_loaded(a), 0);
  uint64_t i;
  /* The name index finds it; only the found row's block is read. */
  assert_int_equal(oa_archive_find(a, "r02050.opus", &i, &err), OA_OK);
  assert_int_equal(i, 2050);
  assert_int_equal(oa_archive_blocks_loaded(a), 1);
  assert_int_equal(oa_archive_find(a, "r99999.opus", &i, &err), OA_ENOTFOUND); /* a miss scans, keeping nothing */
  assert_int_equal(oa_archive_find(a, "r00000.opus", &i, &err), OA_OK);
  assert_int_equal(i, 0);
  assert_int_equal(oa_archive_find(a, "r02052.opus", &i, &err), OA_OK);
  assert_int_equal(i, 2052);
  assert_int_equal(oa_archive_blocks_loaded(a), 2);
  assert_string_equal(oa_archive_recording_name(a, 2050), "r02050.opus");
  assert_int_equal(oa_archive_blocks_loaded(a), 2);
  const oa_rec_row *r = oa_archive_recording(a, 2050);
  assert_int_equal(r->status, OA_REC_OK);
  assert_int_equal(oa_archive_blocks_loaded(a), 2);
  /* Rows after the first block keep their links: rebased like the writer wrote them. */
  oa_link_row link;
  assert_int_equal(oa_archive_read_links(a, r->first_link, 1, &link, &err), OA_OK);
  assert_int_equal(link.recording, 2050);
  oa_archive_totals t;
  oa_archive_get_totals(a, &t);
  assert_int_equal(t.packets, 2 * N);
  assert_int_equal(oa_archive_blocks_loaded(a), 2);
  oa_archive_close(a);
  unlink(path);

  /* Rows out of name order (not what a writer stores): a search can only
   * miss, and a miss reads every row: each name is still found. */
  assert_int_equal(oa_writer_create(MPI_COMM_WORLD, path, &cfg, &meta, &w, &complete, &err), OA_OK);
  memset(&b, 0, sizeof b);
  for (int k = 0; k < N; k++) {
    char name[32];
    snprintf(name, sizeof name, "r%05d.opus", (k * 7919) % N);
    add_good(&b, (uint64_t)k, name, 2, 5);
  }
  assert_int_equal(oa_writer_append(w, &b, &err), OA_OK);
  assert_int_equal(oa_writer_finish(w, 1, &err), OA_OK);
  oa_batch_free(&b);
  assert_int_equal(oa_archive_open(path, &a, &err), OA_OK);
  for (int k = 0; k < N; k += 97) {
    char name[32];
    snprintf(name, sizeof name, "r%05d.opus", (k * 7919) % N);
    assert_int_equal(oa_archive_find(a, name, &i, &err), OA_OK);
    assert_int_equal(i, (uint64_t)k);
  }
  oa_archive_close(a);
  unlink(path);
}

/* A link row whose output lies outside its recording (here: so far out that
 * out_start + out_samples overflows) is refused, not decoded (found by fuzz_archive). */
static int no_sink(void *ctx, const float *pcm, size_t frames, int channels, oa_err *err) {
  (void)ctx, (void)pcm, (void)frames, (void)channels, (void)err;
  return 0;
}

static void test_extract_refuses_link_outside_recording(void **state) {
  (void)state;
  char path[512];
  path_in(path, sizeof path, "link.h5");
  oa_archive_meta meta = meta_for(1);
  oa_archive_writer *w;
  oa_err err;
  assert_int_equal(oa_writer_create(MPI_COMM_WORLD, path, &cfg, &meta, &w, &complete, &err), OA_OK);
  oa_batch b;
  memset(&b, 0, sizeof b);
  add_good(&b, 0, "x.opus", 2, 5);
  b.links[0].out_start = INT64_MAX - 10;
  assert_int_equal(oa_writer_append(w, &b, &err), OA_OK);
  assert_int_equal(oa_writer_finish(w, 1, &err), OA_OK);
  oa_batch_free(&b);
  oa_archive *a;
  assert_int_equal(oa_archive_open(path, &a, &err), OA_OK);
  oa_extractor *x;
  assert_int_equal(oa_extractor_create(a, OA_EXTRACT_DECODE_FROM_START, &x, &err), OA_OK);
  assert_int_equal(oa_extract_range(x, 0, 0, 100, no_sink, NULL, NULL, &err), OA_EARCHIVE);
  assert_non_null(strstr(err.msg, "do not fit the recording"));
  oa_extractor_free(x);
  oa_archive_close(a);
  unlink(path);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  snprintf(dir, sizeof dir, "/tmp/opusarc-archive-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_failed_write_leaves_nothing),
      cmocka_unit_test(test_reader_refuses_inconsistent_rows),
      cmocka_unit_test(test_rows_load_on_demand),
      cmocka_unit_test(test_extract_refuses_link_outside_recording),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  rmdir(dir);
  MPI_Finalize();
  return rc;
}
