/* Packet validation: hand-made packets of every framing code, and a
 * differential check against libopus's own parser on random packets. */
#include <opus/opus.h>
#include <opus/opus_multistream.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "opusarc/packet.h"
#include "testutil.h"

static int validate(const uint8_t *p, size_t n, int streams, int *duration) {
  oa_packet_info info;
  oa_err err;
  int rc = oa_packet_validate(p, n, streams, &info, &err);
  if (rc == OA_OK && duration) *duration = info.duration;
  return rc;
}

static void test_codes(void **state) {
  (void)state;
  uint8_t p[2000] = {0};
  int dur;
  p[0] = (uint8_t)(1 << 3 | 0); /* SILK NB 20 ms, code 0 */
  assert_int_equal(validate(p, 10, 1, &dur), OA_OK);
  assert_int_equal(dur, 960);
  p[0] = (uint8_t)(16 << 3 | 1); /* CELT 2.5 ms, code 1: two equal frames */
  assert_int_equal(validate(p, 11, 1, &dur), OA_OK);
  assert_int_equal(dur, 240);
  assert_int_equal(validate(p, 10, 1, NULL), OA_EFORMAT); /* odd payload */
  p[0] = (uint8_t)(13 << 3 | 2);                          /* hybrid FB 20 ms, code 2 */
  p[1] = 5;
  assert_int_equal(validate(p, 10, 1, &dur), OA_OK);
  assert_int_equal(dur, 1920);
  p[1] = 200; /* first frame longer than the packet */
  assert_int_equal(validate(p, 10, 1, NULL), OA_EFORMAT);
  p[0] = (uint8_t)(3 << 3 | 3); /* SILK 60 ms, code 3 */
  p[1] = 2;                     /* CBR, 2 frames = 120 ms */
  assert_int_equal(validate(p, 12, 1, &dur), OA_OK);
  assert_int_equal(dur, 5760);
  p[1] = 3; /* 180 ms: too long */
  assert_int_equal(validate(p, 12, 1, NULL), OA_EFORMAT);
  p[1] = 0; /* zero frames */
  assert_int_equal(validate(p, 12, 1, NULL), OA_EFORMAT);
  p[0] = (uint8_t)(31 << 3 | 3);
  p[1] = 0x40 | 2; /* padding flag, 2 frames */
  p[2] = 255;      /* 254 bytes of padding, and more */
  p[3] = 10;       /* +10 */
  assert_int_equal(validate(p, 4 + 264 + 4, 1, &dur), OA_OK);
  assert_int_equal(validate(p, 4 + 263, 1, NULL), OA_EFORMAT);
  p[0] = (uint8_t)(31 << 3 | 0); /* a 1276-byte frame is too long */
  assert_int_equal(validate(p, 1277, 1, NULL), OA_EFORMAT);
  assert_int_equal(validate(p, 1276, 1, NULL), OA_OK);
  assert_int_equal(validate(p, 0, 1, NULL), OA_EFORMAT);
}

/* For one stream, our verdict must match opus_packet_parse's on random
 * packets biased towards plausible TOC and count bytes. */
static void test_matches_libopus_parser(void **state) {
  (void)state;
  uint32_t seed = 12345;
  uint8_t p[1500];
  int disagree = 0, accepted = 0;
  for (int iter = 0; iter < 200000; iter++) {
    seed = seed * 1664525u + 1013904223u;
    size_t n = (seed >> 8) % 64;
    if ((seed >> 4) % 7 == 0) n = (seed >> 12) % 1500;
    for (size_t i = 0; i < n; i++) {
      seed = seed * 1664525u + 1013904223u;
      p[i] = (uint8_t)(seed >> 24);
      if (i == 1 && (seed & 3) == 0) p[i] &= 0x47; /* small frame counts, sometimes padded */
      if (i >= 2 && (seed & 1)) p[i] &= 0x3f;      /* short lengths */
    }
    const unsigned char *frames[48];
    opus_int16 sizes[48];
    unsigned char toc;
    int payload;
    int theirs = n > 0 ? opus_packet_parse(p, (opus_int32)n, &toc, frames, sizes, &payload) : OPUS_INVALID_PACKET;
    int ours = validate(p, n, 1, NULL);
    if ((theirs > 0) != (ours == OA_OK)) disagree++;
    accepted += ours == OA_OK;
  }
  assert_int_equal(disagree, 0);
  assert_true(accepted > 1000);
}

/* Multistream packets (self-delimited framing): real encoder output is
 * accepted; the decoder's verdict on damaged copies matches ours. */
static void test_multistream(void **state) {
  (void)state;
  int err, streams, coupled;
  unsigned char mapping[6];
  OpusMSEncoder *enc = opus_multistream_surround_encoder_create(48000, 6, 1, &streams, &coupled, mapping,
                                                                OPUS_APPLICATION_AUDIO, &err);
  OpusMSDecoder *dec = opus_multistream_decoder_create(48000, 6, streams, coupled, mapping, &err);
  float pcm[960 * 6], out[5760 * 6];
  for (int i = 0; i < 960 * 6; i++) pcm[i] = (float)((i * 7919 % 2000) / 4000.0 - 0.25);
  uint8_t pkt[8000], bad[8000];
  uint32_t seed = 99;
  int disagree = 0;
  for (int k = 0; k < 40; k++) {
    int n = opus_multistream_encode_float(enc, pcm, 960, pkt, sizeof pkt);
    assert_true(n > 0);
    int dur = 0;
    assert_int_equal(validate(pkt, (size_t)n, streams, &dur), OA_OK);
    assert_int_equal(dur, 960);
    assert_int_equal(validate(pkt, (size_t)n, streams + 1, NULL), OA_EFORMAT);
    for (int m = 0; m < 50; m++) {
      memcpy(bad, pkt, (size_t)n);
      seed = seed * 1664525u + 1013904223u;
      int at = (int)((seed >> 8) % (uint32_t)n), len = n;
      if (m % 3 == 0) len = at; /* truncated */
      else bad[at] = (uint8_t)(seed >> 24);
      int theirs = len > 0 ? opus_multistream_decode_float(dec, bad, len, out, 5760, 0) : -1;
      int ours = validate(bad, (size_t)len, streams, NULL);
      if ((theirs >= 0) != (ours == OA_OK)) disagree++;
    }
  }
  assert_int_equal(disagree, 0);
  opus_multistream_encoder_destroy(enc);
  opus_multistream_decoder_destroy(dec);
}

/* Length prefixes round-trip at every boundary and are refused when cut. */
static void test_length_prefix(void **state) {
  (void)state;
  const uint32_t lengths[] = {0, 1, 239, 240, 241, 4079, 4080, 65535, 70000, 0xffffffffu};
  const size_t sizes[] = {1, 1, 1, 2, 2, 2, 5, 5, 5, 5};
  for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
    uint8_t buf[OA_PREFIX_MAX];
    size_t n = oa_prefix_write(buf, lengths[i]);
    assert_int_equal(n, sizes[i]);
    uint32_t back = 12345;
    assert_int_equal(oa_prefix_read(buf, n, &back), n);
    assert_int_equal(back, lengths[i]);
    assert_int_equal(oa_prefix_read(buf, n - 1, &back), 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_codes),
      cmocka_unit_test(test_matches_libopus_parser),
      cmocka_unit_test(test_multistream),
      cmocka_unit_test(test_length_prefix),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
