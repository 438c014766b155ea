/* Writes seed inputs for fuzz_snapshot: a configuration byte followed by
 * the uncompressed blob of a real snapshot, taken after decoding a few
 * packets of each Ogg Opus file given, and (configuration byte | 2) the
 * blob of a patch from a fresh decoder to that state.
 *   mkseed_snapshot OUTDIR FILE.opus... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "opusarc/decoder.h"
#include "opusarc/oggdemux.h"
#include "opusarc/snapshot.h"

int main(int argc, char **argv) {
  oa_opus_build host;
  oa_err err;
  if (argc < 3 || oa_opus_build_probe(&host, &err) != OA_OK) return 2;
  float pcm[5760 * 2];
  for (int i = 2; i < argc; i++) {
    oa_demuxed d;
    if (oa_demux_file(argv[i], &d, NULL, &err) != OA_OK || d.links[0].head.channels > 2) continue;
    oa_decoder *dec;
    if (oa_decoder_create(&d.links[0].head, &dec, &err) != OA_OK) continue;
    for (size_t k = 0; k < d.links[0].packet_count && k < 5; k++)
      (void)oa_decoder_decode(dec, d.bytes + d.pkt_offset[k], d.pkt_size[k], pcm, &err);
    oa_decoder *fresh;
    if (oa_decoder_create(&d.links[0].head, &fresh, &err) != OA_OK) fresh = NULL;
    uint8_t *state = malloc(oa_decoder_state_size(dec));
    if (state) oa_decoder_copy_state(dec, state);
    for (int kind = 0; kind < 2; kind++) {
      oa_snapshot s;
      int rc = kind == 0 ? oa_snapshot_capture(dec, &host, &s, &err)
               : fresh && state ? oa_patch_make(fresh, state, oa_decoder_state_size(dec), &host, 0, &s, &err)
                       : OA_ENOMEM;
      if (rc != OA_OK) continue;
      unsigned char *raw = malloc(s.raw_size + 1);
      uLongf n = s.raw_size;
      raw[0] = (unsigned char)((d.links[0].head.channels - 1) | kind << 1);
      if (uncompress(raw + 1, &n, s.data, (uLong)s.size) == Z_OK) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s%d", argv[1], kind ? "patch" : "seed", i);
        FILE *f = fopen(path, "wb");
        if (f) fwrite(raw, 1, n + 1, f), fclose(f);
      }
      free(raw);
      oa_snapshot_free(&s);
    }
    free(state);
    oa_decoder_free(fresh);
    oa_decoder_free(dec);
    oa_demuxed_free(&d);
  }
  return 0;
}
