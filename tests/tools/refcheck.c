/* refcheck: compares extracted outputs with opusfile's linear float decode.
 *
 * This is the independent path of the exactness contract: each recording
 * is decoded from its start by op_read_float (no seeking), and every output
 * file named in the queries CSV must equal the same samples bit for bit.
 *   refcheck CORPUS_DIR QUERIES.csv OUT_DIR f32|s16|wav
 *   refcheck CORPUS_DIR QUERIES.csv CLIPS.h5 h5
 * Query rows name recordings relative to CORPUS_DIR; in h5 mode each row is
 * found by id in CLIPS.h5's /queries table and its samples in /clips.
 * Exit 0 when all match. */
#include <math.h>
#include <stdint.h>
#include <ogg/ogg.h>
#include <opus/opus_multistream.h>
#include <opusfile.h>
#include <hdf5.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ref {
  char name[1024];
  float *pcm;
  long frames;
  int channels;
} ref;

static void append(ref *r, size_t *cap, const float *pcm, size_t n) {
  size_t used = (size_t)r->frames * (size_t)r->channels;
  if (used + n > *cap) {
    while (used + n > *cap) *cap *= 2;
    r->pcm = realloc(r->pcm, *cap * sizeof *r->pcm);
  }
  memcpy(r->pcm + used, pcm, n * sizeof *pcm);
  r->frames += (long)(n / (size_t)r->channels);
}

/* opusfile 0.12 refuses channel mapping family 255 (OP_EIMPL). For those
 * files: a straight libopus decode of a single-link, well-formed stream,
 * written separately from opusarc's demuxer: drop pre-skip, trim the end
 * to the last granule position. */
static int decode_plain(const char *path, ref *r) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  ogg_sync_state oy;
  ogg_stream_state os;
  ogg_sync_init(&oy);
  int have_stream = 0, npackets = 0, pre_skip = 0;
  OpusMSDecoder *dec = NULL;
  size_t cap = 48000 * 8;
  int64_t decoded = 0, last_gp = -1;
  r->pcm = malloc(cap * sizeof *r->pcm);
  r->frames = 0;
  float *buf = malloc(5760 * 255 * sizeof *buf);
  for (;;) {
    ogg_page og;
    while (ogg_sync_pageout(&oy, &og) == 1) {
      if (!have_stream) ogg_stream_init(&os, ogg_page_serialno(&og)), have_stream = 1;
      ogg_stream_pagein(&os, &og);
      if (ogg_page_granulepos(&og) >= 0) last_gp = ogg_page_granulepos(&og);
      ogg_packet op;
      while (ogg_stream_packetout(&os, &op) == 1) {
        if (npackets++ == 0) {
          const unsigned char *h = op.packet;
          int err;
          r->channels = h[9];
          pre_skip = h[10] | h[11] << 8;
          dec = opus_multistream_decoder_create(48000, h[9], h[19], h[20], h + 21, &err);
          opus_multistream_decoder_ctl(dec, OPUS_SET_GAIN((int16_t)(h[16] | h[17] << 8)));
          continue;
        }
        if (npackets == 2) continue; /* OpusTags */
        int n = opus_multistream_decode_float(dec, op.packet, (int)op.bytes, buf, 5760, 0);
        if (n < 0) return -1;
        for (int i = 0; i < n; i++, decoded++)
          if (decoded >= pre_skip) append(r, &cap, buf + (size_t)i * r->channels, (size_t)r->channels);
      }
    }
    char *in = ogg_sync_buffer(&oy, 65536);
    size_t got = fread(in, 1, 65536, f);
    if (got == 0) break;
    ogg_sync_wrote(&oy, (long)got);
  }
  fclose(f);
  if (last_gp - pre_skip < r->frames) r->frames = (long)(last_gp - pre_skip);
  free(buf);
  opus_multistream_decoder_destroy(dec);
  ogg_stream_clear(&os);
  ogg_sync_clear(&oy);
  return 0;
}

static int decode_linear(const char *path, ref *r) {
  int err;
  OggOpusFile *of = op_open_file(path, &err);
  if (!of && err == OP_EIMPL) return decode_plain(path, r);
  if (!of) {
    fprintf(stderr, "refcheck: opusfile cannot open %s (%d)\n", path, err);
    return -1;
  }
  r->channels = op_channel_count(of, -1);
  size_t cap = 48000 * 8 * (size_t)r->channels, used = 0;
  r->pcm = malloc(cap * sizeof *r->pcm);
  float buf[5760 * 8 * 8];
  int li, ret;
  while ((ret = op_read_float(of, buf, (int)(sizeof buf / sizeof buf[0]), &li)) != 0) {
    if (ret < 0) {
      fprintf(stderr, "refcheck: op_read_float failed on %s (%d)\n", path, ret);
      op_free(of);
      return -1;
    }
    if (op_channel_count(of, li) != r->channels) {
      fprintf(stderr, "refcheck: channel count changes in %s\n", path);
      op_free(of);
      return -1;
    }
    size_t n = (size_t)ret * (size_t)r->channels;
    if (used + n > cap) {
      while (used + n > cap) cap *= 2;
      r->pcm = realloc(r->pcm, cap * sizeof *r->pcm);
    }
    memcpy(r->pcm + used, buf, n * sizeof *buf);
    used += n;
  }
  r->frames = (long)(used / (size_t)r->channels);
  op_free(of);
  return 0;
}

/* int16 as documented for --format s16: round to nearest, clip. Written
 * here independently of the library's converter. */
static short to_s16(float x) {
  double v = (double)x * 32768.0;
  if (v != v || v <= -32768.0) return -32768;
  if (v >= 32767.0) return 32767;
  return (short)lrint(v);
}

static long file_size(FILE *f) {
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  return n;
}

/* CLIPS.h5 read whole: the table's ids, offsets and lengths, and the clips. */
typedef struct clips {
  size_t n, row, name_len;
  unsigned char *rows;
  float *data;
  hsize_t nfloats;
} clips;

static int load_clips(const char *path, clips *c) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return -1;
  hid_t t = H5Dopen2(f, "queries", H5P_DEFAULT), d = H5Dopen2(f, "clips", H5P_DEFAULT);
  if (t < 0 || d < 0) return -1;
  hid_t s = H5Dget_space(t);
  hsize_t n;
  H5Sget_simple_extent_dims(s, &n, NULL);
  H5Sclose(s);
  /* Read only the fields compared here, by name, into our own layout. */
  hid_t id = H5Tcopy(H5T_C_S1);
  H5Tset_size(id, 128);
  c->row = 128 + 8 + 8 + 4 + 4;
  hid_t mt = H5Tcreate(H5T_COMPOUND, c->row);
  H5Tinsert(mt, "id", 0, id);
  H5Tinsert(mt, "offset", 128, H5T_NATIVE_UINT64);
  H5Tinsert(mt, "length", 136, H5T_NATIVE_INT64);
  H5Tinsert(mt, "channels", 144, H5T_NATIVE_INT32);
  H5Tinsert(mt, "status", 148, H5T_NATIVE_INT32);
  c->n = (size_t)n;
  c->rows = malloc(c->n * c->row + 1);
  int rc = H5Dread(t, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, c->rows) < 0;
  s = H5Dget_space(d);
  H5Sget_simple_extent_dims(s, &c->nfloats, NULL);
  H5Sclose(s);
  c->data = malloc(c->nfloats * sizeof(float) + 4);
  rc |= c->nfloats && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, c->data) < 0;
  H5Tclose(mt), H5Tclose(id), H5Dclose(t), H5Dclose(d), H5Fclose(f);
  return rc ? -1 : 0;
}

static int compare_clip(const ref *r, long start, long end, const clips *c, const char *qid) {
  for (size_t i = 0; i < c->n; i++) {
    const unsigned char *row = c->rows + i * c->row;
    if (strncmp((const char *)row, qid, 128) != 0) continue;
    unsigned long long off;
    long long len;
    int ch, status;
    memcpy(&off, row + 128, 8), memcpy(&len, row + 136, 8), memcpy(&ch, row + 144, 4), memcpy(&status, row + 148, 4);
    size_t n = (size_t)(end - start) * (size_t)r->channels;
    int bad = status != 0 || ch != r->channels || len != end - start || off + n > c->nfloats ||
              memcmp(c->data + off, r->pcm + (size_t)start * (size_t)r->channels, n * sizeof(float)) != 0;
    if (bad) fprintf(stderr, "refcheck: MISMATCH clip %s: %s [%ld, %ld)\n", qid, r->name, start, end);
    return bad ? -1 : 0;
  }
  fprintf(stderr, "refcheck: clip %s missing\n", qid);
  return -1;
}

static int compare(const ref *r, long start, long end, const char *path, const char *fmt) {
  if (start < 0 || end > r->frames || start >= end) {
    fprintf(stderr, "refcheck: range [%ld,%ld) outside %s (%ld frames)\n", start, end, r->name, r->frames);
    return -1;
  }
  size_t n = (size_t)(end - start) * (size_t)r->channels;
  const float *want = r->pcm + (size_t)start * (size_t)r->channels;
  int bad = 0;
  if (strcmp(fmt, "wav") == 0) {
    SF_INFO info = {0};
    SNDFILE *s = sf_open(path, SFM_READ, &info);
    if (!s) return fprintf(stderr, "refcheck: cannot open %s\n", path), -1;
    float *got = malloc(n * sizeof *got);
    sf_count_t frames = sf_readf_float(s, got, end - start);
    bad = info.channels != r->channels || frames != end - start || info.frames != end - start ||
          info.samplerate != 48000 || memcmp(got, want, n * sizeof *got) != 0;
    free(got);
    sf_close(s);
  } else {
    FILE *f = fopen(path, "rb");
    if (!f) return fprintf(stderr, "refcheck: missing output %s\n", path), -1;
    size_t width = strcmp(fmt, "s16") == 0 ? 2 : 4;
    if ((size_t)file_size(f) != n * width) bad = 1;
    else if (width == 4) {
      float *got = malloc(n * sizeof *got);
      bad = fread(got, 4, n, f) != n || memcmp(got, want, n * 4) != 0;
      free(got);
    } else {
      short *got = malloc(n * sizeof *got);
      bad = fread(got, 2, n, f) != n;
      for (size_t i = 0; !bad && i < n; i++) bad = got[i] != to_s16(want[i]);
      free(got);
    }
    fclose(f);
  }
  if (bad) fprintf(stderr, "refcheck: MISMATCH %s: %s [%ld, %ld)\n", path, r->name, start, end);
  return bad ? -1 : 0;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: refcheck CORPUS_DIR QUERIES.csv OUT_DIR f32|s16|wav\n");
    return 2;
  }
  FILE *q = fopen(argv[2], "r");
  if (!q) return perror(argv[2]), 2;
  char line[4096];
  ref cur = {.name = ""};
  clips cl = {0};
  int h5 = strcmp(argv[4], "h5") == 0;
  if (h5 && load_clips(argv[3], &cl) != 0) {
    fprintf(stderr, "refcheck: cannot read %s\n", argv[3]);
    return 1;
  }
  long checked = 0, failed = 0;
  if (!fgets(line, sizeof line, q)) return 2;
  while (fgets(line, sizeof line, q)) {
    char id[512], name[1024];
    long start, end;
    if (sscanf(line, "%511[^,],%1023[^,],%ld,%ld", id, name, &start, &end) != 4) continue;
    if (strcmp(name, cur.name) != 0) {
      free(cur.pcm);
      cur.pcm = NULL;
      snprintf(cur.name, sizeof cur.name, "%s", name);
      char path[2048];
      snprintf(path, sizeof path, "%s/%s", argv[1], name);
      if (decode_linear(path, &cur) != 0) return 1;
    }
    char out[2048];
    snprintf(out, sizeof out, "%s/%s.%s", argv[3], id, argv[4]);
    checked++;
    if (h5 ? compare_clip(&cur, start, end, &cl, id) != 0 : compare(&cur, start, end, out, argv[4]) != 0) failed++;
  }
  fclose(q);
  free(cur.pcm);
  free(cl.rows), free(cl.data);
  printf("refcheck: %ld ranges checked against opusfile linear decode, %ld mismatched\n", checked, failed);
  return failed || checked == 0 ? 1 : 0;
}
