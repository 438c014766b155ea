/* Output channels (extract --mono, --channels LIST): a deterministic
 * transformation of the exact decode, applied just before writing. */
#ifndef OPUSARC_CHANNELS_H
#define OPUSARC_CHANNELS_H

#include <stddef.h>

#define OA_MAX_OUT_CHANNELS 255

typedef struct oa_channel_spec {
  int mono;                     /* the mean of all channels (summed in double, one rounding to float) */
  int n;                        /* > 0: these channels, in this order (0-based) */
  int map[OA_MAX_OUT_CHANNELS];
} oa_channel_spec;

/* "1,2", "2,1", "3" (1-based, a channel may repeat): 0, or -1 with why. */
int oa_channel_spec_parse(const char *list, oa_channel_spec *s, char *why, size_t len);
/* Channels written for a recording of in_channels (spec NULL: all of
 * them); -1 when the spec selects a channel the recording does not have. */
int oa_channel_spec_out(const oa_channel_spec *s, int in_channels);
/* frames of in_channels interleaved -> frames of oa_channel_spec_out(). */
void oa_channel_apply(const oa_channel_spec *s, const float *in, size_t frames, int in_channels, float *out);

#endif
