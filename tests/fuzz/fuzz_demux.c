/* libFuzzer target: the Ogg Opus demuxer and packet validator on arbitrary
 * bytes. Whatever the input, they must return (an error or a recording),
 * never crash or read out of bounds (run under ASan/UBSan). Valid packets are
 * also decoded, as the indexer does. */
#include <stddef.h>
#include <stdint.h>

#include "opusarc/decoder.h"
#include "opusarc/oggdemux.h"
#include "opusarc/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  oa_demuxed d;
  oa_err err;
  if (oa_demux_memory(data, size, &d, &err) != OA_OK) return 0;
  static float pcm[OA_MAX_PACKET_FRAMES * 255];
  for (size_t l = 0; l < d.nlinks; l++) {
    const oa_link *lk = &d.links[l];
    oa_decoder *dec;
    if (oa_decoder_create(&lk->head, &dec, &err) != OA_OK) continue;
    for (size_t k = 0; k < lk->packet_count && k < 64; k++) {
      size_t p = lk->first_packet + k;
      oa_packet_info info;
      if (oa_packet_validate(d.bytes + d.pkt_offset[p], d.pkt_size[p], lk->head.streams, &info, &err) != OA_OK) break;
      if (oa_decoder_decode(dec, d.bytes + d.pkt_offset[p], d.pkt_size[p], pcm, &err) < 0) break;
    }
    oa_decoder_free(dec);
  }
  oa_demuxed_free(&d);
  return 0;
}
