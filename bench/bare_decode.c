/* bare_decode: the reference for indexing speed. Demuxes each file into
 * memory (untimed), then times a plain libopus linear decode of exactly the
 * packets opusarc indexes: opus_decode_float for mapping family 0,
 * opus_multistream_decode_float otherwise, a fresh decoder per link.
 * Prints: files, audio seconds, decode seconds, x real time. */
#include <opus/opus.h>
#include <opus/opus_multistream.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "opusarc/oggdemux.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int64_t decode_link(const oa_demuxed *d, const oa_link *lk, float *pcm) {
  const oa_opus_head *h = &lk->head;
  int err;
  OpusDecoder *one = NULL;
  OpusMSDecoder *ms = NULL;
  if (h->mapping_family == 0) one = opus_decoder_create(48000, h->channels, &err);
  else ms = opus_multistream_decoder_create(48000, h->channels, h->streams, h->coupled, h->mapping, &err);
  if (one) opus_decoder_ctl(one, OPUS_SET_GAIN(h->gain_q8));
  if (ms) opus_multistream_decoder_ctl(ms, OPUS_SET_GAIN(h->gain_q8));
  int64_t samples = 0;
  for (size_t k = 0; k < lk->packet_count; k++) {
    size_t p = lk->first_packet + k;
    const unsigned char *data = d->bytes + d->pkt_offset[p];
    int n = one ? opus_decode_float(one, data, (opus_int32)d->pkt_size[p], pcm, 5760, 0)
                : opus_multistream_decode_float(ms, data, (opus_int32)d->pkt_size[p], pcm, 5760, 0);
    if (n < 0) break;
    samples += n;
  }
  if (one) opus_decoder_destroy(one);
  if (ms) opus_multistream_decoder_destroy(ms);
  return samples;
}

int main(int argc, char **argv) {
  float *pcm = malloc(sizeof(float) * 5760 * 255);
  double decode_s = 0;
  int64_t samples = 0;
  int files = 0;
  for (int i = 1; i < argc; i++) {
    oa_demuxed d;
    oa_err err;
    if (oa_demux_file(argv[i], &d, NULL, &err) != OA_OK) {
      fprintf(stderr, "bare_decode: %s: %s\n", argv[i], err.msg);
      continue;
    }
    double t0 = now();
    for (size_t l = 0; l < d.nlinks; l++) samples += decode_link(&d, &d.links[l], pcm);
    decode_s += now() - t0;
    files++;
    oa_demuxed_free(&d);
  }
  double audio = (double)samples / 48000.0;
  printf("%d %.3f %.3f %.1f\n", files, audio, decode_s, decode_s > 0 ? audio / decode_s : 0.0);
  free(pcm);
  return 0;
}
