/* Import of PCM recordings (WAV incl. WAVE_FORMAT_EXTENSIBLE, RF64, W64,
 * FLAC, AIFF) read with libsndfile and encoded with libopus in the
 * indexing rank. The result is a demuxed single-link recording, indexed
 * exactly like an Ogg Opus file. */
#ifndef OPUSARC_PCMIMPORT_H
#define OPUSARC_PCMIMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "opusarc/clock.h"
#include "opusarc/error.h"
#include "opusarc/oggdemux.h"

enum oa_high_rate { OA_HIGH_RATE_FAIL = 0, OA_HIGH_RATE_RESAMPLE = 1, OA_HIGH_RATE_TIME_EXPAND = 2 };

/* How a recording's samples relate to its source's. */
enum oa_rate_mode {
  OA_RATE_OPUS = 0,          /* Ogg Opus input: 48 kHz by definition */
  OA_RATE_NATIVE = 1,        /* encoded at the source rate (8/12/16/24/48 kHz) */
  OA_RATE_RESAMPLED = 2,     /* resampled to 48 kHz (libsoxr) */
  OA_RATE_TIME_EXPANDED = 3  /* source samples stored as if at 48 kHz */
};

typedef struct oa_encode_options {
  int bitrate;      /* bits/s per channel */
  int vbr;          /* 1 VBR, 0 CBR */
  int complexity;   /* 0..10 */
  double frame_ms;  /* 2.5, 5, 10, 20, 40 or 60 */
  int application;  /* OPUS_APPLICATION_AUDIO or OPUS_APPLICATION_VOIP */
  int high_rate;    /* enum oa_high_rate, for sources above 48 kHz */
  int import_lossy; /* 1: encode lossy sources (MP3, AAC, Vorbis, ...) too */
  /* Called after each chunk of samples is encoded, and once more with
   * `ended` when the link is complete, so the indexer takes the packets as
   * they come and releases them (oa_demuxed_release): a long recording is
   * never held whole. A non-zero return stops the encoding with that
   * error. NULL: the recording is only complete at the end. */
  oa_packets_fn on_packets;
  void *on_packets_ctx;
} oa_encode_options;

void oa_encode_options_default(oa_encode_options *o);

typedef struct oa_source_info {
  int32_t rate;        /* source sample rate, Hz */
  int64_t frames;      /* source sample frames */
  int32_t format;      /* libsndfile SF_FORMAT_* (major | subtype), 0 for Ogg Opus */
  int32_t rate_mode;   /* enum oa_rate_mode */
  oa_start start;      /* recording start and recorder, where the source says them */
  char *tags;          /* other text metadata, "key=value" lines (malloc'd, may be NULL) */
} oa_source_info;

/* Interleaved float samples from a decoder (libsndfile, libavcodec). */
typedef struct oa_sample_source {
  int rate, channels;
  int64_t frames; /* frames the source says it holds (for progress), 0 if not known */
  /* Reads up to `frames` frames into buf: frames read, 0 at the end, or
   * an oa_code with err set. */
  long (*read)(void *ctx, float *buf, size_t frames, oa_err *err);
  void *ctx;
} oa_sample_source;

/* Encodes everything `src` gives with libopus into `out` (one link, begun
 * at once with its head; its lengths are set at the end): at
 * the source rate where Opus has it, else resampled to 48 kHz or (above
 * 48 kHz, --high-rate) time-expanded; sets info's frames and rate_mode.
 * Refuses NaN and infinite samples and sources without any. */
int oa_encode_source(const oa_sample_source *src, const oa_encode_options *opt, oa_demuxed *out,
                     oa_source_info *info, oa_err *err);

/* Is this a PCM file opusarc imports (by name)? */
int oa_is_pcm_path(const char *path);

int oa_import_pcm(const char *path, const oa_encode_options *opt, oa_demuxed *out, oa_source_info *info,
                  uint64_t *file_size, oa_err *err);

#endif
