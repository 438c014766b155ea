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
  uint64_t next_offset;     /* in /clips: the next batch's first float */
  int32_t rate;             /* every clip's rate, or 0 when they differ */
} oa_clips_file;

typedef struct oa_clips_config {
  MPI_Comm comm;
  const char *path;
  int overwrite, fixed_shape; /* --force, --shape fixed */
  double io_timeout;          /* seconds a collective step may take (watchdog) */
  oa_watchdog *watchdog;      /* may be NULL */
} oa_clips_config;

/* What the clips file needs to know of this rank's share before it is
 * made, measured batch by batch (oa_clips_measure): rows, floats, the
 * widest recording name and label values, the output rates, and for
 * --shape fixed its first clip and the first that differs from it. */
typedef struct oa_clips_layout {
  uint64_t rows, floats;
  size_t nlabels;
  char **label_names;      /* copies of the first batch's */
  uint64_t *width;         /* [0]: recording names (bytes), [1 + k]: label k (with its NUL) */
  int width_cap;           /* set once the first batch was measured */
  int failed;              /* out of memory */
  int32_t rate_lo, rate_hi;
  oa_query first, odd;
  int has_odd;
} oa_clips_layout;

/* Adds a batch of this rank's share (its out_* fields set). */
void oa_clips_measure(oa_clips_layout *l, const oa_archive *a, const oa_query_list *ql);
void oa_clips_layout_free(oa_clips_layout *l);
/* --shape fixed (collective): every clip has the whole list's first one's
 * frames and channels, or an error names one that differs. */
int oa_clips_check_fixed_shape(MPI_Comm comm, const oa_clips_layout *l, oa_err *err);
/* Collective: creates the file and its datasets for every rank's share as
 * measured. The same result on every rank. */
int oa_clips_create(oa_clips_file *cf, const oa_clips_config *cfg, const oa_clips_layout *l, oa_err *err);
/* Sets the clip_offset of the next batch of this rank's share (batches in
 * order; ql->first its place in the whole list). */
void oa_clips_place(oa_clips_file *cf, oa_query_list *ql);
/* Frames [out_frame, out_frame + frames) of q's clip (independent I/O). */
int oa_clips_write(const oa_clips_file *cf, const oa_query *q, int64_t out_frame, const float *pcm, size_t frames,
                   oa_err *err);
/* Collective: the /queries rows of a batch (status from `failed`); every
 * rank calls it once per round, with an empty batch if it has none. 1 when
 * every rank wrote its rows. */
int oa_clips_write_rows(const oa_clips_file *cf, const oa_archive *a, const oa_query_list *ql,
                        const uint8_t *failed);
/* Collective, after the last batch: attributes, close, rename (rows_ok: 1
 * when every batch's rows were written; keep 0: the sweep failed, the
 * temporary file is removed). Sets *broken when a rank's collective step
 * failed: the file could not be closed and the process must end without
 * MPI_Finalize. */
int oa_clips_finish(oa_clips_file *cf, int rows_ok, int keep, int *broken, oa_err *err);
void oa_clips_free(oa_clips_file *cf);

#endif
