/* The Opus decoder for one link, with the link's header gain applied:
 * a multistream decoder (as opusfile uses) for mapping families 1, 2 and
 * 255, a projection decoder (with the demixing matrix) for family 3, a
 * plain one for family 0, whose output is identical. */
#ifndef OPUSARC_DECODER_H
#define OPUSARC_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "opusarc/error.h"
#include "opusarc/oggdemux.h"

#define OA_MAX_PACKET_FRAMES 5760 /* 120 ms at 48 kHz */

typedef struct oa_decoder oa_decoder;

int oa_decoder_create(const oa_opus_head *head, oa_decoder **out, oa_err *err);
void oa_decoder_free(oa_decoder *dec);
/* Back to the state right after creation (fresh decoder, gain set). */
void oa_decoder_reset(oa_decoder *dec);
/* Decodes one packet into pcm (room for OA_MAX_PACKET_FRAMES * channels
 * floats); returns frames decoded or a negative oa_code. */
int oa_decoder_decode(oa_decoder *dec, const uint8_t *data, size_t len, float *pcm, oa_err *err);
int oa_decoder_channels(const oa_decoder *dec);
/* The raw decoder memory (for snapshots): its size, and a copy of it. */
size_t oa_decoder_state_size(const oa_decoder *dec);
void oa_decoder_copy_state(const oa_decoder *dec, uint8_t *out);

#endif
