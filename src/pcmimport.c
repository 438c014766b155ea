#include "opusarc/pcmimport.h"

#include <opus/opus_multistream.h>
#include <sndfile.h>
#include <soxr.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "opusarc/util.h"

void oa_encode_options_default(oa_encode_options *o) {
  *o = (oa_encode_options){.bitrate = 32000, .vbr = 1, .complexity = 10, .frame_ms = 20,
                           .application = OPUS_APPLICATION_AUDIO, .high_rate = OA_HIGH_RATE_FAIL};
}

int oa_is_pcm_path(const char *path) {
  static const char *const ext[] = {".wav", ".wave", ".flac", ".w64", ".rf64", ".aif", ".aiff", ".aifc"};
  return oa_has_extension(path, ext, sizeof ext / sizeof ext[0]);
}

/* Text metadata: the start time where a known convention gives it, and all
 * strings and GUANO fields as "key=value" lines. */
static void read_metadata(SNDFILE *sf, oa_source_info *info) {
  static const struct { int id; const char *name; } strs[] = {
      {SF_STR_TITLE, "title"},   {SF_STR_COPYRIGHT, "copyright"}, {SF_STR_SOFTWARE, "software"},
      {SF_STR_ARTIST, "artist"}, {SF_STR_COMMENT, "comment"},     {SF_STR_DATE, "date"},
      {SF_STR_ALBUM, "album"},   {SF_STR_LICENSE, "license"},     {SF_STR_GENRE, "genre"}};
  size_t cap = 0, used = 0;
  char *tags = NULL;
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
    const char *v = sf_get_string(sf, strs[i].id);
    if (!v || !*v) continue;
    size_t need = strlen(strs[i].name) + strlen(v) + 3;
    if (oa_grow((void **)&tags, &cap, used + need, 1)) break;
    used += (size_t)sprintf(tags + used, "%s=%s\n", strs[i].name, v);
  }
  oa_start *st = &info->start;
  if (oa_start_from_audiomoth(sf_get_string(sf, SF_STR_COMMENT), st) == 0 && !st->recorder[0])
    oa_recorder_from_artist(sf_get_string(sf, SF_STR_ARTIST), st->recorder, sizeof st->recorder);
  SF_CHUNK_INFO ci = {.id = "guan", .id_size = 4};
  SF_CHUNK_ITERATOR *it = sf_get_chunk_iterator(sf, &ci);
  if (it && sf_get_chunk_size(it, &ci) == SF_ERR_NO_ERROR && ci.datalen > 0 && ci.datalen < (1u << 20)) {
    ci.data = malloc(ci.datalen + 1);
    if (ci.data && sf_get_chunk_data(it, &ci) == SF_ERR_NO_ERROR) {
      ((char *)ci.data)[ci.datalen] = '\0';
      if (st->zone == OA_ZONE_NONE) oa_start_from_guano(ci.data, st);
      size_t need = ci.datalen + 16;
      if (!oa_grow((void **)&tags, &cap, used + need, 1)) used += (size_t)sprintf(tags + used, "guano=%s\n", (char *)ci.data);
    }
    free(ci.data);
  }
  SF_BROADCAST_INFO bext;
  if (st->zone == OA_ZONE_NONE && sf_command(sf, SFC_GET_BROADCAST_INFO, &bext, sizeof bext) == SF_TRUE &&
      bext.origination_date[0]) {
    char date[11], clock[9]; /* the bext fields are not NUL-terminated */
    memcpy(date, bext.origination_date, 10), date[10] = '\0';
    memcpy(clock, bext.origination_time, 8), clock[8] = '\0';
    oa_start_from_bext(date, clock, st); /* BWF carries no zone: a wall-clock time */
  }
  if (tags) tags[used] = '\0';
  info->tags = tags;
}

/* ---------------------------------------------------------------- encode */

typedef struct encoder {
  /* A plain encoder for one or two channels: libopus 1.3.1's multistream
   * entry points run CPUID on every call, slow under virtualisation. */
  OpusEncoder *one;
  OpusMSEncoder *enc;
  int channels, frame;     /* frame in samples at the encoder's rate */
  int dur48;               /* frame duration at 48 kHz */
  float *pending;          /* samples not yet encoded */
  size_t npending, cap;
  oa_demuxed *d;
  unsigned char *packet;
} encoder;

static int encode_frame(encoder *e, const float *pcm, oa_err *err) {
  int n = e->one ? opus_encode_float(e->one, pcm, e->frame, e->packet, 1275 * 255)
                 : opus_multistream_encode_float(e->enc, pcm, e->frame, e->packet, 1275 * 255);
  if (n < 0) return oa_err_set(err, OA_EDECODE, "libopus encoder: %s", opus_strerror(n));
  oa_demuxed *d = e->d;
  if (oa_demuxed_add_packet(d, e->packet, n, e->dur48) != 0) return oa_err_set(err, OA_ENOMEM, "out of memory");
  d->pkt_link_pos[d->npackets - 1 - d->base] = (int64_t)(d->npackets - 1) * e->dur48;
  return OA_OK;
}

/* Queues samples and encodes every whole frame. */
static int feed(encoder *e, const float *pcm, size_t frames, oa_err *err) {
  const size_t ch = (size_t)e->channels;
  if (frames == 0) return OA_OK;
  if (oa_grow((void **)&e->pending, &e->cap, (e->npending + frames) * ch, sizeof *e->pending))
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  memcpy(e->pending + e->npending * ch, pcm, frames * ch * sizeof *pcm);
  e->npending += frames;
  size_t done = 0;
  int rc = OA_OK;
  while (rc == OA_OK && e->npending - done >= (size_t)e->frame) {
    rc = encode_frame(e, e->pending + done * ch, err);
    done += (size_t)e->frame;
  }
  memmove(e->pending, e->pending + done * ch, (e->npending - done) * ch * sizeof *e->pending);
  e->npending -= done;
  return rc;
}

static int make_encoder(encoder *e, int rate, int channels, const oa_encode_options *o, oa_opus_head *h,
                        oa_err *err) {
  int family = channels <= 2 ? 0 : channels <= 8 ? 1 : 255, streams = 1, coupled = channels - 1, rc;
  unsigned char mapping[255] = {0, 1};
  if (family == 0) {
    e->one = opus_encoder_create(rate, channels, o->application, &rc);
  } else if (family == 255) {
    streams = channels, coupled = 0;
    for (int c = 0; c < channels; c++) mapping[c] = (unsigned char)c;
    e->enc = opus_multistream_encoder_create(rate, channels, streams, coupled, mapping, o->application, &rc);
  } else {
    e->enc = opus_multistream_surround_encoder_create(rate, channels, family, &streams, &coupled, mapping,
                                                      o->application, &rc);
  }
  if (!e->enc && !e->one)
    return oa_err_set(err, OA_EUSAGE, "libopus cannot encode %d channels: %s", channels, opus_strerror(rc));
  int lookahead = 0;
  if (e->one) {
    opus_encoder_ctl(e->one, OPUS_SET_BITRATE(o->bitrate * channels));
    opus_encoder_ctl(e->one, OPUS_SET_VBR(o->vbr));
    opus_encoder_ctl(e->one, OPUS_SET_COMPLEXITY(o->complexity));
    opus_encoder_ctl(e->one, OPUS_GET_LOOKAHEAD(&lookahead));
  } else {
    opus_multistream_encoder_ctl(e->enc, OPUS_SET_BITRATE(o->bitrate * channels));
    opus_multistream_encoder_ctl(e->enc, OPUS_SET_VBR(o->vbr));
    opus_multistream_encoder_ctl(e->enc, OPUS_SET_COMPLEXITY(o->complexity));
    opus_multistream_encoder_ctl(e->enc, OPUS_GET_LOOKAHEAD(&lookahead));
  }
  e->channels = channels;
  e->frame = (int)(o->frame_ms * rate / 1000.0 + 0.5);
  e->dur48 = (int)(o->frame_ms * 48 + 0.5);
  e->packet = malloc(1275 * 255);
  if (!e->packet) return oa_err_set(err, OA_ENOMEM, "out of memory");
  memset(h, 0, sizeof *h);
  h->version = 1;
  h->channels = channels;
  h->pre_skip = lookahead * (OA_SAMPLE_RATE / rate);
  h->input_rate = (uint32_t)rate;
  h->mapping_family = family;
  h->streams = streams;
  h->coupled = coupled;
  memcpy(h->mapping, mapping, (size_t)channels);
  return OA_OK;
}

static const int OPUS_RATES[] = {8000, 12000, 16000, 24000, OA_SAMPLE_RATE};

static int encoder_rate(int rate, int high_rate, int *mode, oa_err *err) {
  for (size_t i = 0; i < sizeof OPUS_RATES / sizeof OPUS_RATES[0]; i++)
    if (rate == OPUS_RATES[i]) return *mode = OA_RATE_NATIVE, rate;
  if (rate < OA_SAMPLE_RATE) return *mode = OA_RATE_RESAMPLED, OA_SAMPLE_RATE;
  if (high_rate == OA_HIGH_RATE_RESAMPLE) return *mode = OA_RATE_RESAMPLED, OA_SAMPLE_RATE;
  if (high_rate == OA_HIGH_RATE_TIME_EXPAND) return *mode = OA_RATE_TIME_EXPANDED, OA_SAMPLE_RATE;
  return oa_err_set(err, OA_EHIGHRATE, "sample rate %d Hz is above 48 kHz, Opus's highest: it can be resampled "
                    "(low-pass to 48 kHz) or time-expanded (the samples stored as if at 48 kHz)", rate);
}

/* How much of the source is read, for progress. */
static double read_share(const oa_sample_source *src, const oa_source_info *info) {
  if (src->frames <= 0) return 0.0;
  double share = (double)info->frames / (double)src->frames;
  return share < 1.0 ? share : 1.0;
}

int oa_encode_source(const oa_sample_source *src, const oa_encode_options *o, oa_demuxed *d, oa_source_info *info,
                     oa_err *err) {
  int mode = 0;
  int rate = encoder_rate(src->rate, o->high_rate, &mode, err);
  if (rate < 0) return rate;
  info->rate_mode = mode;
  encoder e = {.d = d};
  oa_opus_head head;
  int rc = make_encoder(&e, rate, src->channels, o, &head, err);
  soxr_t sox = NULL;
  if (rc == OA_OK && mode == OA_RATE_RESAMPLED) {
    soxr_error_t se;
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    sox = soxr_create(src->rate, OA_SAMPLE_RATE, (unsigned)src->channels, &se, &io, &q, NULL);
    if (!sox) rc = oa_err_set(err, OA_EUSAGE, "libsoxr: %s", se);
  }
  /* The link begins now, so packets can be taken as they come. */
  if (rc == OA_OK && oa_grow((void **)&d->links, &d->links_cap, 1, sizeof *d->links))
    rc = oa_err_set(err, OA_ENOMEM, "out of memory");
  if (rc == OA_OK) {
    memset(&d->links[0], 0, sizeof d->links[0]);
    d->links[0].head = head;
    d->nlinks = 1;
  }
  const size_t chunk = 4096, ch = (size_t)src->channels;
  float *in = malloc(chunk * ch * sizeof *in);
  size_t out_cap = (size_t)(chunk * (double)OA_SAMPLE_RATE / src->rate) + 64;
  float *out = malloc(out_cap * ch * sizeof *out);
  if (rc == OA_OK && (!in || !out)) rc = oa_err_set(err, OA_ENOMEM, "out of memory");
  int64_t produced = 0; /* samples at the encoder's rate */
  for (;;) {
    if (rc != OA_OK) break;
    long got = src->read(src->ctx, in, chunk, err);
    if (got < 0) {
      rc = (int)got;
      break;
    }
    for (size_t i = 0; i < (size_t)got * ch; i++)
      if (!isfinite(in[i])) {
        rc = oa_err_set(err, OA_EFORMAT, "sample frame %lld, channel %zu is %s: not audio", (long long)info->frames +
                        (long long)(i / ch), i % ch + 1, isnan(in[i]) ? "NaN" : "infinite");
        break;
      }
    if (rc != OA_OK) break;
    info->frames += got;
    if (sox) {
      size_t done = 0;
      soxr_error_t se = soxr_process(sox, got ? in : NULL, (size_t)got, NULL, out, out_cap, &done);
      if (se) rc = oa_err_set(err, OA_EDECODE, "libsoxr: %s", se);
      else rc = feed(&e, out, done, err), produced += (int64_t)done;
      /* At the end, keep flushing until the resampler is empty. */
      if (got == 0 && done > 0 && rc == OA_OK) continue;
    } else if (got > 0) {
      rc = feed(&e, in, (size_t)got, err);
      produced += got;
    }
    if (rc == OA_OK && got > 0 && o->on_packets) rc = o->on_packets(o->on_packets_ctx, d, d->npackets, 0, read_share(src, info), err);
    if (got == 0) break;
  }
  if (rc == OA_OK && info->frames == 0) rc = oa_err_set(err, OA_EFORMAT, "no audio: the file holds 0 sample frames");
  if (rc == OA_OK) {
    /* Pad with silence so pre-skip + every input sample is encoded. */
    int lookahead = head.pre_skip / (OA_SAMPLE_RATE / rate);
    int64_t need = produced + lookahead, have = (int64_t)d->npackets * e.frame + (int64_t)e.npending;
    size_t zeros = (size_t)(need > have ? need - have : 0);
    zeros += ((size_t)e.frame - (e.npending + zeros) % (size_t)e.frame) % (size_t)e.frame;
    float *z = calloc(zeros ? zeros * ch : 1, sizeof *z);
    rc = z ? feed(&e, z, zeros, err) : oa_err_set(err, OA_ENOMEM, "out of memory");
    free(z);
  }
  if (rc == OA_OK) {
    oa_link *lk = &d->links[0];
    lk->packet_count = d->npackets;
    lk->decoded_samples = (int64_t)d->npackets * e.dur48;
    lk->out_samples = produced * (OA_SAMPLE_RATE / rate);
    d->nlinks = 1;
    d->total_samples = lk->out_samples;
  }
  if (rc == OA_OK && o->on_packets) rc = o->on_packets(o->on_packets_ctx, d, d->npackets, 1, 1.0, err);
  free(in);
  free(out);
  free(e.pending);
  free(e.packet);
  if (sox) soxr_delete(sox);
  if (e.enc) opus_multistream_encoder_destroy(e.enc);
  if (e.one) opus_encoder_destroy(e.one);
  return rc;
}

/* libsndfile as a sample source. */
static long sndfile_read(void *ctx, float *buf, size_t frames, oa_err *err) {
  SNDFILE *sf = ctx;
  sf_count_t got = sf_readf_float(sf, buf, (sf_count_t)frames);
  if (got < 0 || (got == 0 && sf_error(sf) != SF_ERR_NO_ERROR))
    return oa_err_set(err, OA_EFORMAT, "read error: %s", sf_strerror(sf));
  return (long)got;
}

/* libsndfile reads a file whose header promises more audio than it holds
 * (a recorder that lost power, a copy cut short) as a shorter file and
 * says so only in its log: "data : 32000 (should be 15978)". */
static int check_promised_length(SNDFILE *sf, const SF_INFO *si, oa_err *err) {
  char log[8192] = "";
  sf_command(sf, SFC_GET_LOG_INFO, log, sizeof log);
  for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
    long long said, real;
    char chunk[8];
    if (sscanf(line, " %4s : %lld (should be %lld)", chunk, &said, &real) != 3) continue;
    if (strcmp(chunk, "data") != 0 && strcmp(chunk, "SSND") != 0) continue;
    if (real >= said) continue;
    return oa_err_set(err, OA_EFORMAT, "truncated: the header promises %lld bytes of audio, the file holds %lld "
                      "(%lld of %lld sample frames)", said, real, (long long)si->frames,
                      si->frames * said / (real > 0 ? real : 1));
  }
  return OA_OK;
}

int oa_import_pcm(const char *path, const oa_encode_options *o, oa_demuxed *out, oa_source_info *info,
                  uint64_t *file_size, oa_err *err) {
  memset(out, 0, sizeof *out);
  memset(info, 0, sizeof *info);
  struct stat st;
  if (stat(path, &st) == 0 && file_size) *file_size = (uint64_t)st.st_size;
  SF_INFO si = {0};
  SNDFILE *sf = sf_open(path, SFM_READ, &si);
  if (!sf) return oa_err_set(err, OA_EFORMAT, "cannot read as PCM audio: %s", sf_strerror(NULL));
  info->rate = si.samplerate;
  info->format = si.format;
  int rc = OA_OK;
  if (si.channels < 1 || si.channels > 255 || si.samplerate < 1000 || si.samplerate > 1536000)
    rc = oa_err_set(err, OA_EFORMAT, "unsupported: %d channels at %d Hz", si.channels, si.samplerate);
  if (rc == OA_OK) rc = check_promised_length(sf, &si, err);
  if (rc == OA_OK) {
    read_metadata(sf, info);
    oa_sample_source source = {si.samplerate, si.channels, si.frames, sndfile_read, sf};
    rc = oa_encode_source(&source, o, out, info, err);
  }
  sf_close(sf);
  if (rc != OA_OK) {
    oa_demuxed_free(out);
    free(info->tags);
    info->tags = NULL;
  }
  return rc;
}
