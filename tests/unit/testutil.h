/* Helpers for the unit tests: hand-made Ogg pages and encoded packets. */
#ifndef OPUSARC_TESTUTIL_H
#define OPUSARC_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <ogg/ogg.h>

/* A growing byte buffer holding an Ogg file being assembled. */
typedef struct tbuf {
  uint8_t *data;
  size_t len, cap;
} tbuf;

void tbuf_append(tbuf *b, const void *p, size_t n);
void tbuf_free(tbuf *b);

/* One logical stream being written page by page. */
typedef struct tstream {
  ogg_stream_state os;
  long packetno;
  long page_starts[4096]; /* byte offset of each page written */
  int npages;
} tstream;

void tstream_init(tstream *s, int serial);
void tstream_clear(tstream *s);
/* Adds a packet; granule is the page's granule if the packet ends it. */
void tstream_packet(tstream *s, const void *p, size_t n, int64_t granule, int eos);
/* Flushes buffered packets into one page appended to b. */
void tstream_flush(tstream *s, tbuf *b);

/* OpusHead for family 0. */
size_t make_opus_head(uint8_t *out, int channels, int pre_skip, int gain);
size_t make_opus_tags(uint8_t *out);
/* Writes headers (one page each) of a family-0 stream. */
void write_headers(tstream *s, tbuf *b, int channels, int pre_skip, int gain);

/* Encodes `count` packets of a deterministic test signal. Packets are stored
 * back to back in *bytes with sizes in sizes[]. mode: 0 auto, 1 SILK-ish,
 * 2 CELT-only. */
void encode_packets(int channels, int frame, int bitrate, int mode, int count, uint8_t **bytes, int *sizes);

#endif
