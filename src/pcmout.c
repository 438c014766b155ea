#include "opusarc/pcmout.h"

#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opusarc/clock.h"
#include "opusarc/util.h"
#include "outfile.h"

struct oa_pcm_writer {
  int format, channels, force;
  FILE *raw;
  SNDFILE *snd;
  char *path, *tmp;
  int16_t *conv;
  size_t conv_cap;
  int32_t *ints; /* integer formats through libsndfile */
  size_t ints_cap;
  uint64_t clipped;
};

static const struct { const char *name, *ext; int sf_format, bits; } FORMATS[] = {
    [OA_PCM_F32] = {"f32", "f32", 0, 0},
    [OA_PCM_S16] = {"s16", "s16", 0, 16},
    [OA_PCM_WAV] = {"wav", "wav", SF_FORMAT_RF64 | SF_FORMAT_FLOAT, 0},
    [OA_PCM_WAV16] = {"wav16", "wav", SF_FORMAT_RF64 | SF_FORMAT_PCM_16, 16},
    [OA_PCM_WAV24] = {"wav24", "wav", SF_FORMAT_RF64 | SF_FORMAT_PCM_24, 24},
    [OA_PCM_FLAC] = {"flac", "flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16},
    [OA_PCM_FLAC24] = {"flac24", "flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 24}};
enum { NFORMATS = sizeof FORMATS / sizeof FORMATS[0] };

int oa_pcm_format_parse(const char *name, int *format) {
  for (int f = 0; f < NFORMATS; f++)
    if (strcmp(name, FORMATS[f].name) == 0) return *format = f, 0;
  return -1;
}

const char *oa_pcm_format_extension(int format) { return FORMATS[format].ext; }
int oa_pcm_format_is_file(int format) { return FORMATS[format].sf_format != 0; }
int oa_pcm_format_bits(int format) { return FORMATS[format].bits; }

short oa_float_to_s16(float x) {
  int32_t v;
  oa_float_to_int(&x, 1, 16, &v);
  return (short)v;
}

uint64_t oa_float_to_int(const float *in, size_t n, int bits, int32_t *out) {
  const float scale = bits == 24 ? 8388608.0f : 32768.0f;
  const int32_t lo = bits == 24 ? -8388608 : -32768, hi = bits == 24 ? 8388607 : 32767;
  uint64_t clipped = 0;
  for (size_t i = 0; i < n; i++) {
    float v = in[i] * scale;
    if (!(v >= (float)lo - 0.5f)) out[i] = lo, clipped++; /* also NaN; lo - 0.5 rounds to lo (even) */
    else if (v >= (float)hi + 0.5f) out[i] = hi, clipped++;
    else out[i] = (int32_t)lrintf(v);
  }
  return clipped;
}

static int host_little_endian(void) {
  const uint16_t one = 1;
  uint8_t first;
  memcpy(&first, &one, 1);
  return first == 1;
}

static void swap_bytes(void *buf, size_t n, size_t width) {
  uint8_t *p = buf;
  for (size_t i = 0; i < n; i++, p += width)
    for (size_t k = 0; k < width / 2; k++) {
      uint8_t t = p[k];
      p[k] = p[width - 1 - k];
      p[width - 1 - k] = t;
    }
}

/* BWF bext (origination: the start's wall-clock date and time, as BWF
 * means local time; time reference: samples since that midnight) and a
 * GUANO chunk with the Timestamp in ISO 8601 with its zone. */
static void write_wav_meta(SNDFILE *snd, const oa_pcm_meta *m) {
  if (!m || m->zone == OA_ZONE_NONE) return;
  int64_t wall = m->start_us + (m->zone == OA_ZONE_KNOWN ? (int64_t)m->offset_s * OA_US_PER_S : 0);
  char iso[64], local[64];
  oa_time_format(m->start_us, m->offset_s, m->zone, iso, sizeof iso);
  oa_time_format(wall, 0, OA_ZONE_LOCAL, local, sizeof local);
  SF_BROADCAST_INFO b;
  memset(&b, 0, sizeof b);
  snprintf(b.description, sizeof b.description, "opusarc: %.150s from sample %lld, start %s",
           m->recording ? m->recording : "", (long long)m->start_sample, iso);
  memcpy(b.originator, "opusarc", 7);
  memcpy(b.origination_date, local, 10);
  memcpy(b.origination_time, local + 11, 8);
  int64_t day_us = wall - (wall / OA_US_PER_DAY - (wall % OA_US_PER_DAY < 0)) * OA_US_PER_DAY;
  const int rate = m->rate > 0 ? m->rate : OA_SAMPLE_RATE;
  uint64_t ref = (uint64_t)llround((double)day_us / 1e6 * rate);
  b.time_reference_low = (uint32_t)ref, b.time_reference_high = (uint32_t)(ref >> 32);
  b.version = 1;
  sf_command(snd, SFC_SET_BROADCAST_INFO, &b, sizeof b);
  char guano[512];
  int n = snprintf(guano, sizeof guano, "GUANO|Version: 1.0\nTimestamp: %s\nSamplerate: %d\n"
                   "OPUSARC|Recording: %.300s\nOPUSARC|Start sample: %lld\n", iso, rate,
                   m->recording ? m->recording : "", (long long)m->start_sample);
  while (n > 0 && (size_t)n < sizeof guano - 1 && n % 2) guano[n++] = ' '; /* even length, as GUANO asks */
  SF_CHUNK_INFO ci = {.id = "guan", .id_size = 4, .datalen = (unsigned)n, .data = guano};
  sf_set_chunk(snd, &ci);
}

int oa_pcm_writer_open(const char *path, int format, int channels, int force, const oa_pcm_meta *meta,
                       oa_pcm_writer **out, oa_err *err) {
  *out = NULL;
  oa_pcm_writer *w = calloc(1, sizeof *w);
  if (!w) return oa_err_set(err, OA_ENOMEM, "out of memory");
  w->format = format;
  w->channels = channels;
  w->force = force;
  w->path = strdup(path);
  size_t tmp_len = strlen(path) + 64;
  w->tmp = malloc(tmp_len);
  if (!w->path || !w->tmp) {
    oa_pcm_writer_close(w, 0, NULL);
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  int fd = oa_out_create_temp(path, w->tmp, tmp_len, err);
  if (fd < 0) {
    free(w->tmp);
    w->tmp = NULL; /* nothing was created */
    oa_pcm_writer_close(w, 0, NULL);
    return err->code;
  }
  const int file = oa_pcm_format_is_file(format);
  if (file) {
    SF_INFO info = {.samplerate = meta && meta->rate > 0 ? meta->rate : OA_SAMPLE_RATE, .channels = channels,
                    .format = FORMATS[format].sf_format};
    w->snd = sf_open_fd(fd, SFM_WRITE, &info, SF_TRUE);
    if (w->snd && (info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_RF64)
      sf_command(w->snd, SFC_RF64_AUTO_DOWNGRADE, NULL, SF_TRUE);
    if (w->snd && (info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_RF64) write_wav_meta(w->snd, meta);
  } else {
    w->raw = fdopen(fd, "wb");
  }
  if (!w->snd && !w->raw) {
    int e = errno;
    const char *why = file ? sf_strerror(NULL) : strerror(e);
    oa_err_set(err, OA_EIO, "%s: cannot create output: %s", path, why);
    if (!file) close(fd);
    oa_pcm_writer_close(w, 0, NULL);
    return OA_EIO;
  }
  *out = w;
  return OA_OK;
}

static int write_raw(oa_pcm_writer *w, const float *pcm, size_t n, oa_err *err) {
  const void *src = pcm;
  size_t width = 4;
  int need_copy = !host_little_endian() || w->format == OA_PCM_S16;
  if (need_copy) {
    if (n > w->conv_cap) {
      int16_t *c = realloc(w->conv, n * 4);
      if (!c) return oa_err_set(err, OA_ENOMEM, "out of memory");
      w->conv = c;
      w->conv_cap = n;
    }
    if (w->format == OA_PCM_S16) {
      for (size_t i = 0; i < n; i++) {
        int32_t v;
        w->clipped += oa_float_to_int(&pcm[i], 1, 16, &v);
        w->conv[i] = (int16_t)v;
      }
      width = 2;
    } else {
      memcpy(w->conv, pcm, n * 4);
    }
    if (!host_little_endian()) swap_bytes(w->conv, n, width);
    src = w->conv;
  }
  if (fwrite(src, width, n, w->raw) != n)
    return oa_err_set(err, OA_EIO, "%s: write failed: %s", w->path, strerror(errno));
  return OA_OK;
}

int oa_pcm_writer_sink(void *ctx, const float *pcm, size_t frames, int channels, oa_err *err) {
  oa_pcm_writer *w = ctx;
  if (channels != w->channels)
    return oa_err_set(err, OA_EUSAGE, "%s: channel count changed from %d to %d", w->path, w->channels, channels);
  if (w->snd && FORMATS[w->format].bits) {
    /* Our rounding and clipping (counted), then libsndfile keeps the top bits. */
    size_t n = frames * (size_t)channels;
    if (n > w->ints_cap) {
      int32_t *grown = realloc(w->ints, n * sizeof *grown);
      if (!grown) return oa_err_set(err, OA_ENOMEM, "out of memory");
      w->ints = grown, w->ints_cap = n;
    }
    w->clipped += oa_float_to_int(pcm, n, FORMATS[w->format].bits, w->ints);
    for (size_t i = 0; i < n; i++) w->ints[i] = (int32_t)((uint32_t)w->ints[i] << (32 - FORMATS[w->format].bits));
    if (sf_writef_int(w->snd, w->ints, (sf_count_t)frames) != (sf_count_t)frames)
      return oa_err_set(err, OA_EIO, "%s: write failed: %s", w->path, sf_strerror(w->snd));
    return OA_OK;
  }
  if (w->snd) {
    if (sf_writef_float(w->snd, pcm, (sf_count_t)frames) != (sf_count_t)frames)
      return oa_err_set(err, OA_EIO, "%s: write failed: %s", w->path, sf_strerror(w->snd));
    return OA_OK;
  }
  return write_raw(w, pcm, frames * (size_t)channels, err);
}

uint64_t oa_pcm_writer_clipped(const oa_pcm_writer *w) { return w->clipped; }

int oa_pcm_writer_close(oa_pcm_writer *w, int commit, oa_err *err) {
  int rc = OA_OK;
  if (w->snd && sf_close(w->snd) != 0 && commit)
    rc = oa_err_set(err, OA_EIO, "%s: closing failed", w->path);
  if (w->raw && fclose(w->raw) != 0 && commit)
    rc = oa_err_set(err, OA_EIO, "%s: write failed: %s", w->path, strerror(errno));
  if (w->tmp) {
    if (commit && rc == OA_OK) rc = oa_out_publish(w->tmp, w->path, w->force, err);
    if (!commit || rc != OA_OK) unlink(w->tmp);
  }
  free(w->conv);
  free(w->ints);
  free(w->path);
  free(w->tmp);
  free(w);
  return rc;
}
