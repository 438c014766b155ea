/* The HDF5 clips file of a sweep (`extract --out CLIPS.h5`; docs/FORMAT.md,
 * "Clips file"): created collectively under a temporary name with its
 * space reserved, /clips written by any rank in any order, and /queries,
 * the attributes, the close and the rename at the end, collectively.
 * Internal to sweep.c. */
#ifndef OPUSARC_CLIPSFILE_H
#define OPUSARC_CLIPSFILE_H

#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>

#include "opusarc/archive.h"
#include "opusarc/error.h"
#include "opusarc/sweep.h"
#include "opusarc/watchdog.h"

typedef struct oa_clips_file {
  MPI_Comm comm;
  int rank;
  const char *path;         /* the final name */
  int overwrite;
  double io_timeout;
  oa_watchdog *watchdog;    /* may be NULL */
  char tmp[4096];           /* the temporary name, the same on every rank */
  hid_t file, clips, table, rec_type, row_type;
  size_t name_len;
  size_t row_bytes;         /* of a /queries row: clip_row, the recording name, the labels */
  size_t *label_width;      /* per label column of the queries table (string bytes with the NUL) */
  int ndims;                /* /clips: 1 (flat), 2 [n, frames] or 3 [n, frames, channels] (--shape fixed) */
  uint64_t row_floats;      /* ndims > 1: floats per row */
  uint64_t rows;            /* queries over every rank's share */
} oa_clips_file;

typedef struct oa_clips_config {
  MPI_Comm comm;
  const char *path;
  int overwrite, fixed_shape; /* --force, --shape fixed */
  double io_timeout;          /* seconds a collective step may take (watchdog) */
  oa_watchdog *watchdog;      /* may be NULL */
} oa_clips_config;

/* --shape fixed (collective): every clip has the whole list's first one's
 * frames and channels, or an error names one that differs. */
int oa_clips_check_fixed_shape(MPI_Comm comm, const oa_query_list *ql, oa_err *err);
/* Collective: sets each query's clip_offset (ql is this rank's share,
 * ql->first its place in the whole list) and creates the file and its
 * datasets. The same result on every rank. */
int oa_clips_create(oa_clips_file *cf, const oa_clips_config *cfg, const oa_archive *a, oa_query_list *ql,
                    oa_err *err);
/* Frames [out_frame, out_frame + frames) of q's clip (independent I/O). */
int oa_clips_write(const oa_clips_file *cf, const oa_query *q, int64_t out_frame, const float *pcm, size_t frames,
                   oa_err *err);
/* Collective: /queries (status from `failed`), attributes, close, rename.
 * Sets *broken when a rank's collective step failed: the file could not be
 * closed and the process must end without MPI_Finalize. */
int oa_clips_finish(oa_clips_file *cf, const oa_archive *a, const oa_query_list *ql, const uint8_t *failed,
                    int *broken, oa_err *err);
void oa_clips_free(oa_clips_file *cf);

#endif
