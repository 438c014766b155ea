/* Ogg Opus demux on hand-made pages: timing rules (pre-skip, end trimming,
 * starting granule), chaining, multiplexing, and every kind of damage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "opusarc/oggdemux.h"
#include "testutil.h"

static const uint8_t PKT20[3] = {0xF8, 0x11, 0x22}; /* CELT FB 20 ms, code 0: 960 samples */

/* One link: headers, then `n` 20 ms packets, `per_page` per page; the last
 * page's granule is reduced by `trim`. */
static void add_link(tbuf *b, int serial, int n, int per_page, int pre_skip, int64_t start_gp, int trim) {
  tstream s;
  tstream_init(&s, serial);
  write_headers(&s, b, 2, pre_skip, 0);
  for (int k = 0; k < n; k++) {
    int last = k == n - 1;
    int64_t gp = start_gp + 960LL * (k + 1) - (last ? trim : 0);
    tstream_packet(&s, PKT20, sizeof PKT20, gp, last);
    if (last || (k + 1) % per_page == 0) tstream_flush(&s, b);
  }
  tstream_clear(&s);
}

static void test_single_link_timing(void **state) {
  (void)state;
  tbuf b = {0};
  add_link(&b, 1, 10, 3, 312, 0, 0);
  oa_demuxed d;
  oa_err err;
  assert_int_equal(oa_demux_memory(b.data, b.len, &d, &err), OA_OK);
  assert_int_equal(d.nlinks, 1);
  assert_int_equal(d.npackets, 10);
  assert_int_equal(d.links[0].head.pre_skip, 312);
  assert_int_equal(d.links[0].decoded_samples, 9600);
  assert_int_equal(d.total_samples, 9600 - 312);
  for (size_t i = 0; i < d.npackets; i++) {
    assert_int_equal(d.pkt_link_pos[i], 960 * (int64_t)i);
    assert_int_equal(d.pkt_size[i], 3);
    assert_memory_equal(d.bytes + d.pkt_offset[i], PKT20, 3);
  }
  oa_demuxed_free(&d);
  tbuf_free(&b);
}

static void test_end_trimming_drops_whole_packets(void **state) {
  (void)state;
  tbuf b = {0};
  /* The last page holds packets 6..8; trimming 1500 samples keeps 1380 of
   * its 2880: packet 6 whole and 420 samples of packet 7. Packet 8 carries
   * no output and is dropped. */
  add_link(&b, 1, 9, 3, 0, 0, 1500);
  oa_demuxed d;
  oa_err err;
  assert_int_equal(oa_demux_memory(b.data, b.len, &d, &err), OA_OK);
  assert_int_equal(d.total_samples, 9 * 960 - 1500);
  assert_int_equal(d.npackets, 8);
  oa_demuxed_free(&d);
  tbuf_free(&b);
}

static void expect_error(const tbuf *b, const char *what);

static void test_pre_skip_longer_than_stream(void **state) {
  (void)state;
  tbuf b = {0};
  add_link(&b, 1, 2, 3, 5000, 0, 0);
  expect_error(&b, "pre-skip of 5000 samples covers all 1920");
  tbuf_free(&b);
}

static void test_granule_backwards(void **state) {
  (void)state;
  tbuf b = {0};
  tstream s;
  tstream_init(&s, 9);
  write_headers(&s, &b, 1, 0, 0);
  tstream_packet(&s, PKT20, 3, 1920, 0);
  tstream_flush(&s, &b);
  tstream_packet(&s, PKT20, 3, 960, 0); /* earlier than the page before */
  tstream_flush(&s, &b);
  tstream_packet(&s, PKT20, 3, 2880, 1);
  tstream_flush(&s, &b);
  expect_error(&b, "goes backwards");
  tstream_clear(&s);
  tbuf_free(&b);
}

static void test_nonzero_start_granule(void **state) {
  (void)state;
  tbuf b = {0};
  add_link(&b, 1, 6, 2, 100, 480000, 300);
  oa_demuxed d;
  oa_err err;
  assert_int_equal(oa_demux_memory(b.data, b.len, &d, &err), OA_OK);
  assert_int_equal(d.total_samples, 6 * 960 - 300 - 100);
  oa_demuxed_free(&d);
  tbuf_free(&b);
}

static void test_chained_links(void **state) {
  (void)state;
  tbuf b = {0};
  add_link(&b, 1, 5, 2, 312, 0, 0);
  add_link(&b, 2, 4, 2, 100, 0, 50);
  add_link(&b, 3, 3, 5, 0, 0, 0);
  oa_demuxed d;
  oa_err err;
  assert_int_equal(oa_demux_memory(b.data, b.len, &d, &err), OA_OK);
  assert_int_equal(d.nlinks, 3);
  assert_int_equal(d.links[1].first_packet, 5);
  assert_int_equal(d.links[2].first_packet, 9);
  assert_int_equal(d.links[1].out_samples, 4 * 960 - 50 - 100);
  assert_int_equal(d.pkt_link_pos[5], 0); /* positions restart per link */
  assert_int_equal(d.total_samples, (5 * 960 - 312) + (4 * 960 - 150) + 3 * 960);
  oa_demuxed_free(&d);
  tbuf_free(&b);
}

static void test_multiplexed_other_stream_ignored(void **state) {
  (void)state;
  tbuf b = {0};
  tstream opus, vorbis;
  tstream_init(&opus, 10);
  tstream_init(&vorbis, 11);
  uint8_t head[19], tags[20];
  tstream_packet(&opus, head, make_opus_head(head, 1, 0, 0), 0, 0);
  tstream_flush(&opus, &b);
  tstream_packet(&vorbis, "\x01vorbis-header", 14, 0, 0);
  tstream_flush(&vorbis, &b);
  tstream_packet(&opus, tags, make_opus_tags(tags), 0, 0);
  tstream_flush(&opus, &b);
  tstream_packet(&vorbis, "data", 4, 100, 0);
  tstream_flush(&vorbis, &b);
  tstream_packet(&opus, PKT20, 3, 960, 0);
  tstream_packet(&opus, PKT20, 3, 1920, 1);
  tstream_flush(&opus, &b);
  oa_demuxed d;
  oa_err err;
  assert_int_equal(oa_demux_memory(b.data, b.len, &d, &err), OA_OK);
  assert_int_equal(d.npackets, 2);
  assert_int_equal(d.ignored_streams, 1);
  assert_int_equal(d.total_samples, 1920);
  oa_demuxed_free(&d);
  tstream_clear(&opus);
  tstream_clear(&vorbis);
  tbuf_free(&b);
}

/* Expects failure with `what` in the message. */
static void expect_error(const tbuf *b, const char *what) {
  oa_demuxed d;
  oa_err err;
  oa_err_clear(&err);
  assert_int_not_equal(oa_demux_memory(b->data, b->len, &d, &err), OA_OK);
  if (!strstr(err.msg, what)) fail_msg("message \"%s\" lacks \"%s\"", err.msg, what);
  assert_null(d.bytes);
}

static void test_bad_crc_reports_offset(void **state) {
  (void)state;
  tbuf b = {0};
  add_link(&b, 1, 10, 2, 0, 0, 0);
  size_t at = b.len - 40;
  b.data[at] ^= 0x40;
  expect_error(&b, "byte offset");
  tbuf_free(&b);
}

static void test_truncated(void **state) {
  (void)state;
  tbuf b = {0};
  add_link(&b, 1, 10, 2, 0, 0, 0);
  b.len -= 7;
  expect_error(&b, "truncated");
  tbuf_free(&b);
}

static void test_hole(void **state) {
  (void)state;
  tbuf full = {0};
  tstream s;
  tstream_init(&s, 5);
  write_headers(&s, &full, 1, 0, 0);
  for (int k = 0; k < 6; k++) {
    tstream_packet(&s, PKT20, 3, 960 * (k + 1), k == 5);
    tstream_flush(&s, &full);
  }
  /* Drop the fourth page (the second audio page). */
  tbuf b = {0};
  tbuf_append(&b, full.data, (size_t)s.page_starts[3]);
  tbuf_append(&b, full.data + s.page_starts[4], full.len - (size_t)s.page_starts[4]);
  expect_error(&b, "hole");
  tstream_clear(&s);
  tbuf_free(&full);
  tbuf_free(&b);
}

static void test_not_opus(void **state) {
  (void)state;
  tbuf b = {0};
  tstream s;
  tstream_init(&s, 3);
  tstream_packet(&s, "\x01vorbis-identification", 23, 0, 0);
  tstream_flush(&s, &b);
  tstream_packet(&s, "x", 1, 100, 1);
  tstream_flush(&s, &b);
  expect_error(&b, "no Opus stream (found Vorbis)");
  tstream_clear(&s);
  tbuf_free(&b);
  tbuf t = {0};
  tbuf_append(&t, "RIFF....WAVEfmt ", 16);
  expect_error(&t, "not an Ogg file");
  tbuf_free(&t);
  tbuf e = {0};
  expect_error(&e, "empty file");
}

static void test_missing_tags(void **state) {
  (void)state;
  tbuf b = {0};
  tstream s;
  tstream_init(&s, 3);
  uint8_t head[19];
  tstream_packet(&s, head, make_opus_head(head, 1, 0, 0), 0, 0);
  tstream_flush(&s, &b);
  tstream_packet(&s, PKT20, 3, 960, 1);
  tstream_flush(&s, &b);
  expect_error(&b, "OpusTags");
  tstream_clear(&s);
  tbuf_free(&b);
}

static void test_negative_start_granule(void **state) {
  (void)state;
  tbuf b = {0};
  tstream s;
  tstream_init(&s, 3);
  write_headers(&s, &b, 1, 0, 0);
  tstream_packet(&s, PKT20, 3, -1, 0);
  tstream_packet(&s, PKT20, 3, 100, 0); /* 100 < 1920 decoded so far */
  tstream_flush(&s, &b);
  tstream_packet(&s, PKT20, 3, 1060, 1);
  tstream_flush(&s, &b);
  expect_error(&b, "smaller than");
  tstream_clear(&s);
  tbuf_free(&b);
}

static void test_opus_head_rules(void **state) {
  (void)state;
  oa_opus_head h;
  oa_err err;
  uint8_t p[64];
  size_t n = make_opus_head(p, 2, 312, -256);
  assert_int_equal(oa_parse_opus_head(p, n, &h, &err), OA_OK);
  assert_int_equal(h.gain_q8, -256);
  assert_int_equal(h.coupled, 1);
  p[9] = 3; /* family 0 allows at most 2 channels */
  assert_int_equal(oa_parse_opus_head(p, n, &h, &err), OA_EFORMAT);
  p[9] = 2;
  p[8] = 0x10; /* incompatible major version */
  assert_int_equal(oa_parse_opus_head(p, n, &h, &err), OA_EFORMAT);
  p[8] = 1;
  assert_int_equal(oa_parse_opus_head(p, 18, &h, &err), OA_EFORMAT);
  /* Family 1, 3 channels: 2 streams, 1 coupled, mapping 0 1 2. */
  p[9] = 3, p[18] = 1, p[19] = 2, p[20] = 1, p[21] = 0, p[22] = 1, p[23] = 2;
  assert_int_equal(oa_parse_opus_head(p, 24, &h, &err), OA_OK);
  assert_int_equal(h.streams, 2);
  p[23] = 3; /* stream channel 3 does not exist (2 + 1 = 3 channels: 0..2) */
  assert_int_equal(oa_parse_opus_head(p, 24, &h, &err), OA_EFORMAT);
  p[23] = 255; /* silent channel is allowed */
  assert_int_equal(oa_parse_opus_head(p, 24, &h, &err), OA_OK);
  assert_int_equal(oa_parse_opus_head(p, 23, &h, &err), OA_EFORMAT); /* table cut short */
  p[18] = 2, p[23] = 2; /* family 2, 3 channels: order 0 plus a stereo pair */
  assert_int_equal(oa_parse_opus_head(p, 24, &h, &err), OA_OK);
  /* Family 2, 4 channels (first order): 4 streams, 0 coupled, mapping 0 1 2 3; 6 (plus a stereo pair). */
  p[9] = 4, p[19] = 4, p[20] = 0, p[21] = 0, p[22] = 1, p[23] = 2, p[24] = 3;
  assert_int_equal(oa_parse_opus_head(p, 25, &h, &err), OA_OK);
  assert_int_equal(h.streams, 4);
  p[9] = 6, p[19] = 5, p[20] = 1, p[25] = 4, p[26] = 5;
  assert_int_equal(oa_parse_opus_head(p, 27, &h, &err), OA_OK);
  p[9] = 5;
  assert_int_equal(oa_parse_opus_head(p, 27, &h, &err), OA_EFORMAT); /* 5 channels: no ambisonic order */
  assert_non_null(strstr(err.msg, "ambisonics"));
  p[9] = 4, p[18] = 3;
  assert_int_equal(oa_parse_opus_head(p, 25, &h, &err), OA_EFORMAT); /* family 3: not yet, said */
  assert_non_null(strstr(err.msg, "family 3"));
  p[9] = 3, p[18] = 255, p[19] = 0;
  assert_int_equal(oa_parse_opus_head(p, 24, &h, &err), OA_EFORMAT); /* zero streams */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_single_link_timing),   cmocka_unit_test(test_end_trimming_drops_whole_packets),
      cmocka_unit_test(test_pre_skip_longer_than_stream), cmocka_unit_test(test_nonzero_start_granule),
      cmocka_unit_test(test_chained_links),        cmocka_unit_test(test_multiplexed_other_stream_ignored),
      cmocka_unit_test(test_bad_crc_reports_offset), cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_hole),                 cmocka_unit_test(test_not_opus),
      cmocka_unit_test(test_missing_tags),         cmocka_unit_test(test_negative_start_granule),
      cmocka_unit_test(test_opus_head_rules),      cmocka_unit_test(test_granule_backwards),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
