#include "testutil.h"

#include <math.h>
#include <opus/opus.h>
#include <stdlib.h>
#include <string.h>

void tbuf_append(tbuf *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2 + 256;
    b->data = realloc(b->data, b->cap);
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

void tbuf_free(tbuf *b) {
  free(b->data);
  memset(b, 0, sizeof *b);
}

void tstream_init(tstream *s, int serial) {
  memset(s, 0, sizeof *s);
  ogg_stream_init(&s->os, serial);
}

void tstream_clear(tstream *s) { ogg_stream_clear(&s->os); }

void tstream_packet(tstream *s, const void *p, size_t n, int64_t granule, int eos) {
  ogg_packet op = {.packet = (unsigned char *)p, .bytes = (long)n, .b_o_s = s->packetno == 0, .e_o_s = eos,
                   .granulepos = granule, .packetno = s->packetno++};
  ogg_stream_packetin(&s->os, &op);
}

void tstream_flush(tstream *s, tbuf *b) {
  ogg_page og;
  while (ogg_stream_flush(&s->os, &og)) {
    s->page_starts[s->npages++] = (long)b->len;
    tbuf_append(b, og.header, (size_t)og.header_len);
    tbuf_append(b, og.body, (size_t)og.body_len);
  }
}

size_t make_opus_head(uint8_t *h, int channels, int pre_skip, int gain) {
  memcpy(h, "OpusHead", 8);
  h[8] = 1;
  h[9] = (uint8_t)channels;
  h[10] = (uint8_t)pre_skip, h[11] = (uint8_t)(pre_skip >> 8);
  h[12] = 0x80, h[13] = 0xbb, h[14] = 0, h[15] = 0; /* 48000 */
  h[16] = (uint8_t)gain, h[17] = (uint8_t)(gain >> 8);
  h[18] = 0;
  return 19;
}

size_t make_opus_tags(uint8_t *t) {
  memcpy(t, "OpusTags\x04\0\0\0test\0\0\0\0", 20);
  return 20;
}

void write_headers(tstream *s, tbuf *b, int channels, int pre_skip, int gain) {
  uint8_t head[19], tags[20];
  tstream_packet(s, head, make_opus_head(head, channels, pre_skip, gain), 0, 0);
  tstream_flush(s, b);
  tstream_packet(s, tags, make_opus_tags(tags), 0, 0);
  tstream_flush(s, b);
}

void encode_packets(int channels, int frame, int bitrate, int mode, int count, uint8_t **bytes, int *sizes) {
  int err;
  int app = mode == 2 ? OPUS_APPLICATION_RESTRICTED_LOWDELAY : mode == 1 ? OPUS_APPLICATION_VOIP
                                                                         : OPUS_APPLICATION_AUDIO;
  OpusEncoder *e = opus_encoder_create(48000, channels, app, &err);
  opus_encoder_ctl(e, OPUS_SET_BITRATE(bitrate));
  if (mode == 1) opus_encoder_ctl(e, OPUS_SET_MAX_BANDWIDTH(OPUS_BANDWIDTH_WIDEBAND));
  float *pcm = malloc(sizeof(float) * (size_t)frame * (size_t)channels);
  uint8_t *out = malloc((size_t)count * 1500);
  size_t used = 0;
  uint32_t seed = 7;
  for (int k = 0; k < count; k++) {
    for (int i = 0; i < frame; i++)
      for (int c = 0; c < channels; c++) {
        double t = (k * frame + i) / 48000.0;
        seed = seed * 1664525u + 1013904223u;
        pcm[i * channels + c] = (float)(0.3 * sin(2 * 3.14159265 * (220.0 + 50 * c) * t) *
                                            (0.6 + 0.4 * sin(2 * 3.14159265 * 0.7 * t)) +
                                        0.02 * ((double)(seed >> 8) / 16777216.0 - 0.5));
      }
    sizes[k] = opus_encode_float(e, pcm, frame, out + used, 1500);
    used += (size_t)sizes[k];
  }
  *bytes = out;
  free(pcm);
  opus_encoder_destroy(e);
}
