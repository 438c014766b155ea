/* msdecode: an independent straight decode of a single-link Ogg Opus file
 * of any mapping (families 0, 1, 2, 255, and 3 with libopus's projection
 * decoder: what opusfile refuses for ambisonics), written apart from
 * opusarc's demuxer and decoder: libogg pages, the OpusHead fields,
 * opus_multistream_decode_float (opus_projection_decode_float) from the
 * first packet, pre-skip dropped and the end trimmed to the last
 * granule position. Samples [START, END) as raw float32:
 *   msdecode FILE.opus START END OUT.f32
 * Prints the channel count. Exit 0 on success. */
#include <ogg/ogg.h>
#include <opus/opus_multistream.h>
#include <opus/opus_projection.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: msdecode FILE.opus START END OUT.f32\n");
    return 2;
  }
  long long start = atoll(argv[2]), end = atoll(argv[3]);
  FILE *in = fopen(argv[1], "rb");
  if (!in) return perror(argv[1]), 1;
  ogg_sync_state sync;
  ogg_stream_state stream;
  ogg_page page;
  ogg_packet packet;
  ogg_sync_init(&sync);
  int started = 0, channels = 0, pre_skip = 0;
  long long packets = 0, decoded = 0, last_granule = -1;
  OpusMSDecoder *dec = NULL;
  OpusProjectionDecoder *proj = NULL;
  float *pcm = NULL, frame[5760 * 255];
  size_t cap = 0;
  for (;;) {
    while (ogg_sync_pageout(&sync, &page) != 1) {
      char *buf = ogg_sync_buffer(&sync, 65536);
      size_t n = fread(buf, 1, 65536, in);
      if (n == 0) goto done;
      ogg_sync_wrote(&sync, (long)n);
    }
    if (!started) ogg_stream_init(&stream, ogg_page_serialno(&page)), started = 1;
    if (ogg_stream_pagein(&stream, &page) != 0) continue; /* another stream */
    if (ogg_page_granulepos(&page) >= 0 && packets > 1) last_granule = ogg_page_granulepos(&page);
    while (ogg_stream_packetout(&stream, &packet) == 1) {
      if (packets++ == 0) {
        const unsigned char *h = packet.packet;
        unsigned char mapping[255] = {0, 1};
        int family = h[18], streams = 1, coupled;
        channels = h[9];
        pre_skip = h[10] | h[11] << 8;
        coupled = channels - 1;
        int e;
        if (family == 3) { /* the demixing matrix follows the stream counts */
          streams = h[19], coupled = h[20];
          proj = opus_projection_decoder_create(48000, channels, streams, coupled, (unsigned char *)h + 21,
                                                2 * channels * (streams + coupled), &e);
          if (!proj) return fprintf(stderr, "msdecode: projection decoder: %s\n", opus_strerror(e)), 1;
          opus_projection_decoder_ctl(proj, OPUS_SET_GAIN((opus_int16)(h[16] | h[17] << 8)));
          continue;
        }
        if (family != 0) streams = h[19], coupled = h[20], memcpy(mapping, h + 21, (size_t)channels);
        dec = opus_multistream_decoder_create(48000, channels, streams, coupled, mapping, &e);
        if (!dec) return fprintf(stderr, "msdecode: decoder: %s\n", opus_strerror(e)), 1;
        opus_multistream_decoder_ctl(dec, OPUS_SET_GAIN((opus_int16)(h[16] | h[17] << 8)));
        continue;
      }
      if (packets == 2) continue; /* OpusTags */
      int n = proj ? opus_projection_decode_float(proj, packet.packet, (opus_int32)packet.bytes, frame, 5760, 0)
                   : opus_multistream_decode_float(dec, packet.packet, (opus_int32)packet.bytes, frame, 5760, 0);
      if (n < 0) return fprintf(stderr, "msdecode: packet %lld: %s\n", packets, opus_strerror(n)), 1;
      if ((size_t)(decoded + n) * (size_t)channels > cap) {
        cap = ((size_t)(decoded + n) * (size_t)channels) * 2;
        pcm = realloc(pcm, cap * sizeof *pcm);
      }
      memcpy(pcm + decoded * channels, frame, (size_t)n * (size_t)channels * sizeof *frame);
      decoded += n;
    }
  }
done:;
  long long length = (last_granule >= 0 && last_granule < decoded ? last_granule : decoded) - pre_skip;
  if ((!dec && !proj) || start < 0 || end > length || start >= end)
    return fprintf(stderr, "msdecode: range [%lld, %lld) outside [0, %lld)\n", start, end, length), 1;
  FILE *out = fopen(argv[4], "wb");
  size_t count = (size_t)(end - start) * (size_t)channels;
  if (!out || fwrite(pcm + (pre_skip + start) * channels, sizeof *pcm, count, out) != count || fclose(out) != 0)
    return 1;
  printf("%d\n", channels);
  return 0;
}
