#include <stdlib.h>
#include <string.h>

#include "decoder_internal.h"
#include "opusarc/util.h"

/* libopus aligns each sub-decoder to its largest basic type (8 bytes on the
 * platforms we build for); the size checks in oa_decoder_stream_offsets
 * reject a build where that does not hold. */
static size_t align8(size_t x) { return (x + 7) & ~(size_t)7; }

int oa_decoder_stream_offsets(const oa_decoder *dec, size_t *offsets, int max) {
  if (dec->kind == OA_DEC_SINGLE) {
    offsets[0] = 0;
    return 1;
  }
  size_t mono = align8((size_t)opus_decoder_get_size(1));
  size_t stereo = align8((size_t)opus_decoder_get_size(2));
  size_t header = (size_t)opus_multistream_decoder_get_size(1, 0) - mono;
  size_t multi = header + (size_t)dec->coupled * stereo + (size_t)(dec->streams - dec->coupled) * mono;
  size_t start = dec->kind == OA_DEC_PROJECTION ? dec->size - multi : 0; /* its multistream decoder is last */
  size_t multi_real = (size_t)opus_multistream_decoder_get_size(dec->streams, dec->coupled);
  if (multi != multi_real || multi > dec->size || (dec->kind != OA_DEC_PROJECTION && multi != dec->size) ||
      dec->streams > max)
    return -1;
  size_t pos = start + header;
  for (int s = 0; s < dec->streams; s++) {
    offsets[s] = pos;
    pos += s < dec->coupled ? stereo : mono;
  }
  return dec->streams;
}

size_t oa_decoder_constant_prefix(const oa_decoder *dec) {
  if (dec->kind != OA_DEC_PROJECTION) return 0;
  size_t multi = (size_t)opus_multistream_decoder_get_size(dec->streams, dec->coupled);
  return multi < dec->size ? dec->size - multi : 0;
}

/* Family 0 gets a plain OpusDecoder: its output is the same as the
 * multistream decoder's for one stream (a straight channel copy), and
 * libopus 1.3.1's multistream path costs several CPUID instructions per
 * packet, which are slow under virtualisation. */
static int init_state(oa_decoder *dec, const oa_opus_head *head) {
  if (dec->kind == OA_DEC_SINGLE) {
    int rc = opus_decoder_init(dec->state, OA_SAMPLE_RATE, head->channels);
    return rc == OPUS_OK ? opus_decoder_ctl(dec->state, OPUS_SET_GAIN(head->gain_q8)) : rc;
  }
  if (dec->kind == OA_DEC_PROJECTION) {
    int rc = opus_projection_decoder_init(dec->state, OA_SAMPLE_RATE, head->channels, head->streams, head->coupled,
                                          (unsigned char *)head->demixing, head->demixing_size);
    return rc == OPUS_OK ? opus_projection_decoder_ctl(dec->state, OPUS_SET_GAIN(head->gain_q8)) : rc;
  }
  int rc = opus_multistream_decoder_init(dec->state, OA_SAMPLE_RATE, head->channels, head->streams, head->coupled,
                                         head->mapping);
  return rc == OPUS_OK ? opus_multistream_decoder_ctl(dec->state, OPUS_SET_GAIN(head->gain_q8)) : rc;
}

int oa_decoder_create(const oa_opus_head *head, oa_decoder **out, oa_err *err) {
  *out = NULL;
  oa_decoder *dec = calloc(1, sizeof *dec);
  if (!dec) return oa_err_set(err, OA_ENOMEM, "out of memory");
  int single = head->mapping_family == 0 && head->streams == 1 && head->coupled == head->channels - 1 &&
               head->channels <= 2 && head->mapping[0] == 0 && (head->channels == 1 || head->mapping[1] == 1);
  dec->kind = single ? OA_DEC_SINGLE : head->mapping_family == 3 ? OA_DEC_PROJECTION : OA_DEC_MULTI;
  int size = dec->kind == OA_DEC_SINGLE       ? opus_decoder_get_size(head->channels)
             : dec->kind == OA_DEC_PROJECTION ? opus_projection_decoder_get_size(head->channels, head->streams,
                                                                                 head->coupled)
                                              : opus_multistream_decoder_get_size(head->streams, head->coupled);
  if (size <= 0) {
    free(dec);
    return oa_err_set(err, OA_EFORMAT, "libopus rejects %d streams / %d coupled", head->streams, head->coupled);
  }
  dec->size = (size_t)size;
  /* calloc so padding bytes are zero and snapshots are deterministic. */
  dec->state = calloc(1, dec->size);
  dec->fresh = malloc(dec->size);
  if (!dec->state || !dec->fresh) {
    oa_decoder_free(dec);
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  dec->channels = head->channels;
  dec->streams = head->streams;
  dec->coupled = head->coupled;
  int rc = init_state(dec, head);
  if (rc != OPUS_OK) {
    oa_decoder_free(dec);
    return oa_err_set(err, OA_EFORMAT, "cannot create decoder for %d channels: %s", head->channels,
                      opus_strerror(rc));
  }
  memcpy(dec->fresh, dec->state, dec->size);
  *out = dec;
  return OA_OK;
}

void oa_decoder_free(oa_decoder *dec) {
  if (!dec) return;
  free(dec->state);
  free(dec->fresh);
  free(dec);
}

void oa_decoder_reset(oa_decoder *dec) { memcpy(dec->state, dec->fresh, dec->size); }

int oa_decoder_decode(oa_decoder *dec, const uint8_t *data, size_t len, float *pcm, oa_err *err) {
  if (len > 0x7fffffff) return oa_err_set(err, OA_EDECODE, "packet too large");
  const opus_int32 n32 = (opus_int32)len;
  int n = dec->kind == OA_DEC_SINGLE       ? opus_decode_float(dec->state, data, n32, pcm, OA_MAX_PACKET_FRAMES, 0)
          : dec->kind == OA_DEC_PROJECTION ? opus_projection_decode_float(dec->state, data, n32, pcm,
                                                                          OA_MAX_PACKET_FRAMES, 0)
                                           : opus_multistream_decode_float(dec->state, data, n32, pcm,
                                                                           OA_MAX_PACKET_FRAMES, 0);
  if (n < 0) return oa_err_set(err, OA_EDECODE, "libopus: %s", opus_strerror(n));
  return n;
}

int oa_decoder_channels(const oa_decoder *dec) { return dec->channels; }

size_t oa_decoder_state_size(const oa_decoder *dec) { return dec->size; }

void oa_decoder_copy_state(const oa_decoder *dec, uint8_t *out) { memcpy(out, dec->state, dec->size); }
