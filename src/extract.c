#include "opusarc/extract.h"

#include <stdlib.h>
#include <string.h>

#include "opusarc/decoder.h"
#include "opusarc/opusbuild.h"
#include "opusarc/packet.h"
#include "opusarc/snapshot.h"
#include "opusarc/util.h"

#define ROW_BATCH 32                  /* interval rows fetched per read */
#define MAX_STATE_BYTES (16u << 20)   /* no real snapshot comes near this */
#define MAX_INTERVAL_BYTES (1u << 30) /* refuse absurd rows before allocating */

struct oa_extractor {
  oa_archive *archive;
  oa_opus_build host;
  int use_checkpoints; /* 0 under a foreign libopus: every link from its start */
  int trust_snapshots, verify;
  float *pcm;
  size_t pcm_cap; /* floats */
  uint8_t *bytes;
  size_t bytes_cap;
  /* Format 7: the heads of the packets in `bytes`, and one packet put back
   * together (TOC byte + the rest) for the decoder. */
  uint32_t *heads;
  size_t heads_cap, nheads, next_head;
  uint8_t *packet;
  size_t packet_cap;
};

int oa_extractor_create(oa_archive *a, int flags, oa_extractor **out, oa_err *err) {
  *out = NULL;
  oa_extractor *x = calloc(1, sizeof *x);
  if (!x) return oa_err_set(err, OA_ENOMEM, "out of memory");
  x->archive = a;
  x->use_checkpoints = 1;
  x->trust_snapshots = (flags & OA_EXTRACT_NO_SNAPSHOTS) == 0;
  x->verify = (flags & OA_EXTRACT_VERIFY) != 0;
  int rc = oa_opus_build_probe(&x->host, err);
  if (rc == OA_OK) {
    oa_err why;
    if (oa_opus_build_compatible(&oa_archive_get_meta(a)->build, &x->host, &why) != OA_OK) {
      if (!(flags & OA_EXTRACT_DECODE_FROM_START))
        rc = oa_err_set(err, OA_EBUILD, "%s", why.msg);
      x->use_checkpoints = 0;
    }
  }
  if (rc != OA_OK) {
    oa_extractor_free(x);
    return rc;
  }
  *out = x;
  return OA_OK;
}

void oa_extractor_free(oa_extractor *x) {
  if (!x) return;
  free(x->pcm);
  free(x->bytes);
  free(x->heads);
  free(x->packet);
  free(x);
}

static void head_of_link(const oa_link_row *l, oa_opus_head *h) {
  memset(h, 0, sizeof *h);
  h->channels = l->channels;
  h->mapping_family = l->mapping_family;
  h->streams = l->streams;
  h->coupled = l->coupled;
  h->pre_skip = l->pre_skip;
  h->gain_q8 = l->gain_q8;
  memcpy(h->mapping, l->mapping, sizeof h->mapping);
}

/* One link being decoded: its decoder, and whether that decoder's state is
 * exactly the sequential decode's at (pos, offset). */
typedef struct segment {
  oa_extractor *x;
  const oa_link_row *link;
  uint64_t link_index;
  oa_decoder *dec;
  int exact;
  int64_t pos;
  uint64_t offset;
  oa_pcm_sink sink;
  void *ctx;
  oa_extract_stats *st;
} segment;

/* Loads the decoder memory of a snapshot, or patches it (kind 3, after
 * its pre-roll). */
static int restore(segment *g, const oa_interval_row *v, oa_err *err) {
  if (!g->x->trust_snapshots)
    return oa_err_set(err, OA_EARCHIVE, "link %llu would need decoder memory from the archive (a snapshot or "
                      "patch), and that is not trusted", (unsigned long long)g->link_index);
  if (v->state_size > MAX_STATE_BYTES)
    return oa_err_set(err, OA_EARCHIVE, "checkpoint state of %u bytes is implausible", v->state_size);
  uint8_t *buf = malloc(v->state_size ? v->state_size : 1);
  if (!buf) return oa_err_set(err, OA_ENOMEM, "out of memory");
  int rc = oa_archive_read_state(g->x->archive, v->state_offset, v->state_size, buf, err);
  if (rc == OA_OK && v->kind == OA_CP_PATCH)
    rc = oa_patch_apply(g->dec, &g->x->host, buf, v->state_size, v->state_raw_size, v->state_crc32, err);
  else if (rc == OA_OK)
    rc = oa_snapshot_restore(g->dec, &g->x->host, buf, v->state_size, v->state_raw_size, v->state_crc32, err);
  free(buf);
  g->st->snapshots_restored++;
  return rc;
}

static int reserve(void **buf, size_t *cap, size_t n, size_t size) {
  if (n <= *cap) return 0;
  void *b = realloc(*buf, n * size);
  if (!b) return -1;
  *buf = b;
  *cap = n;
  return 0;
}

/* Loads the bytes [from, to) of link l's data and, for format 7, the heads
 * of its packets [first, first + count) (counted within the link). */
static int load_packets(oa_extractor *x, const oa_link_row *l, uint64_t from, uint64_t to, uint64_t first,
                        uint64_t count, oa_err *err) {
  if (to < from || to - from > MAX_INTERVAL_BYTES)
    return oa_err_set(err, OA_EARCHIVE, "interval spans an implausible %llu bytes", (unsigned long long)(to - from));
  size_t n = (size_t)(to - from);
  if (reserve((void **)&x->bytes, &x->bytes_cap, n, 1)) return oa_err_set(err, OA_ENOMEM, "out of memory");
  int rc = oa_archive_read_data(x->archive, from, n, x->bytes, err);
  x->nheads = x->next_head = 0;
  if (rc != OA_OK || l->first_packet == OA_NO_HEADS) return rc;
  if (first > l->packet_count || count > l->packet_count - first)
    return oa_err_set(err, OA_EARCHIVE, "interval packets [%llu, +%llu) lie outside their link's %llu",
                      (unsigned long long)first, (unsigned long long)count, (unsigned long long)l->packet_count);
  if (reserve((void **)&x->heads, &x->heads_cap, count ? count : 1, sizeof *x->heads))
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  x->nheads = (size_t)count;
  return oa_archive_read_heads(x->archive, l->first_packet + first, count, x->heads, err);
}

/* The packet at *at in x->bytes (n bytes loaded), moving *at past it:
 * behind its length prefix, or (format 7) put together from its head. */
static int next_packet(segment *g, size_t *at, size_t n, const uint8_t **pkt, uint32_t *len, oa_err *err) {
  oa_extractor *x = g->x;
  size_t used = 0;
  if (g->link->first_packet == OA_NO_HEADS) {
    used = oa_prefix_read(x->bytes + *at, n - *at, len);
    if (used == 0 || *len > n - *at - used) used = 0;
    *pkt = x->bytes + *at + used;
    *at += used + *len;
  } else if (x->next_head < x->nheads) {
    uint32_t head = x->heads[x->next_head++], body = oa_head_body(head);
    used = body <= n - *at;
    if (used && reserve((void **)&x->packet, &x->packet_cap, (size_t)body + 1, 1))
      return oa_err_set(err, OA_ENOMEM, "out of memory");
    if (used) {
      x->packet[0] = oa_head_toc(head);
      memcpy(x->packet + 1, x->bytes + *at, body);
      *pkt = x->packet, *len = oa_head_length(head), *at += body;
    }
  }
  return used ? OA_OK : oa_err_set(err, OA_EARCHIVE, "packet data of link %llu is cut short",
                                   (unsigned long long)g->link_index);
}

/* Decodes the next packet of x->bytes (n bytes loaded); returns frames. */
static int decode_next(segment *g, size_t *at, size_t n, oa_err *err) {
  const uint8_t *pkt = NULL;
  uint32_t len = 0;
  int rc = next_packet(g, at, n, &pkt, &len, err);
  if (rc != OA_OK) return rc;
  g->st->packets_decoded++;
  return oa_decoder_decode(g->dec, pkt, len, g->x->pcm, err);
}

/* Decodes interval v (its bytes end at end_offset) and sends the part
 * inside [from, to) to the sink. With `whole`, decodes all of it and puts
 * the CRC of its output in *crc. */
static int run_interval(segment *g, const oa_interval_row *v, uint64_t end_offset, int64_t from, int64_t to,
                        int whole, uint32_t *crc, oa_err *err) {
  /* The decoder may carry on from where it stopped (over the silence of a
   * hole too: the straight decode does not reset there). */
  int continuing = g->exact && g->pos <= v->link_pos && g->offset == v->data_offset;
  uint64_t read_from = v->data_offset;
  uint32_t skip = 0;
  int rc = OA_OK;
  if (!continuing) {
    oa_decoder_reset(g->dec);
    /* A pre-roll, patched or not, is exact over its own interval only. */
    g->exact = v->kind == OA_CP_START || v->kind == OA_CP_SNAPSHOT;
    if (v->kind == OA_CP_PREROLL || v->kind == OA_CP_PATCH) {
      read_from = v->preroll_offset, skip = v->preroll;
      g->st->prerolls++;
    } else if (v->kind == OA_CP_SNAPSHOT) {
      rc = restore(g, v, err);
    }
  }
  if (rc == OA_OK)
    rc = load_packets(g->x, g->link, read_from, end_offset, v->packet - skip, skip + (uint64_t)v->packet_count, err);
  if (rc != OA_OK) return rc;
  const size_t n = (size_t)(end_offset - read_from), ch = (size_t)g->link->channels;
  size_t at = 0;
  for (uint32_t i = 0; i < skip && rc == OA_OK; i++) {
    int got = decode_next(g, &at, n, err);
    if (got < 0) rc = got;
  }
  if (rc == OA_OK && !continuing && v->kind == OA_CP_PATCH) rc = restore(g, v, err);
  if (rc == OA_OK && at != v->data_offset - read_from)
    rc = oa_err_set(err, OA_EARCHIVE, "pre-roll of link %llu does not end where its interval starts",
                    (unsigned long long)g->link_index);
  int64_t pos = v->link_pos;
  uint32_t sum = oa_crc_init();
  for (uint32_t i = 0; i < v->packet_count && rc == OA_OK && (whole || pos < to); i++) {
    int got = decode_next(g, &at, n, err);
    if (got < 0) {
      rc = got;
      break;
    }
    if (whole) sum = oa_crc_f32le(sum, g->x->pcm, (size_t)got * ch);
    int64_t a = pos > from ? pos : from, b = pos + got < to ? pos + got : to;
    if (a < b && g->sink) {
      rc = g->sink(g->ctx, g->x->pcm + (size_t)(a - pos) * ch, (size_t)(b - a), (int)ch, err);
      g->st->frames_out += b - a;
    }
    pos += got;
  }
  if (rc == OA_OK && whole && (at != n || pos != v->link_pos + (int64_t)v->samples))
    rc = oa_err_set(err, OA_EARCHIVE, "interval at sample %lld of link %llu does not hold the packets its row says",
                    (long long)v->link_pos, (unsigned long long)g->link_index);
  g->pos = pos;
  g->offset = read_from + at;
  if (crc) *crc = sum;
  return rc;
}

/* Interval rows of one link, read ROW_BATCH at a time; row(k+1) is needed
 * to know where interval k's bytes end. */
typedef struct row_cursor {
  oa_archive *a;
  const oa_link_row *l;
  oa_interval_row rows[ROW_BATCH + 1];
  uint64_t first; /* interval index (within the link) of rows[0] */
  uint64_t count;
} row_cursor;

static int cursor_get(row_cursor *c, uint64_t k, oa_interval_row *v, uint64_t *end_offset, oa_err *err) {
  if (k < c->first || k + 1 >= c->first + c->count) {
    uint64_t n = c->l->interval_count - k < ROW_BATCH + 1 ? c->l->interval_count - k : ROW_BATCH + 1;
    int rc = oa_archive_read_intervals(c->a, c->l->first_interval + k, n, c->rows, err);
    if (rc != OA_OK) return rc;
    c->first = k;
    c->count = n;
  }
  *v = c->rows[k - c->first];
  uint64_t link_end = c->l->data_offset + c->l->data_size;
  *end_offset = k + 1 < c->l->interval_count ? c->rows[k + 1 - c->first].data_offset : link_end;
  if (v->data_offset < c->l->data_offset || *end_offset <= v->data_offset || *end_offset > link_end ||
      v->preroll_offset < c->l->data_offset ||
      (k + 1 < c->l->interval_count && c->rows[k + 1 - c->first].link_pos <= v->link_pos))
    return oa_err_set(err, OA_EARCHIVE, "interval %llu of a link is inconsistent with its neighbours",
                      (unsigned long long)(c->l->first_interval + k));
  return OA_OK;
}

/* The link's last interval starting at or before decoded position pos. */
static int find_interval(row_cursor *c, int64_t pos, uint64_t *k, oa_err *err) {
  uint64_t lo = 0, hi = c->l->interval_count;
  *k = 0;
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    oa_interval_row row;
    int rc = oa_archive_read_intervals(c->a, c->l->first_interval + mid, 1, &row, err);
    if (rc != OA_OK) return rc;
    if (row.link_pos <= pos) lo = mid;
    else hi = mid;
  }
  *k = lo;
  return OA_OK;
}

/* Without trusted snapshots, a range that meets a snapshot interval before
 * it ends is decoded from the link start (interval 0), which continues
 * exactly through every interval; one without keeps its start k. */
static int start_without_snapshots(row_cursor *c, int64_t to, uint64_t *k, oa_err *err) {
  for (uint64_t j = *k; j < c->l->interval_count; j++) {
    oa_interval_row v;
    uint64_t end_offset;
    int rc = cursor_get(c, j, &v, &end_offset, err);
    if (rc != OA_OK) return rc;
    if (v.link_pos >= to) break;
    if (OA_CP_HAS_STATE(v.kind)) {
      *k = 0;
      break;
    }
  }
  return OA_OK;
}

/* Family 3: the demixing matrix heads the link's data (docs/FORMAT.md). */
static int read_demixing(oa_extractor *x, const oa_link_row *l, oa_opus_head *h, oa_err *err) {
  if (l->mapping_family != 3) return OA_OK;
  h->demixing_size = 2 * l->channels * (l->streams + l->coupled);
  if (l->streams + l->coupled > OA_MAX_PROJECTION_CHANNELS || l->channels > OA_MAX_PROJECTION_CHANNELS ||
      (uint64_t)h->demixing_size >= l->data_size)
    return oa_err_set(err, OA_EARCHIVE, "family-3 link of %d channels and %d+%d streams does not fit its data",
                      l->channels, l->streams, l->coupled);
  return oa_archive_read_data(x->archive, l->data_offset, (size_t)h->demixing_size, h->demixing, err);
}

static int open_segment(segment *g, oa_extractor *x, const oa_link_row *l, uint64_t link_index, oa_err *err) {
  oa_opus_head head;
  head_of_link(l, &head);
  int rc = read_demixing(x, l, &head, err);
  if (rc != OA_OK) return rc;
  size_t need = (size_t)OA_MAX_PACKET_FRAMES * (size_t)l->channels;
  if (need > x->pcm_cap) {
    float *p = realloc(x->pcm, need * sizeof *p);
    if (!p) return oa_err_set(err, OA_ENOMEM, "out of memory");
    x->pcm = p;
    x->pcm_cap = need;
  }
  g->x = x;
  g->link = l;
  g->link_index = link_index;
  if (l->interval_count == 0 && l->packet_count > 0)
    return oa_err_set(err, OA_EARCHIVE, "link %llu has packets but no intervals", (unsigned long long)link_index);
  return oa_decoder_create(&head, &g->dec, err);
}

/* Sends `frames` of silence (audio lost in a hole of a damaged file). */
static int send_silence(segment *g, int64_t frames, oa_err *err) {
  const size_t ch = (size_t)g->link->channels;
  memset(g->x->pcm, 0, sizeof(float) * OA_MAX_PACKET_FRAMES * ch);
  while (frames > 0) {
    int64_t n = frames < OA_MAX_PACKET_FRAMES ? frames : OA_MAX_PACKET_FRAMES;
    int rc = g->sink ? g->sink(g->ctx, g->x->pcm, (size_t)n, (int)ch, err) : OA_OK;
    if (rc != OA_OK) return rc;
    g->st->frames_out += n;
    frames -= n;
  }
  return OA_OK;
}

/* Decodes link positions [from, to) (pre-skip included) into the sink.
 * Intervals are contiguous except after a hole, where the place between
 * them is silence. */
static int decode_link_range(oa_extractor *x, const oa_link_row *l, uint64_t link_index, int64_t from, int64_t to,
                             oa_pcm_sink sink, void *ctx, oa_extract_stats *st, oa_err *err) {
  segment g = {.sink = sink, .ctx = ctx, .st = st};
  int rc = open_segment(&g, x, l, link_index, err);
  row_cursor c = {.a = x->archive, .l = l};
  uint64_t k = 0;
  /* Under a foreign libopus only the link start is trusted: decode from it. */
  if (rc == OA_OK && x->use_checkpoints) rc = find_interval(&c, from, &k, err);
  if (rc == OA_OK && k > 0 && !x->trust_snapshots) rc = start_without_snapshots(&c, to, &k, err);
  int64_t sent = from; /* the range is complete up to here */
  int next_after = 0;   /* an interval starts at or after `to`: what is not sent lies in a hole */
  for (; rc == OA_OK && k < l->interval_count; k++) {
    oa_interval_row v;
    uint64_t end_offset;
    rc = cursor_get(&c, k, &v, &end_offset, err);
    if (rc == OA_OK && v.link_pos >= to) next_after = 1;
    if (rc != OA_OK || v.link_pos >= to) break;
    if (sent < v.link_pos) rc = send_silence(&g, v.link_pos - sent, err);
    int forbidden =
        (!x->use_checkpoints && v.kind != OA_CP_START) || (!x->trust_snapshots && OA_CP_HAS_STATE(v.kind));
    if (forbidden && !g.exact)
      rc = oa_err_set(err, OA_EARCHIVE, "cannot continue link %llu from its start", (unsigned long long)link_index);
    uint32_t crc = 0;
    if (rc == OA_OK) rc = run_interval(&g, &v, end_offset, from, to, x->verify, &crc, err);
    if (g.pos > sent) sent = g.pos < to ? g.pos : to;
    if (rc == OA_OK && x->verify) {
      st->intervals_checked++;
      if (crc != v.crc32) {
        st->mismatches++;
        rc = oa_err_set(err, OA_EARCHIVE, "interval at decoded sample %lld of link %llu does not match the indexed "
                        "decode (CRC %08x, indexed %08x)", (long long)v.link_pos, (unsigned long long)link_index,
                        crc, v.crc32);
      }
    }
  }
  /* A range that ends inside the silence of a hole: the rest is silence. */
  if (rc == OA_OK && sent < to && next_after) rc = send_silence(&g, to - sent, err);
  else if (rc == OA_OK && sent < to)
    rc = oa_err_set(err, OA_EARCHIVE, "link %llu ends at decoded sample %lld, before %lld",
                    (unsigned long long)link_index, (long long)sent, (long long)to);
  oa_decoder_free(g.dec);
  return rc;
}

static int read_links(oa_extractor *x, const oa_rec_row *r, const char *name, oa_link_row **out, oa_err *err) {
  *out = malloc((r->link_count ? r->link_count : 1) * sizeof **out);
  if (!*out) return oa_err_set(err, OA_ENOMEM, "out of memory");
  int rc = oa_archive_read_links(x->archive, r->first_link, r->link_count, *out, err);
  for (uint64_t i = 0; rc == OA_OK && i < r->link_count; i++) {
    const oa_link_row *l = &(*out)[i];
    if (l->channels != r->channels)
      rc = oa_err_set(err, OA_EARCHIVE, "link %llu of \"%s\" has %d channels, recording has %d", (unsigned long long)i,
                      name, l->channels, r->channels);
    /* Its output must lie inside the recording and come from its own
     * decoded samples (the reader checked that none is negative). */
    else if (l->out_start > r->samples || l->out_samples > r->samples - l->out_start ||
             l->pre_skip > l->decoded_samples || l->out_samples > l->decoded_samples - l->pre_skip)
      rc = oa_err_set(err, OA_EARCHIVE, "link %llu of \"%s\": output samples [%lld, +%lld) do not fit the recording "
                      "(%lld samples) or the link's %lld decoded samples", (unsigned long long)i, name,
                      (long long)l->out_start, (long long)l->out_samples, (long long)r->samples,
                      (long long)l->decoded_samples);
  }
  return rc;
}

int oa_range_check(const oa_archive *a, uint64_t rec, int64_t start, int64_t end, int in_seconds, oa_err *err) {
  const oa_rec_row *r = oa_archive_recording(a, rec);
  const char *name = oa_archive_recording_name(a, rec);
  const double sps = oa_archive_samples_per_second(a, rec);
  if (!r) return oa_err_set(err, OA_ENOTFOUND, "recording index %llu does not exist", (unsigned long long)rec);
  if (!OA_REC_READABLE(r))
    return oa_err_set(err, OA_ERANGE, "recording \"%s\" failed at indexing: %s", name,
                      oa_archive_recording_error(a, rec));
  if (start >= end && in_seconds)
    return oa_err_set(err, OA_ERANGE, "empty range: start %.6f s is not before end %.6f s", start / sps, end / sps);
  if (start >= end)
    return oa_err_set(err, OA_ERANGE, "empty range: start %lld is not before end %lld", (long long)start,
                      (long long)end);
  if ((start < 0 || end > r->samples) && in_seconds)
    return oa_err_set(err, OA_ERANGE, "range %.6f-%.6f s is outside recording \"%s\", which lasts %.6f s",
                      start / sps, end / sps, name, (double)r->samples / sps);
  if (start < 0 || end > r->samples)
    return oa_err_set(err, OA_ERANGE, "range [%lld, %lld) is outside recording \"%s\", which has samples [0, %lld)",
                      (long long)start, (long long)end, name, (long long)r->samples);
  return OA_OK;
}

int oa_extract_range(oa_extractor *x, uint64_t rec, int64_t start, int64_t end, oa_pcm_sink sink, void *ctx,
                     oa_extract_stats *stats, oa_err *err) {
  oa_extract_stats local = {0};
  oa_extract_stats *st = stats ? stats : &local;
  const oa_rec_row *r = oa_archive_recording(x->archive, rec);
  const char *name = oa_archive_recording_name(x->archive, rec);
  if (!r) return oa_err_set(err, OA_ENOTFOUND, "recording index %llu does not exist", (unsigned long long)rec);
  int rc = oa_range_check(x->archive, rec, start, end, 0, err);
  if (rc != OA_OK) return rc;
  const int64_t frames_before = st->frames_out;
  oa_link_row *links;
  rc = read_links(x, r, name, &links, err);
  for (uint64_t i = 0; rc == OA_OK && i < r->link_count; i++) {
    const oa_link_row *l = &links[i];
    int64_t a = start > l->out_start ? start : l->out_start;
    int64_t b = end < l->out_start + l->out_samples ? end : l->out_start + l->out_samples;
    if (a >= b) continue;
    rc = decode_link_range(x, l, r->first_link + i, a - l->out_start + l->pre_skip, b - l->out_start + l->pre_skip,
                           sink, ctx, st, err);
    if (rc != OA_OK) oa_err_prefix(err, "\"%s\": ", name);
  }
  free(links);
  if (rc == OA_OK && st->frames_out - frames_before != end - start)
    rc = oa_err_set(err, OA_EARCHIVE, "links of \"%s\" do not cover [%lld, %lld)", name, (long long)start,
                    (long long)end);
  return rc;
}

/* Recording-timeline samples of an interval, clipped to the link's output. */
static void interval_span(const oa_link_row *l, const oa_interval_row *v, int64_t *a, int64_t *b) {
  *a = l->out_start + v->link_pos - l->pre_skip;
  *b = *a + v->samples;
  if (*a < l->out_start) *a = l->out_start;
  if (*b > l->out_start + l->out_samples) *b = l->out_start + l->out_samples;
  if (*b < *a) *b = *a;
}

int oa_verify_recording(oa_extractor *x, uint64_t rec, oa_mismatch_fn fn, void *ctx, oa_extract_stats *stats,
                        oa_err *err) {
  oa_extract_stats local = {0};
  oa_extract_stats *st = stats ? stats : &local;
  const oa_rec_row *r = oa_archive_recording(x->archive, rec);
  if (!r || !OA_REC_READABLE(r)) return OA_OK;
  const char *name = oa_archive_recording_name(x->archive, rec);
  oa_link_row *links;
  int rc = read_links(x, r, name, &links, err);
  for (uint64_t i = 0; rc == OA_OK && i < r->link_count; i++) {
    const oa_link_row *l = &links[i];
    /* g: each interval from its own checkpoint, as extraction may use it.
     * s: the link straight through, for the intervals whose checkpoint is
     * not used (all under a foreign libopus, snapshots when not trusted). */
    segment g = {.st = st}, s = {.st = st};
    const int straight = !x->use_checkpoints || !x->trust_snapshots;
    rc = open_segment(&g, x, l, r->first_link + i, err);
    if (rc == OA_OK && straight) rc = open_segment(&s, x, l, r->first_link + i, err);
    row_cursor c = {.a = x->archive, .l = l};
    for (uint64_t k = 0; rc == OA_OK && k < l->interval_count; k++) {
      oa_interval_row v;
      uint64_t end_offset;
      uint32_t crc = 0, straight_crc = 0;
      rc = cursor_get(&c, k, &v, &end_offset, err);
      if (rc != OA_OK) break;
      int own = x->use_checkpoints && (x->trust_snapshots || !OA_CP_HAS_STATE(v.kind));
      if (own) {
        g.exact = 0;
        rc = run_interval(&g, &v, end_offset, 0, INT64_MAX, 1, &crc, err);
      }
      if (rc == OA_OK && straight) rc = run_interval(&s, &v, end_offset, 0, INT64_MAX, 1, &straight_crc, err);
      if (rc != OA_OK) break;
      if (!own || (straight && straight_crc != v.crc32)) crc = straight_crc;
      st->intervals_checked++;
      if (crc != v.crc32) {
        st->mismatches++;
        int64_t a, b;
        interval_span(l, &v, &a, &b);
        if (fn) fn(ctx, rec, l->first_interval + k, a, b, crc, v.crc32);
      }
    }
    oa_decoder_free(g.dec);
    oa_decoder_free(s.dec);
    if (rc != OA_OK) oa_err_prefix(err, "\"%s\": ", name);
  }
  free(links);
  return rc;
}
