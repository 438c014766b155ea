/* libFuzzer target: restoring a decoder snapshot, or applying a patch
 * (checkpoint kind 3), from hostile archive bytes. The first input byte
 * picks a stream configuration (bit 0) and snapshot or patch (bit 1); the
 * rest is the uncompressed blob, compressed here, with its CRC computed here so the checks after the CRC
 * (sizes, header, pointer list, configuration words) are reached too.
 *
 * A restored state is not decoded with here: a snapshot is raw libopus
 * memory, and one that passes every structural check while its CRC was
 * forged can still make libopus abort (found by this target). Against
 * accidental damage the CRC protects; against a hostile archive only the
 * structure is checked (see the closing notes of the robustness work). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "opusarc/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static oa_opus_build host;
  static int probed;
  oa_err err;
  if (!probed) {
    if (oa_opus_build_probe(&host, &err) != OA_OK) return 0;
    probed = 1;
  }
  if (size < 2) return 0;
  oa_opus_head h;
  memset(&h, 0, sizeof h);
  h.channels = 1 + (data[0] & 1);
  h.streams = 1;
  h.coupled = h.channels - 1;
  h.mapping[1] = 1;
  oa_decoder *dec;
  if (oa_decoder_create(&h, &dec, &err) != OA_OK) return 0;
  /* Interpret the input as the uncompressed blob and compress it, so the
   * fuzzer explores the blob's structure rather than zlib's. */
  uLongf zlen = compressBound((uLong)(size - 1));
  static uint8_t z[1 << 20];
  if (zlen <= sizeof z && compress2(z, &zlen, data + 1, (uLong)(size - 1), 1) == Z_OK) {
    uint32_t crc = (uint32_t)crc32(0, data + 1, (uInt)(size - 1));
    if (data[0] & 2) (void)oa_patch_apply(dec, &host, z, zlen, (uint32_t)(size - 1), crc, &err);
    else (void)oa_snapshot_restore(dec, &host, z, zlen, (uint32_t)(size - 1), crc, &err);
  }
  oa_decoder_free(dec);
  return 0;
}
