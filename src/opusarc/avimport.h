/* Import of other audio (MP3, AAC, Ogg Vorbis, WMA, ALAC, WavPack, ...):
 * decoded with FFmpeg's libavcodec (its own trimming of encoder delay and
 * padding applied) and encoded with libopus in the indexing rank like PCM.
 * Lossy sources are refused unless opt->import_lossy: re-encoding them
 * loses quality a second time. */
#ifndef OPUSARC_AVIMPORT_H
#define OPUSARC_AVIMPORT_H

#include <stdint.h>

#include "opusarc/error.h"
#include "opusarc/oggdemux.h"
#include "opusarc/pcmimport.h"

/* Whether the scan takes `path` for audio to import (by its extension). */
int oa_is_import_path(const char *path);

/* Decodes the best audio stream of `path` and encodes it into `out`; info
 * gets the source rate and frames, and tags starting "codec=NAME". */
int oa_import_audio(const char *path, const oa_encode_options *opt, oa_demuxed *out, oa_source_info *info,
                    uint64_t *file_size, oa_err *err);

#endif
