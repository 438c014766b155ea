/* Ogg Opus demux on hand-made pages: timing rules (pre-skip, end trimming,
 * starting granule), chaining, multiplexing, and every kind of damage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Demuxes b, which must succeed with `n` damage entries. */
static void expect_damage(const tbuf *b, oa_demuxed *d, size_t n) {
  oa_err err;
  oa_err_clear(&err);
  if (oa_demux_memory(b->data, b->len, d, &err) != OA_OK) fail_msg("demux failed: %s", err.msg);
  if (d->ndamage != n) {
    char text[512];
    oa_damage_describe(d, text, sizeof text);
    fail_msg("%zu damage entries, not %zu: %s", d->ndamage, n, text);
  }
}

static void test_bad_crc_skipped(void **state) {
  (void)state;
  tbuf b = {0};
  add_link(&b, 1, 10, 2, 0, 0, 0); /* pages of 35 bytes */
  size_t at = b.len - 40;          /* inside the page before the last: packets 6-7 */
  b.data[at] ^= 0x40;
  oa_demuxed d;
  expect_damage(&b, &d, 2);
  assert_int_equal(d.damage[0].kind, OA_DAMAGE_CORRUPT);
  assert_true(d.damage[0].byte_offset <= at && d.damage[0].byte_offset + d.damage[0].bytes > at);
  /* The last page follows the missing one: a hole, placed by its granule. */
  assert_int_equal(d.damage[1].kind, OA_DAMAGE_HOLE);
  assert_int_equal(d.damage[1].samples, 1920);
  assert_int_equal(d.damage[1].at_sample, 6 * 960);
  assert_int_equal(d.npackets, 8);
  assert_int_equal(d.total_samples, 10 * 960);
  char text[512];
  oa_damage_describe(&d, text, sizeof text);
  assert_non_null(strstr(text, "corrupt data at byte"));
  oa_demuxed_free(&d);
  tbuf_free(&b);
}

static void test_truncated_keeps_complete_pages(void **state) {
  (void)state;
  tbuf b = {0};
  add_link(&b, 1, 10, 2, 0, 0, 0);
  size_t full = b.len;
  b.len -= 7;
  oa_demuxed d;
  expect_damage(&b, &d, 1);
  assert_int_equal(d.damage[0].kind, OA_DAMAGE_TRUNCATED);
  assert_int_equal(d.damage[0].byte_offset + d.damage[0].bytes, full - 7);
  assert_int_equal(d.damage[0].samples, -1);
  assert_int_equal(d.npackets, 8);
  assert_int_equal(d.total_samples, 8 * 960);
  oa_demuxed_free(&d);
  tbuf_free(&b);
}

/* A link of `n` 20 ms packets, one per page, into `full`; returns the
 * stream (its page_starts say where each page begins). */
static void one_packet_pages(tstream *s, tbuf *full, int n) {
  tstream_init(s, 5);
  write_headers(s, full, 1, 0, 0);
  for (int k = 0; k < n; k++) {
    tstream_packet(s, PKT20, 3, 960 * (k + 1), k == n - 1);
    tstream_flush(s, full);
  }
}

/* full without pages [p, q) */
static void drop_pages(const tstream *s, const tbuf *full, tbuf *out, int p, int q) {
  tbuf_append(out, full->data, (size_t)s->page_starts[p]);
  tbuf_append(out, full->data + s->page_starts[q], full->len - (size_t)s->page_starts[q]);
}

static void test_hole_becomes_silence(void **state) {
  (void)state;
  tbuf full = {0}, b = {0};
  tstream s;
  one_packet_pages(&s, &full, 6);
  drop_pages(&s, &full, &b, 3, 4); /* the second audio page: packet 1 */
  oa_demuxed d;
  expect_damage(&b, &d, 1);
  assert_int_equal(d.damage[0].kind, OA_DAMAGE_HOLE);
  assert_int_equal(d.damage[0].byte_offset, (uint64_t)s.page_starts[3]);
  assert_int_equal(d.damage[0].samples, 960);
  assert_int_equal(d.damage[0].at_sample, 960);
  assert_int_equal(d.lost_samples, 960);
  assert_int_equal(d.npackets, 5);
  const int64_t at[5] = {0, 1920, 2880, 3840, 4800};
  for (size_t i = 0; i < 5; i++) assert_int_equal(d.pkt_link_pos[i], at[i]);
  assert_int_equal(d.links[0].decoded_samples, 5760);
  assert_int_equal(d.total_samples, 5760);
  oa_demuxed_free(&d);
  tstream_clear(&s);
  tbuf_free(&full);
  tbuf_free(&b);
}

static void test_two_holes(void **state) {
  (void)state;
  tbuf full = {0}, once = {0};
  tstream s;
  one_packet_pages(&s, &full, 10);
  /* Pages 2.. are packets 0..; drop packets 1-2 and 6. */
  tbuf_append(&once, full.data, (size_t)s.page_starts[3]);
  tbuf_append(&once, full.data + s.page_starts[5], (size_t)(s.page_starts[8] - s.page_starts[5]));
  tbuf_append(&once, full.data + s.page_starts[9], full.len - (size_t)s.page_starts[9]);
  oa_demuxed d;
  expect_damage(&once, &d, 2);
  assert_int_equal(d.damage[0].samples, 1920);
  assert_int_equal(d.damage[0].at_sample, 960);
  assert_int_equal(d.damage[1].samples, 960);
  assert_int_equal(d.damage[1].at_sample, 6 * 960);
  assert_int_equal(d.lost_samples, 2880);
  assert_int_equal(d.npackets, 7);
  assert_int_equal(d.total_samples, 9600);
  assert_int_equal(d.pkt_link_pos[6], 9 * 960);
  char text[512];
  oa_damage_describe(&d, text, sizeof text);
  assert_non_null(strstr(text, "1920 samples lost, silence at sample 960"));
  oa_demuxed_free(&d);
  tstream_clear(&s);
  tbuf_free(&full);
  tbuf_free(&once);
}

/* The beginning of a chained link is lost: its pages cannot be decoded and
 * are skipped, named; the links around it are kept. */
static void test_lost_link_start(void **state) {
  (void)state;
  tbuf b = {0}, mid = {0};
  add_link(&b, 1, 4, 2, 0, 0, 0);
  tstream s;
  tstream_init(&s, 2);
  write_headers(&s, &mid, 1, 0, 0);
  for (int k = 0; k < 3; k++) {
    tstream_packet(&s, PKT20, 3, 960 * (k + 1), k == 2);
    tstream_flush(&s, &mid);
  }
  tbuf_append(&b, mid.data + s.page_starts[1], mid.len - (size_t)s.page_starts[1]); /* no BOS page */
  add_link(&b, 3, 4, 2, 0, 0, 0);
  oa_demuxed d;
  expect_damage(&b, &d, 1);
  assert_int_equal(d.damage[0].kind, OA_DAMAGE_ORPHAN);
  assert_int_equal(d.damage[0].bytes, mid.len - (size_t)s.page_starts[1]);
  assert_int_equal(d.nlinks, 2);
  assert_int_equal(d.total_samples, 8 * 960);
  oa_demuxed_free(&d);
  tstream_clear(&s);
  tbuf_free(&b);
  tbuf_free(&mid);
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
  /* Family 3, first order: 2 streams, 2 coupled, then a 4 x 4 demixing
   * matrix of int16 (32 bytes) in place of the mapping table. */
  p[9] = 4, p[18] = 3, p[19] = 2, p[20] = 2;
  for (int i = 0; i < 32; i++) p[21 + i] = (uint8_t)(i * 7 + 1);
  assert_int_equal(oa_parse_opus_head(p, 52, &h, &err), OA_EFORMAT); /* matrix cut short */
  assert_non_null(strstr(err.msg, "32-byte demixing matrix"));
  assert_int_equal(oa_parse_opus_head(p, 53, &h, &err), OA_OK);
  assert_int_equal(h.demixing_size, 32);
  assert_memory_equal(h.demixing, p + 21, 32);
  p[9] = 5;
  assert_int_equal(oa_parse_opus_head(p, 53, &h, &err), OA_EFORMAT); /* no ambisonic order */
  p[9] = 4, p[19] = 12, p[20] = 7;
  assert_int_equal(oa_parse_opus_head(p, 64, &h, &err), OA_EFORMAT); /* 19 decoded channels */
  p[9] = 3, p[18] = 255, p[19] = 0;
  assert_int_equal(oa_parse_opus_head(p, 24, &h, &err), OA_EFORMAT); /* zero streams */
}

/* Read from a file a page at a time, releasing each packet once it is
 * ready: every packet arrives once, in order, with the place and bytes the
 * whole-file demux gives it, and never before its place is final (the end
 * trimming of the last page may still drop packets until then). */
static void test_reader_streams_and_releases(void **state) {
  (void)state;
  tbuf b = {0};
  add_link(&b, 1, 40, 3, 312, 0, 0);
  add_link(&b, 2, 27, 4, 0, 0, 1500); /* a second link, trimmed at its end */
  /* A third whose first audio page has no granule position: its packets
   * have no place until the next page comes. */
  tstream s3;
  tstream_init(&s3, 3);
  write_headers(&s3, &b, 2, 0, 0);
  for (int k = 0; k < 9; k++) {
    tstream_packet(&s3, PKT20, sizeof PKT20, k < 3 ? -1 : 960LL * (k + 1), k == 8);
    if (k % 3 == 2) tstream_flush(&s3, &b);
  }
  tstream_clear(&s3);
  oa_demuxed whole, d;
  oa_err err;
  assert_int_equal(oa_demux_memory(b.data, b.len, &whole, &err), OA_OK);
  char path[] = "/tmp/test_demux_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
  close(fd);
  oa_ogg_reader *r;
  assert_int_equal(oa_ogg_open(path, &d, &r, &err), OA_OK);
  size_t taken = 0;
  int more, steps = 0;
  do {
    more = oa_ogg_read(r, &err);
    assert_true(more >= 0);
    size_t ready = oa_ogg_ready(r);
    assert_true(ready <= whole.npackets);
    for (; taken < ready; taken++) {
      size_t i = taken - d.base;
      assert_int_equal(d.pkt_link_pos[i], whole.pkt_link_pos[taken]);
      assert_int_equal(d.pkt_size[i], whole.pkt_size[taken]);
      assert_memory_equal(d.bytes + d.pkt_offset[i], whole.bytes + whole.pkt_offset[taken], d.pkt_size[i]);
    }
    oa_demuxed_release(&d, ready);
    assert_int_equal(d.base, ready);
    steps++;
  } while (more > 0);
  assert_true(steps > 10); /* it really went page by page */
  assert_int_equal(taken, whole.npackets);
  assert_int_equal(d.npackets, whole.npackets);
  assert_int_equal(d.nlinks, 3);
  assert_int_equal(d.links[1].out_samples, whole.links[1].out_samples);
  assert_int_equal(d.total_samples, whole.total_samples);
  assert_int_equal(oa_demuxed_payload(&d), oa_demuxed_payload(&whole));
  assert_int_equal(oa_ogg_bytes_read(r), b.len);
  oa_ogg_close(r);
  unlink(path);
  oa_demuxed_free(&d);
  oa_demuxed_free(&whole);
  tbuf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_single_link_timing),   cmocka_unit_test(test_end_trimming_drops_whole_packets),
      cmocka_unit_test(test_pre_skip_longer_than_stream), cmocka_unit_test(test_nonzero_start_granule),
      cmocka_unit_test(test_chained_links),        cmocka_unit_test(test_multiplexed_other_stream_ignored),
      cmocka_unit_test(test_bad_crc_skipped),      cmocka_unit_test(test_truncated_keeps_complete_pages),
      cmocka_unit_test(test_hole_becomes_silence), cmocka_unit_test(test_two_holes),
      cmocka_unit_test(test_lost_link_start),                 cmocka_unit_test(test_not_opus),
      cmocka_unit_test(test_missing_tags),         cmocka_unit_test(test_negative_start_granule),
      cmocka_unit_test(test_opus_head_rules),      cmocka_unit_test(test_granule_backwards),
      cmocka_unit_test(test_reader_streams_and_releases),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
