/* mkopus: writes a test Ogg Opus file with libopus + libogg.
 *
 * Test audio is generated here, so every test builds its own corpus. The
 * options reach the corners the demuxer and decoder must handle: channel
 * mapping families, codec modes, frame sizes, pre-skip, header gain, end
 * trimming, non-zero starting granule positions and chained links. */
#include <getopt.h>
#include <math.h>
#include <ogg/ogg.h>
#include <opus/opus.h>
#include <opus/opus_multistream.h>
#include <opus/opus_projection.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct options {
  const char *out;
  int channels, family, bitrate, mode, links, page_packets, pre_skip, gain, complexity;
  double seconds, frame_ms;
  long trim, start_granule, bad_packet;
  unsigned seed;
  const char *signal;
  const char *comments[8]; /* --comment KEY=VALUE, into OpusTags */
  int ncomments;
} options;

enum { MODE_AUTO, MODE_SILK, MODE_HYBRID, MODE_CELT };

static uint32_t lcg(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }

/* Deterministic test signals: sines with vibrato, noise, chirps, and a
 * "speech-like" signal of voiced bursts and pauses. */
static uint32_t signal_seed(const options *o, int link) { return o->seed * 7919u + (uint32_t)link * 104729u + 1; }

/* Samples [from, from + frames) of the link's signal; *s carries the noise
 * state from one call to the next, so a day-long file is made a frame at a
 * time with the samples it would have had made whole. */
static void make_signal(const options *o, int link, float *pcm, long from, long frames, uint32_t *state) {
  uint32_t s = *state;
  for (long i = 0; i < frames; i++) {
    double t = (double)(from + i) / 48000.0;
    for (int c = 0; c < o->channels; c++) {
      double v;
      double f0 = 110.0 * (1 + c) + 40.0 * link;
      if (strcmp(o->signal, "noise") == 0) {
        v = ((double)(lcg(&s) >> 8) / 16777216.0 - 0.5) * 0.6;
      } else if (strcmp(o->signal, "chirp") == 0) {
        v = 0.4 * sin(2 * M_PI * (100.0 * t + 800.0 * t * t) * (1 + 0.1 * c));
      } else if (strcmp(o->signal, "speech") == 0) {
        double env = fmax(0.0, sin(2 * M_PI * 1.7 * t + c)) * (fmod(t, 2.3) < 1.6 ? 1.0 : 0.0);
        double pitch = f0 * (1.0 + 0.15 * sin(2 * M_PI * 3.1 * t));
        v = env * (0.3 * sin(2 * M_PI * pitch * t) + 0.15 * sin(2 * M_PI * 2 * pitch * t) +
                   0.08 * sin(2 * M_PI * 3 * pitch * t)) +
            0.01 * ((double)(lcg(&s) >> 8) / 16777216.0 - 0.5);
      } else { /* music-like: chord with vibrato and noise */
        v = 0.2 * sin(2 * M_PI * f0 * t + 2 * sin(2 * M_PI * 5 * t)) + 0.15 * sin(2 * M_PI * f0 * 1.5 * t) +
            0.1 * sin(2 * M_PI * f0 * 2.52 * t) + 0.02 * ((double)(lcg(&s) >> 8) / 16777216.0 - 0.5);
      }
      pcm[i * o->channels + c] = (float)v;
    }
  }
  *state = s;
}

static void put16(unsigned char *p, int v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { put16(p, (int)(v & 0xffff)); put16(p + 2, (int)(v >> 16)); }

static void write_pages(ogg_stream_state *os, FILE *f, int flush) {
  ogg_page og;
  while (flush ? ogg_stream_flush(os, &og) : ogg_stream_pageout(os, &og)) {
    fwrite(og.header, 1, (size_t)og.header_len, f);
    fwrite(og.body, 1, (size_t)og.body_len, f);
  }
}

/* One encoder for every family: a projection encoder for family 3
 * (ambisonics with a demixing matrix), else a multistream one. */
typedef struct encoder {
  OpusMSEncoder *ms;
  OpusProjectionEncoder *pr;
} encoder;
#define ENC_CTL(e, req) ((e)->pr ? opus_projection_encoder_ctl((e)->pr, req) : opus_multistream_encoder_ctl((e)->ms, req))

static void configure(encoder *enc, const options *o) {
  ENC_CTL(enc, OPUS_SET_BITRATE(o->bitrate));
  ENC_CTL(enc, OPUS_SET_COMPLEXITY(o->complexity));
  if (o->mode == MODE_SILK) {
    ENC_CTL(enc, OPUS_SET_MAX_BANDWIDTH(OPUS_BANDWIDTH_WIDEBAND));
    ENC_CTL(enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
  } else if (o->mode == MODE_HYBRID) {
    ENC_CTL(enc, OPUS_SET_BANDWIDTH(OPUS_BANDWIDTH_FULLBAND));
    ENC_CTL(enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
  }
}

static int write_link(const options *o, int link, FILE *f, int *mode_counts) {
  int err, streams, coupled;
  unsigned char mapping[255];
  int app = o->mode == MODE_CELT ? OPUS_APPLICATION_RESTRICTED_LOWDELAY
            : (o->mode == MODE_SILK || o->mode == MODE_HYBRID) ? OPUS_APPLICATION_VOIP : OPUS_APPLICATION_AUDIO;
  encoder e = {0}, *enc = &e;
  if (o->family == 255) {
    streams = o->channels, coupled = 0;
    for (int c = 0; c < o->channels; c++) mapping[c] = (unsigned char)c;
    e.ms = opus_multistream_encoder_create(48000, o->channels, streams, coupled, mapping, app, &err);
  } else if (o->family == 3) {
    e.pr = opus_projection_ambisonics_encoder_create(48000, o->channels, 3, &streams, &coupled, app, &err);
  } else {
    e.ms = opus_multistream_surround_encoder_create(48000, o->channels, o->family, &streams, &coupled, mapping, app,
                                                    &err);
  }
  if (!e.ms && !e.pr) {
    fprintf(stderr, "mkopus: encoder: %s\n", opus_strerror(err));
    return -1;
  }
  configure(enc, o);
  int lookahead = 0;
  ENC_CTL(enc, OPUS_GET_LOOKAHEAD(&lookahead));
  int pre_skip = o->pre_skip >= 0 ? o->pre_skip : lookahead;

  ogg_stream_state os;
  ogg_stream_init(&os, (int)(o->seed * 31u + (unsigned)link * 977u + 12345u));
  unsigned char head[21 + 2 * 255 * 255];
  memcpy(head, "OpusHead", 8);
  head[8] = 1;
  head[9] = (unsigned char)o->channels;
  put16(head + 10, pre_skip);
  put32(head + 12, 48000);
  put16(head + 16, o->gain);
  head[18] = (unsigned char)o->family;
  size_t head_len = 19;
  if (o->family == 3) {
    /* The demixing matrix takes the place of the mapping table. */
    opus_int32 size = 0;
    opus_projection_encoder_ctl(e.pr, OPUS_PROJECTION_GET_DEMIXING_MATRIX_SIZE(&size));
    head[19] = (unsigned char)streams;
    head[20] = (unsigned char)coupled;
    opus_projection_encoder_ctl(e.pr, OPUS_PROJECTION_GET_DEMIXING_MATRIX(head + 21, size));
    head_len = 21 + (size_t)size;
  } else if (o->family != 0) {
    head[19] = (unsigned char)streams;
    head[20] = (unsigned char)coupled;
    memcpy(head + 21, mapping, (size_t)o->channels);
    head_len = 21 + (size_t)o->channels;
  }
  ogg_packet op = {.packet = head, .bytes = (long)head_len, .b_o_s = 1, .packetno = 0};
  ogg_stream_packetin(&os, &op);
  write_pages(&os, f, 1);
  unsigned char tags[4096];
  size_t tl = 0;
  memcpy(tags, "OpusTags", 8), tl = 8;
  put32(tags + tl, 6), tl += 4;
  memcpy(tags + tl, "mkopus", 6), tl += 6;
  put32(tags + tl, (uint32_t)o->ncomments), tl += 4;
  for (int i = 0; i < o->ncomments; i++) {
    size_t n = strlen(o->comments[i]);
    if (tl + 4 + n > sizeof tags) break;
    put32(tags + tl, (uint32_t)n), tl += 4;
    memcpy(tags + tl, o->comments[i], n), tl += n;
  }
  op = (ogg_packet){.packet = tags, .bytes = (long)tl, .packetno = 1};
  ogg_stream_packetin(&os, &op);
  write_pages(&os, f, 1);

  const int frame = (int)lround(o->frame_ms * 48.0);
  const long total = (long)(o->seconds * 48000.0);
  long nframes = (total + frame - 1) / frame;
  float *pcm = malloc(sizeof(float) * (size_t)frame * (size_t)o->channels);
  uint32_t noise = signal_seed(o, link);
  unsigned char packet[1275 * 255 * 6 + 256];
  int64_t granule = o->start_granule;
  for (long k = 0; k < nframes; k++) {
    make_signal(o, link, pcm, k * frame, frame, &noise);
    const float *in = pcm;
    int n = e.pr ? opus_projection_encode_float(e.pr, in, frame, packet, sizeof packet)
                 : opus_multistream_encode_float(e.ms, in, frame, packet, sizeof packet);
    if (n < 0) {
      fprintf(stderr, "mkopus: encode: %s\n", opus_strerror(n));
      return -1;
    }
    if (k == o->bad_packet) {
      /* Valid TOC and duration, broken framing: code 1 (two equal frames)
       * with an odd payload. */
      packet[0] = (unsigned char)((packet[0] & 0xfc) | 1);
      n = 4;
    }
    int config = packet[0] >> 3;
    mode_counts[config < 12 ? 0 : config < 16 ? 1 : 2]++;
    granule += frame;
    int last = k == nframes - 1;
    op = (ogg_packet){.packet = packet, .bytes = n, .e_o_s = last, .packetno = 2 + k,
                      .granulepos = last ? granule - o->trim : granule};
    ogg_stream_packetin(&os, &op);
    if (last || (k + 1) % o->page_packets == 0) write_pages(&os, f, 1);
  }
  write_pages(&os, f, 1);
  ogg_stream_clear(&os);
  free(pcm);
  if (e.ms) opus_multistream_encoder_destroy(e.ms);
  if (e.pr) opus_projection_encoder_destroy(e.pr);
  return 0;
}

int main(int argc, char **argv) {
  options o = {.channels = 1, .family = 0, .bitrate = 32000, .mode = MODE_AUTO, .links = 1, .page_packets = 10,
               .pre_skip = -1, .gain = 0, .bad_packet = -1, .complexity = 5, .seconds = 5, .frame_ms = 20, .seed = 1,
               .signal = "music"};
  static const struct option opts[] = {
      {"channels", 1, 0, 'c'}, {"family", 1, 0, 'F'}, {"bitrate", 1, 0, 'b'}, {"mode", 1, 0, 'm'},
      {"links", 1, 0, 'l'},    {"page-packets", 1, 0, 'p'}, {"pre-skip", 1, 0, 'P'}, {"gain", 1, 0, 'g'},
      {"seconds", 1, 0, 's'},  {"frame-ms", 1, 0, 'f'}, {"trim", 1, 0, 't'}, {"start-granule", 1, 0, 'G'},
      {"seed", 1, 0, 'S'},     {"signal", 1, 0, 'x'}, {"complexity", 1, 0, 'C'}, {"bad-packet", 1, 0, 'B'},
      {"comment", 1, 0, 'K'},
      {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
      case 'c': o.channels = atoi(optarg); break;
      case 'F': o.family = atoi(optarg); break;
      case 'b': o.bitrate = atoi(optarg); break;
      case 'm':
        o.mode = strcmp(optarg, "silk") == 0 ? MODE_SILK : strcmp(optarg, "hybrid") == 0 ? MODE_HYBRID
                 : strcmp(optarg, "celt") == 0 ? MODE_CELT : MODE_AUTO;
        break;
      case 'l': o.links = atoi(optarg); break;
      case 'p': o.page_packets = atoi(optarg); break;
      case 'P': o.pre_skip = atoi(optarg); break;
      case 'g': o.gain = atoi(optarg); break;
      case 's': o.seconds = atof(optarg); break;
      case 'f': o.frame_ms = atof(optarg); break;
      case 't': o.trim = atol(optarg); break;
      case 'G': o.start_granule = atol(optarg); break;
      case 'S': o.seed = (unsigned)atoi(optarg); break;
      case 'x': o.signal = optarg; break;
      case 'C': o.complexity = atoi(optarg); break;
      case 'B': o.bad_packet = atol(optarg); break;
      case 'K':
        if (o.ncomments < 8) o.comments[o.ncomments++] = optarg;
        break;
      default: return 2;
    }
  }
  if (optind != argc - 1 || o.page_packets < 1) {
    fprintf(stderr, "usage: mkopus [options] OUT.opus\n");
    return 2;
  }
  FILE *f = fopen(argv[optind], "wb");
  if (!f) {
    perror(argv[optind]);
    return 1;
  }
  int modes[3] = {0, 0, 0};
  for (int l = 0; l < o.links; l++)
    if (write_link(&o, l, f, modes) != 0) return 1;
  if (fclose(f) != 0) return 1;
  printf("%s silk=%d hybrid=%d celt=%d\n", argv[optind], modes[0], modes[1], modes[2]);
  return 0;
}
