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
#include "outfile.h"

struct oa_pcm_writer {
  int format, channels, force;
  FILE *raw;
  SNDFILE *snd;
  char *path, *tmp;
  int16_t *conv;
  size_t conv_cap;
};

int oa_pcm_format_parse(const char *name, int *format) {
  if (strcmp(name, "f32") == 0) *format = OA_PCM_F32;
  else if (strcmp(name, "s16") == 0) *format = OA_PCM_S16;
  else if (strcmp(name, "wav") == 0) *format = OA_PCM_WAV;
  else return -1;
  return 0;
}

const char *oa_pcm_format_extension(int format) {
  return format == OA_PCM_F32 ? "f32" : format == OA_PCM_S16 ? "s16" : "wav";
}

short oa_float_to_s16(float x) {
  float v = x * 32768.0f;
  if (!(v > -32768.0f)) return -32768; /* also NaN */
  if (v >= 32767.0f) return 32767;
  return (short)lrintf(v);
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
  uint64_t ref = (uint64_t)llround((double)day_us / 1e6 * 48000.0);
  b.time_reference_low = (uint32_t)ref, b.time_reference_high = (uint32_t)(ref >> 32);
  b.version = 1;
  sf_command(snd, SFC_SET_BROADCAST_INFO, &b, sizeof b);
  char guano[512];
  int n = snprintf(guano, sizeof guano, "GUANO|Version: 1.0\nTimestamp: %s\nSamplerate: 48000\n"
                   "OPUSARC|Recording: %.300s\nOPUSARC|Start sample: %lld\n", iso,
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
  if (format == OA_PCM_WAV) {
    SF_INFO info = {.samplerate = 48000, .channels = channels, .format = SF_FORMAT_RF64 | SF_FORMAT_FLOAT};
    w->snd = sf_open_fd(fd, SFM_WRITE, &info, SF_TRUE);
    if (w->snd) sf_command(w->snd, SFC_RF64_AUTO_DOWNGRADE, NULL, SF_TRUE);
    if (w->snd) write_wav_meta(w->snd, meta);
  } else {
    w->raw = fdopen(fd, "wb");
  }
  if (!w->snd && !w->raw) {
    int e = errno;
    const char *why = format == OA_PCM_WAV ? sf_strerror(NULL) : strerror(e);
    oa_err_set(err, OA_EIO, "%s: cannot create output: %s", path, why);
    if (format != OA_PCM_WAV) close(fd);
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
      for (size_t i = 0; i < n; i++) w->conv[i] = oa_float_to_s16(pcm[i]);
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
  if (w->snd) {
    if (sf_writef_float(w->snd, pcm, (sf_count_t)frames) != (sf_count_t)frames)
      return oa_err_set(err, OA_EIO, "%s: write failed: %s", w->path, sf_strerror(w->snd));
    return OA_OK;
  }
  return write_raw(w, pcm, frames * (size_t)channels, err);
}

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
  free(w->path);
  free(w->tmp);
  free(w);
  return rc;
}
