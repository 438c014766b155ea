#include "opusarc/indexer.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "opusarc/avdemux.h"
#include "opusarc/avimport.h"
#include "opusarc/decoder.h"
#include "opusarc/mpiutil.h"
#include "opusarc/oggdemux.h"
#include "opusarc/packet.h"
#include "opusarc/pcmimport.h"
#include "opusarc/snapshot.h"
#include "opusarc/util.h"

int oa_checkpoint_mode_parse(const char *name, int *mode) {
  if (strcmp(name, "auto") == 0) *mode = OA_CHECKPOINTS_AUTO;
  else if (strcmp(name, "preroll") == 0) *mode = OA_CHECKPOINTS_PREROLL;
  else if (strcmp(name, "snapshot") == 0) *mode = OA_CHECKPOINTS_SNAPSHOT;
  else return -1;
  return 0;
}

const char *oa_checkpoint_mode_name(int mode) {
  return mode == OA_CHECKPOINTS_PREROLL ? "preroll" : mode == OA_CHECKPOINTS_SNAPSHOT ? "snapshot" : "auto";
}

/* Where the batch stood before a recording, so a failure can be undone. */
typedef struct batch_mark {
  size_t data_len, nheads, nlinks, nintervals, state_len;
} batch_mark;

static batch_mark mark_of(const oa_batch *b) {
  return (batch_mark){b->data_len, b->nheads, b->nlinks, b->nintervals, b->state_len};
}

static void rollback(oa_batch *b, batch_mark m) {
  oa_batch_cut(b, m.data_len, m.nheads, m.state_len);
  b->nlinks = m.nlinks;
  b->nintervals = m.nintervals;
}

/* Everything the indexing of one link works with. The reference output is
 * kept from `anchor` (the start of the last interval row written for this
 * link) on, so pre-roll candidates, and extensions of that row, can be
 * compared with it sample for sample. */
typedef struct link_job {
  const oa_demuxed *d;
  const oa_link *lk;    /* d->links[li]: refreshed before each use (d->links may move as links begin) */
  size_t li;
  const oa_index_options *opt;
  const oa_opus_build *build;
  oa_batch *b;
  oa_index_stats *stats;
  oa_decoder *seq, *trial;
  size_t avail;         /* packets of the link with their final places */
  size_t k;             /* next packet to take */
  double share;         /* share of the recording read so far, for progress */
  int64_t next_cp;      /* link position at which the next interval may begin */
  uint64_t data0;       /* batch offset of packet 0's bytes (a pre-roll from the link start) */
  uint64_t *data_off;   /* batch offset of packet off_base+i's bytes after its TOC byte */
  size_t off_base, off_cap;
  float *ref;           /* reference output of packets [anchor, current) */
  size_t ref_len, ref_cap;
  size_t *ref_at;       /* start of packet anchor+i's output in ref */
  size_t ref_at_cap;
  float *scratch;
  uint8_t *state;       /* sequential decoder memory at the start of p0 */
  size_t anchor;        /* first packet with reference output kept */
  size_t p0;            /* first packet of the interval being built */
  uint32_t crc;         /* CRC of the interval being built */
  int last_preroll, intervals_done;
  long last_row;        /* batch row of this link's last interval, -1 if none */
  int64_t interval;     /* nominal interval length, samples */
  uint64_t link_row;
  uint64_t first_interval, data_start, first_head; /* where the link begins in the batch */
} link_job;

/* Packet k of the link, which the demuxer still holds (see keep_from). */
static size_t held(const link_job *j, size_t k) {
  assert(j->lk->first_packet + k >= j->d->base);
  return j->lk->first_packet + k - j->d->base;
}

static const uint8_t *packet_bytes(const link_job *j, size_t k) { return j->d->bytes + j->d->pkt_offset[held(j, k)]; }

static uint32_t packet_size(const link_job *j, size_t k) { return j->d->pkt_size[held(j, k)]; }

static int64_t link_pos(const link_job *j, size_t k) {
  return k < j->avail ? j->d->pkt_link_pos[held(j, k)] : j->lk->decoded_samples;
}

static uint64_t data_off(const link_job *j, size_t k) {
  if (k == 0) return j->data0;
  assert(k >= j->off_base);
  return j->data_off[k - j->off_base];
}

/* Feeds packets [start - r, start) to a fresh trial decoder. */
static int feed_preroll(link_job *j, size_t start, size_t r, oa_err *err) {
  oa_decoder_reset(j->trial);
  for (size_t k = start - r; k < start; k++) {
    int n = oa_decoder_decode(j->trial, packet_bytes(j, k), packet_size(j, k), j->scratch, err);
    j->stats->search_decodes++;
    if (n < 0) return n;
  }
  return OA_OK;
}

/* Decodes [start, end) with the trial decoder comparing with the
 * reference; stops at the first differing sample. 1: identical, 0:
 * differs, <0: error. */
static int trial_matches(link_job *j, size_t start, size_t end, oa_err *err) {
  const size_t ch = (size_t)j->lk->head.channels;
  for (size_t k = start; k < end; k++) {
    int n = oa_decoder_decode(j->trial, packet_bytes(j, k), packet_size(j, k), j->scratch, err);
    j->stats->search_decodes++;
    if (n < 0) return n;
    size_t at = j->ref_at[k - j->anchor];
    size_t next = k + 1 < end ? j->ref_at[k + 1 - j->anchor] : j->ref_len;
    if (next - at != (size_t)n * ch || memcmp(j->scratch, j->ref + at, (next - at) * sizeof(float)) != 0)
      return 0;
  }
  return 1;
}

/* A fresh trial decoder fed packets [start - r, start) decodes [start, end)
 * exactly as the reference: 1, 0, or <0 on error. */
static int preroll_matches(link_job *j, size_t start, size_t r, size_t end, oa_err *err) {
  int rc = feed_preroll(j, start, r, err);
  return rc < 0 ? rc : trial_matches(j, start, end, err);
}

/* Smallest-effort search for a verified pre-roll of the interval [p0, end):
 * the previous interval's R (every 4th interval half of it first, so R can
 * shrink again), then doubling up to the bound. A pre-roll reaching back to
 * the link start is the sequential decode itself and needs no check.
 * Returns R, -1 if none is found, -2 on error. */
static long find_preroll(link_job *j, size_t end, oa_err *err) {
  const size_t limit = (size_t)j->opt->max_preroll;
  size_t tried[40];
  int ntried = 0;
  size_t r = j->last_preroll > 0 ? (size_t)j->last_preroll : 2;
  if (j->intervals_done % 4 == 3 && r > 1) r /= 2;
  for (;;) {
    if (r >= j->p0) return (long)j->p0;
    if (r > limit) r = limit;
    int seen = 0;
    for (int i = 0; i < ntried; i++) seen |= tried[i] == r;
    if (!seen && ntried < 40) {
      tried[ntried++] = r;
      int ok = preroll_matches(j, j->p0, r, end, err);
      if (ok < 0) return -2;
      if (ok) return (long)r;
    }
    if (r >= limit) return -1;
    r = r < (size_t)j->last_preroll ? (size_t)j->last_preroll : r * 2;
  }
}

/* The pre-roll and patch of row v (its bytes still in the batch) give
 * exact output up to packet `end`: 1, 0, or <0 on error. */
static int patch_matches(link_job *j, const oa_interval_row *v, size_t end, oa_err *err) {
  oa_err why;
  int rc = feed_preroll(j, (size_t)v->packet, v->preroll, err);
  if (rc < 0) return rc;
  const uint8_t *blob = oa_batch_state_at(j->b, v->state_offset);
  if (!blob) return 0; /* spilled: not read back (a new row has come since, see oa_batch_put_state) */
  if (oa_patch_apply(j->trial, j->build, blob, v->state_size, v->state_raw_size, v->state_crc32, &why) != OA_OK)
    return why.code == OA_ENOMEM ? oa_err_set(err, OA_ENOMEM, "out of memory") : 0;
  return trial_matches(j, (size_t)v->packet, end, err);
}

/* Where no short pre-roll is exact, the link's last interval may instead
 * grow over this one, up to 4 nominal lengths: free for a link start or a
 * snapshot (their decoder state is exact), verified for a pre-roll. */
static int try_extend_last(link_job *j, size_t end, oa_err *err) {
  if (j->last_row < 0) return 0;
  oa_interval_row *last = &j->b->intervals[j->last_row];
  if (link_pos(j, end) - last->link_pos > 4 * j->interval) return 0;
  if (link_pos(j, j->p0) != last->link_pos + (int64_t)last->samples) return 0; /* silence for a hole between */
  if (last->kind == OA_CP_PREROLL || last->kind == OA_CP_PATCH) {
    int ok = last->kind == OA_CP_PREROLL ? preroll_matches(j, (size_t)last->packet, last->preroll, end, err)
                                         : patch_matches(j, last, end, err);
    if (ok <= 0) return ok;
  }
  const size_t ch = (size_t)j->lk->head.channels;
  size_t floats = j->ref_len - j->ref_at[j->p0 - j->anchor];
  last->packet_count += (uint32_t)(end - j->p0);
  last->samples += (uint32_t)(floats / ch);
  last->crc32 = (uint32_t)crc32_combine(last->crc32, j->crc, (z_off_t)(floats * sizeof(float)));
  j->stats->extended++;
  return 1;
}

/* Drops the reference output before packet p, which becomes the anchor;
 * packets [anchor, end) have reference output. */
static void drop_reference_before(link_job *j, size_t p, size_t end) {
  size_t skip = p - j->anchor, shift = j->ref_at[skip];
  memmove(j->ref, j->ref + shift, (j->ref_len - shift) * sizeof *j->ref);
  j->ref_len -= shift;
  for (size_t i = skip; i < end - j->anchor; i++) j->ref_at[i - skip] = j->ref_at[i] - shift;
  j->anchor = p;
}

/* Stores a snapshot or patch blob as interval v's checkpoint of `kind`. */
static int store_state(link_job *j, oa_interval_row *v, int kind, oa_snapshot *snap, oa_err *err) {
  int rc = oa_batch_put_state(j->b, snap->data, snap->size, &v->state_offset, err);
  if (rc == OA_OK) {
    v->kind = kind;
    v->state_size = (uint32_t)snap->size;
    v->state_raw_size = snap->raw_size;
    v->state_crc32 = snap->crc32;
  }
  oa_snapshot_free(snap);
  return rc;
}

/* Packets of pre-roll before a patch: enough for the decoder's history
 * buffers to hold the same signal, few to decode when a range starts. */
#define PATCH_PREROLL 16

/* Where no pre-roll is exact (SILK speech: its integer state keeps small
 * differences), a pre-roll plus the sparse bytes in which its decoder
 * differs from the sequential one, when that is exact over the interval
 * (checked by decoding, through oa_patch_apply as a reader runs it) and
 * smaller than half the snapshot. 1: stored, 0: not, <0: error. */
static int try_patch(link_job *j, oa_interval_row *v, size_t end, const oa_snapshot *full, oa_err *err) {
  size_t r = j->p0 < PATCH_PREROLL ? j->p0 : PATCH_PREROLL;
  oa_snapshot patch;
  oa_err why;
  int rc = feed_preroll(j, j->p0, r, err);
  if (rc < 0) return rc;
  if (oa_patch_make(j->trial, j->state, oa_decoder_state_size(j->seq), j->build, 1, &patch, &why) != OA_OK)
    return why.code == OA_ENOMEM ? oa_err_set(err, OA_ENOMEM, "out of memory") : 0;
  int ok = patch.size < full->size / 2;
  if (ok) rc = feed_preroll(j, j->p0, r, err);
  if (ok && rc == OA_OK)
    ok = oa_patch_apply(j->trial, j->build, patch.data, patch.size, patch.raw_size, patch.crc32, &why) == OA_OK;
  if (ok && rc == OA_OK) rc = trial_matches(j, j->p0, end, err);
  if (rc <= 0 || !ok) {
    oa_snapshot_free(&patch);
    return rc < 0 ? rc : 0;
  }
  v->preroll = (uint32_t)r;
  v->preroll_offset = data_off(j, j->p0 - r);
  j->stats->patches++;
  rc = store_state(j, v, OA_CP_PATCH, &patch, err);
  return rc == OA_OK ? 1 : rc;
}

static int add_snapshot(link_job *j, oa_interval_row *v, size_t end, oa_err *err) {
  oa_snapshot snap;
  int rc = oa_snapshot_capture_raw(j->state, oa_decoder_state_size(j->seq), j->build, &snap, err);
  if (rc != OA_OK) return rc;
  if (j->opt->mode == OA_CHECKPOINTS_AUTO) {
    int patched = try_patch(j, v, end, &snap, err);
    if (patched != 0) {
      oa_snapshot_free(&snap);
      return patched < 0 ? patched : OA_OK;
    }
  }
  j->stats->snapshots++;
  return store_state(j, v, OA_CP_SNAPSHOT, &snap, err);
}

/* Decides how the interval [p0, end) is started and writes its row (or
 * extends the previous one). */
static int resolve_interval(link_job *j, size_t end, oa_err *err) {
  oa_batch *b = j->b;
  const size_t ch = (size_t)j->lk->head.channels;
  oa_interval_row v;
  memset(&v, 0, sizeof v);
  v.link = j->link_row;
  v.packet = j->p0;
  v.link_pos = link_pos(j, j->p0);
  v.data_offset = data_off(j, j->p0);
  v.preroll_offset = v.data_offset;
  v.packet_count = (uint32_t)(end - j->p0);
  v.samples = (uint32_t)((j->ref_len - j->ref_at[j->p0 - j->anchor]) / ch);
  v.crc32 = j->crc;
  v.kind = OA_CP_START;
  if (j->opt->on_interval)
    j->opt->on_interval(j->opt->on_interval_ctx, v.samples, j->share);
  int need_snapshot = j->p0 > 0;
  if (need_snapshot && j->opt->mode != OA_CHECKPOINTS_SNAPSHOT) {
    long r = find_preroll(j, end, err);
    if (r == -2) return err->code;
    if (r < 0 && j->opt->mode == OA_CHECKPOINTS_AUTO) {
      int ext = try_extend_last(j, end, err);
      if (ext < 0) return err->code;
      if (ext) return OA_OK;
    }
    if (r < 0 && j->opt->mode == OA_CHECKPOINTS_PREROLL) r = (long)j->p0;
    if (r >= 0) {
      v.kind = OA_CP_PREROLL;
      v.preroll = (uint32_t)r;
      v.preroll_offset = data_off(j, j->p0 - (size_t)r);
      j->last_preroll = (int)(r < j->opt->max_preroll ? r : j->opt->max_preroll);
      j->stats->prerolls++;
      j->stats->preroll_packets += (uint64_t)r;
      need_snapshot = 0;
    }
  }
  if (need_snapshot) {
    int rc = add_snapshot(j, &v, end, err);
    if (rc != OA_OK) return rc;
  }
  if (oa_grow((void **)&b->intervals, &b->intervals_cap, b->nintervals + 1, sizeof *b->intervals))
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  b->intervals[b->nintervals] = v;
  j->last_row = (long)b->nintervals++;
  j->stats->intervals++;
  j->intervals_done++;
  drop_reference_before(j, j->p0, end);
  return OA_OK;
}

static void begin_interval(link_job *j, size_t k) {
  j->p0 = k;
  j->crc = oa_crc_init();
  if (k > 0 && j->opt->mode != OA_CHECKPOINTS_PREROLL) oa_decoder_copy_state(j->seq, j->state);
}

/* Appends a packet to the batch: its head (length, TOC byte) and the rest
 * of its bytes, at *offset in the batch's data. */
static int store_packet(oa_batch *b, const uint8_t *data, uint32_t size, uint64_t *offset, oa_err *err) {
  if (size > OA_HEAD_MAX_LENGTH) return oa_err_set(err, OA_EFORMAT, "packet of %u bytes is too long to store", size);
  uint32_t head = oa_head_make(size, size ? data[0] : 0);
  *offset = b->data_len;
  int rc = oa_batch_put_head(b, head, err);
  return rc == OA_OK ? oa_batch_put_data(b, size > 1 ? data + 1 : data, oa_head_body(head), err) : rc;
}

/* Validates, decodes and stores one packet, extending the reference. */
static int take_packet(link_job *j, size_t k, oa_err *err) {
  const uint8_t *data = packet_bytes(j, k);
  uint32_t size = packet_size(j, k);
  oa_packet_info info;
  int rc = oa_packet_validate(data, size, j->lk->head.streams, &info, err);
  if (rc != OA_OK) return rc;
  const size_t ch = (size_t)j->lk->head.channels;
  size_t i = k - j->anchor;
  if (oa_grow((void **)&j->ref, &j->ref_cap, j->ref_len + OA_MAX_PACKET_FRAMES * ch, sizeof *j->ref) ||
      oa_grow((void **)&j->ref_at, &j->ref_at_cap, i + 1, sizeof *j->ref_at))
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  int n = oa_decoder_decode(j->seq, data, size, j->ref + j->ref_len, err);
  if (n < 0) return n;
  if (n != info.duration)
    return oa_err_set(err, OA_EDECODE, "decoder returned %d samples, packet header says %d", n, info.duration);
  j->ref_at[i] = j->ref_len;
  j->crc = oa_crc_f32le(j->crc, j->ref + j->ref_len, (size_t)n * ch);
  j->ref_len += (size_t)n * ch;
  if (oa_grow((void **)&j->data_off, &j->off_cap, k - j->off_base + 1, sizeof *j->data_off))
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  rc = store_packet(j->b, data, size, &j->data_off[k - j->off_base], err);
  if (k == 0) j->data0 = j->data_off[0];
  return rc;
}

/* Packet k follows a hole: its place is past the end of packet k - 1. An
 * interval never holds one (its samples are decoded contiguously). */
static int after_hole(const link_job *j, size_t k) {
  if (k == 0) return 0;
  const size_t i = held(j, k);
  return j->d->pkt_link_pos[i] != j->d->pkt_link_pos[i - 1] + (int64_t)j->d->pkt_duration[i - 1];
}

/* Takes the link's packets up to `avail` (those with final places),
 * cutting intervals as their positions pass each checkpoint. */
static int feed_link(link_job *j, size_t avail, int64_t *bad_packet, oa_err *err) {
  j->avail = avail;
  int rc = OA_OK;
  for (; j->k < avail && rc == OA_OK; j->k++) {
    const size_t k = j->k;
    int64_t pos = link_pos(j, k);
    *bad_packet = (int64_t)(j->lk->first_packet + k);
    if (k > 0 && (pos >= j->next_cp || after_hole(j, k))) {
      rc = resolve_interval(j, k, err);
      if (rc != OA_OK) break;
      begin_interval(j, k);
      while (j->next_cp <= pos) j->next_cp += j->interval;
    }
    rc = take_packet(j, k, err);
    if (rc != OA_OK && rc != OA_ENOMEM && !j->b->spill_failed) oa_err_prefix(err, "packet %zu: ", j->lk->first_packet + k);
  }
  return rc;
}

/* The first packet the link's job may still read: the pre-roll of the
 * interval being built (up to twice the bound: find_preroll may overshoot
 * it once; a patch's 16), and in auto mode that of the last row, which a
 * later interval may extend. Packet 0 is never needed: a pre-roll from the
 * link start is the sequential decode and is not decoded again. */
static size_t keep_from(const link_job *j) {
  size_t back = 2 * (size_t)(j->opt->max_preroll > 8 ? j->opt->max_preroll : 8), low = j->p0 > back ? j->p0 - back : 0;
  if (j->opt->mode == OA_CHECKPOINTS_AUTO && j->last_row >= 0) {
    const oa_interval_row *last = &j->b->intervals[j->last_row];
    size_t from = (size_t)last->packet > last->preroll ? (size_t)last->packet - last->preroll : 0;
    if (from < low) low = from;
  }
  return low < j->off_base ? j->off_base : low;
}

/* Drops the batch offsets of packets before `low` once they are the
 * larger part of the window (so the moves cost O(1) per packet). */
static void release_offsets(link_job *j, size_t low) {
  size_t drop = low - j->off_base, held_n = j->k - j->off_base;
  if (drop == 0 || drop < held_n - drop) return;
  memmove(j->data_off, j->data_off + drop, (held_n - drop) * sizeof *j->data_off);
  j->off_base = low;
}

static int add_link_row(oa_batch *b, const oa_link *lk, uint64_t row, uint64_t first_interval, uint64_t data_start,
                        uint64_t first_head, int64_t out_start);

static void free_job(link_job *j) {
  oa_decoder_free(j->seq);
  oa_decoder_free(j->trial);
  free(j->data_off);
  free(j->ref);
  free(j->ref_at);
  free(j->scratch);
  free(j->state);
  memset(j, 0, sizeof *j);
}

/* Starts the job of link li, whose header is known. */
static int open_link(link_job *j, const oa_demuxed *d, size_t li, const oa_index_options *opt,
                     const oa_opus_build *build, oa_batch *b, oa_index_stats *stats, int last_preroll, oa_err *err) {
  *j = (link_job){.d = d, .lk = &d->links[li], .li = li, .opt = opt, .build = build, .b = b, .stats = stats,
                  .last_preroll = last_preroll, .link_row = b->nlinks, .last_row = -1,
                  .first_interval = b->nintervals, .data_start = b->data_len, .first_head = b->nheads};
  int rc = oa_decoder_create(&j->lk->head, &j->seq, err);
  if (rc == OA_OK) rc = oa_decoder_create(&j->lk->head, &j->trial, err);
  if (rc != OA_OK) return oa_err_prefix(err, "link %zu: ", li);
  j->interval = (int64_t)(opt->checkpoint_every * (double)OA_SAMPLE_RATE);
  if (j->interval < 1) j->interval = 1;
  j->next_cp = j->interval;
  j->scratch = malloc(sizeof(float) * OA_MAX_PACKET_FRAMES * (size_t)j->lk->head.channels);
  j->state = malloc(oa_decoder_state_size(j->seq));
  if (!j->scratch || !j->state) return oa_err_set(err, OA_ENOMEM, "out of memory");
  /* Family 3: the link's data starts with its demixing matrix (a link row
   * has room for a mapping table only). */
  if (j->lk->head.mapping_family == 3) {
    int rc = oa_batch_put_data(b, j->lk->head.demixing, (size_t)j->lk->head.demixing_size, err);
    if (rc != OA_OK) return rc;
  }
  begin_interval(j, 0);
  return OA_OK;
}

/* Ends link li (every packet taken): its last interval and its row. */
static int close_link(link_job *j, uint64_t row, int *last_preroll, oa_err *err) {
  const oa_demuxed *d = j->d;
  const oa_link *lk = &d->links[j->li];
  int rc = lk->packet_count > 0 ? resolve_interval(j, lk->packet_count, err) : OA_OK;
  *last_preroll = j->last_preroll;
  int64_t out_start = 0;
  for (size_t i = 0; i < j->li; i++) out_start += d->links[i].out_samples;
  if (rc == OA_OK && add_link_row(j->b, lk, row, j->first_interval, j->data_start, j->first_head, out_start))
    rc = oa_err_set(err, OA_ENOMEM, "out of memory");
  return rc;
}

/* The indexing of one recording as its packets arrive: from an Ogg file
 * read a page at a time, from samples encoded a chunk at a time (the
 * encoder calls back), or all at once. Only the packets the job of the
 * current link may still read are kept. */
typedef struct rec_job {
  oa_demuxed *d;
  uint64_t row;
  const oa_index_options *opt;
  const oa_opus_build *build;
  oa_batch *b;
  oa_index_stats *stats;
  int64_t *bad_packet;
  link_job j;
  int open;          /* j holds link li's job */
  size_t li;
  int last_preroll;
  int failed;        /* an indexing error (not the source's) ended it */
  oa_err why;        /* that error */
} rec_job;

/* Feeds every link whose packets are ready (packets [0, ready) have final
 * places; `ended`: the source has no more), closing those that ended. */
static int feed_ready(rec_job *r, size_t ready, int ended, double share, oa_err *err) {
  oa_demuxed *d = r->d;
  link_job *j = &r->j;
  while (r->li < d->nlinks) {
    const oa_link *lk = &d->links[r->li];
    const int finished = r->li + 1 < d->nlinks || ended;
    size_t avail = finished ? lk->packet_count : ready > lk->first_packet ? ready - lk->first_packet : 0;
    if (!r->open && !finished && avail == 0) return OA_OK; /* its header may still be on its way */
    if (!r->open) {
      r->open = 1;
      int rc = open_link(j, d, r->li, r->opt, r->build, r->b, r->stats, r->last_preroll, err);
      if (rc != OA_OK) return rc;
    }
    j->lk = lk;
    j->share = share;
    int rc = feed_link(j, avail, r->bad_packet, err);
    if (rc != OA_OK || !finished) return rc;
    rc = close_link(j, r->row, &r->last_preroll, err);
    free_job(j);
    r->open = 0;
    r->li++;
    if (rc != OA_OK) return rc;
  }
  return OA_OK;
}

/* Takes what is ready, then lets the source drop what no job will read. */
static int rec_feed(rec_job *r, size_t ready, int ended, double share, oa_err *err) {
  int rc = feed_ready(r, ready, ended, share, err);
  if (rc != OA_OK) {
    r->failed = 1;
    return rc;
  }
  if (r->open) {
    size_t low = keep_from(&r->j);
    release_offsets(&r->j, low);
    oa_demuxed_release(r->d, r->j.lk->first_packet + low);
  } else {
    oa_demuxed_release(r->d, ready);
  }
  return OA_OK;
}

static void rec_end(rec_job *r) {
  if (r->open) free_job(&r->j);
  r->open = 0;
}

/* The call of an encoder after each chunk of samples (oa_encode_options),
 * or of the container reader after each group of packets. */
static int on_packets(void *ctx, oa_demuxed *d, size_t ready, int ended, double share, oa_err *err) {
  rec_job *r = ctx;
  (void)d; /* the job's own, r->d */
  int rc = rec_feed(r, ready, ended, share, err);
  if (rc != OA_OK) r->why = *err;
  return rc;
}

/* An Ogg file, page by page. *demux_failed tells a reading error from an
 * indexing one. */
static int index_ogg(rec_job *r, oa_ogg_reader *ogg, uint64_t file_size, int *demux_failed, oa_err *err) {
  *demux_failed = 0;
  for (;;) {
    int more = oa_ogg_read(ogg, err);
    if (more < 0) {
      *demux_failed = 1;
      return more;
    }
    double share = (double)oa_ogg_bytes_read(ogg) / (double)(file_size ? file_size : 1);
    int rc = rec_feed(r, oa_ogg_ready(ogg), !more, share, err);
    if (rc != OA_OK || !more) return rc;
  }
}

static int add_link_row(oa_batch *b, const oa_link *lk, uint64_t row, uint64_t first_interval, uint64_t data_start,
                        uint64_t first_head, int64_t out_start) {
  if (oa_grow((void **)&b->links, &b->links_cap, b->nlinks + 1, sizeof *b->links)) return -1;
  oa_link_row *l = &b->links[b->nlinks++];
  memset(l, 0, sizeof *l);
  l->recording = row;
  l->first_interval = first_interval;
  l->interval_count = b->nintervals - first_interval;
  l->data_offset = data_start;
  l->data_size = b->data_len - data_start;
  l->packet_count = lk->packet_count;
  l->first_packet = first_head;
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

static int add_rec_row(oa_batch *b, uint64_t row, const oa_rec_row *r) {
  if (oa_grow((void **)&b->recs, &b->recs_cap, b->nrecs + 1, sizeof *b->recs) ||
      oa_grow((void **)&b->rec_index, &b->rec_index_cap, b->nrecs + 1, sizeof *b->rec_index))
    return -1;
  b->recs[b->nrecs] = *r;
  b->rec_index[b->nrecs++] = row;
  return 0;
}

/* The recording's start: from its metadata (PCM: read by the importer;
 * Ogg Opus: its comments), else from its file name when a pattern was
 * given; a wall-clock start gets --start-tz's zone; a clock never set is
 * refused (warning_msg says so). */
static void find_start(const oa_corpus_entry *e, const oa_demuxed *d, const oa_index_options *opt,
                       oa_source_info *src, char *warning_msg) {
  oa_start *st = &src->start;
  if (st->zone == OA_ZONE_NONE && d->tags) oa_start_from_comments(d->tags, st);
  if (st->zone == OA_ZONE_NONE && opt->start_from_name) oa_start_from_name(e->name, opt->start_from_name, st);
  if (opt->start_tz_set) oa_start_assume_zone(st, opt->start_tz);
  if (oa_start_refuse_unset_clock(st) && warning_msg)
    snprintf(warning_msg, OA_ERRMSG_MAX, "start time %s is before 2000 (a recorder clock that was never set): "
             "stored as unknown", st->refused);
}

/* Appends `text` to the OA_ERRMSG_MAX-byte warning (one may be there). */
static void add_warning(char *warning, const char *text) {
  size_t used = strlen(warning);
  snprintf(warning + used, OA_ERRMSG_MAX - used, "%s%s", used ? "; " : "", text);
}

/* Stores the start in the row; its text form goes to /strings with the
 * recorder id by the caller. */
static void row_start(oa_rec_row *r, const oa_start *st, char *text, size_t len) {
  r->start_us = st->us;
  r->utc_offset_s = st->offset_s;
  r->start_zone = st->zone;
  r->start_source = st->source;
  oa_time_format(st->us, st->offset_s, st->zone, text, len);
}

/* Ogg Opus comments become the row's tags (a PCM source's are its own). */
static char *tags_of(const oa_source_info *src, const oa_demuxed *d) {
  const char *t = src->tags ? src->tags : d->tags;
  const char *refused = src->start.refused;
  size_t n = (t ? strlen(t) : 0) + strlen(refused) + 32;
  char *out = malloc(n);
  if (out) snprintf(out, n, "%s%s%s%s", t ? t : "", refused[0] ? "start_refused=" : "", refused,
                    refused[0] ? " (clock never set)\n" : "");
  return out;
}

/* Whether the file starts like an Ogg file (else another container may hold it). */
static int starts_as_ogg(const char *path) {
  char magic[4] = {0};
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(magic, 1, sizeof magic, f) : 0;
  if (f) fclose(f);
  return n == sizeof magic && memcmp(magic, "OggS", 4) == 0;
}

/* A file with no Opus in it (`why` says what the Opus reader found, if
 * anything): other audio, decoded by libavcodec and encoded here. */
static int import_other(const char *path, const oa_index_options *opt, oa_demuxed *d, oa_source_info *src,
                        uint64_t *size, oa_err *why) {
  oa_err found = *why; /* what the file holds, where the Opus reader said it */
  oa_err_clear(why);
  int rc = oa_import_audio(path, &opt->encode, d, src, size, why);
  /* A refusal (lossy, a rate above 48 kHz) says why, not what the Opus reader saw. */
  const int refused = rc == OA_EUSAGE || rc == OA_ELOSSY || rc == OA_EHIGHRATE;
  if (rc != OA_OK && !refused && found.msg[0]) oa_err_prefix(why, "%s; cannot import it: ", found.msg);
  return rc;
}

/* After the Ogg reader failed with `rc`: a file that does not start like
 * Ogg (a WebM saved as .opus) is tried as another container before the Ogg
 * error stands; one holding no Opus is imported. */
static int read_other(const char *path, int rc, const oa_index_options *opt, oa_demuxed *d, oa_source_info *src,
                      uint64_t *size, oa_err *why) {
  if (rc == OA_EFORMAT && *size > 0 && !starts_as_ogg(path)) {
    oa_err other;
    oa_err_clear(&other);
    int again = oa_demux_container(path, d, size, opt->encode.on_packets, opt->encode.on_packets_ctx, &other);
    if (again == OA_OK || again == OA_ENOTOPUS) *why = other, rc = again;
  }
  return rc == OA_ENOTOPUS ? import_other(path, opt, d, src, size, why) : rc;
}

/* Sources other than Ogg, by name: PCM encoded here, Opus in another
 * container through libavformat, other audio decoded by libavcodec and
 * encoded here. */
static int read_not_ogg(const char *path, const oa_index_options *opt, oa_demuxed *d, oa_source_info *src,
                      uint64_t *size, oa_err *why) {
  if (oa_is_pcm_path(path)) return oa_import_pcm(path, &opt->encode, d, src, size, why);
  int rc = oa_is_container_path(path)
               ? oa_demux_container(path, d, size, opt->encode.on_packets, opt->encode.on_packets_ctx, why)
               : OA_ENOTOPUS;
  return rc == OA_ENOTOPUS ? import_other(path, opt, d, src, size, why) : rc;
}

static int not_ogg_by_name(const char *path) {
  return oa_is_pcm_path(path) || oa_is_container_path(path) || oa_is_import_path(path);
}

/* What the scan saw is what was read: a file still being copied or
 * written is not indexed (and --resume compares against the scan). */
static int check_size(const oa_corpus_entry *e, uint64_t size, oa_err *why) {
  if (size == e->size) return OA_OK;
  return oa_err_set(why, OA_EIO, "changed while being indexed (%llu bytes at the scan, %llu when read)",
                    (unsigned long long)e->size, (unsigned long long)size);
}

/* After an indexing error: the rest of the file is still read, so a file
 * the reader refuses says so (as if it had been read first). 1 if it did. */
static int reader_refuses(oa_ogg_reader *ogg, oa_demuxed *d, oa_err *why) {
  oa_err late;
  oa_err_clear(&late);
  int more;
  while ((more = oa_ogg_read(ogg, &late)) > 0) oa_demuxed_release(d, oa_ogg_ready(ogg));
  if (more < 0 && late.code != OA_ENOMEM) *why = late;
  return more < 0 && late.code != OA_ENOMEM;
}

/* Indexes a recording while it is read: an Ogg file page by page, Opus in
 * other containers a group of packets at a time, PCM and other audio as
 * each chunk is encoded (the readers call back), so a recording of any
 * length is never held whole.
 * *bad_packet is the packet an indexing error names (-1 otherwise). */
static int index_source(const oa_corpus_entry *e, uint64_t row, const oa_index_options *opt,
                        const oa_opus_build *build, oa_batch *b, const batch_mark mark, oa_index_stats *mine,
                        oa_demuxed *d, oa_source_info *src, int64_t *bad_packet, oa_err *why) {
  rec_job r = {.d = d, .row = row, .opt = opt, .build = build, .b = b, .stats = mine, .bad_packet = bad_packet};
  oa_index_options streamed = *opt;
  streamed.encode.on_packets = on_packets;
  streamed.encode.on_packets_ctx = &r;
  uint64_t size = 0;
  int rc;
  if (!not_ogg_by_name(e->path)) {
    oa_ogg_reader *ogg = NULL;
    int demux_failed = 1;
    rc = oa_ogg_open(e->path, d, &ogg, why);
    if (rc == OA_OK) rc = index_ogg(&r, ogg, e->size, &demux_failed, why);
    rec_end(&r);
    if (rc != OA_OK && !demux_failed && rc != OA_ENOMEM && reader_refuses(ogg, d, why)) rc = why->code, demux_failed = 1;
    size = ogg ? oa_ogg_bytes_read(ogg) : 0;
    oa_ogg_close(ogg);
    if (rc == OA_ENOMEM) return rc;
    if (!demux_failed || rc == OA_OK) {
      int changed = check_size(e, size, why);
      if (changed != OA_OK) *bad_packet = -1;
      return changed != OA_OK ? changed : rc;
    }
    /* Nothing of it stays: another reader may take the file. */
    *bad_packet = -1;
    rollback(b, mark);
    memset(mine, 0, sizeof *mine);
    oa_demuxed_free(d);
    rc = read_other(e->path, rc, &streamed, d, src, &size, why);
  } else {
    rc = read_not_ogg(e->path, &streamed, d, src, &size, why);
  }
  if (r.failed) *why = r.why; /* the reader stopped on an indexing error */
  rec_end(&r);
  if (rc == OA_OK) rc = check_size(e, size, why);
  return rc;
}

int oa_index_entry(const oa_corpus_entry *e, uint64_t row, const oa_index_options *opt, const oa_opus_build *build,
                   oa_batch *b, oa_index_stats *stats, oa_err *failure, char *warning_msg, oa_err *err) {
  oa_rec_row r;
  memset(&r, 0, sizeof r);
  r.failed_packet = -1;
  r.source_size = e->size;
  r.source_mtime_ns = e->mtime_ns;
  r.source_inode = e->ino;
  const batch_mark mark = mark_of(b);
  oa_batch_begin_recording(b);
  oa_index_stats mine;
  memset(&mine, 0, sizeof mine);
  oa_err why;
  oa_err_clear(&why);
  oa_demuxed d;
  memset(&d, 0, sizeof d);
  int rc = OA_OK;
  oa_source_info src = {.rate = OA_SAMPLE_RATE, .rate_mode = OA_RATE_OPUS};
  int64_t bad_packet = -1;
  r.first_link = b->nlinks;
  r.first_interval = b->nintervals;
  r.data_offset = b->data_len;
  if (e->error)
    rc = oa_err_set(&why, OA_EIO, "%s", e->error);
  else if (oa_fault("source"))
    rc = oa_err_set(&why, OA_EIO, "cannot read: %s (injected fault)", strerror(EIO));
  else
    rc = index_source(e, row, opt, build, b, mark, &mine, &d, &src, &bad_packet, &why);
  if (rc == OA_ENOMEM || b->spill_failed) {
    oa_demuxed_free(&d);
    rollback(b, mark);
    if (b->spill_failed) return oa_err_set(err, OA_EIO, "indexing %s: %s", e->path, why.msg);
    return oa_err_set(err, OA_ENOMEM, "out of memory indexing %s", e->path);
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
    r.interval_count = b->nintervals - r.first_interval;
    r.data_size = b->data_len - r.data_offset;
    r.packet_count = d.npackets;
    r.payload_bytes = oa_demuxed_payload(&d);
    r.source_rate = src.rate;
    r.source_format = src.format;
    r.rate_mode = src.rate_mode;
    r.source_frames = src.rate_mode == OA_RATE_OPUS ? d.total_samples : src.frames;
    find_start(e, &d, opt, &src, warning_msg);
    if (d.ndamage) {
      r.status = OA_REC_DAMAGED;
      r.lost_samples = d.lost_samples;
      oa_damage_describe(&d, why.msg, sizeof why.msg);
      mine.recordings_damaged = 1;
      mine.lost_samples = d.lost_samples;
      if (warning_msg) add_warning(warning_msg, why.msg);
    }
    mine.recordings_ok = 1;
    mine.seconds = (double)d.total_samples / oa_rec_row_rate(&r);
    mine.starts_known = src.start.zone == OA_ZONE_KNOWN;
    mine.starts_local = src.start.zone == OA_ZONE_LOCAL;
    mine.starts_refused = src.start.refused[0] != '\0';
    mine.packets = d.npackets;
    mine.payload_bytes = oa_demuxed_payload(&d);
    mine.data_bytes = r.data_size;
    mine.state_bytes = b->state_len - mark.state_len;
    mine.samples = d.total_samples;
    mine.source_bytes = r.source_size;
  } else {
    rollback(b, mark);
    memset(&mine, 0, sizeof mine);
    mine.recordings_failed = 1;
    r.status = OA_REC_FAILED;
    r.failed_packet = bad_packet;
    r.first_link = b->nlinks, r.first_interval = b->nintervals, r.data_offset = b->data_len;
    if (failure) *failure = why;
  }
  stats->recordings_ok += mine.recordings_ok;
  stats->recordings_failed += mine.recordings_failed;
  stats->recordings_damaged += mine.recordings_damaged;
  stats->lost_samples += mine.lost_samples;
  stats->packets += mine.packets;
  stats->payload_bytes += mine.payload_bytes;
  stats->data_bytes += mine.data_bytes;
  stats->state_bytes += mine.state_bytes;
  stats->source_bytes += mine.source_bytes;
  stats->samples += mine.samples;
  stats->seconds += mine.seconds;
  stats->starts_known += mine.starts_known;
  stats->starts_local += mine.starts_local;
  stats->starts_refused += mine.starts_refused;
  stats->intervals += mine.intervals;
  stats->prerolls += mine.prerolls;
  stats->snapshots += mine.snapshots;
  stats->patches += mine.patches;
  stats->preroll_packets += mine.preroll_packets;
  stats->search_decodes += mine.search_decodes;
  stats->extended += mine.extended;
  char start[64] = "";
  char *tags = rc == OA_OK ? tags_of(&src, &d) : NULL;
  if (rc == OA_OK) row_start(&r, &src.start, start, sizeof start);
  const int d_damaged = rc == OA_OK && d.ndamage > 0; /* why.msg then describes the damage */
  oa_demuxed_free(&d);
  int grown = (rc != OA_OK || tags) && !oa_batch_add_string(b, e->name, &r.name_off, &r.name_len) &&
              !oa_batch_add_string(b, e->path, &r.path_off, &r.path_len) &&
              !oa_batch_add_string(b, rc == OA_OK && !d_damaged ? "" : why.msg, &r.error_off, &r.error_len) &&
              !oa_batch_add_string(b, start, &r.start_off, &r.start_len) &&
              !oa_batch_add_string(b, tags ? tags : "", &r.tags_off, &r.tags_len) &&
              !oa_batch_add_string(b, rc == OA_OK ? src.start.recorder : "", &r.recorder_off, &r.recorder_len) &&
              !add_rec_row(b, row, &r);
  free(src.tags);
  free(tags);
  return grown ? OA_OK : oa_err_set(err, OA_ENOMEM, "out of memory");
}
