#include "opusarc/oggdemux.h"

#include <errno.h>
#include <ogg/ogg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opusarc/packet.h"
#include "opusarc/util.h"

/* RFC 8486: ambisonics of order n (0-14) have (n + 1)^2 channels, plus 2
 * for an optional non-diegetic stereo pair. */
static int ambisonic_channels(int channels) {
  for (int n = 0; n <= 14; n++)
    if (channels == (n + 1) * (n + 1) || channels == (n + 1) * (n + 1) + 2) return 1;
  return 0;
}

/* Family 3 (RFC 8486): stream counts, then the demixing matrix in place of
 * the mapping table. */
static int parse_projection_head(const uint8_t *p, size_t len, oa_opus_head *h, oa_err *err) {
  if (!ambisonic_channels(h->channels) || h->channels > OA_MAX_PROJECTION_CHANNELS)
    return oa_err_set(err, OA_EFORMAT, "mapping family 3 (ambisonics, projection) with %d channels: not (order+1)^2, "
                      "optionally + 2, up to %d", h->channels, OA_MAX_PROJECTION_CHANNELS);
  if (len < 21) return oa_err_set(err, OA_EFORMAT, "OpusHead too short for its stream counts");
  h->streams = p[19];
  h->coupled = p[20];
  if (h->streams < 1 || h->coupled > h->streams || h->streams + h->coupled > OA_MAX_PROJECTION_CHANNELS)
    return oa_err_set(err, OA_EFORMAT, "mapping family 3 with %d streams (%d coupled): at most %d decoded channels "
                      "are supported", h->streams, h->coupled, OA_MAX_PROJECTION_CHANNELS);
  h->demixing_size = 2 * h->channels * (h->streams + h->coupled);
  if (len < 21 + (size_t)h->demixing_size)
    return oa_err_set(err, OA_EFORMAT, "OpusHead too short for its %d-byte demixing matrix", h->demixing_size);
  memcpy(h->demixing, p + 21, (size_t)h->demixing_size);
  return OA_OK;
}

int oa_parse_opus_head(const uint8_t *p, size_t len, oa_opus_head *h, oa_err *err) {
  if (len < 19 || memcmp(p, "OpusHead", 8) != 0)
    return oa_err_set(err, OA_EFORMAT, "OpusHead packet missing or shorter than 19 bytes");
  memset(h, 0, sizeof *h);
  h->version = p[8];
  if ((h->version & 0xf0) != 0)
    return oa_err_set(err, OA_EFORMAT, "unsupported OpusHead version %d", h->version);
  h->channels = p[9];
  h->pre_skip = oa_le16(p + 10);
  h->input_rate = oa_le32(p + 12);
  h->gain_q8 = (int16_t)oa_le16(p + 16);
  h->mapping_family = p[18];
  if (h->channels < 1) return oa_err_set(err, OA_EFORMAT, "OpusHead has 0 channels");
  if (h->mapping_family == 0) {
    if (h->channels > 2)
      return oa_err_set(err, OA_EFORMAT, "mapping family 0 with %d channels (max 2)", h->channels);
    h->streams = 1;
    h->coupled = h->channels - 1;
    h->mapping[0] = 0;
    h->mapping[1] = 1;
    return OA_OK;
  }
  if (h->mapping_family == 3) return parse_projection_head(p, len, h, err);
  if (h->mapping_family != 1 && h->mapping_family != 2 && h->mapping_family != 255)
    return oa_err_set(err, OA_EFORMAT, "unsupported channel mapping family %d", h->mapping_family);
  if (h->mapping_family == 2 && !ambisonic_channels(h->channels))
    return oa_err_set(err, OA_EFORMAT, "mapping family 2 (ambisonics) with %d channels: not (order+1)^2, "
                      "optionally + 2", h->channels);
  if (h->mapping_family == 1 && h->channels > 8)
    return oa_err_set(err, OA_EFORMAT, "mapping family 1 with %d channels (max 8)", h->channels);
  if (len < 21 + (size_t)h->channels)
    return oa_err_set(err, OA_EFORMAT, "OpusHead too short for its channel mapping table");
  h->streams = p[19];
  h->coupled = p[20];
  if (h->streams < 1 || h->coupled > h->streams || h->streams + h->coupled > 255)
    return oa_err_set(err, OA_EFORMAT, "invalid stream counts (streams %d, coupled %d)", h->streams,
                      h->coupled);
  for (int i = 0; i < h->channels; i++) {
    h->mapping[i] = p[21 + i];
    if (h->mapping[i] != 255 && h->mapping[i] >= h->streams + h->coupled)
      return oa_err_set(err, OA_EFORMAT, "channel %d maps to missing stream channel %d", i, h->mapping[i]);
  }
  return OA_OK;
}

void oa_demuxed_free(oa_demuxed *d) {
  free(d->bytes);
  free(d->pkt_offset);
  free(d->pkt_size);
  free(d->pkt_duration);
  free(d->pkt_link_pos);
  free(d->links);
  free(d->tags);
  free(d->damage);
  memset(d, 0, sizeof *d);
}

/* What the demuxer knows about the link it is in. */
typedef struct link_state {
  int active;          /* a link has begun */
  int saw_data_page;   /* a non-BOS page arrived: the next BOS starts a new link */
  int have_opus;
  uint32_t serial;
  ogg_stream_state os;
  int headers;         /* 0: want OpusHead, 1: want OpusTags, 2: audio */
  int eos;
  int64_t prev_gp;     /* granule at the end of the previous audio page; -1 unknown */
  int64_t decoded;     /* sum of kept packet durations */
  int64_t kept;        /* samples kept after end trimming */
  size_t unstamped;    /* first packet index not yet covered by a granule */
  const char *other_codec;
  long hole;           /* damage entry of a hole whose length the next granule tells, -1 if none */
  uint32_t started[16]; /* serials whose beginning-of-stream page this link has seen */
  int nstarted;
} link_state;

static int add_damage(oa_demuxed *d, int kind, uint64_t offset, uint64_t bytes) {
  oa_damage *last = d->ndamage ? &d->damage[d->ndamage - 1] : NULL;
  /* Runs of skipped bytes of one kind are one event. */
  if (last && last->kind == kind && kind != OA_DAMAGE_HOLE && last->byte_offset + last->bytes == offset) {
    last->bytes += bytes;
    return 0;
  }
  if (oa_grow((void **)&d->damage, &d->damage_cap, d->ndamage + 1, sizeof *d->damage)) return -1;
  d->damage[d->ndamage++] = (oa_damage){kind, offset, bytes, -1, -1};
  return 0;
}

static void describe_one(const oa_damage *g, char *out, size_t len) {
  unsigned long long at = (unsigned long long)g->byte_offset, n = (unsigned long long)g->bytes;
  if (g->kind == OA_DAMAGE_HOLE && g->samples >= 0)
    snprintf(out, len, "hole before byte %llu: %lld samples lost, silence at sample %lld", at,
             (long long)g->samples, (long long)g->at_sample);
  else if (g->kind == OA_DAMAGE_HOLE)
    snprintf(out, len, "hole before byte %llu: samples lost unknown (no granule position before it)", at);
  else if (g->kind == OA_DAMAGE_CORRUPT)
    snprintf(out, len, "%llu bytes of corrupt data at byte %llu skipped", n, at);
  else if (g->kind == OA_DAMAGE_TRUNCATED)
    snprintf(out, len, "file ends inside a page at byte %llu (%llu bytes cut off)", at, n);
  else
    snprintf(out, len, "%llu bytes of pages without their stream's start at byte %llu skipped", n, at);
}

void oa_damage_describe(const oa_demuxed *d, char *buf, size_t len) {
  if (!len) return;
  size_t used = (size_t)snprintf(buf, len, "damaged: ");
  for (size_t i = 0; i < d->ndamage && used < len; i++) {
    char one[200];
    describe_one(&d->damage[i], one, sizeof one);
    int n = snprintf(buf + used, len - used, "%s%s", i ? "; " : "", one);
    if (n < 0 || (size_t)n >= len - used) {
      if (len > 4) memcpy(buf + len - 4, "...", 4);
      return;
    }
    used += (size_t)n;
  }
}

static const char *codec_name(const unsigned char *body, long len) {
  if (len >= 7 && memcmp(body, "\x01vorbis", 7) == 0) return "Vorbis";
  if (len >= 5 && memcmp(body, "\x7f" "FLAC", 5) == 0) return "FLAC";
  if (len >= 8 && memcmp(body, "Speex   ", 8) == 0) return "Speex";
  if (len >= 7 && memcmp(body, "\x80theora", 7) == 0) return "Theora";
  if (len >= 8 && memcmp(body, "OpusHead", 8) == 0) return "Opus";
  return "unknown codec";
}

int oa_demuxed_add_packet(oa_demuxed *d, const unsigned char *data, long len, int duration) {
  size_t n = d->npackets - d->base;
  if (oa_grow((void **)&d->bytes, &d->bytes_cap, d->bytes_len + (size_t)len, 1) ||
      oa_grow((void **)&d->pkt_offset, &d->packets_cap, n + 1, sizeof *d->pkt_offset))
    return -1;
  /* The per-packet arrays share one capacity; grow them in step. */
  size_t cap = d->packets_cap;
  uint32_t *sz = realloc(d->pkt_size, cap * sizeof *sz);
  if (!sz) return -1;
  d->pkt_size = sz;
  uint32_t *du = realloc(d->pkt_duration, cap * sizeof *du);
  if (!du) return -1;
  d->pkt_duration = du;
  int64_t *lp = realloc(d->pkt_link_pos, cap * sizeof *lp);
  if (!lp) return -1;
  d->pkt_link_pos = lp;
  memcpy(d->bytes + d->bytes_len, data, (size_t)len);
  d->pkt_offset[n] = d->bytes_len;
  d->pkt_size[n] = (uint32_t)len;
  d->pkt_duration[n] = (uint32_t)duration;
  d->bytes_len += (size_t)len;
  d->npackets++;
  return 0;
}

void oa_demuxed_release(oa_demuxed *d, size_t upto) {
  if (upto > d->npackets) upto = d->npackets;
  if (upto <= d->base) return;
  size_t drop = upto - d->base, keep = d->npackets - upto;
  size_t shift = keep ? (size_t)d->pkt_offset[drop] : d->bytes_len;
  memmove(d->bytes, d->bytes + shift, d->bytes_len - shift);
  for (size_t i = 0; i < keep; i++) d->pkt_offset[i] = d->pkt_offset[drop + i] - shift;
  memmove(d->pkt_size, d->pkt_size + drop, keep * sizeof *d->pkt_size);
  memmove(d->pkt_duration, d->pkt_duration + drop, keep * sizeof *d->pkt_duration);
  memmove(d->pkt_link_pos, d->pkt_link_pos + drop, keep * sizeof *d->pkt_link_pos);
  d->bytes_len -= shift;
  d->base_bytes += shift;
  d->base = upto;
}

/* Closes the current link: computes its output length. */
static int finish_link(oa_demuxed *d, link_state *ls, uint64_t offset, oa_err *err) {
  if (!ls->active) return OA_OK;
  if (!ls->have_opus)
    return oa_err_set(err, ls->other_codec && strcmp(ls->other_codec, "unknown codec") ? OA_ENOTOPUS : OA_EFORMAT,
                      "link %zu has no Opus stream (found %s), before byte offset %llu",
                      d->nlinks - 1, ls->other_codec ? ls->other_codec : "no stream",
                      (unsigned long long)offset);
  if (ls->headers < 2)
    return oa_err_set(err, OA_EFORMAT, "link %zu ends before its OpusTags header, byte offset %llu",
                      d->nlinks - 1, (unsigned long long)offset);
  oa_link *lk = &d->links[d->nlinks - 1];
  if (ls->unstamped < d->npackets && ls->prev_gp < 0)
    return oa_err_set(err, OA_EFORMAT, "link %zu has audio but no page with a granule position",
                      d->nlinks - 1);
  lk->packet_count = d->npackets - lk->first_packet;
  lk->decoded_samples = ls->decoded;
  int64_t kept = ls->eos ? ls->kept : ls->decoded;
  if (lk->head.pre_skip > 0 && kept > 0 && lk->head.pre_skip >= kept)
    return oa_err_set(err, OA_EFORMAT, "link %zu: pre-skip of %d samples covers all %lld samples of the stream",
                      d->nlinks - 1, lk->head.pre_skip, (long long)kept);
  lk->out_samples = kept > lk->head.pre_skip ? kept - lk->head.pre_skip : 0;
  d->total_samples += lk->out_samples;
  ogg_stream_clear(&ls->os);
  memset(ls, 0, sizeof *ls);
  return OA_OK;
}

static int begin_link(oa_demuxed *d, link_state *ls) {
  if (oa_grow((void **)&d->links, &d->links_cap, d->nlinks + 1, sizeof *d->links)) return -1;
  memset(ls, 0, sizeof *ls);
  ls->active = 1;
  ls->prev_gp = -1;
  ls->hole = -1;
  ls->unstamped = d->npackets;
  oa_link *lk = &d->links[d->nlinks++];
  memset(lk, 0, sizeof *lk);
  lk->first_packet = d->npackets;
  ogg_stream_init(&ls->os, 0);
  return 0;
}

/* Applies the page's granule position to the packets completed on it,
 * mirroring opusfile: the start of the link is derived from the first
 * stamped page; only an EOS page may trim, and it trims the tail. */
static int stamp_page(oa_demuxed *d, link_state *ls, int64_t gp, int eos, uint64_t offset,
                      oa_err *err) {
  size_t first = ls->unstamped, n = d->npackets;
  if (first == n) {
    if (eos) ls->eos = 1, ls->kept = ls->decoded;
    return OA_OK;
  }
  const size_t b = d->base; /* the arrays start at packet b */
  int64_t page_total = 0;
  for (size_t i = first; i < n; i++) page_total += d->pkt_duration[i - b];
  if (gp == -1 && ls->prev_gp < 0) return OA_OK; /* wait for a stamped page */
  int64_t before = ls->decoded; /* samples of this link before `first` */
  if (ls->hole >= 0 && ls->prev_gp >= 0 && gp != -1) {
    /* After a hole the page's granule says where its packets start: the
     * samples between are lost, and are kept as silence. */
    oa_damage *g = &d->damage[ls->hole];
    int64_t gap = gp - page_total - ls->prev_gp;
    if (gap < 0) gap = 0; /* granules that disagree: continue without a gap */
    g->samples = gap;
    int64_t at = before - d->links[d->nlinks - 1].head.pre_skip;
    g->at_sample = d->total_samples + (at > 0 ? at : 0);
    d->lost_samples += gap;
    before += gap;
    ls->decoded = before;
    ls->prev_gp += gap;
  }
  ls->hole = -1;
  if (ls->prev_gp < 0) {
    int64_t start = gp - page_total - before;
    if (start < 0) {
      if (!eos)
        return oa_err_set(err, OA_EFORMAT,
                          "granule position %lld on page at byte offset %llu is smaller than the "
                          "%lld samples before it",
                          (long long)gp, (unsigned long long)offset, (long long)(page_total + before));
      start = 0;
    }
    ls->prev_gp = start + before;
  } else if (gp == -1) {
    gp = ls->prev_gp + page_total;
  } else if (gp < ls->prev_gp) {
    return oa_err_set(err, OA_EFORMAT, "granule position goes backwards (%lld after %lld) on page at byte offset %llu",
                      (long long)gp, (long long)ls->prev_gp, (unsigned long long)offset);
  }
  int64_t pos = before;
  size_t keep_n = n;
  int64_t room = gp - ls->prev_gp;
  if (eos && room < page_total) {
    /* End trimming: keep `room` samples of this page; packets that start
     * after them carry no output and are dropped. */
    if (room < 0) room = 0;
    int64_t acc = 0;
    keep_n = first;
    while (keep_n < n && acc < room) acc += d->pkt_duration[keep_n++ - b];
    ls->kept = before + room;
  } else {
    ls->kept = before + page_total;
  }
  for (size_t i = first; i < keep_n; i++) {
    d->pkt_link_pos[i - b] = pos;
    pos += d->pkt_duration[i - b];
  }
  if (keep_n < n) {
    d->bytes_len = d->pkt_offset[keep_n - b];
    d->npackets = keep_n;
  }
  ls->decoded = pos;
  ls->unstamped = d->npackets;
  ls->prev_gp = gp;
  if (eos) ls->eos = 1;
  return OA_OK;
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Appends "key" + text (n bytes; line breaks as spaces) + '\n' while it fits. */
static void add_tag_line(char *out, size_t *used, size_t cap, const char *key, const uint8_t *text, size_t n) {
  size_t k = strlen(key);
  if (*used + k + n + 2 > cap) return;
  memcpy(out + *used, key, k);
  *used += k;
  for (size_t i = 0; i < n; i++) out[(*used)++] = text[i] == '\n' || text[i] == '\r' || !text[i] ? ' ' : (char)text[i];
  out[(*used)++] = '\n';
  out[*used] = '\0';
}

char *oa_parse_opus_tags(const uint8_t *p, size_t len) {
  const size_t cap = 64 * 1024;
  if (len < 16 || memcmp(p, "OpusTags", 8) != 0) return NULL;
  size_t at = 8;
  uint32_t vendor = le32(p + at);
  at += 4;
  if (vendor > len - at || len - at - vendor < 4) return NULL;
  char *out = malloc(cap);
  if (!out) return NULL;
  size_t used = 0;
  out[0] = '\0';
  add_tag_line(out, &used, cap, "vendor=", p + at, vendor);
  at += vendor;
  uint32_t count = le32(p + at);
  at += 4;
  for (uint32_t i = 0; i < count; i++) {
    if (len - at < 4) break;
    uint32_t n = le32(p + at);
    at += 4;
    if (n > len - at) break;
    add_tag_line(out, &used, cap, "", p + at, n);
    at += n;
  }
  return out;
}

static int take_packets(oa_demuxed *d, link_state *ls, uint64_t offset, oa_err *err) {
  ogg_packet op;
  int rc;
  while ((rc = ogg_stream_packetout(&ls->os, &op)) != 0) {
    if (rc < 0) {
      /* Missing or corrupt pages: keep going after them. */
      if (ls->hole < 0) {
        if (add_damage(d, OA_DAMAGE_HOLE, offset, 0)) return oa_err_set(err, OA_ENOMEM, "out of memory");
        ls->hole = (long)d->ndamage - 1;
      }
      continue;
    }
    if (ls->headers == 0) {
      oa_link *lk = &d->links[d->nlinks - 1];
      if (oa_parse_opus_head(op.packet, (size_t)op.bytes, &lk->head, err) != OA_OK)
        return oa_err_prefix(err, "page at byte offset %llu: ", (unsigned long long)offset);
      lk->serial = ls->serial;
      ls->headers = 1;
    } else if (ls->headers == 1) {
      if (op.bytes < 8 || memcmp(op.packet, "OpusTags", 8) != 0)
        return oa_err_set(err, OA_EFORMAT, "second packet is not OpusTags (page at byte offset %llu)",
                          (unsigned long long)offset);
      if (d->nlinks == 1 && !d->tags) d->tags = oa_parse_opus_tags(op.packet, (size_t)op.bytes);
      ls->headers = 2;
    } else {
      int dur = oa_packet_duration(op.packet, (size_t)op.bytes);
      if (dur <= 0)
        return oa_err_set(err, OA_EFORMAT, "packet %zu (page at byte offset %llu) has no valid TOC",
                          d->npackets - d->links[d->nlinks - 1].first_packet, (unsigned long long)offset);
      if (oa_demuxed_add_packet(d, op.packet, op.bytes, dur) != 0) return oa_err_set(err, OA_ENOMEM, "out of memory");
    }
  }
  return OA_OK;
}

static int on_page(oa_demuxed *d, link_state *ls, ogg_page *og, uint64_t offset, oa_err *err) {
  uint32_t serial = (uint32_t)ogg_page_serialno(og);
  if (ogg_page_bos(og)) {
    if (!ls->active || ls->saw_data_page) {
      int rc = finish_link(d, ls, offset, err);
      if (rc != OA_OK) return rc;
      if (begin_link(d, ls) != 0) return oa_err_set(err, OA_ENOMEM, "out of memory");
    }
    if (ls->nstarted < (int)(sizeof ls->started / sizeof ls->started[0])) ls->started[ls->nstarted++] = serial;
    const char *codec = codec_name(og->body, og->body_len);
    if (!ls->have_opus && strcmp(codec, "Opus") == 0) {
      ls->have_opus = 1;
      ls->serial = serial;
      ogg_stream_reset_serialno(&ls->os, (int)serial);
    } else {
      if (!ls->other_codec) ls->other_codec = codec;
      d->ignored_streams++;
      return OA_OK;
    }
  } else {
    if (!ls->active)
      return oa_err_set(err, OA_EFORMAT, "not an Ogg Opus file: first page (byte offset %llu) is not a "
                        "beginning-of-stream page", (unsigned long long)offset);
    ls->saw_data_page = 1;
  }
  if (!ls->have_opus || serial != ls->serial) { /* another logical stream, or one whose start is lost */
    int known = ls->nstarted == (int)(sizeof ls->started / sizeof ls->started[0]);
    for (int i = 0; i < ls->nstarted && !known; i++) known = ls->started[i] == serial;
    if (!known && add_damage(d, OA_DAMAGE_ORPHAN, offset, (uint64_t)(og->header_len + og->body_len)))
      return oa_err_set(err, OA_ENOMEM, "out of memory");
    return OA_OK;
  }
  if (ls->eos)
    return oa_err_set(err, OA_EFORMAT, "page after end of stream at byte offset %llu", (unsigned long long)offset);
  if (ogg_stream_pagein(&ls->os, og) != 0)
    return oa_err_set(err, OA_EFORMAT, "page at byte offset %llu rejected by libogg", (unsigned long long)offset);
  int rc = take_packets(d, ls, offset, err);
  if (rc != OA_OK) return rc;
  if (ls->headers < 2) {
    if (ogg_page_eos(og))
      return oa_err_set(err, OA_EFORMAT, "stream ends before its headers (byte offset %llu)", (unsigned long long)offset);
    return OA_OK;
  }
  return stamp_page(d, ls, ogg_page_granulepos(og), ogg_page_eos(og), offset, err);
}

static int check_links(const oa_demuxed *d, oa_err *err) {
  if (d->nlinks == 0) return oa_err_set(err, OA_EFORMAT, "no Ogg pages found");
  for (size_t i = 1; i < d->nlinks; i++)
    if (d->links[i].head.channels != d->links[0].head.channels)
      return oa_err_set(err, OA_EFORMAT, "chained links have different channel counts (%d in link 0, %d "
                        "in link %zu); not supported", d->links[0].head.channels, d->links[i].head.channels, i);
  return OA_OK;
}

/* An Ogg Opus file read a page at a time, from memory or from a file. */
struct oa_ogg_reader {
  oa_demuxed *d;
  ogg_sync_state oy;
  link_state ls;
  FILE *f;                 /* or NULL: read from mem */
  const uint8_t *mem;
  size_t mem_len;
  const char *path;
  uint64_t fed;            /* bytes given to libogg */
  uint64_t offset;         /* byte offset of the next page */
  uint8_t magic[4];        /* the file's first bytes */
  size_t magic_len;
  int ended;
};

static oa_ogg_reader *reader_new(oa_demuxed *out) {
  oa_ogg_reader *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  memset(out, 0, sizeof *out);
  r->d = out;
  ogg_sync_init(&r->oy);
  return r;
}

/* Gives libogg the next bytes: their count, 0 at the end, <0 on error. */
static long feed(oa_ogg_reader *r, oa_err *err) {
  size_t chunk = 65536;
  if (!r->f && r->mem_len - r->fed < chunk) chunk = r->mem_len - r->fed;
  if (chunk == 0) return 0;
  char *buf = ogg_sync_buffer(&r->oy, (long)chunk);
  if (!buf) return oa_err_set(err, OA_ENOMEM, "out of memory");
  size_t got = chunk;
  if (r->f) {
    got = fread(buf, 1, chunk, r->f);
    if (got == 0 && ferror(r->f)) return oa_err_set(err, OA_EIO, "cannot read: read error: %s", strerror(errno));
  } else {
    memcpy(buf, r->mem + r->fed, chunk);
  }
  for (size_t i = 0; i < got && r->magic_len < sizeof r->magic; i++) r->magic[r->magic_len++] = (uint8_t)buf[i];
  ogg_sync_wrote(&r->oy, (long)got);
  r->fed += got;
  return (long)got;
}

/* The file has ended: what is left is damage or an error; links close. */
static int at_end(oa_ogg_reader *r, oa_err *err) {
  oa_demuxed *d = r->d;
  int rc = OA_OK;
  if (r->fed == 0)
    rc = oa_err_set(err, OA_EFORMAT, "empty file");
  else if (r->offset == 0 && (r->magic_len < 4 || memcmp(r->magic, "OggS", 4) != 0))
    rc = oa_err_set(err, OA_EFORMAT, "not an Ogg file (no Ogg page in %llu bytes)", (unsigned long long)r->fed);
  else if (r->offset < r->fed && add_damage(d, OA_DAMAGE_TRUNCATED, r->offset, r->fed - r->offset))
    rc = oa_err_set(err, OA_ENOMEM, "out of memory");
  if (rc == OA_OK) rc = finish_link(d, &r->ls, r->offset, err);
  if (rc == OA_OK) rc = check_links(d, err);
  r->ended = 1;
  return rc;
}

int oa_ogg_read(oa_ogg_reader *r, oa_err *err) {
  if (r->ended) return 0;
  for (;;) {
    ogg_page og;
    long got = ogg_sync_pageseek(&r->oy, &og);
    if (got > 0) {
      int rc = on_page(r->d, &r->ls, &og, r->offset, err);
      r->offset += (uint64_t)got;
      return rc == OA_OK ? 1 : rc;
    }
    if (got < 0 && r->offset == 0)
      return oa_err_set(err, OA_EFORMAT, "not an Ogg file at byte offset 0 (%ld bytes are not a valid Ogg page: "
                        "bad capture pattern or CRC)", -got);
    if (got < 0) {
      if (add_damage(r->d, OA_DAMAGE_CORRUPT, r->offset, (uint64_t)-got)) return oa_err_set(err, OA_ENOMEM, "out of memory");
      r->offset += (uint64_t)-got;
      continue;
    }
    long fed = feed(r, err);
    if (fed < 0) return (int)fed;
    if (fed == 0) {
      int rc = at_end(r, err);
      return rc == OA_OK ? 0 : rc;
    }
  }
}

size_t oa_ogg_ready(const oa_ogg_reader *r) { return r->ls.active ? r->ls.unstamped : r->d->npackets; }

int oa_ogg_ended(const oa_ogg_reader *r) { return r->ended; }

uint64_t oa_ogg_bytes_read(const oa_ogg_reader *r) { return r->fed; }

int oa_ogg_open(const char *path, oa_demuxed *out, oa_ogg_reader **reader, oa_err *err) {
  *reader = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) {
    memset(out, 0, sizeof *out);
    return oa_err_set(err, OA_EIO, "cannot read: %s", strerror(errno));
  }
  oa_ogg_reader *r = reader_new(out);
  if (!r) {
    fclose(f);
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  r->f = f;
  r->path = path;
  *reader = r;
  return OA_OK;
}

void oa_ogg_close(oa_ogg_reader *r) {
  if (!r) return;
  if (r->ls.active) ogg_stream_clear(&r->ls.os);
  ogg_sync_clear(&r->oy);
  if (r->f) fclose(r->f);
  free(r);
}

/* Reads to the end, keeping every packet. */
static int read_all(oa_ogg_reader *r, oa_err *err) {
  int rc;
  while ((rc = oa_ogg_read(r, err)) > 0) {}
  return rc;
}

int oa_demux_memory(const uint8_t *data, size_t len, oa_demuxed *out, oa_err *err) {
  oa_ogg_reader *r = reader_new(out);
  if (!r) return oa_err_set(err, OA_ENOMEM, "out of memory");
  r->mem = data;
  r->mem_len = len;
  int rc = read_all(r, err);
  oa_ogg_close(r);
  if (rc != OA_OK) oa_demuxed_free(out);
  return rc;
}

int oa_demux_file(const char *path, oa_demuxed *out, uint64_t *file_size, oa_err *err) {
  oa_ogg_reader *r;
  int rc = oa_ogg_open(path, out, &r, err);
  if (rc == OA_OK) rc = read_all(r, err);
  if (file_size) *file_size = r ? oa_ogg_bytes_read(r) : 0;
  oa_ogg_close(r);
  if (rc != OA_OK) oa_demuxed_free(out);
  return rc;
}
