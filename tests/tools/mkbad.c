/* mkbad: writes hostile inputs for the bad-input test, built with libogg
 * only (no opusarc code), so they do not share the demuxer's assumptions.
 *   mkbad flac-in-ogg OUT             an Ogg FLAC mapping header stream
 *   mkbad no-head OUT                 an Ogg stream whose first packet is OpusTags
 *   mkbad head OUT CH FAMILY PRESKIP  OpusHead with these values (1 stream,
 *                                     mapping all 0), OpusTags, 50 TOC-only packets
 *   mkbad backwards OUT               valid head; the 3rd page's granule goes backwards
 *   mkbad random OUT BYTES SEED       random bytes
 *   mkbad bitflip IN OUT SEED N       IN with N random bits flipped after byte 200 */
#include <ogg/ogg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void flush_pages(ogg_stream_state *os, FILE *f) {
  ogg_page pg;
  while (ogg_stream_flush(os, &pg)) {
    fwrite(pg.header, 1, (size_t)pg.header_len, f);
    fwrite(pg.body, 1, (size_t)pg.body_len, f);
  }
}

static void put_packet(ogg_stream_state *os, const unsigned char *data, long n, int64_t granule, long no, int bos,
                       int eos) {
  ogg_packet op = {.packet = (unsigned char *)data, .bytes = n, .b_o_s = bos, .e_o_s = eos, .granulepos = granule,
                   .packetno = no};
  ogg_stream_packetin(os, &op);
}

static size_t opus_head(unsigned char *p, int channels, int family, int pre_skip) {
  memcpy(p, "OpusHead", 8);
  p[8] = 1;
  p[9] = (unsigned char)channels;
  p[10] = (unsigned char)(pre_skip & 0xff), p[11] = (unsigned char)((pre_skip >> 8) & 0xff);
  p[12] = 0x80, p[13] = 0xbb, p[14] = 0, p[15] = 0; /* 48000 */
  p[16] = p[17] = 0;
  p[18] = (unsigned char)family;
  if (family == 0) return 19;
  p[19] = 1, p[20] = 0; /* one uncoupled stream */
  memset(p + 21, 0, (size_t)channels);
  return 21 + (size_t)channels;
}

/* OpusHead, OpusTags and `n` one-byte packets (TOC 0xF8: CELT fullband 20 ms,
 * mono, one frame of length 0 — valid, decodes as concealment). */
static void write_opus(FILE *f, int channels, int family, int pre_skip, int n, int backwards) {
  ogg_stream_state os;
  ogg_stream_init(&os, 4711);
  unsigned char head[300], tags[] = "OpusTags\x05\0\0\0mkbad\0\0\0\0", toc = 0xF8;
  put_packet(&os, head, (long)opus_head(head, channels, family, pre_skip), 0, 0, 1, 0);
  flush_pages(&os, f);
  put_packet(&os, tags, sizeof tags - 1, 0, 1, 0, 0);
  flush_pages(&os, f);
  int64_t granule = 0;
  for (int k = 0; k < n; k++) {
    granule += 960;
    int64_t g = granule;
    if (backwards && k == 19) g = 960; /* third audio page */
    put_packet(&os, &toc, 1, g, 2 + k, 0, k == n - 1);
    if ((k + 1) % 10 == 0 || k == n - 1) flush_pages(&os, f);
  }
  ogg_stream_clear(&os);
}

static void write_flac_in_ogg(FILE *f) {
  ogg_stream_state os;
  ogg_stream_init(&os, 99);
  /* Ogg FLAC mapping: 0x7F "FLAC" 1.0, header count, "fLaC", STREAMINFO block. */
  unsigned char first[51] = {0x7F, 'F', 'L', 'A', 'C', 1, 0, 0, 1, 'f', 'L', 'a', 'C', 0x80, 0, 0, 34};
  put_packet(&os, first, sizeof first, 0, 0, 1, 0);
  flush_pages(&os, f);
  unsigned char frame[64] = {0xFF, 0xF8};
  for (int k = 0; k < 5; k++) put_packet(&os, frame, sizeof frame, 4096 * (k + 1), 1 + k, 0, k == 4);
  flush_pages(&os, f);
  ogg_stream_clear(&os);
}

static void write_no_head(FILE *f) {
  ogg_stream_state os;
  ogg_stream_init(&os, 7);
  unsigned char tags[] = "OpusTags\x05\0\0\0mkbad\0\0\0\0", toc = 0xF8;
  put_packet(&os, tags, sizeof tags - 1, 0, 0, 1, 0);
  flush_pages(&os, f);
  for (int k = 0; k < 20; k++) put_packet(&os, &toc, 1, 960 * (k + 1), 1 + k, 0, k == 19);
  flush_pages(&os, f);
  ogg_stream_clear(&os);
}

static int bitflip(const char *in, const char *out, unsigned seed, int n) {
  FILE *f = fopen(in, "rb");
  if (!f) return 1;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  rewind(f);
  unsigned char *d = malloc((size_t)len);
  if (!d || len <= 400 || fread(d, 1, (size_t)len, f) != (size_t)len) return 1;
  fclose(f);
  srand(seed);
  for (int k = 0; k < n; k++) {
    long at = 200 + rand() % (len - 200);
    d[at] ^= (unsigned char)(1u << (rand() % 8));
  }
  f = fopen(out, "wb");
  if (!f) return 1;
  fwrite(d, 1, (size_t)len, f);
  free(d);
  return fclose(f) != 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: see the comment at the top of tests/tools/mkbad.c\n");
    return 2;
  }
  const char *mode = argv[1];
  if (!strcmp(mode, "bitflip"))
    return argc == 6 ? bitflip(argv[2], argv[3], (unsigned)atoi(argv[4]), atoi(argv[5])) : 2;
  FILE *f = fopen(argv[2], "wb");
  if (!f) {
    perror(argv[2]);
    return 1;
  }
  if (!strcmp(mode, "flac-in-ogg")) write_flac_in_ogg(f);
  else if (!strcmp(mode, "no-head")) write_no_head(f);
  else if (!strcmp(mode, "head") && argc == 6) write_opus(f, atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), 50, 0);
  else if (!strcmp(mode, "backwards")) write_opus(f, 1, 0, 312, 50, 1);
  else if (!strcmp(mode, "random") && argc == 5) {
    srand((unsigned)atoi(argv[4]));
    for (long k = atol(argv[3]); k > 0; k--) fputc(rand() & 0xff, f);
  } else {
    fprintf(stderr, "mkbad: bad arguments\n");
    return 2;
  }
  return fclose(f) != 0;
}
