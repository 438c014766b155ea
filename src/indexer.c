#include "opusarc/indexer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opusarc/decoder.h"
#include "opusarc/oggdemux.h"
#include "opusarc/packet.h"
#include "opusarc/snapshot.h"
#include "opusarc/util.h"

/* Where the batch stood before a recording, so a failure can be undone. */
typedef struct batch_mark {
  size_t payload_len, npackets, nlinks, ncheckpoints, state_len;
} batch_mark;

static batch_mark mark_of(const oa_batch *b) {
  return (batch_mark){b->payload_len, b->npackets, b->nlinks, b->ncheckpoints, b->state_len};
}

static void rollback(oa_batch *b, batch_mark m) {
  b->payload_len = m.payload_len;
  b->npackets = m.npackets;
  b->nlinks = m.nlinks;
  b->ncheckpoints = m.ncheckpoints;
  b->state_len = m.state_len;
}

static int add_checkpoint(oa_batch *b, const oa_decoder *dec, const oa_opus_build *build, uint64_t link,
                          uint64_t packet, int64_t link_pos, oa_err *err) {
  oa_snapshot snap;
  int rc = oa_snapshot_capture(dec, build, &snap, err);
  if (rc != OA_OK) return rc;
  if (oa_grow((void **)&b->state, &b->state_cap, b->state_len + snap.size, 1) ||
      oa_grow((void **)&b->checkpoints, &b->checkpoints_cap, b->ncheckpoints + 1, sizeof *b->checkpoints)) {
    oa_snapshot_free(&snap);
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  memcpy(b->state + b->state_len, snap.data, snap.size);
  b->checkpoints[b->ncheckpoints++] = (oa_checkpoint_row){
      .link = link, .packet = packet, .link_pos = link_pos, .kind = OA_CP_SNAPSHOT,
      .state_size = (uint32_t)snap.size, .state_raw_size = snap.raw_size, .state_crc32 = snap.crc32,
      .state_offset = b->state_len};
  b->state_len += snap.size;
  oa_snapshot_free(&snap);
  return OA_OK;
}

/* Validates and decodes every packet of one link, adding its packet rows
 * and checkpoints. *bad_packet receives the failing packet's number within
 * the recording. Errors here are the recording's, not the batch's, except
 * OA_ENOMEM. */
static int index_link(const oa_demuxed *d, size_t li, const oa_index_options *opt, const oa_opus_build *build,
                      oa_batch *b, uint64_t payload_base, float *pcm, int64_t *bad_packet, oa_err *err) {
  const oa_link *lk = &d->links[li];
  oa_decoder *dec;
  int rc = oa_decoder_create(&lk->head, &dec, err);
  if (rc != OA_OK) return oa_err_prefix(err, "link %zu: ", li);
  const int64_t interval = opt->checkpoint_every > 0 ? (int64_t)(opt->checkpoint_every * 48000.0) : INT64_MAX;
  const int64_t useful_end = (int64_t)lk->head.pre_skip + lk->out_samples;
  int64_t next_cp = interval;
  const uint64_t link_row = b->nlinks; /* batch-local; the link row is added by the caller */
  for (size_t k = 0; k < lk->packet_count && rc == OA_OK; k++) {
    size_t p = lk->first_packet + k;
    const uint8_t *data = d->bytes + d->pkt_offset[p];
    int64_t pos = d->pkt_link_pos[p];
    *bad_packet = (int64_t)p;
    if (pos >= next_cp && pos < useful_end) {
      rc = add_checkpoint(b, dec, build, link_row, b->npackets, pos, err);
      while (next_cp <= pos) next_cp += interval;
      if (rc != OA_OK) break;
    }
    oa_packet_info info;
    rc = oa_packet_validate(data, d->pkt_size[p], lk->head.streams, &info, err);
    if (rc == OA_OK) {
      int n = oa_decoder_decode(dec, data, d->pkt_size[p], pcm, err);
      if (n < 0) rc = n;
      else if (n != info.duration)
        rc = oa_err_set(err, OA_EDECODE, "decoder returned %d samples, packet header says %d", n, info.duration);
    }
    if (rc != OA_OK) {
      if (rc != OA_ENOMEM) oa_err_prefix(err, "packet %zu: ", p);
      break;
    }
    if (oa_grow((void **)&b->packets, &b->packets_cap, b->npackets + 1, sizeof *b->packets)) {
      rc = oa_err_set(err, OA_ENOMEM, "out of memory");
      break;
    }
    b->packets[b->npackets++] = (oa_packet_row){.offset = payload_base + d->pkt_offset[p],
                                                .size = d->pkt_size[p],
                                                .duration = d->pkt_duration[p],
                                                .link_pos = pos};
  }
  oa_decoder_free(dec);
  return rc;
}

static int add_link_row(oa_batch *b, const oa_link *lk, uint64_t row, uint64_t first_packet, uint64_t first_cp,
                        int64_t out_start) {
  if (oa_grow((void **)&b->links, &b->links_cap, b->nlinks + 1, sizeof *b->links)) return -1;
  oa_link_row *l = &b->links[b->nlinks++];
  memset(l, 0, sizeof *l);
  l->recording = row;
  l->first_packet = first_packet;
  l->packet_count = b->npackets - first_packet;
  l->first_checkpoint = first_cp;
  l->checkpoint_count = b->ncheckpoints - first_cp;
  l->out_start = out_start;
  l->out_samples = lk->out_samples;
  l->decoded_samples = lk->decoded_samples;
  l->channels = lk->head.channels;
  l->mapping_family = lk->head.mapping_family;
  l->streams = lk->head.streams;
  l->coupled = lk->head.coupled;
  l->pre_skip = lk->head.pre_skip;
  l->gain_q8 = lk->head.gain_q8;
  memcpy(l->mapping, lk->head.mapping, sizeof l->mapping);
  return 0;
}

/* Decodes and checkpoints all links; on success the batch holds the
 * recording's payload, packets, links and checkpoints. */
static int index_stream(const oa_demuxed *d, uint64_t row, const oa_index_options *opt, const oa_opus_build *build,
                        oa_batch *b, int64_t *bad_packet, oa_err *err) {
  if (oa_grow((void **)&b->payload, &b->payload_cap, b->payload_len + d->bytes_len, 1))
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  const uint64_t payload_base = b->payload_len;
  memcpy(b->payload + b->payload_len, d->bytes, d->bytes_len);
  b->payload_len += d->bytes_len;
  float *pcm = malloc(sizeof(float) * OA_MAX_PACKET_FRAMES * (size_t)d->links[0].head.channels);
  if (!pcm) return oa_err_set(err, OA_ENOMEM, "out of memory");
  int rc = OA_OK;
  int64_t out_start = 0;
  for (size_t li = 0; li < d->nlinks && rc == OA_OK; li++) {
    uint64_t first_packet = b->npackets, first_cp = b->ncheckpoints;
    rc = index_link(d, li, opt, build, b, payload_base, pcm, bad_packet, err);
    /* index_link numbers checkpoints' links by the batch row the link gets. */
    if (rc == OA_OK && add_link_row(b, &d->links[li], row, first_packet, first_cp, out_start) != 0)
      rc = oa_err_set(err, OA_ENOMEM, "out of memory");
    out_start += d->links[li].out_samples;
  }
  free(pcm);
  return rc;
}

static int add_rec_row(oa_batch *b, uint64_t row, const oa_rec_row *r) {
  if (oa_grow((void **)&b->recs, &b->recs_cap, b->nrecs + 1, sizeof *b->recs) ||
      oa_grow((void **)&b->rec_index, &b->rec_index_cap, b->nrecs + 1, sizeof *b->rec_index))
    return -1;
  b->recs[b->nrecs] = *r;
  b->rec_index[b->nrecs++] = row;
  return 0;
}

int oa_index_entry(const oa_corpus_entry *e, uint64_t row, const oa_index_options *opt, const oa_opus_build *build,
                   oa_batch *b, oa_index_stats *stats, char *failure_msg, oa_err *err) {
  oa_rec_row r;
  memset(&r, 0, sizeof r);
  r.failed_packet = -1;
  r.source_size = e->size;
  const batch_mark mark = mark_of(b);
  oa_err why;
  oa_err_clear(&why);
  oa_demuxed d;
  memset(&d, 0, sizeof d);
  int rc = OA_OK;
  if (e->error) {
    rc = oa_err_set(&why, OA_EIO, "%s", e->error);
  } else {
    uint64_t size = 0;
    rc = oa_demux_file(e->path, &d, &size, &why);
    r.source_size = size;
  }
  if (rc == OA_OK) {
    int64_t bad_packet = -1;
    r.first_packet = b->npackets;
    r.first_link = b->nlinks;
    r.first_checkpoint = b->ncheckpoints;
    rc = index_stream(&d, row, opt, build, b, &bad_packet, &why);
    if (rc == OA_ENOMEM) {
      oa_demuxed_free(&d);
      rollback(b, mark);
      return oa_err_set(err, OA_ENOMEM, "out of memory indexing %s", e->path);
    }
    if (rc != OA_OK) r.failed_packet = bad_packet;
  }
  if (rc == OA_OK) {
    const oa_opus_head *h = &d.links[0].head;
    r.status = OA_REC_OK;
    r.channels = h->channels;
    r.mapping_family = h->mapping_family;
    r.pre_skip = h->pre_skip;
    r.gain_q8 = h->gain_q8;
    r.samples = d.total_samples;
    r.link_count = d.nlinks;
    r.packet_count = b->npackets - r.first_packet;
    r.checkpoint_count = b->ncheckpoints - r.first_checkpoint;
    r.payload_bytes = d.bytes_len;
    stats->recordings_ok++;
    stats->packets += r.packet_count;
    stats->payload_bytes += d.bytes_len;
    stats->checkpoints += r.checkpoint_count;
    stats->state_bytes += b->state_len - mark.state_len;
    stats->samples += d.total_samples;
    stats->source_bytes += r.source_size;
  } else {
    rollback(b, mark);
    r.status = OA_REC_FAILED;
    r.first_packet = b->npackets, r.first_link = b->nlinks, r.first_checkpoint = b->ncheckpoints;
    stats->recordings_failed++;
    if (failure_msg) snprintf(failure_msg, OA_ERRMSG_MAX, "%s", why.msg);
  }
  oa_demuxed_free(&d);
  if (oa_batch_add_string(b, e->name, &r.name_off, &r.name_len) ||
      oa_batch_add_string(b, e->path, &r.path_off, &r.path_len) ||
      oa_batch_add_string(b, rc == OA_OK ? "" : why.msg, &r.error_off, &r.error_len) || add_rec_row(b, row, &r))
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  return OA_OK;
}
