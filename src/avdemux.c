#include "opusarc/avdemux.h"

#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avcommon.h"
#include "avlib.h"
#include "opusarc/packet.h"
#include "opusarc/util.h"

int oa_is_container_path(const char *path) {
  static const char *const ext[] = {".webm", ".mka", ".mkv", ".mp4", ".m4a", ".mov", ".caf"};
  return oa_has_extension(path, ext, sizeof ext / sizeof ext[0]);
}

int oa_av_fail(oa_err *err, int code, const char *what, int averr) {
  char why[AV_ERROR_MAX_STRING_SIZE];
  av_strerror(averr, why, sizeof why);
  return oa_err_set(err, code, "%s: %s", what, why);
}

char *oa_av_tags(const char *head, const AVDictionary *const *dicts, int n) {
  const size_t cap = 64 * 1024;
  char *out = malloc(cap);
  if (!out) return NULL;
  size_t used = (size_t)snprintf(out, cap, "%s", head);
  for (int k = 0; k < n && used < cap; k++) {
    const AVDictionaryEntry *e = NULL;
    while ((e = av_dict_get(dicts[k], "", e, AV_DICT_IGNORE_SUFFIX))) {
      int len = snprintf(out + used, cap - used, "%s=%s\n", e->key, e->value);
      if (len < 0 || (size_t)len >= cap - used) break;
      for (char *c = out + used; c < out + used + len - 1; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
      used += (size_t)len;
    }
  }
  return out;
}

/* "aac audio, h264 video" for a file that holds no Opus audio. */
static void list_streams(const AVFormatContext *fc, char *out, size_t len) {
  size_t used = 0;
  out[0] = '\0';
  for (unsigned i = 0; i < fc->nb_streams && used < len; i++) {
    const AVCodecParameters *p = fc->streams[i]->codecpar;
    const char *type = av_get_media_type_string(p->codec_type);
    int n = snprintf(out + used, len - used, "%s%s %s", i ? ", " : "", avcodec_get_name(p->codec_id),
                     type ? type : "data");
    if (n < 0) break;
    used += (size_t)n;
  }
  if (!fc->nb_streams) snprintf(out, len, "no streams");
}

/* The stream's OpusHead as libopus decoding in FFmpeg sees it: its extra
 * data, or for a container that has none (CAF) mono/stereo without
 * pre-skip or gain. */
static int head_of(const AVCodecParameters *p, oa_opus_head *h, oa_err *err) {
  if (p->extradata_size >= 19 && memcmp(p->extradata, "OpusHead", 8) == 0)
    return oa_parse_opus_head(p->extradata, (size_t)p->extradata_size, h, err);
  int ch = p->ch_layout.nb_channels;
  if (ch < 1 || ch > 2)
    return oa_err_set(err, OA_EFORMAT, "Opus stream with %d channels and no OpusHead: its channel mapping is "
                      "unknown", ch);
  memset(h, 0, sizeof *h);
  h->version = 1;
  h->channels = ch;
  h->streams = 1;
  h->coupled = ch - 1;
  h->mapping[1] = 1;
  return OA_OK;
}

/* FFmpeg's trimming of decoded samples, packet by packet (libavcodec's
 * decode.c): the samples kept must be one run [first, end) of the decoded
 * timeline. */
typedef struct trim_state {
  int64_t skip;      /* samples still to drop at the start */
  int64_t decoded;   /* samples decoded before the current packet */
  int64_t first;     /* first kept sample, -1 before any */
  int64_t end;       /* one past the last kept sample */
  size_t last_kept;  /* packets after this one hold no kept sample */
} trim_state;

static int trim_packet(trim_state *t, const AVPacket *pk, int duration, size_t index, oa_err *err) {
  size_t side_size = 0;
  const uint8_t *side = av_packet_get_side_data(pk, AV_PKT_DATA_SKIP_SAMPLES, &side_size);
  int64_t padding = 0;
  if (side && side_size >= 10) {
    t->skip = (int32_t)oa_le32(side) > 0 ? (int32_t)oa_le32(side) : 0;
    padding = (int64_t)oa_le32(side + 4);
  }
  int64_t a = 0, n = duration;
  if (pk->flags & AV_PKT_FLAG_DISCARD) {
    t->skip = t->skip > n ? t->skip - n : 0;
    n = 0;
  } else if (t->skip > 0) {
    a = t->skip < n ? t->skip : n;
    t->skip -= a;
    n -= a;
  }
  if (padding > 0 && padding <= n) n -= padding;
  if (n > 0) {
    if (t->first >= 0 && t->decoded + a != t->end)
      return oa_err_set(err, OA_EFORMAT, "the container drops samples inside the stream (before packet %zu: an "
                        "edit list or discarded packets); only trimming at the start and end is supported", index);
    if (t->first < 0) t->first = t->decoded + a;
    t->end = t->decoded + a + n;
    t->last_kept = index;
  }
  t->decoded += duration;
  return OA_OK;
}

/* Packets up to the last one with kept samples are final: those after it
 * may still be dropped by an end trim. */
static size_t ready_packets(const trim_state *t) { return t->first >= 0 ? t->last_kept + 1 : 0; }

/* Packets handed on in groups, so the consumer's work per call is not per packet. */
#define PACKETS_PER_CALL 256

static int read_packets(AVFormatContext *fc, const AVStream *st, oa_demuxed *d, trim_state *t, oa_packets_fn on_packets,
                        void *ctx, oa_err *err) {
  AVPacket *pk = av_packet_alloc();
  if (!pk) return oa_err_set(err, OA_ENOMEM, "out of memory");
  int rc = OA_OK, got;
  size_t handed = 0;
  const int64_t size = fc->pb ? avio_size(fc->pb) : -1;
  while (rc == OA_OK && (got = av_read_frame(fc, pk)) >= 0) {
    if (on_packets && ready_packets(t) >= handed + PACKETS_PER_CALL) {
      handed = ready_packets(t);
      double share = size > 0 && pk->pos >= 0 && pk->pos <= size ? (double)pk->pos / (double)size : 0.0;
      rc = on_packets(ctx, d, handed, 0, share, err);
      if (rc != OA_OK) break;
    }
    if (pk->stream_index == st->index) {
      int duration = pk->size > 0 ? oa_packet_duration(pk->data, (size_t)pk->size) : 0;
      if (duration <= 0)
        rc = oa_err_set(err, OA_EFORMAT, "packet %zu (%d bytes) has no valid TOC", d->npackets, pk->size);
      else if (oa_demuxed_add_packet(d, pk->data, pk->size, duration) != 0)
        rc = oa_err_set(err, OA_ENOMEM, "out of memory");
      else {
        d->pkt_link_pos[d->npackets - 1 - d->base] = t->decoded;
        rc = trim_packet(t, pk, duration, d->npackets - 1, err);
      }
    }
    av_packet_unref(pk);
  }
  if (rc == OA_OK && got != AVERROR_EOF) rc = oa_av_fail(err, OA_EFORMAT, "reading the container", got);
  if (rc != OA_OK && pk->data) av_packet_unref(pk);
  av_packet_free(&pk);
  return rc;
}

/* The one link, begun before its packets come. */
static int begin_link(oa_demuxed *d, const oa_opus_head *h, oa_err *err) {
  if (oa_grow((void **)&d->links, &d->links_cap, 1, sizeof *d->links)) return oa_err_set(err, OA_ENOMEM, "out of memory");
  memset(&d->links[0], 0, sizeof d->links[0]);
  d->links[0].head = *h;
  d->nlinks = 1;
  return OA_OK;
}

/* The link's lengths, trimmed as FFmpeg trims them. */
static int end_link(oa_demuxed *d, const trim_state *t, oa_err *err) {
  if (t->first < 0) return oa_err_set(err, OA_EFORMAT, "the Opus stream has no audio samples after trimming");
  /* Packets after the last kept sample carry no output (as the Ogg
   * demuxer drops them past an end trim). */
  size_t keep = t->last_kept + 1;
  d->bytes_len = keep < d->npackets ? d->pkt_offset[keep - d->base] : d->bytes_len;
  d->npackets = keep;
  oa_link *lk = &d->links[0];
  lk->head.pre_skip = (int)t->first;
  lk->packet_count = keep;
  lk->decoded_samples = d->pkt_link_pos[keep - 1 - d->base] + d->pkt_duration[keep - 1 - d->base];
  lk->out_samples = t->end - t->first;
  d->total_samples = lk->out_samples;
  return OA_OK;
}

int oa_demux_container(const char *path, oa_demuxed *out, uint64_t *file_size, oa_packets_fn on_packets, void *ctx,
                       oa_err *err) {
  memset(out, 0, sizeof *out);
  if (oa_avlib_load(err) != OA_OK) return err->code;
  AVFormatContext *fc = NULL;
  av_log_set_level(AV_LOG_QUIET);
  int got = avformat_open_input(&fc, path, NULL, NULL);
  if (got < 0) return oa_av_fail(err, got == AVERROR(ENOENT) || got == AVERROR(EACCES) ? OA_EIO : OA_EFORMAT,
                              "cannot open as a media file", got);
  int rc = OA_OK;
  if ((got = avformat_find_stream_info(fc, NULL)) < 0) rc = oa_av_fail(err, OA_EFORMAT, "cannot read the streams", got);
  int index = rc == OA_OK ? av_find_best_stream(fc, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0) : -1;
  if (rc == OA_OK && (index < 0 || fc->streams[index]->codecpar->codec_id != AV_CODEC_ID_OPUS)) {
    index = -1;
    for (unsigned i = 0; i < fc->nb_streams && index < 0; i++)
      if (fc->streams[i]->codecpar->codec_id == AV_CODEC_ID_OPUS) index = (int)i;
    if (index < 0) {
      char what[512];
      list_streams(fc, what, sizeof what);
      int audio = av_find_best_stream(fc, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0) >= 0;
      rc = oa_err_set(err, audio ? OA_ENOTOPUS : OA_EFORMAT, "%s file holds no Opus audio stream: it holds %s",
                      fc->iformat->name, what);
    }
  }
  oa_opus_head head;
  trim_state t = {.first = -1};
  if (rc == OA_OK) rc = head_of(fc->streams[index]->codecpar, &head, err);
  if (rc == OA_OK) rc = begin_link(out, &head, err);
  if (rc == OA_OK) {
    t.skip = head.pre_skip;
    rc = read_packets(fc, fc->streams[index], out, &t, on_packets, ctx, err);
  }
  if (rc == OA_OK) rc = end_link(out, &t, err);
  if (rc == OA_OK) {
    out->ignored_streams = fc->nb_streams - 1;
    char first_line[128];
    snprintf(first_line, sizeof first_line, "container=%s\n", fc->iformat->name);
    const AVDictionary *dicts[2] = {fc->metadata, fc->streams[index]->metadata};
    out->tags = oa_av_tags(first_line, dicts, 2);
    int64_t size = fc->pb ? avio_size(fc->pb) : -1;
    if (file_size) *file_size = size >= 0 ? (uint64_t)size : 0;
  }
  if (rc == OA_OK && on_packets) rc = on_packets(ctx, out, out->npackets, 1, 1.0, err);
  avformat_close_input(&fc);
  if (rc != OA_OK) oa_demuxed_free(out);
  return rc;
}
