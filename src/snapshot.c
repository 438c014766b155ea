#include "opusarc/snapshot.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "decoder_internal.h"
#include "opusarc/util.h"

/* Uncompressed blob: "OASN", u32 version, u32 state_size, u32 npointers,
 * u32 pointer_offsets[npointers], state bytes (pointer words relative to
 * libopus's load address). All little-endian. */
#define SNAP_MAGIC "OASN"
#define SNAP_VERSION 1
#define SNAP_HEADER 16
#define SNAP_MAX_STREAMS 255

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static int is_pointer_word(const uint8_t *state, size_t off, const oa_opus_build *b, uintptr_t *value) {
  uintptr_t v;
  memcpy(&v, state + off, sizeof v);
  *value = v;
  return v >= b->load_lo && v < b->load_hi;
}

int oa_snapshot_capture(const oa_decoder *dec, const oa_opus_build *build, oa_snapshot *snap,
                        oa_err *err) {
  return oa_snapshot_capture_raw((const uint8_t *)dec->state, dec->size, build, snap, err);
}

int oa_snapshot_capture_raw(const uint8_t *state, size_t size, const oa_opus_build *build, oa_snapshot *snap,
                            oa_err *err) {
  memset(snap, 0, sizeof *snap);
  size_t words = size / sizeof(uintptr_t), nptr = 0;
  uintptr_t v;
  for (size_t w = 0; w < words; w++) nptr += is_pointer_word(state, w * sizeof v, build, &v);
  size_t raw = SNAP_HEADER + 4 * nptr + size;
  uint8_t *blob = malloc(raw);
  if (!blob) return oa_err_set(err, OA_ENOMEM, "out of memory");
  memcpy(blob, SNAP_MAGIC, 4);
  put32(blob + 4, SNAP_VERSION);
  put32(blob + 8, (uint32_t)size);
  put32(blob + 12, (uint32_t)nptr);
  uint8_t *body = blob + SNAP_HEADER + 4 * nptr;
  memcpy(body, state, size);
  size_t k = 0;
  for (size_t w = 0; w < words; w++) {
    size_t off = w * sizeof v;
    if (!is_pointer_word(state, off, build, &v)) continue;
    put32(blob + SNAP_HEADER + 4 * k++, (uint32_t)off);
    uintptr_t rel = v - build->load_lo;
    memcpy(body + off, &rel, sizeof rel);
  }
  uLongf zlen = compressBound((uLong)raw);
  snap->data = malloc(zlen);
  if (!snap->data) {
    free(blob);
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  int zrc = compress2(snap->data, &zlen, blob, (uLong)raw, 6);
  snap->crc32 = (uint32_t)crc32(0L, blob, (uInt)raw);
  free(blob);
  if (zrc != Z_OK) {
    oa_snapshot_free(snap);
    return oa_err_set(err, OA_ENOMEM, "zlib compress failed (%d)", zrc);
  }
  snap->size = zlen;
  snap->raw_size = (uint32_t)raw;
  return OA_OK;
}

void oa_snapshot_free(oa_snapshot *snap) {
  free(snap->data);
  memset(snap, 0, sizeof *snap);
}

/* The leading fields of each OpusDecoder (CELT/SILK offsets, channels,
 * sample rate) are fixed by the stream configuration: a snapshot whose
 * values differ belongs to another configuration or is corrupt. */
static int check_config(const oa_decoder *dec, const uint8_t *state, oa_err *err) {
  size_t offs[SNAP_MAX_STREAMS];
  int n = oa_decoder_stream_offsets(dec, offs, SNAP_MAX_STREAMS);
  if (n < 0) return oa_err_set(err, OA_EBUILD, "unexpected multistream decoder layout in this libopus");
  for (int s = 0; s < n; s++)
    if (memcmp(state + offs[s], dec->fresh + offs[s], 16) != 0)
      return oa_err_set(err, OA_EARCHIVE, "snapshot does not match the stream configuration (stream %d)", s);
  return OA_OK;
}

static int fix_arch(const oa_decoder *dec, const oa_opus_build *host, uint8_t *state, oa_err *err) {
  if (!host->layout_known) return OA_OK; /* caller checked CPU features are identical */
  size_t offs[SNAP_MAX_STREAMS];
  int n = oa_decoder_stream_offsets(dec, offs, SNAP_MAX_STREAMS);
  for (int s = 0; s < n; s++) {
    size_t arch[4];
    if (oa_arch_field_offsets(host, dec->fresh + offs[s], arch) != 4)
      return oa_err_set(err, OA_EBUILD, "cannot locate the arch fields of stream %d", s);
    for (int i = 0; i < 4; i++) memcpy(state + offs[s] + arch[i], dec->fresh + offs[s] + arch[i], 4);
  }
  return OA_OK;
}

static int relocate(const uint8_t *offsets, uint32_t nptr, uint8_t *state, size_t size,
                    const oa_opus_build *host, oa_err *err) {
  uint32_t prev = 0;
  for (uint32_t i = 0; i < nptr; i++) {
    uint32_t off = oa_le32(offsets + 4 * i);
    if (off % sizeof(uintptr_t) != 0 || off > size - sizeof(uintptr_t) || (i > 0 && off <= prev))
      return oa_err_set(err, OA_EARCHIVE, "snapshot pointer list is corrupt (entry %u: offset %u)", i, off);
    prev = off;
    uintptr_t rel;
    memcpy(&rel, state + off, sizeof rel);
    if (rel >= host->load_hi - host->load_lo)
      return oa_err_set(err, OA_EARCHIVE, "snapshot pointer at offset %u points outside libopus", off);
    uintptr_t abs = host->load_lo + rel;
    memcpy(state + off, &abs, sizeof abs);
  }
  return OA_OK;
}

int oa_snapshot_restore(oa_decoder *dec, const oa_opus_build *host, const uint8_t *data, size_t size,
                        uint32_t raw_size, uint32_t crc, oa_err *err) {
  if (raw_size < SNAP_HEADER || raw_size > SNAP_HEADER + 4 * (dec->size / 8) + dec->size)
    return oa_err_set(err, OA_EARCHIVE, "snapshot size %u impossible for a %zu-byte decoder", raw_size, dec->size);
  uint8_t *blob = malloc(raw_size);
  if (!blob) return oa_err_set(err, OA_ENOMEM, "out of memory");
  uLongf got = raw_size;
  int rc = OA_OK;
  if (uncompress(blob, &got, data, (uLong)size) != Z_OK || got != raw_size)
    rc = oa_err_set(err, OA_EARCHIVE, "snapshot does not decompress to its recorded size");
  else if ((uint32_t)crc32(0L, blob, (uInt)raw_size) != crc)
    rc = oa_err_set(err, OA_EARCHIVE, "snapshot CRC mismatch");
  else if (memcmp(blob, SNAP_MAGIC, 4) != 0 || oa_le32(blob + 4) != SNAP_VERSION)
    rc = oa_err_set(err, OA_EARCHIVE, "snapshot has an unknown header");
  else if (oa_le32(blob + 8) != dec->size ||
           raw_size != SNAP_HEADER + 4 * (size_t)oa_le32(blob + 12) + dec->size)
    rc = oa_err_set(err, OA_EARCHIVE, "snapshot holds %u state bytes, this configuration needs %zu",
                    oa_le32(blob + 8), dec->size);
  if (rc == OA_OK) {
    uint32_t nptr = oa_le32(blob + 12);
    uint8_t *state = blob + SNAP_HEADER + 4 * (size_t)nptr;
    rc = relocate(blob + SNAP_HEADER, nptr, state, dec->size, host, err);
    if (rc == OA_OK) rc = check_config(dec, state, err);
    if (rc == OA_OK) rc = fix_arch(dec, host, state, err);
    /* What decoding never changes comes from this host's fresh decoder: a
     * pair of demixing coefficients could pass for a pointer and be
     * relocated. */
    if (rc == OA_OK) memcpy(state, dec->fresh, oa_decoder_constant_prefix(dec));
    if (rc == OA_OK) memcpy(dec->state, state, dec->size);
  }
  free(blob);
  return rc;
}
