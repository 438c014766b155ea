/* Ogg Opus demultiplexer (RFC 7845) on top of libogg.
 *
 * A file is read a page at a time (oa_ogg_reader: the indexer keeps only the
 * packets it still needs) or from memory, and split into links (chained
 * streams). Each link
 * keeps its OpusHead and its audio packets; the number of samples the link
 * contributes is computed exactly as opusfile's linear reader presents it:
 * the first pre_skip decoded samples are dropped, and only the final (EOS)
 * page may trim the end, by its granule position. A recording's timeline is
 * the concatenation of its links' outputs.
 *
 * Packet link positions are places on the link's timeline: decoded samples
 * plus the silence standing for audio lost in holes before them. */
#ifndef OPUSARC_OGGDEMUX_H
#define OPUSARC_OGGDEMUX_H

#include <stddef.h>
#include <stdint.h>

#include "opusarc/error.h"

#define OA_MAX_CHANNELS 255
/* Family 3 (ambisonics with a demixing matrix): up to third order plus a
 * stereo pair, 18 channels, as libopus's projection coder makes them. */
#define OA_MAX_PROJECTION_CHANNELS 18
#define OA_MAX_DEMIXING (2 * OA_MAX_PROJECTION_CHANNELS * OA_MAX_PROJECTION_CHANNELS)

typedef struct oa_opus_head {
  int version;
  int channels;       /* 1..255 */
  int pre_skip;       /* 48 kHz samples dropped at the link start */
  uint32_t input_rate; /* informational only */
  int gain_q8;        /* output gain, Q7.8 dB, applied via OPUS_SET_GAIN */
  int mapping_family; /* 0, 1, 2, 3 or 255 */
  int streams;
  int coupled;
  unsigned char mapping[OA_MAX_CHANNELS]; /* families 1, 2 and 255 */
  /* Family 3: the demixing matrix, channels x (streams + coupled) int16
   * little-endian, column-major as RFC 8486 stores it. */
  int demixing_size;
  unsigned char demixing[OA_MAX_DEMIXING];
} oa_opus_head;

typedef struct oa_link {
  oa_opus_head head;
  uint32_t serial;
  size_t first_packet;     /* index into the recording's packet arrays */
  size_t packet_count;
  int64_t decoded_samples; /* the link's timeline: kept packets' durations plus silences for holes */
  int64_t out_samples;     /* samples this link contributes */
} oa_link;

/* Damage found while demuxing (docs/FORMAT.md, "Damaged recordings").
 * Everything outside it is kept; audio after a hole is placed where its
 * granule position says, the lost span becoming silence. */
enum oa_damage_kind {
  OA_DAMAGE_HOLE = 1,      /* pages missing: libogg reported a gap in page numbers */
  OA_DAMAGE_CORRUPT = 2,   /* bytes that are not a valid page (bad capture pattern or CRC) */
  OA_DAMAGE_TRUNCATED = 3, /* the file ends inside a page */
  OA_DAMAGE_ORPHAN = 4     /* pages of a stream whose beginning-of-stream page is missing */
};

typedef struct oa_damage {
  int kind;
  uint64_t byte_offset; /* where it was found */
  uint64_t bytes;       /* bytes skipped (0 for a hole) */
  int64_t at_sample;    /* recording sample where the silence for lost audio starts, -1 if none */
  int64_t samples;      /* samples of silence standing for lost audio, -1 if unknown */
} oa_damage;

/* A demuxed recording: packet bytes concatenated, per-packet arrays, links. */
typedef struct oa_demuxed {
  uint8_t *bytes;
  size_t bytes_len, bytes_cap;
  uint64_t *pkt_offset;  /* into bytes */
  uint32_t *pkt_size;
  uint32_t *pkt_duration; /* 48 kHz samples, from the TOC */
  int64_t *pkt_link_pos;  /* place of this packet on its link's timeline */
  size_t npackets, packets_cap; /* npackets counts released packets too */
  size_t base;           /* packets [0, base) were released (oa_demuxed_release): the arrays
                          * and bytes hold packets base..npackets-1, at index i - base */
  uint64_t base_bytes;   /* the released packets' bytes */
  oa_link *links;
  size_t nlinks, links_cap;
  int64_t total_samples; /* sum of links' out_samples */
  size_t ignored_streams; /* non-Opus logical streams skipped */
  char *tags;            /* the first link's OpusTags: "vendor=..." and "KEY=value" lines, or NULL */
  oa_damage *damage;     /* in file order */
  size_t ndamage, damage_cap;
  int64_t lost_samples;  /* sum of the known silences */
} oa_demuxed;

/* One line naming every damage (at most `len` bytes, "..." when cut). */
void oa_damage_describe(const oa_demuxed *d, char *buf, size_t len);

/* A consumer of packets as a reader produces them (encoders, containers):
 * packets [0, ready) have their final places, `ended` once the recording
 * is complete, `share` how much of the source is read (0..1, 0 when not
 * known; for progress); it may release what it has taken. A non-zero
 * return stops the reader with that error. */
typedef int (*oa_packets_fn)(void *ctx, oa_demuxed *d, size_t ready, int ended, double share, oa_err *err);

/* Every packet's bytes, released ones included. */
static inline uint64_t oa_demuxed_payload(const oa_demuxed *d) { return d->base_bytes + d->bytes_len; }

/* Frees packets [base, upto): a reader that streams keeps only the packets
 * it may still need. */
void oa_demuxed_release(oa_demuxed *d, size_t upto);

/* Reading an Ogg Opus file a page at a time, so a long recording is never
 * held whole: the packets arrive in `out` as pages are read, and the caller
 * releases those it no longer needs. */
typedef struct oa_ogg_reader oa_ogg_reader;
/* Opens `path` (out is emptied). On error *r is NULL. */
int oa_ogg_open(const char *path, oa_demuxed *out, oa_ogg_reader **r, oa_err *err);
/* Reads until a page is taken: 1 while the file goes on, 0 once it has
 * ended (every link closed and checked), or an error (`out` is left to the
 * caller to free). */
int oa_ogg_read(oa_ogg_reader *r, oa_err *err);
/* Packets [0, n) have their final places (link positions, end trimming):
 * what a consumer may take. */
size_t oa_ogg_ready(const oa_ogg_reader *r);
int oa_ogg_ended(const oa_ogg_reader *r);
uint64_t oa_ogg_bytes_read(const oa_ogg_reader *r);
void oa_ogg_close(oa_ogg_reader *r);

/* Parse an Ogg Opus file held in memory. On error, `out` is freed and err
 * names the byte offset of the problem. */
int oa_demux_memory(const uint8_t *data, size_t len, oa_demuxed *out, oa_err *err);
/* Read `path` and parse it; *file_size receives the bytes read. */
int oa_demux_file(const char *path, oa_demuxed *out, uint64_t *file_size, oa_err *err);
void oa_demuxed_free(oa_demuxed *d);
/* Appends a packet (link position left to the caller); -1 if out of memory. */
int oa_demuxed_add_packet(oa_demuxed *d, const unsigned char *data, long len, int duration);

/* The comments of an OpusTags packet as "vendor=..." then "KEY=value"
 * lines (line breaks inside values become spaces; at most 64 KiB kept).
 * NULL when the packet is not well formed: its comments are then ignored,
 * as they carry no audio. */
char *oa_parse_opus_tags(const uint8_t *data, size_t len);

/* Parse an OpusHead packet; validates channel mapping rules. */
int oa_parse_opus_head(const uint8_t *data, size_t len, oa_opus_head *head, oa_err *err);

#endif
