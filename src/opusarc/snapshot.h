/* Full decoder snapshots that restore in another process or on another node
 * running the same libopus build.
 *
 * The decoder memory is one block, but it holds pointers into libopus's own
 * read-only tables. At capture, every pointer word is rewritten as an offset
 * from libopus's load address and listed; at restore each listed word gets
 * the host's load address added back. The run-time CPU dispatch fields
 * (`arch`) are overwritten with the host's, so a snapshot from a newer CPU
 * cannot select instructions this host lacks. See docs/FORMAT.md. */
#ifndef OPUSARC_SNAPSHOT_H
#define OPUSARC_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "opusarc/decoder.h"
#include "opusarc/error.h"
#include "opusarc/opusbuild.h"

typedef struct oa_snapshot {
  uint8_t *data;     /* zlib-compressed blob */
  size_t size;
  uint32_t raw_size; /* uncompressed blob size */
  uint32_t crc32;    /* of the uncompressed blob */
} oa_snapshot;

int oa_snapshot_capture(const oa_decoder *dec, const oa_opus_build *build, oa_snapshot *snap,
                        oa_err *err);
/* The same from a copy of a decoder's memory (oa_decoder_copy_state). */
int oa_snapshot_capture_raw(const uint8_t *state, size_t size, const oa_opus_build *build, oa_snapshot *snap,
                            oa_err *err);
int oa_snapshot_restore(oa_decoder *dec, const oa_opus_build *host, const uint8_t *data, size_t size,
                        uint32_t raw_size, uint32_t crc32, oa_err *err);
void oa_snapshot_free(oa_snapshot *snap);

/* Patches (checkpoint kind 3, docs/FORMAT.md): the bytes in which the
 * image of decoder `from` (as a snapshot holds it: pointers relative)
 * differs from the image of `target` (a copy of a decoder's memory), as
 * runs, zlib-compressed into *patch. With `sparse`, 1 KiB blocks in which
 * nearly every byte differs are left out: for SILK speech most of them are
 * memory the decoder does not read in that mode, and the patch is checked
 * by decoding anyway. */
int oa_patch_make(const oa_decoder *from, const uint8_t *target, size_t size, const oa_opus_build *build, int sparse,
                  oa_snapshot *patch, oa_err *err);
/* Patches dec's memory in place: its image, the runs, then loaded as a
 * snapshot is (pointers, configuration and arch fields checked). */
int oa_patch_apply(oa_decoder *dec, const oa_opus_build *host, const uint8_t *data, size_t size, uint32_t raw_size,
                   uint32_t crc, oa_err *err);

#endif
