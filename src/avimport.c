#include "opusarc/avimport.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "avcommon.h"
#include "avlib.h"
#include "opusarc/util.h"

int oa_is_import_path(const char *path) {
  static const char *const ext[] = {".mp3", ".aac", ".ac3", ".wma", ".ape", ".wv", ".tta", ".mpc", ".amr", ".m4b"};
  return oa_has_extension(path, ext, sizeof ext / sizeof ext[0]);
}

/* A decoder as a sample source: frames are decoded on demand and handed
 * out as interleaved float. */
typedef struct av_source {
  AVFormatContext *fc;
  AVCodecContext *cc;
  AVPacket *pk;
  AVFrame *fr;
  int stream, channels, rate;
  int flushed;        /* the decoder was told the input ended */
  uint64_t packets;   /* of the stream, for messages */
  float *buf;         /* the current frame, interleaved */
  size_t have, at, cap; /* frames in buf, handed out, capacity (frames) */
} av_source;

/* Sample i of channel c of the frame as a float in [-1, 1]. */
static float sample_at(const AVFrame *f, int c, int i, int channels) {
  const int planar = av_sample_fmt_is_planar(f->format);
  const uint8_t *p = f->extended_data[planar ? c : 0];
  const size_t k = planar ? (size_t)i : (size_t)i * (size_t)channels + (size_t)c;
  switch (av_get_packed_sample_fmt(f->format)) {
    case AV_SAMPLE_FMT_U8: return ((float)p[k] - 128.0f) / 128.0f;
    case AV_SAMPLE_FMT_S16: return (float)((const int16_t *)p)[k] / 32768.0f;
    case AV_SAMPLE_FMT_S32: return (float)((double)((const int32_t *)p)[k] / 2147483648.0);
    case AV_SAMPLE_FMT_S64: return (float)((double)((const int64_t *)p)[k] / 9223372036854775808.0);
    case AV_SAMPLE_FMT_FLT: return ((const float *)p)[k];
    case AV_SAMPLE_FMT_DBL: return (float)((const double *)p)[k];
    default: return 0.0f;
  }
}

static int take_frame(av_source *s, oa_err *err) {
  const AVFrame *f = s->fr;
  if (f->ch_layout.nb_channels != s->channels || f->sample_rate != s->rate)
    return oa_err_set(err, OA_EFORMAT, "the stream changes from %d channels at %d Hz to %d at %d Hz (packet %llu)",
                      s->channels, s->rate, f->ch_layout.nb_channels, f->sample_rate,
                      (unsigned long long)s->packets);
  const enum AVSampleFormat packed = av_get_packed_sample_fmt(f->format);
  if (packed != AV_SAMPLE_FMT_U8 && packed != AV_SAMPLE_FMT_S16 && packed != AV_SAMPLE_FMT_S32 &&
      packed != AV_SAMPLE_FMT_S64 && packed != AV_SAMPLE_FMT_FLT && packed != AV_SAMPLE_FMT_DBL)
    return oa_err_set(err, OA_EFORMAT, "decoder gives samples of an unknown format (%d)", f->format);
  if (oa_grow((void **)&s->buf, &s->cap, (size_t)f->nb_samples * (size_t)s->channels, sizeof *s->buf))
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  for (int i = 0; i < f->nb_samples; i++)
    for (int c = 0; c < s->channels; c++) s->buf[(size_t)i * (size_t)s->channels + (size_t)c] = sample_at(f, c, i, s->channels);
  s->have = (size_t)f->nb_samples;
  s->at = 0;
  return OA_OK;
}

/* The next decoded frame into buf: 1, or 0 at the end. */
static int next_frame(av_source *s, oa_err *err) {
  for (;;) {
    int got = avcodec_receive_frame(s->cc, s->fr);
    if (got == 0) {
      int rc = take_frame(s, err);
      av_frame_unref(s->fr);
      return rc == OA_OK ? 1 : rc;
    }
    if (got == AVERROR_EOF) return 0;
    if (got != AVERROR(EAGAIN)) return oa_av_fail(err, OA_EFORMAT, "decoding failed", got);
    if (s->flushed) return 0;
    got = av_read_frame(s->fc, s->pk);
    if (got == AVERROR_EOF) {
      s->flushed = 1;
      got = avcodec_send_packet(s->cc, NULL);
    } else if (got < 0) {
      return oa_av_fail(err, OA_EFORMAT, "reading failed", got);
    } else if (s->pk->stream_index == s->stream) {
      s->packets++;
      got = avcodec_send_packet(s->cc, s->pk);
      av_packet_unref(s->pk);
      if (got < 0) {
        char what[64];
        snprintf(what, sizeof what, "packet %llu cannot be decoded", (unsigned long long)s->packets);
        return oa_av_fail(err, OA_EFORMAT, what, got);
      }
    } else {
      av_packet_unref(s->pk);
    }
    if (got < 0 && got != AVERROR_EOF) return oa_av_fail(err, OA_EFORMAT, "decoding failed", got);
  }
}

static long av_read(void *ctx, float *out, size_t frames, oa_err *err) {
  av_source *s = ctx;
  size_t done = 0;
  while (done < frames) {
    if (s->at == s->have) {
      int rc = next_frame(s, err);
      if (rc < 0) return rc;
      if (rc == 0) break;
      continue;
    }
    size_t n = s->have - s->at < frames - done ? s->have - s->at : frames - done;
    memcpy(out + done * (size_t)s->channels, s->buf + s->at * (size_t)s->channels,
           n * (size_t)s->channels * sizeof *out);
    s->at += n;
    done += n;
  }
  return (long)done;
}

/* "codec=NAME", "container=NAME" and the file's metadata as key=value lines. */
static char *tags_of(const av_source *s) {
  char head[256];
  snprintf(head, sizeof head, "codec=%s\ncontainer=%s\n", s->cc->codec->name, s->fc->iformat->name);
  const AVDictionary *dicts[1] = {s->fc->metadata};
  return oa_av_tags(head, dicts, 1);
}

/* Opens the file's best audio stream's decoder; lossy codecs need opt->import_lossy. */
static int open_source(const char *path, const oa_encode_options *opt, av_source *s, oa_err *err) {
  av_log_set_level(AV_LOG_QUIET);
  int got = avformat_open_input(&s->fc, path, NULL, NULL);
  if (got < 0) return oa_av_fail(err, OA_EFORMAT, "cannot open as a media file", got);
  if ((got = avformat_find_stream_info(s->fc, NULL)) < 0) return oa_av_fail(err, OA_EFORMAT, "cannot read the streams", got);
  const AVCodec *codec = NULL;
  s->stream = av_find_best_stream(s->fc, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
  if (s->stream == AVERROR_STREAM_NOT_FOUND)
    return oa_err_set(err, OA_EFORMAT, "%s file holds no audio stream", s->fc->iformat->name);
  const AVCodecParameters *par = s->fc->streams[s->stream]->codecpar;
  if (s->stream < 0 || !codec)
    return oa_err_set(err, OA_EFORMAT, "no decoder for its %s audio", avcodec_get_name(par->codec_id));
  const AVCodecDescriptor *desc = avcodec_descriptor_get(par->codec_id);
  /* A codec that can be either (WavPack) counts as lossless. */
  int lossy = desc && (desc->props & AV_CODEC_PROP_LOSSY) && !(desc->props & AV_CODEC_PROP_LOSSLESS);
  if (lossy && !opt->import_lossy)
    return oa_err_set(err, OA_ELOSSY, "%s audio is lossy: encoding it to Opus loses quality a second time",
                      desc->name);
  s->cc = avcodec_alloc_context3(codec);
  s->pk = av_packet_alloc();
  s->fr = av_frame_alloc();
  if (!s->cc || !s->pk || !s->fr) return oa_err_set(err, OA_ENOMEM, "out of memory");
  if ((got = avcodec_parameters_to_context(s->cc, par)) < 0) return oa_av_fail(err, OA_EFORMAT, "decoder parameters", got);
  s->cc->pkt_timebase = s->fc->streams[s->stream]->time_base;
  if ((got = avcodec_open2(s->cc, codec, NULL)) < 0) return oa_av_fail(err, OA_EFORMAT, "cannot open the decoder", got);
  s->channels = s->cc->ch_layout.nb_channels;
  s->rate = s->cc->sample_rate;
  if (s->channels < 1 || s->channels > 255 || s->rate < 1000 || s->rate > 1536000)
    return oa_err_set(err, OA_EFORMAT, "unsupported: %s audio with %d channels at %d Hz", codec->name, s->channels,
                      s->rate);
  return OA_OK;
}

int oa_import_audio(const char *path, const oa_encode_options *opt, oa_demuxed *out, oa_source_info *info,
                    uint64_t *file_size, oa_err *err) {
  memset(out, 0, sizeof *out);
  memset(info, 0, sizeof *info);
  if (oa_avlib_load(err) != OA_OK) return err->code;
  struct stat st;
  if (stat(path, &st) == 0 && file_size) *file_size = (uint64_t)st.st_size;
  av_source s = {.stream = -1};
  int rc = open_source(path, opt, &s, err);
  if (rc == OA_OK) {
    info->rate = s.rate;
    info->tags = tags_of(&s);
    int64_t frames = s.fc->duration > 0 ? (int64_t)((double)s.fc->duration * s.rate / AV_TIME_BASE) : 0;
    oa_sample_source source = {s.rate, s.channels, frames, av_read, &s};
    rc = oa_encode_source(&source, opt, out, info, err);
  }
  free(s.buf);
  av_frame_free(&s.fr);
  av_packet_free(&s.pk);
  avcodec_free_context(&s.cc);
  avformat_close_input(&s.fc);
  if (rc != OA_OK) {
    oa_demuxed_free(out);
    free(info->tags);
    info->tags = NULL;
  }
  return rc;
}
