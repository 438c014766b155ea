/* Opus packet validation (RFC 6716 section 3, RFC 7845 multistream
 * packing): every sub-packet's TOC, frame count, frame lengths, padding and
 * duration are checked before a decoder sees the bytes. */
#ifndef OPUSARC_PACKET_H
#define OPUSARC_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "opusarc/error.h"

typedef struct oa_packet_info {
  int duration;    /* 48 kHz samples per channel */
  int frames;      /* frames in the first stream */
  int config;      /* TOC config of the first stream (0..31) */
} oa_packet_info;

/* Duration in 48 kHz samples from a TOC byte and frame count. */
int oa_packet_duration(const uint8_t *data, size_t len);

/* Validate a packet carrying `streams` Opus streams (streams-1 self-delimited
 * ones, then one undelimited). All streams must have equal duration, at most
 * 120 ms. */
int oa_packet_validate(const uint8_t *data, size_t len, int streams, oa_packet_info *info,
                       oa_err *err);

/* Packets are stored back to back, each behind a length prefix: one byte
 * for lengths below 240, two for lengths below 4080, else 0xFF and four
 * bytes little-endian. */
#define OA_PREFIX_MAX 5
size_t oa_prefix_write(uint8_t *out, uint32_t length);
/* Reads a prefix from at most `avail` bytes; returns bytes used, 0 if the
 * prefix is cut short. */
size_t oa_prefix_read(const uint8_t *p, size_t avail, uint32_t *length);

/* Format 7 stores each packet's length and first (TOC) byte apart from its
 * other bytes, as one uint32 in /packets/heads: the TOC byte of a stream
 * barely changes, and a compressed column of heads costs less than the byte
 * it takes out of the data (docs/FORMAT.md). An empty packet has head 0. */
#define OA_HEAD_MAX_LENGTH 0xFFFFFFu
static inline uint32_t oa_head_make(uint32_t length, uint8_t toc) { return length << 8 | (length ? toc : 0u); }
static inline uint32_t oa_head_length(uint32_t head) { return head >> 8; }
static inline uint8_t oa_head_toc(uint32_t head) { return (uint8_t)(head & 0xFF); }
/* Bytes a packet keeps in /packets/data: all but its TOC byte. */
static inline uint32_t oa_head_body(uint32_t head) { return head >> 8 ? (head >> 8) - 1 : 0; }

#endif
