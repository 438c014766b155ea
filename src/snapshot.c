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

/* The uncompressed blob of a decoder memory copy, pointers made relative. */
static int image_build(const uint8_t *state, size_t size, const oa_opus_build *build, uint8_t **out, size_t *out_len,
                       oa_err *err) {
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
  *out = blob;
  *out_len = raw;
  return OA_OK;
}

/* snap = zlib(blob), with the blob's size and CRC. */
static int compress_blob(const uint8_t *blob, size_t raw, oa_snapshot *snap, oa_err *err) {
  memset(snap, 0, sizeof *snap);
  uLongf zlen = compressBound((uLong)raw);
  snap->data = malloc(zlen);
  if (!snap->data) return oa_err_set(err, OA_ENOMEM, "out of memory");
  int zrc = compress2(snap->data, &zlen, blob, (uLong)raw, 6);
  if (zrc != Z_OK) {
    oa_snapshot_free(snap);
    return oa_err_set(err, OA_ENOMEM, "zlib compress failed (%d)", zrc);
  }
  snap->crc32 = (uint32_t)crc32(0L, blob, (uInt)raw);
  snap->size = zlen;
  snap->raw_size = (uint32_t)raw;
  return OA_OK;
}

/* The blob of a stored snapshot or patch: decompressed, size and CRC checked. */
static int expand_blob(const uint8_t *data, size_t size, uint32_t raw_size, uint32_t crc, const char *what,
                       uint8_t **out, oa_err *err) {
  uint8_t *blob = malloc(raw_size ? raw_size : 1);
  if (!blob) return oa_err_set(err, OA_ENOMEM, "out of memory");
  uLongf got = raw_size;
  int rc = OA_OK;
  if (uncompress(blob, &got, data, (uLong)size) != Z_OK || got != raw_size)
    rc = oa_err_set(err, OA_EARCHIVE, "%s does not decompress to its recorded size", what);
  else if ((uint32_t)crc32(0L, blob, (uInt)raw_size) != crc)
    rc = oa_err_set(err, OA_EARCHIVE, "%s CRC mismatch", what);
  if (rc != OA_OK) free(blob);
  else *out = blob;
  return rc;
}

int oa_snapshot_capture_raw(const uint8_t *state, size_t size, const oa_opus_build *build, oa_snapshot *snap,
                            oa_err *err) {
  memset(snap, 0, sizeof *snap);
  uint8_t *blob;
  size_t raw;
  int rc = image_build(state, size, build, &blob, &raw, err);
  if (rc != OA_OK) return rc;
  rc = compress_blob(blob, raw, snap, err);
  free(blob);
  return rc;
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

/* Loads a decoder from an uncompressed blob (its header, pointers, stream
 * configuration and arch fields checked and fixed for this host). */
static int image_restore(oa_decoder *dec, const oa_opus_build *host, uint8_t *blob, size_t raw_size, oa_err *err) {
  if (raw_size < SNAP_HEADER || memcmp(blob, SNAP_MAGIC, 4) != 0 || oa_le32(blob + 4) != SNAP_VERSION)
    return oa_err_set(err, OA_EARCHIVE, "snapshot has an unknown header");
  if (oa_le32(blob + 8) != dec->size || raw_size != SNAP_HEADER + 4 * (size_t)oa_le32(blob + 12) + dec->size)
    return oa_err_set(err, OA_EARCHIVE, "snapshot holds %u state bytes, this configuration needs %zu",
                      oa_le32(blob + 8), dec->size);
  uint32_t nptr = oa_le32(blob + 12);
  uint8_t *state = blob + SNAP_HEADER + 4 * (size_t)nptr;
  int rc = relocate(blob + SNAP_HEADER, nptr, state, dec->size, host, err);
  if (rc == OA_OK) rc = check_config(dec, state, err);
  if (rc == OA_OK) rc = fix_arch(dec, host, state, err);
  /* What decoding never changes comes from this host's fresh decoder: a
   * pair of demixing coefficients could pass for a pointer and be
   * relocated. */
  if (rc == OA_OK) memcpy(state, dec->fresh, oa_decoder_constant_prefix(dec));
  if (rc == OA_OK) memcpy(dec->state, state, dec->size);
  return rc;
}

static size_t max_blob(const oa_decoder *dec) { return SNAP_HEADER + 4 * (dec->size / 8) + dec->size; }

int oa_snapshot_restore(oa_decoder *dec, const oa_opus_build *host, const uint8_t *data, size_t size,
                        uint32_t raw_size, uint32_t crc, oa_err *err) {
  if (raw_size < SNAP_HEADER || raw_size > max_blob(dec))
    return oa_err_set(err, OA_EARCHIVE, "snapshot size %u impossible for a %zu-byte decoder", raw_size, dec->size);
  uint8_t *blob;
  int rc = expand_blob(data, size, raw_size, crc, "snapshot", &blob, err);
  if (rc != OA_OK) return rc;
  rc = image_restore(dec, host, blob, raw_size, err);
  free(blob);
  return rc;
}

/* ---- patches ----
 * Uncompressed: "OAPT", u32 version, u32 image size, u32 runs, then per
 * run u32 offset, u32 length and the bytes; runs increasing and apart. */
#define PATCH_MAGIC "OAPT"
#define PATCH_VERSION 1
#define PATCH_HEADER 16
#define DENSE_BLOCK 1024
#define DENSE_BYTES 900 /* a block this different is left out of a sparse patch */

static int differs(const uint8_t *a, const uint8_t *b, size_t i, const uint8_t *dense) {
  return a[i] != b[i] && !(dense && dense[i / DENSE_BLOCK]);
}

static size_t next_diff(const uint8_t *a, const uint8_t *b, size_t i, size_t n, const uint8_t *dense) {
  while (i < n && !differs(a, b, i, dense)) i++;
  return i;
}

/* Marks the blocks of the image in which nearly every byte differs. */
static uint8_t *dense_blocks(const uint8_t *a, const uint8_t *b, size_t n) {
  uint8_t *dense = calloc(n / DENSE_BLOCK + 1, 1);
  for (size_t blk = 0; dense && blk * DENSE_BLOCK < n; blk++) {
    size_t c = 0;
    for (size_t i = blk * DENSE_BLOCK; i < n && i < (blk + 1) * DENSE_BLOCK; i++) c += a[i] != b[i];
    dense[blk] = c > DENSE_BYTES;
  }
  return dense;
}

/* The runs where `from` differs from `to` (both n-byte images). */
static int build_patch(const uint8_t *from, const uint8_t *to, size_t n, int sparse, oa_snapshot *patch,
                       oa_err *err) {
  uint8_t *dense = sparse ? dense_blocks(from, to, n) : NULL;
  uint8_t *blob = malloc(PATCH_HEADER + 3 * n + 8); /* worst case: 1-byte runs one apart */
  if (!blob || (sparse && !dense)) {
    free(blob), free(dense);
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  size_t len = PATCH_HEADER;
  uint32_t runs = 0;
  for (size_t i = next_diff(from, to, 0, n, dense); i < n;) {
    size_t end = i + 1, next;
    /* A gap shorter than a run header joins the two runs. */
    while ((next = next_diff(from, to, end, n, dense)) < n && next - end < 8) end = next + 1;
    put32(blob + len, (uint32_t)i);
    put32(blob + len + 4, (uint32_t)(end - i));
    memcpy(blob + len + 8, to + i, end - i);
    len += 8 + (end - i);
    runs++;
    i = next;
  }
  memcpy(blob, PATCH_MAGIC, 4);
  put32(blob + 4, PATCH_VERSION);
  put32(blob + 8, (uint32_t)n);
  put32(blob + 12, runs);
  int rc = compress_blob(blob, len, patch, err);
  free(blob), free(dense);
  return rc;
}

int oa_patch_make(const oa_decoder *from, const uint8_t *target, size_t size, const oa_opus_build *build, int sparse,
                  oa_snapshot *patch, oa_err *err) {
  memset(patch, 0, sizeof *patch);
  uint8_t *a = NULL, *b = NULL;
  size_t na = 0, nb = 0;
  int rc = image_build((const uint8_t *)from->state, from->size, build, &a, &na, err);
  if (rc == OA_OK) rc = image_build(target, size, build, &b, &nb, err);
  if (rc == OA_OK && na != nb) rc = oa_err_set(err, OA_EARCHIVE, "decoder images differ in size (pointers)");
  if (rc == OA_OK) rc = build_patch(a, b, na, sparse, patch, err);
  free(a), free(b);
  return rc;
}

/* Applies the runs of an uncompressed patch to an n-byte image. */
static int apply_runs(const uint8_t *p, size_t len, uint8_t *image, size_t n, oa_err *err) {
  if (len < PATCH_HEADER || memcmp(p, PATCH_MAGIC, 4) != 0 || oa_le32(p + 4) != PATCH_VERSION)
    return oa_err_set(err, OA_EARCHIVE, "patch has an unknown header");
  if (oa_le32(p + 8) != n)
    return oa_err_set(err, OA_EARCHIVE, "patch is for a %u-byte image, this decoder's is %zu", oa_le32(p + 8), n);
  size_t at = PATCH_HEADER, next = 0;
  for (uint32_t r = 0, runs = oa_le32(p + 12); r < runs; r++) {
    if (len - at < 8) return oa_err_set(err, OA_EARCHIVE, "patch is cut short (run %u)", r);
    uint32_t off = oa_le32(p + at), cnt = oa_le32(p + at + 4);
    at += 8;
    if (off < next || off > n || cnt == 0 || cnt > n - off || cnt > len - at)
      return oa_err_set(err, OA_EARCHIVE, "patch run %u (offset %u, %u bytes) is out of place", r, off, cnt);
    memcpy(image + off, p + at, cnt);
    at += cnt, next = (size_t)off + cnt;
  }
  return at == len ? OA_OK : oa_err_set(err, OA_EARCHIVE, "patch has %zu bytes after its last run", len - at);
}

int oa_patch_apply(oa_decoder *dec, const oa_opus_build *host, const uint8_t *data, size_t size, uint32_t raw_size,
                   uint32_t crc, oa_err *err) {
  if (raw_size < PATCH_HEADER || raw_size > PATCH_HEADER + 9 * max_blob(dec))
    return oa_err_set(err, OA_EARCHIVE, "patch size %u impossible for a %zu-byte decoder", raw_size, dec->size);
  uint8_t *p = NULL, *image = NULL;
  size_t n = 0;
  int rc = expand_blob(data, size, raw_size, crc, "patch", &p, err);
  if (rc == OA_OK) rc = image_build((const uint8_t *)dec->state, dec->size, host, &image, &n, err);
  if (rc == OA_OK) rc = apply_runs(p, raw_size, image, n, err);
  if (rc == OA_OK) rc = image_restore(dec, host, image, n, err);
  free(p), free(image);
  return rc;
}
