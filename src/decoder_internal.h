/* Decoder internals shared by decoder.c and snapshot.c only. */
#ifndef OPUSARC_DECODER_INTERNAL_H
#define OPUSARC_DECODER_INTERNAL_H

#include <opus/opus.h>
#include <opus/opus_multistream.h>
#include <opus/opus_projection.h>

#include "opusarc/decoder.h"

enum oa_decoder_kind { OA_DEC_SINGLE, OA_DEC_MULTI, OA_DEC_PROJECTION };

struct oa_decoder {
  /* An OpusDecoder for mapping family 0 (one stream), an
   * OpusProjectionDecoder for family 3, else an OpusMSDecoder; `size`
   * bytes, position independent but for pointers into libopus. */
  void *state;
  int kind;             /* enum oa_decoder_kind */
  uint8_t *fresh;       /* copy of the state right after creation */
  size_t size;
  int channels, streams, coupled;
};

/* Offsets of each OpusDecoder inside the state: 0 for a single decoder;
 * inside a multistream decoder derived from the public size functions
 * (coupled streams first, then mono ones); a projection decoder ends with
 * its multistream decoder. */
int oa_decoder_stream_offsets(const oa_decoder *dec, size_t *offsets, int max);

/* Bytes at the start of the state that decoding never changes: a
 * projection decoder's header and demixing matrix (0 for the others). */
size_t oa_decoder_constant_prefix(const oa_decoder *dec);

#include "opusarc/opusbuild.h"

/* Byte offsets, inside one OpusDecoder, of its four `arch` fields (decoder,
 * CELT, two SILK channel states) for builds whose layout we have verified.
 * `opus_dec` is a fresh OpusDecoder of this host (its first two words hold
 * the CELT and SILK offsets). Returns 4, or 0 for an unknown layout. */
int oa_arch_field_offsets(const oa_opus_build *build, const uint8_t *opus_dec, size_t offsets[4]);

#endif
