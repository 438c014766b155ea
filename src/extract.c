#include "opusarc/extract.h"

#include <stdlib.h>
#include <string.h>

#include "opusarc/decoder.h"
#include "opusarc/opusbuild.h"
#include "opusarc/snapshot.h"

#define PACKET_CHUNK 2048           /* packet rows fetched per read */
#define MAX_STATE_BYTES (16u << 20) /* no real snapshot comes near this */

struct oa_extractor {
  oa_archive *archive;
  oa_opus_build host;
  int use_snapshots;
  float *pcm;
  size_t pcm_cap; /* floats */
  oa_packet_row *rows;
  uint8_t *bytes;
  size_t bytes_cap;
};

int oa_extractor_create(oa_archive *a, int decode_from_start, oa_extractor **out, oa_err *err) {
  *out = NULL;
  oa_extractor *x = calloc(1, sizeof *x);
  if (!x) return oa_err_set(err, OA_ENOMEM, "out of memory");
  x->archive = a;
  x->use_snapshots = 1;
  int rc = oa_opus_build_probe(&x->host, err);
  if (rc == OA_OK) {
    oa_err why;
    if (oa_opus_build_compatible(&oa_archive_get_meta(a)->build, &x->host, &why) != OA_OK) {
      if (!decode_from_start) rc = oa_err_set(err, OA_EBUILD, "%s (use --decode-from-start to decode every "
                                              "range from its recording start instead)", why.msg);
      x->use_snapshots = 0;
    }
  }
  x->rows = malloc(PACKET_CHUNK * sizeof *x->rows);
  if (rc == OA_OK && !x->rows) rc = oa_err_set(err, OA_ENOMEM, "out of memory");
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
  free(x->rows);
  free(x->bytes);
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

/* The link's last checkpoint at or before decoded position `pos`, found by
 * binary search with single-row reads (a long link has thousands). */
static int find_checkpoint(oa_extractor *x, const oa_link_row *l, uint64_t link_index, int64_t pos,
                           oa_checkpoint_row *cp, int *found, oa_err *err) {
  *found = 0;
  if (!x->use_snapshots || l->checkpoint_count == 0) return OA_OK;
  uint64_t lo = 0, hi = l->checkpoint_count; /* answer in [lo, hi) */
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    oa_checkpoint_row row;
    int rc = oa_archive_read_checkpoints(x->archive, l->first_checkpoint + mid, 1, &row, err);
    if (rc != OA_OK) return rc;
    if (row.link_pos <= pos) {
      *cp = row;
      *found = 1;
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (*found && (cp->link != link_index || cp->packet < l->first_packet ||
                 cp->packet >= l->first_packet + l->packet_count))
    return oa_err_set(err, OA_EARCHIVE, "checkpoint of link %llu points outside the link",
                      (unsigned long long)link_index);
  return OA_OK;
}

static int restore(oa_extractor *x, oa_decoder *dec, const oa_checkpoint_row *cp, oa_err *err) {
  if (cp->state_size > MAX_STATE_BYTES)
    return oa_err_set(err, OA_EARCHIVE, "checkpoint state of %u bytes is implausible", cp->state_size);
  uint8_t *buf = malloc(cp->state_size ? cp->state_size : 1);
  if (!buf) return oa_err_set(err, OA_ENOMEM, "out of memory");
  int rc = oa_archive_read_state(x->archive, cp->state_offset, cp->state_size, buf, err);
  if (rc == OA_OK)
    rc = oa_snapshot_restore(dec, &x->host, buf, cp->state_size, cp->state_raw_size, cp->state_crc32, err);
  free(buf);
  return rc;
}

/* Reads packet rows [first, first+n) and their bytes, which the writer laid
 * out back to back. */
static int load_chunk(oa_extractor *x, uint64_t first, size_t n, oa_err *err) {
  int rc = oa_archive_read_packets(x->archive, first, n, x->rows, err);
  if (rc != OA_OK) return rc;
  for (size_t i = 1; i < n; i++)
    if (x->rows[i].offset != x->rows[i - 1].offset + x->rows[i - 1].size)
      return oa_err_set(err, OA_EARCHIVE, "packet %llu is not stored after packet %llu",
                        (unsigned long long)(first + i), (unsigned long long)(first + i - 1));
  uint64_t span = x->rows[n - 1].offset + x->rows[n - 1].size - x->rows[0].offset;
  if (span > x->bytes_cap) {
    uint8_t *b = realloc(x->bytes, span);
    if (!b) return oa_err_set(err, OA_ENOMEM, "out of memory");
    x->bytes = b;
    x->bytes_cap = span;
  }
  return oa_archive_read_payload(x->archive, x->rows[0].offset, span, x->bytes, err);
}

/* Decodes link positions [from, to) (pre-skip included) into the sink. */
static int decode_link_range(oa_extractor *x, const oa_link_row *l, uint64_t link_index, int64_t from, int64_t to,
                             oa_pcm_sink sink, void *ctx, oa_extract_stats *st, oa_err *err) {
  oa_opus_head head;
  head_of_link(l, &head);
  size_t need = (size_t)OA_MAX_PACKET_FRAMES * (size_t)l->channels;
  if (need > x->pcm_cap) {
    float *p = realloc(x->pcm, need * sizeof *p);
    if (!p) return oa_err_set(err, OA_ENOMEM, "out of memory");
    x->pcm = p;
    x->pcm_cap = need;
  }
  oa_decoder *dec;
  int rc = oa_decoder_create(&head, &dec, err);
  if (rc != OA_OK) return rc;
  oa_checkpoint_row cp = {0};
  int found;
  rc = find_checkpoint(x, l, link_index, from, &cp, &found, err);
  uint64_t packet = l->first_packet;
  int64_t pos = 0;
  if (rc == OA_OK && found) {
    rc = restore(x, dec, &cp, err);
    packet = cp.packet;
    pos = cp.link_pos;
    st->snapshots_restored++;
  }
  const uint64_t end_packet = l->first_packet + l->packet_count;
  while (rc == OA_OK && pos < to && packet < end_packet) {
    /* No packet is shorter than 2.5 ms (120 samples): fetch no more rows
     * than can still be needed. */
    uint64_t n64 = end_packet - packet, bound = (uint64_t)(to - pos) / 120 + 1;
    if (n64 > bound) n64 = bound;
    size_t n = n64 < PACKET_CHUNK ? (size_t)n64 : PACKET_CHUNK;
    rc = load_chunk(x, packet, n, err);
    for (size_t i = 0; rc == OA_OK && i < n && pos < to; i++) {
      const oa_packet_row *r = &x->rows[i];
      if (r->link_pos != pos) {
        rc = oa_err_set(err, OA_EARCHIVE, "packet %llu claims position %lld, expected %lld",
                        (unsigned long long)(packet + i), (long long)r->link_pos, (long long)pos);
        break;
      }
      int got = oa_decoder_decode(dec, x->bytes + (r->offset - x->rows[0].offset), r->size, x->pcm, err);
      st->packets_decoded++;
      if (got < 0) rc = got;
      else if ((uint32_t)got != r->duration)
        rc = oa_err_set(err, OA_EARCHIVE, "packet %llu decoded to %d samples, index says %u",
                        (unsigned long long)(packet + i), got, r->duration);
      if (rc != OA_OK) break;
      int64_t a = pos > from ? pos : from, b = pos + got < to ? pos + got : to;
      if (a < b) {
        rc = sink(ctx, x->pcm + (size_t)(a - pos) * (size_t)l->channels, (size_t)(b - a), l->channels, err);
        st->frames_out += b - a;
      }
      pos += got;
    }
    packet += n;
  }
  if (rc == OA_OK && pos < to)
    rc = oa_err_set(err, OA_EARCHIVE, "link %llu ends at decoded sample %lld, before %lld",
                    (unsigned long long)link_index, (long long)pos, (long long)to);
  oa_decoder_free(dec);
  return rc;
}

int oa_extract_range(oa_extractor *x, uint64_t rec, int64_t start, int64_t end, oa_pcm_sink sink, void *ctx,
                     oa_extract_stats *stats, oa_err *err) {
  oa_extract_stats local = {0};
  oa_extract_stats *st = stats ? stats : &local;
  const oa_rec_row *r = oa_archive_recording(x->archive, rec);
  const char *name = oa_archive_recording_name(x->archive, rec);
  if (!r) return oa_err_set(err, OA_ENOTFOUND, "recording index %llu does not exist", (unsigned long long)rec);
  if (r->status != OA_REC_OK)
    return oa_err_set(err, OA_ERANGE, "recording \"%s\" failed at indexing: %s", name,
                      oa_archive_recording_error(x->archive, rec));
  if (start >= end)
    return oa_err_set(err, OA_ERANGE, "empty range: start %lld is not before end %lld", (long long)start,
                      (long long)end);
  if (start < 0 || end > r->samples)
    return oa_err_set(err, OA_ERANGE, "range [%lld, %lld) is outside recording \"%s\", which has samples [0, %lld)",
                      (long long)start, (long long)end, name, (long long)r->samples);
  const int64_t frames_before = st->frames_out;
  oa_link_row *links = malloc(r->link_count * sizeof *links);
  if (!links) return oa_err_set(err, OA_ENOMEM, "out of memory");
  int rc = oa_archive_read_links(x->archive, r->first_link, r->link_count, links, err);
  for (uint64_t i = 0; rc == OA_OK && i < r->link_count; i++) {
    const oa_link_row *l = &links[i];
    if (l->channels != r->channels)
      rc = oa_err_set(err, OA_EARCHIVE, "link %llu of \"%s\" has %d channels, recording has %d",
                      (unsigned long long)i, name, l->channels, r->channels);
    int64_t a = start > l->out_start ? start : l->out_start;
    int64_t b = end < l->out_start + l->out_samples ? end : l->out_start + l->out_samples;
    if (rc != OA_OK || a >= b) continue;
    rc = decode_link_range(x, l, r->first_link + i, a - l->out_start + l->pre_skip, b - l->out_start + l->pre_skip,
                           sink, ctx, st, err);
  }
  free(links);
  if (rc == OA_OK && st->frames_out - frames_before != end - start)
    rc = oa_err_set(err, OA_EARCHIVE, "links of \"%s\" do not cover [%lld, %lld)", name, (long long)start,
                    (long long)end);
  return rc;
}
