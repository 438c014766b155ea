/* The pre-roll search (indexer.c): every interval row the indexer writes
 * for a recording is checked here against a straight libopus decode made
 * by the test itself, packet by packet:
 * - the rows tile the link's packets, the first starting at the link;
 * - a pre-roll row: a fresh decoder fed its `preroll` packets before the
 *   interval decodes every packet of the interval to the same samples as
 *   the straight decode (the property the search must only ever claim);
 * - no pre-roll is longer than --max-preroll, and the search tried it
 *   (stats.search_decodes counts at least the rows' pre-roll and interval
 *   packets);
 * - mode preroll gives every later row a pre-roll (from the link start
 *   where none shorter is exact), mode snapshot none. */
#include <opus/opus.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "opusarc/indexer.h"
#include "testutil.h"

enum { N = 300, FRAME = 960 };

typedef struct fixture {
  uint8_t *bytes;
  int sizes[N];
  size_t at[N + 1];
  int channels;
  char path[64];
} fixture;

/* An Ogg Opus file of N packets (20 ms each) of the test signal. */
static void make_file(fixture *f, int channels, int mode, int bitrate) {
  f->channels = channels;
  encode_packets(channels, FRAME, bitrate, mode, N, &f->bytes, f->sizes);
  f->at[0] = 0;
  for (int k = 0; k < N; k++) f->at[k + 1] = f->at[k] + (size_t)f->sizes[k];
  tbuf b = {0};
  tstream s;
  tstream_init(&s, 1234);
  write_headers(&s, &b, channels, 312, 0);
  for (int k = 0; k < N; k++) {
    int last = k == N - 1;
    tstream_packet(&s, f->bytes + f->at[k], (size_t)f->sizes[k], (int64_t)(k + 1) * FRAME, last);
    if (last || (k + 1) % 25 == 0) tstream_flush(&s, &b);
  }
  tstream_clear(&s);
  snprintf(f->path, sizeof f->path, "/tmp/oa-unit-indexer-XXXXXX");
  int fd = mkstemp(f->path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
  close(fd);
  tbuf_free(&b);
}

static void free_fixture(fixture *f) {
  unlink(f->path);
  free(f->bytes);
}

/* Indexes the fixture's file with `mode` into *batch. */
static void index_file(const fixture *f, int mode, int max_preroll, oa_batch *batch, oa_index_stats *stats) {
  struct stat st_file;
  assert_int_equal(stat(f->path, &st_file), 0);
  oa_corpus_entry e = {.name = "t.opus", .path = (char *)f->path, .size = (uint64_t)st_file.st_size,
                       .mtime_ns = (int64_t)st_file.st_mtim.tv_sec * 1000000000 + st_file.st_mtim.tv_nsec,
                       .dev = (uint64_t)st_file.st_dev, .ino = (uint64_t)st_file.st_ino};
  oa_index_options opt = {.checkpoint_every = 0.2, .mode = mode, .max_preroll = max_preroll};
  oa_encode_options_default(&opt.encode);
  oa_opus_build build;
  oa_err err;
  assert_int_equal(oa_opus_build_probe(&build, &err), OA_OK);
  memset(batch, 0, sizeof *batch);
  memset(stats, 0, sizeof *stats);
  char warning[OA_ERRMSG_MAX] = "";
  oa_err failure;
  oa_err_clear(&failure);
  assert_int_equal(oa_index_entry(&e, 0, &opt, &build, batch, stats, &failure, warning, &err), OA_OK);
  assert_string_equal(failure.msg, "");
  assert_int_equal(batch->nlinks, 1);
}

/* Decodes packet k with dec into pcm: samples per channel. */
static int decode(OpusDecoder *dec, const fixture *f, int k, float *pcm) {
  return opus_decode_float(dec, f->bytes + f->at[k], f->sizes[k], pcm, 5760, 0);
}

/* The straight decode's output of every packet, FRAME x channels each. */
static float *straight_decode(const fixture *f) {
  int err;
  OpusDecoder *dec = opus_decoder_create(48000, f->channels, &err);
  float *ref = malloc(sizeof(float) * (size_t)N * FRAME * (size_t)f->channels);
  for (int k = 0; k < N; k++) assert_int_equal(decode(dec, f, k, ref + (size_t)k * FRAME * f->channels), FRAME);
  opus_decoder_destroy(dec);
  return ref;
}

/* A fresh decoder fed [p - r, p) decodes [p, end) exactly as the straight decode. */
static int preroll_exact(const fixture *f, const float *ref, int p, int r, int end) {
  int err, same = 1;
  OpusDecoder *dec = opus_decoder_create(48000, f->channels, &err);
  float pcm[5760 * 2];
  for (int k = p - r; k < p; k++) decode(dec, f, k, pcm);
  for (int k = p; k < end && same; k++) {
    assert_int_equal(decode(dec, f, k, pcm), FRAME);
    same = memcmp(pcm, ref + (size_t)k * FRAME * f->channels, sizeof(float) * FRAME * (size_t)f->channels) == 0;
  }
  opus_decoder_destroy(dec);
  return same;
}

/* The rows tile [0, N) and start with the link start; returns pre-roll rows. */
static int check_rows(const fixture *f, const oa_batch *b, const float *ref, int max_preroll, uint64_t *min_decodes) {
  int prerolls = 0;
  *min_decodes = 0;
  assert_true(b->nintervals >= 2);
  assert_int_equal(b->intervals[0].kind, OA_CP_START);
  assert_int_equal(b->intervals[0].packet, 0);
  for (size_t i = 0; i < b->nintervals; i++) {
    const oa_interval_row *v = &b->intervals[i];
    int p = (int)v->packet, end = p + (int)v->packet_count;
    if (i + 1 < b->nintervals) assert_int_equal(end, (int)b->intervals[i + 1].packet);
    else assert_int_equal(end, N);
    if (v->kind != OA_CP_PREROLL) continue;
    prerolls++;
    assert_true(v->preroll >= 1 && (int)v->preroll <= p);
    assert_true((int)v->preroll <= max_preroll || (int)v->preroll == p); /* the link start needs no check */
    assert_true(preroll_exact(f, ref, p, (int)v->preroll, end));
    if ((int)v->preroll < p) *min_decodes += v->preroll + v->packet_count;
  }
  return prerolls;
}

static void search_case(int channels, int mode, int bitrate) {
  fixture f;
  make_file(&f, channels, mode, bitrate);
  float *ref = straight_decode(&f);
  oa_batch b;
  oa_index_stats st;
  uint64_t min_decodes;

  index_file(&f, OA_CHECKPOINTS_AUTO, 128, &b, &st);
  int prerolls = check_rows(&f, &b, ref, 128, &min_decodes);
  assert_true(prerolls > 0);
  assert_int_equal((uint64_t)prerolls, st.prerolls);
  assert_true(st.search_decodes >= min_decodes);
  oa_batch_free(&b);

  /* Every later row a pre-roll; where none up to the bound is exact, one
   * from the link start (the sequential decode itself). */
  index_file(&f, OA_CHECKPOINTS_PREROLL, 4, &b, &st);
  prerolls = check_rows(&f, &b, ref, 4, &min_decodes);
  assert_int_equal((size_t)prerolls, b.nintervals - 1);
  assert_int_equal(st.snapshots, 0);
  oa_batch_free(&b);

  index_file(&f, OA_CHECKPOINTS_SNAPSHOT, 128, &b, &st);
  assert_int_equal(check_rows(&f, &b, ref, 128, &min_decodes), 0);
  assert_int_equal(st.search_decodes, 0);
  assert_int_equal(st.snapshots, b.nintervals - 1);
  oa_batch_free(&b);

  free(ref);
  free_fixture(&f);
}

static void test_search_music(void **state) {
  (void)state;
  search_case(2, 0, 64000);
}

static void test_search_celt(void **state) {
  (void)state;
  search_case(1, 2, 48000);
}

static void test_search_silk(void **state) {
  (void)state;
  search_case(1, 1, 16000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_search_music),
      cmocka_unit_test(test_search_celt),
      cmocka_unit_test(test_search_silk),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
