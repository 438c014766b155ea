/* Identity of the libopus build in this process. A decoder snapshot is raw
 * libopus memory, so it is only meaningful under the exact build that wrote
 * it; this module says what that build is and where it is loaded. */
#ifndef OPUSARC_OPUSBUILD_H
#define OPUSARC_OPUSBUILD_H

#include <stdint.h>

#include "opusarc/error.h"

typedef struct oa_opus_build {
  char version[64];         /* opus_get_version_string() */
  int32_t dec_size_mono;    /* opus_decoder_get_size(1) */
  int32_t dec_size_stereo;  /* opus_decoder_get_size(2) */
  uint64_t code_hash;       /* FNV-1a 64 of libopus's executable segments */
  int32_t layout_known;     /* arch-field offsets are known for this build */
  int32_t arch;             /* run-time CPU dispatch level, -1 if unknown */
  char cpu_features[128];   /* CPU features the dispatch depends on */
  /* Where libopus is mapped in this process (never stored). */
  uintptr_t load_lo, load_hi;
} oa_opus_build;

int oa_opus_build_probe(oa_opus_build *b, oa_err *err);

/* OA_OK when snapshots written under `origin` restore exactly under `host`;
 * otherwise OA_EBUILD with a message saying what differs. */
int oa_opus_build_compatible(const oa_opus_build *origin, const oa_opus_build *host, oa_err *err);

#endif
