/* libopusarc's read-only API: open an archive, list its recordings, read
 * any sample range into a caller's buffer, exactly as a straight decode of
 * the recording from its start. No MPI and no HDF5 types; needs no
 * MPI_Init. One handle per thread (a handle is not shared between threads;
 * after fork, each process opens its own).
 *
 * Every function returning int returns OA_OK (0) or a negative oa_code and
 * fills *err (may be NULL) with a message naming the thing and the reason. */
#ifndef OPUSARC_READER_H
#define OPUSARC_READER_H

#include <stddef.h>
#include <stdint.h>

#include "opusarc/error.h"
#include "opusarc/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oa_reader oa_reader;

/* The rate of every sample the reader returns. */
#define OA_READER_RATE 48000

enum oa_reader_flags {
  /* When this host's libopus differs from the archive's, decode each range
   * from its link's start instead of refusing (slower, still exact). */
  OA_READER_DECODE_FROM_START = 1,
  /* Never load decoder memory stored in the archive (an archive from a
   * source you do not trust); ranges are decoded from packets only. */
  OA_READER_NO_SNAPSHOTS = 4
};

enum oa_reader_status { OA_READER_OK = 0, OA_READER_FAILED = 1, OA_READER_DAMAGED = 2 };

typedef struct oa_recording_info {
  const char *name;  /* as indexed (path below the corpus root); valid until close */
  int status;        /* enum oa_reader_status: FAILED recordings hold no audio */
  const char *error; /* why it failed, or the damage kept ("" if none) */
  int channels;
  int64_t frames;    /* sample frames at OA_READER_RATE */
  /* Start time: start_zone 0 none, 1 start_us is UTC, 2 a wall-clock time
   * of an unknown zone (read as if UTC); start_text as stored ("" if none). */
  int start_zone;
  int64_t start_us;
  const char *start_text;
  /* Frames per real second of the recording: OA_READER_RATE, or for a
   * time-expanded one (a source above 48 kHz indexed with --high-rate
   * time-expand, its samples kept as if at 48 kHz) the source's rate. A
   * position of t seconds is frame round(t * time_base). */
  double time_base;
} oa_recording_info;

/* libopusarc's version, "MAJOR.MINOR.PATCH". */
const char *oa_reader_version(void);

/* Opens an archive read-only (flags: enum oa_reader_flags). OA_EBUILD:
 * this host's libopus cannot restore the archive's checkpoints; open again
 * with OA_READER_DECODE_FROM_START. */
int oa_reader_open(const char *path, int flags, oa_reader **out, oa_err *err);
void oa_reader_close(oa_reader *r);

uint64_t oa_reader_count(const oa_reader *r);
int oa_reader_info(const oa_reader *r, uint64_t index, oa_recording_info *info, oa_err *err);
/* Index of the recording named `name` (OA_ENOTFOUND, with a suggestion in
 * the message, if none). */
int oa_reader_find(const oa_reader *r, const char *name, uint64_t *index, oa_err *err);

/* Decodes frames [start, end) of recording `index` into out (room for
 * capacity_frames frames of the recording's channels, interleaved float).
 * start and end must lie within [0, frames]. */
int oa_reader_read(oa_reader *r, uint64_t index, int64_t start, int64_t end, float *out, size_t capacity_frames,
                   oa_err *err);

#ifdef __cplusplus
}
#endif

#endif
