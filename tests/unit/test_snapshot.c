/* Decoder snapshots: capture and restore give bit-exact continuation; the
 * stored blob holds no absolute libopus addresses; arch fields are reset to
 * the host's; corrupt or mismatched snapshots are refused. */
#include <opus/opus.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "decoder_internal.h"
#include "opusarc/snapshot.h"
#include "testutil.h"

static oa_opus_build host;

static int setup(void **state) {
  (void)state;
  oa_err err;
  return oa_opus_build_probe(&host, &err);
}

static oa_opus_head head_for(int channels) {
  oa_opus_head h;
  memset(&h, 0, sizeof h);
  h.channels = channels;
  h.streams = 1;
  h.coupled = channels - 1;
  h.mapping[0] = 0;
  h.mapping[1] = 1;
  h.gain_q8 = -200;
  return h;
}

static void test_build_probe(void **state) {
  (void)state;
  assert_true(strncmp(host.version, "libopus", 7) == 0);
  assert_int_equal(host.dec_size_mono, opus_decoder_get_size(1));
  assert_true(host.load_lo < host.load_hi);
  assert_true(host.code_hash != 0);
  if (strcmp(host.version, "libopus 1.3.1") == 0) assert_true(host.layout_known);
}

/* Decode `split` packets, snapshot, then decode the rest in the original
 * decoder and in a fresh decoder restored from the snapshot: the outputs
 * must be identical. */
static void continuation(int channels, int mode, int frame) {
  enum { N = 120 };
  uint8_t *bytes;
  int sizes[N];
  encode_packets(channels, frame, 32000 * channels, mode, N, &bytes, sizes);
  oa_opus_head h = head_for(channels);
  oa_decoder *a, *b;
  oa_err err;
  assert_int_equal(oa_decoder_create(&h, &a, &err), OA_OK);
  assert_int_equal(oa_decoder_create(&h, &b, &err), OA_OK);
  float *pa = malloc(sizeof(float) * OA_MAX_PACKET_FRAMES * 2), *pb = malloc(sizeof(float) * OA_MAX_PACKET_FRAMES * 2);
  size_t off = 0;
  const int split = 77;
  for (int k = 0; k < split; k++) {
    assert_int_equal(oa_decoder_decode(a, bytes + off, (size_t)sizes[k], pa, &err), frame);
    off += (size_t)sizes[k];
  }
  oa_snapshot snap;
  assert_int_equal(oa_snapshot_capture(a, &host, &snap, &err), OA_OK);
  assert_int_equal(oa_snapshot_restore(b, &host, snap.data, snap.size, snap.raw_size, snap.crc32, &err), OA_OK);
  for (int k = split; k < N; k++) {
    assert_int_equal(oa_decoder_decode(a, bytes + off, (size_t)sizes[k], pa, &err), frame);
    assert_int_equal(oa_decoder_decode(b, bytes + off, (size_t)sizes[k], pb, &err), frame);
    assert_memory_equal(pa, pb, sizeof(float) * (size_t)frame * (size_t)channels);
    off += (size_t)sizes[k];
  }
  oa_snapshot_free(&snap);
  oa_decoder_free(a);
  oa_decoder_free(b);
  free(pa), free(pb), free(bytes);
}

static void test_continuation_modes(void **state) {
  (void)state;
  continuation(1, 1, 960); /* SILK-ish mono */
  continuation(2, 0, 960); /* auto stereo */
  continuation(2, 2, 120); /* CELT 2.5 ms */
  continuation(1, 2, 480);
}

/* Decompresses a snapshot's blob: header, pointer list, state. */
static uint8_t *unpack(const oa_snapshot *s) {
  uint8_t *raw = malloc(s->raw_size);
  uLongf n = s->raw_size;
  assert_int_equal(uncompress(raw, &n, s->data, (uLong)s->size), Z_OK);
  return raw;
}

static void repack(oa_snapshot *s, const uint8_t *raw) {
  uLongf n = compressBound(s->raw_size);
  free(s->data);
  s->data = malloc(n);
  assert_int_equal(compress2(s->data, &n, raw, s->raw_size, 6), Z_OK);
  s->size = n;
  s->crc32 = (uint32_t)crc32(0, raw, s->raw_size);
}

/* A patch (kind 3) from a decoder pre-rolled over the 8 packets before
 * `split` to the sequential decoder's memory there: with every differing
 * byte (sparse = 0) the patched decoder continues exactly like the
 * sequential one; a patch for another image size, with a run past the
 * image's end, or with a forged CRC is refused, leaving errors only. */
static void patch_continuation(int channels, int mode, int frame) {
  enum { N = 120, SPLIT = 77, R = 8 };
  uint8_t *bytes;
  int sizes[N];
  size_t at[N + 1] = {0};
  encode_packets(channels, frame, 16000 * channels, mode, N, &bytes, sizes);
  for (int k = 0; k < N; k++) at[k + 1] = at[k] + (size_t)sizes[k];
  oa_opus_head h = head_for(channels);
  oa_decoder *a, *b;
  oa_err err;
  assert_int_equal(oa_decoder_create(&h, &a, &err), OA_OK);
  assert_int_equal(oa_decoder_create(&h, &b, &err), OA_OK);
  float *pa = malloc(sizeof(float) * OA_MAX_PACKET_FRAMES * 2), *pb = malloc(sizeof(float) * OA_MAX_PACKET_FRAMES * 2);
  for (int k = 0; k < SPLIT; k++) assert_int_equal(oa_decoder_decode(a, bytes + at[k], (size_t)sizes[k], pa, &err), frame);
  for (int k = SPLIT - R; k < SPLIT; k++)
    assert_int_equal(oa_decoder_decode(b, bytes + at[k], (size_t)sizes[k], pb, &err), frame);
  uint8_t *target = malloc(oa_decoder_state_size(a));
  oa_decoder_copy_state(a, target);
  oa_snapshot patch;
  assert_int_equal(oa_patch_make(b, target, oa_decoder_state_size(a), &host, 0, &patch, &err), OA_OK);
  assert_true(patch.raw_size > 16); /* the pre-roll alone does not give the sequential memory */
  assert_int_equal(oa_patch_apply(b, &host, patch.data, patch.size, patch.raw_size, patch.crc32, &err), OA_OK);
  for (int k = SPLIT; k < N; k++) {
    assert_int_equal(oa_decoder_decode(a, bytes + at[k], (size_t)sizes[k], pa, &err), frame);
    assert_int_equal(oa_decoder_decode(b, bytes + at[k], (size_t)sizes[k], pb, &err), frame);
    assert_memory_equal(pa, pb, sizeof(float) * (size_t)frame * (size_t)channels);
  }
  /* Damaged patches. */
  uint8_t *raw = malloc(patch.raw_size);
  uLongf n = patch.raw_size;
  assert_int_equal(uncompress(raw, &n, patch.data, (uLong)patch.size), Z_OK);
  uint32_t image = raw[8] | raw[9] << 8 | (uint32_t)raw[10] << 16 | (uint32_t)raw[11] << 24;
  oa_snapshot bad = {0};
  bad.raw_size = patch.raw_size;
  raw[8] ^= 8; /* another image size */
  repack(&bad, raw);
  assert_int_equal(oa_patch_apply(b, &host, bad.data, bad.size, bad.raw_size, bad.crc32, &err), OA_EARCHIVE);
  raw[8] ^= 8;
  const uint32_t pasts[] = {image, image + 4096, UINT32_MAX}; /* the first run starts at or past the end */
  for (int i = 0; i < 3; i++) {
    memcpy(raw + 16, &pasts[i], 4);
    repack(&bad, raw);
    assert_int_equal(oa_patch_apply(b, &host, bad.data, bad.size, bad.raw_size, bad.crc32, &err), OA_EARCHIVE);
  }
  assert_int_equal(oa_patch_apply(b, &host, patch.data, patch.size, patch.raw_size, patch.crc32 ^ 1, &err),
                   OA_EARCHIVE);
  oa_snapshot_free(&bad);
  oa_snapshot_free(&patch);
  free(raw), free(target);
  oa_decoder_free(a);
  oa_decoder_free(b);
  free(pa), free(pb), free(bytes);
}

static void test_patch_modes(void **state) {
  (void)state;
  patch_continuation(1, 1, 960); /* SILK mono */
  patch_continuation(2, 0, 960); /* auto stereo */
  patch_continuation(1, 2, 480); /* CELT */
}

/* A fresh decoder's snapshot, unpacked: *raw is the blob, the return value
 * points at the state inside it, *nptr is the pointer-list length. */
static uint8_t *snapshot_of_fresh(int channels, oa_decoder **d, oa_snapshot *s, uint8_t **raw, uint32_t *nptr) {
  oa_opus_head h = head_for(channels);
  oa_err err;
  assert_int_equal(oa_decoder_create(&h, d, &err), OA_OK);
  assert_int_equal(oa_snapshot_capture(*d, &host, s, &err), OA_OK);
  *raw = unpack(s);
  memcpy(nptr, *raw + 12, 4);
  return *raw + 16 + 4 * (size_t)*nptr;
}

static void test_no_absolute_pointers_stored(void **state) {
  (void)state;
  oa_decoder *d;
  oa_snapshot s;
  uint8_t *raw;
  uint32_t nptr;
  const uint8_t *st = snapshot_of_fresh(2, &d, &s, &raw, &nptr);
  assert_true(nptr >= 1); /* at least the CELT mode pointer */
  for (size_t off = 0; off + 8 <= d->size; off += 8) {
    uintptr_t v;
    memcpy(&v, st + off, sizeof v);
    assert_false(v >= host.load_lo && v < host.load_hi);
  }
  free(raw);
  oa_snapshot_free(&s);
  oa_decoder_free(d);
}

static void test_arch_fields_reset(void **state) {
  (void)state;
  if (!host.layout_known) skip();
  oa_decoder *d;
  oa_snapshot s;
  uint8_t *raw;
  uint32_t nptr;
  oa_err err;
  uint8_t *st = snapshot_of_fresh(1, &d, &s, &raw, &nptr);
  size_t arch[4];
  assert_int_equal(oa_arch_field_offsets(&host, d->fresh, arch), 4);
  int32_t foreign = 0x5a5a;
  for (int i = 0; i < 4; i++) memcpy(st + arch[i], &foreign, 4); /* a "CPU" this host lacks */
  repack(&s, raw);
  assert_int_equal(oa_snapshot_restore(d, &host, s.data, s.size, s.raw_size, s.crc32, &err), OA_OK);
  for (int i = 0; i < 4; i++) {
    int32_t v;
    memcpy(&v, (uint8_t *)d->state + arch[i], 4);
    assert_int_equal(v, host.arch);
  }
  free(raw);
  oa_snapshot_free(&s);
  oa_decoder_free(d);
}

static void test_refuses_bad_snapshots(void **state) {
  (void)state;
  oa_opus_head mono = head_for(1), stereo = head_for(2);
  oa_decoder *m, *st;
  oa_err err;
  assert_int_equal(oa_decoder_create(&mono, &m, &err), OA_OK);
  assert_int_equal(oa_decoder_create(&stereo, &st, &err), OA_OK);
  oa_snapshot s;
  assert_int_equal(oa_snapshot_capture(st, &host, &s, &err), OA_OK);
  assert_int_equal(oa_snapshot_restore(m, &host, s.data, s.size, s.raw_size, s.crc32, &err), OA_EARCHIVE);
  assert_int_equal(oa_snapshot_restore(st, &host, s.data, s.size, s.raw_size, s.crc32 ^ 1, &err), OA_EARCHIVE);
  assert_int_equal(oa_snapshot_restore(st, &host, s.data, s.size / 2, s.raw_size, s.crc32, &err), OA_EARCHIVE);
  /* A pointer entry that is not 8-byte aligned. */
  uint8_t *raw = unpack(&s);
  uint32_t bad = 3;
  memcpy(raw + 16, &bad, 4);
  repack(&s, raw);
  assert_int_equal(oa_snapshot_restore(st, &host, s.data, s.size, s.raw_size, s.crc32, &err), OA_EARCHIVE);
  free(raw);
  oa_snapshot_free(&s);
  oa_decoder_free(m);
  oa_decoder_free(st);
}

static void test_build_compatibility(void **state) {
  (void)state;
  oa_err err;
  assert_int_equal(oa_opus_build_compatible(&host, &host, &err), OA_OK);
  oa_opus_build other = host;
  other.code_hash ^= 1;
  assert_int_equal(oa_opus_build_compatible(&other, &host, &err), OA_EBUILD);
  assert_non_null(strstr(err.msg, "same build"));
  other = host;
  snprintf(other.version, sizeof other.version, "libopus 9.9");
  assert_int_equal(oa_opus_build_compatible(&other, &host, &err), OA_EBUILD);
  assert_non_null(strstr(err.msg, "libopus 9.9"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_build_probe),         cmocka_unit_test(test_continuation_modes),
      cmocka_unit_test(test_patch_modes),
      cmocka_unit_test(test_no_absolute_pointers_stored), cmocka_unit_test(test_arch_fields_reset),
      cmocka_unit_test(test_refuses_bad_snapshots), cmocka_unit_test(test_build_compatibility),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
