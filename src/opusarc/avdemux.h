/* Opus in other containers (WebM, Matroska, MP4, CAF) through FFmpeg's
 * libavformat: the packets are taken as they are (no re-encoding), and the
 * samples kept are the ones FFmpeg's decoding with libopus outputs: the
 * OpusHead pre-skip, replaced by a skip the container states on its first
 * packet (MP4 edit lists), packets the demuxer marks as discarded at the
 * start, and the container's end trimming (Matroska DiscardPadding). A
 * container without an OpusHead (CAF) has no pre-skip, as in FFmpeg. Trims
 * that would drop samples in the middle of the stream are refused. The
 * result is one link, as a single-link Ogg file gives. */
#ifndef OPUSARC_AVDEMUX_H
#define OPUSARC_AVDEMUX_H

#include <stdint.h>

#include "opusarc/error.h"
#include "opusarc/oggdemux.h"

/* Whether the scan takes `path` for a container file (by its extension). */
int oa_is_container_path(const char *path);

/* Reads the first Opus audio stream of `path` into `out` (one link); its
 * tags start with "container=<libavformat's name>". A file holding no Opus
 * audio fails with a message naming what it holds. */
/* on_packets (may be NULL) takes the packets as they are read: the link is
 * begun at once, its lengths set at the end. */
int oa_demux_container(const char *path, oa_demuxed *out, uint64_t *file_size, oa_packets_fn on_packets, void *ctx,
                       oa_err *err);

#endif
