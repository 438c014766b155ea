#include "clipsfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opusarc/clock.h"
#include "opusarc/mpiutil.h"
#include "opusarc/util.h"
#include "outfile.h"

/* 2: rate column, label columns, --shape fixed (1: before, without the attribute). */
#define OA_CLIPS_FORMAT_VERSION 2

typedef struct clip_row {
  char id[128];
  int64_t start, end;
  int32_t channels, status;
  uint64_t offset; /* first float in /clips */
  int64_t length;  /* frames */
  /* The clip's absolute start (docs/FORMAT.md, "Clips files"). */
  char start_time[48], start_utc[40];
  int64_t start_utc_us;
  int32_t start_zone, parts, gaps, rate; /* rate: of the clip's samples (--rate) */
  int64_t gap_frames;
} clip_row;

/* Arms the watchdog around a collective step of the clips file: after an
 * I/O error on one rank HDF5's ranks can block in different calls. */
static void watch(const oa_clips_file *cf, const char *what) {
  if (!cf->watchdog) return;
  char msg[8192];
  snprintf(msg, sizeof msg, "%s %s has not finished after %.0f s (a collective HDF5 call is stuck, e.g. after an "
           "I/O error on some rank); the clips file was not written", what, cf->tmp, cf->io_timeout);
  oa_watchdog_arm(cf->watchdog, cf->io_timeout + (cf->rank ? 10 : 0), cf->rank ? "" : msg);
}

/* Rank 0 creates the temporary clips file afresh (O_EXCL|O_NOFOLLOW: a name
 * planted in advance is never followed) and reserves the bytes the clips
 * and the table will take, so a full disk stops all ranks here, in step,
 * and not inside a collective write. Returns 0 or an errno value, the same
 * on every rank. */
static int prepare_file(oa_clips_file *cf, uint64_t bytes, oa_err *err) {
  int e = 0;
  if (cf->rank == 0) {
    oa_err why;
    oa_err_clear(&why);
    int fd = oa_out_create_temp(cf->path, cf->tmp, sizeof cf->tmp, &why);
    if (fd < 0) e = errno ? errno : EIO;
    else {
      e = posix_fallocate(fd, 0, (off_t)(bytes + bytes / 64 + (1u << 20)));
      if (e == EOPNOTSUPP || e == ENOSYS || e == EINVAL) e = 0; /* cannot reserve here: carry on */
      if (oa_fault("reserve")) e = ENOSPC;
      close(fd);
      if (e) unlink(cf->tmp);
    }
  }
  MPI_Bcast(&e, 1, MPI_INT, 0, cf->comm);
  MPI_Bcast(cf->tmp, sizeof cf->tmp, MPI_CHAR, 0, cf->comm);
  if (e) oa_err_set(err, OA_EIO, "cannot write %s: %s (%.1f MB needed)", cf->path, strerror(e),
                    (double)bytes / 1e6);
  return e;
}

void oa_clips_measure(oa_clips_layout *l, const oa_archive *a, const oa_query_list *ql) {
  if (!l->width_cap) {
    l->nlabels = ql->nlabels;
    l->label_names = calloc(ql->nlabels ? ql->nlabels : 1, sizeof *l->label_names);
    l->width = calloc(ql->nlabels + 1, sizeof *l->width);
    l->failed = !l->label_names || !l->width;
    for (size_t k = 0; !l->failed && k < ql->nlabels; k++)
      if (!(l->label_names[k] = strdup(ql->label_names[k]))) l->failed = 1;
    if (l->failed) return;
    l->width_cap = 1, l->width[0] = 1, l->rate_lo = INT32_MAX, l->rate_hi = INT32_MIN;
    for (size_t k = 0; k < ql->nlabels; k++) l->width[k + 1] = 2;
  }
  for (size_t i = 0; i < ql->n; i++) {
    const oa_query *q = &ql->q[i];
    l->floats += (uint64_t)q->out_frames * (uint64_t)q->out_channels;
    size_t w = strlen(oa_archive_recording_name(a, q->rec));
    if (w > l->width[0]) l->width[0] = w;
    for (size_t k = 0; k < ql->nlabels && k < l->nlabels; k++)
      if (strlen(oa_query_label(ql, i, k)) + 1 > l->width[k + 1]) l->width[k + 1] = strlen(oa_query_label(ql, i, k)) + 1;
    if (q->out_rate < l->rate_lo) l->rate_lo = q->out_rate;
    if (q->out_rate > l->rate_hi) l->rate_hi = q->out_rate;
    if (!l->rows++) l->first = *q;
    else if (!l->has_odd && (q->out_frames != l->first.out_frames || q->out_channels != l->first.out_channels))
      l->odd = *q, l->has_odd = 1;
  }
}

void oa_clips_layout_free(oa_clips_layout *l) {
  for (size_t k = 0; l->label_names && k < l->nlabels; k++) free(l->label_names[k]);
  free(l->label_names), free(l->width);
  memset(l, 0, sizeof *l);
}

/* The shape every clip must have: the whole list's first query's (the
 * first rank holding queries sends it). */
static void first_shape(MPI_Comm comm, const oa_clips_layout *l, oa_query *first) {
  int rank, size, holder;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int mine = l->rows ? rank : size;
  MPI_Allreduce(&mine, &holder, 1, MPI_INT, MPI_MIN, comm);
  if (holder == size) return;
  if (rank == holder) *first = l->first;
  MPI_Bcast(first, sizeof *first, MPI_BYTE, holder, comm);
}

/* Refused before anything is written (collective): each rank checks its
 * share (its first clip, and the first that differs from it) against the
 * whole list's first clip. */
int oa_clips_check_fixed_shape(MPI_Comm comm, const oa_clips_layout *l, oa_err *err) {
  oa_query a = {.out_frames = -1};
  first_shape(comm, l, &a);
  if (a.out_frames < 0) return oa_err_set(err, OA_EUSAGE, "fixed-shape clips: no queries");
  const oa_query *b = NULL;
  if (l->rows && (l->first.out_frames != a.out_frames || l->first.out_channels != a.out_channels ||
                  l->first.out_frames <= 0))
    b = &l->first;
  else if (l->has_odd) b = &l->odd;
  if (b)
    oa_err_set(err, OA_EUSAGE, "fixed-shape clips need one length and channel count: %s is %lld frames x %d, %s is "
               "%lld x %d (use windows, one channel, one output rate, or flat clips)", a.id, (long long)a.out_frames,
               a.out_channels, b->id, (long long)b->out_frames, b->out_channels);
  return oa_mpi_agree_err_as_is(comm, b == NULL, err) ? OA_OK : OA_EUSAGE;
}

/* The dataspace of /clips, and its chunks for --shape fixed: one row (one
 * clip) per chunk, cut along frames past 4 MiB, so a reader of one clip
 * reads only it. */
static hid_t clips_space(const oa_clips_layout *l, int fixed, uint64_t total, uint64_t rows, hid_t dcpl,
                         oa_clips_file *cf) {
  cf->ndims = 1;
  if (!fixed) {
    hsize_t dims[1] = {total};
    return H5Screate_simple(1, dims, NULL);
  }
  oa_query first = {0};
  first_shape(cf->comm, l, &first); /* every clip's, checked before */
  hsize_t frames = (hsize_t)first.out_frames, ch = (hsize_t)first.out_channels;
  cf->ndims = ch == 1 ? 2 : 3;
  cf->row_floats = frames * ch;
  hsize_t dims[3] = {rows, frames, ch}, chunk[3] = {1, frames, ch};
  const hsize_t max_floats = (4u << 20) / sizeof(float);
  if (frames * ch > max_floats) chunk[1] = max_floats / ch ? max_floats / ch : 1;
  H5Pset_chunk(dcpl, cf->ndims, chunk);
  return H5Screate_simple(cf->ndims, dims, NULL);
}

/* A fixed-length, NUL-terminated string type of `size` bytes. */
static hid_t string_type(size_t size, H5T_cset_t cset) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, size);
  H5Tset_cset(t, cset);
  return t;
}

/* Each label column is as wide as its longest value (with its NUL) over
 * every rank's share; recording names as the longest a query names.
 * Collective. */
static int label_widths(const oa_clips_layout *l, oa_clips_file *cf) {
  size_t n = l->nlabels + 1;
  uint64_t *w = calloc(n, sizeof *w);
  cf->label_width = calloc(n, sizeof *cf->label_width);
  int ok = oa_mpi_agree(cf->comm, w && cf->label_width && !l->failed);
  if (!ok) return free(w), -1;
  w[0] = 1;
  for (size_t k = 0; k < l->nlabels; k++) w[k + 1] = 2;
  for (size_t k = 0; l->width_cap && k < n; k++) w[k] = l->width[k];
  MPI_Allreduce(MPI_IN_PLACE, w, (int)n, MPI_UINT64_T, MPI_MAX, cf->comm);
  cf->name_len = (size_t)w[0] + 1;
  cf->row_bytes = sizeof(clip_row) + cf->name_len;
  for (size_t k = 0; k < l->nlabels; k++) cf->label_width[k] = (size_t)w[k + 1], cf->row_bytes += (size_t)w[k + 1];
  free(w);
  return 0;
}

/* The compound type of a /queries row: clip_row, the recording, the labels. */
static void make_row_type(oa_clips_file *cf, const oa_clips_layout *l) {
  cf->rec_type = string_type(cf->name_len, H5T_CSET_ASCII);
  hid_t id_type = string_type(sizeof ((clip_row *)0)->id, H5T_CSET_ASCII);
  cf->row_type = H5Tcreate(H5T_COMPOUND, cf->row_bytes);
  H5Tinsert(cf->row_type, "id", HOFFSET(clip_row, id), id_type);
  H5Tinsert(cf->row_type, "start", HOFFSET(clip_row, start), H5T_NATIVE_INT64);
  H5Tinsert(cf->row_type, "end", HOFFSET(clip_row, end), H5T_NATIVE_INT64);
  H5Tinsert(cf->row_type, "channels", HOFFSET(clip_row, channels), H5T_NATIVE_INT32);
  H5Tinsert(cf->row_type, "status", HOFFSET(clip_row, status), H5T_NATIVE_INT32);
  H5Tinsert(cf->row_type, "offset", HOFFSET(clip_row, offset), H5T_NATIVE_UINT64);
  H5Tinsert(cf->row_type, "length", HOFFSET(clip_row, length), H5T_NATIVE_INT64);
  hid_t time_type = string_type(sizeof ((clip_row *)0)->start_time, H5T_CSET_ASCII),
        utc_type = string_type(sizeof ((clip_row *)0)->start_utc, H5T_CSET_ASCII);
  H5Tinsert(cf->row_type, "start_time", HOFFSET(clip_row, start_time), time_type);
  H5Tinsert(cf->row_type, "start_utc", HOFFSET(clip_row, start_utc), utc_type);
  H5Tinsert(cf->row_type, "start_utc_us", HOFFSET(clip_row, start_utc_us), H5T_NATIVE_INT64);
  H5Tinsert(cf->row_type, "start_zone", HOFFSET(clip_row, start_zone), H5T_NATIVE_INT32);
  H5Tinsert(cf->row_type, "parts", HOFFSET(clip_row, parts), H5T_NATIVE_INT32);
  H5Tinsert(cf->row_type, "gaps", HOFFSET(clip_row, gaps), H5T_NATIVE_INT32);
  H5Tinsert(cf->row_type, "gap_frames", HOFFSET(clip_row, gap_frames), H5T_NATIVE_INT64);
  H5Tinsert(cf->row_type, "rate", HOFFSET(clip_row, rate), H5T_NATIVE_INT32);
  H5Tinsert(cf->row_type, "recording", sizeof(clip_row), cf->rec_type);
  size_t col = sizeof(clip_row) + cf->name_len;
  for (size_t k = 0; k < l->nlabels; k++) { /* the queries table's own columns, as strings */
    hid_t t = string_type(cf->label_width[k], H5T_CSET_UTF8); /* species names, comments: as the table had them */
    H5Tinsert(cf->row_type, l->label_names[k], col, t);
    H5Tclose(t);
    col += cf->label_width[k];
  }
  H5Tclose(id_type), H5Tclose(time_type), H5Tclose(utc_type);
}

int oa_clips_create(oa_clips_file *cf, const oa_clips_config *cfg, const oa_clips_layout *l, oa_err *err) {
  memset(cf, 0, sizeof *cf);
  cf->comm = cfg->comm;
  MPI_Comm_rank(cf->comm, &cf->rank);
  cf->path = cfg->path;
  cf->overwrite = cfg->overwrite;
  cf->io_timeout = cfg->io_timeout;
  cf->watchdog = cfg->watchdog;
  /* Clips lie in the order of the whole list: this share's start after
   * the floats of the ranks before. */
  uint64_t mine[2] = {l->floats, l->rows}, before[2], all[2];
  oa_mpi_offsets(cf->comm, mine, before, all, 2);
  uint64_t total = all[0];
  cf->next_offset = before[0];
  cf->rows = all[1];
  int32_t r[2] = {l->rows ? l->rate_lo : INT32_MAX, l->rows ? -l->rate_hi : INT32_MAX}; /* lowest, minus highest */
  MPI_Allreduce(MPI_IN_PLACE, r, 2, MPI_INT32_T, MPI_MIN, cf->comm);
  cf->rate = r[0] == INT32_MAX ? OA_SAMPLE_RATE : r[0] == -r[1] ? r[0] : 0;
  if (label_widths(l, cf) != 0) return oa_err_set(err, OA_ENOMEM, "out of memory");
  if (prepare_file(cf, total * sizeof(float) + cf->rows * cf->row_bytes, err)) return OA_EIO;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, cf->comm, MPI_INFO_NULL);
  watch(cf, "creating");
  cf->file = H5Fcreate(cf->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (!oa_mpi_agree(cf->comm, cf->file >= 0)) {
    oa_watchdog_disarm(cf->watchdog);
    if (cf->rank == 0) unlink(cf->tmp);
    return oa_err_set(err, OA_EIO, "cannot create %s", cf->tmp);
  }
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  hid_t space = clips_space(l, cfg->fixed_shape, total, cf->rows, dcpl, cf);
  H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
  H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
  cf->clips = H5Dcreate2(cf->file, "clips", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Pclose(dcpl);
  H5Sclose(space);
  make_row_type(cf, l);
  hsize_t rows[1] = {cf->rows};
  space = H5Screate_simple(1, rows, NULL);
  cf->table = H5Dcreate2(cf->file, "queries", cf->row_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Sclose(space);
  int ok = oa_mpi_agree(cf->comm, cf->clips >= 0 && cf->table >= 0);
  oa_watchdog_disarm(cf->watchdog);
  if (!ok) return oa_err_set(err, OA_EIO, "cannot create datasets in %s", cf->tmp);
  return OA_OK;
}

void oa_clips_place(oa_clips_file *cf, oa_query_list *ql) {
  for (size_t i = 0; i < ql->n; i++) {
    ql->q[i].clip_offset = cf->next_offset;
    cf->next_offset += (uint64_t)ql->q[i].out_frames * (uint64_t)ql->q[i].out_channels;
  }
}

/* Rows [from, from + n) of this batch of /queries. */
static uint8_t *table_rows(const oa_clips_file *cf, const oa_archive *a, const oa_query_list *ql,
                           const uint8_t *failed, size_t from, size_t n) {
  size_t row = cf->row_bytes;
  uint8_t *rows = calloc(n ? n : 1, row);
  for (size_t j = 0; rows && j < n; j++) {
    size_t i = from + j;
    const oa_query *q = &ql->q[i];
    uint8_t *out = rows + j * row;
    clip_row r = {.start = q->start, .end = q->end, .channels = q->out_channels, .status = failed[i] ? 1 : 0,
                  .offset = q->clip_offset, .length = q->out_frames, .rate = q->out_rate, .start_utc_us = q->start_us,
                  .start_zone = q->start_zone, .parts = q->nparts ? (int32_t)q->nparts : 1, .gaps = (int32_t)q->gaps,
                  .gap_frames = q->gap_frames};
    snprintf(r.id, sizeof r.id, "%s", q->id);
    oa_time_format(q->start_us, q->start_offset_s, q->start_zone, r.start_time, sizeof r.start_time);
    if (q->start_zone == OA_ZONE_KNOWN) oa_time_format_utc(q->start_us, r.start_utc, sizeof r.start_utc);
    memcpy(out, &r, sizeof r);
    snprintf((char *)out + sizeof r, cf->name_len, "%s", oa_archive_recording_name(a, q->rec));
    size_t at = sizeof r + cf->name_len;
    for (size_t k = 0; k < ql->nlabels; k++) {
      memcpy(out + at, oa_query_label(ql, i, k), strlen(oa_query_label(ql, i, k)) + 1);
      at += cf->label_width[k];
    }
  }
  return rows;
}

/* One collective write of rows [from, from + n) of this batch (n may be 0). */
static int write_rows(const oa_clips_file *cf, const oa_archive *a, const oa_query_list *ql, const uint8_t *failed,
                      size_t from, size_t n) {
  uint8_t *rows = table_rows(cf, a, ql, failed, from, n);
  /* Agree before the collective write: a rank without memory must not
   * leave the others inside it. */
  int ok = rows != NULL;
  if (!oa_mpi_agree(cf->comm, ok)) {
    free(rows);
    return 0;
  }
  hid_t fs = H5Dget_space(cf->table);
  hsize_t start[1] = {ql->first + from}, count[1] = {n};
  hid_t ms = H5Screate_simple(1, count, NULL);
  if (n) H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  else H5Sselect_none(fs), H5Sselect_none(ms);
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  if (cf->rows && H5Dwrite(cf->table, cf->row_type, ms, fs, dxpl, rows) < 0) ok = 0;
  H5Pclose(dxpl);
  H5Sclose(ms), H5Sclose(fs);
  free(rows);
  return oa_mpi_agree(cf->comm, ok);
}

/* Each rank writes its batch's rows, TABLE_CHUNK at a time (so the rows
 * made for writing stay small); every rank joins as many collective writes
 * as the rank with the most rows. */
enum { TABLE_CHUNK = 65536 };
int oa_clips_write_rows(const oa_clips_file *cf, const oa_archive *a, const oa_query_list *ql,
                        const uint8_t *failed) {
  watch(cf, "writing the table of");
  size_t chunk = oa_fault("table") ? 7 : TABLE_CHUNK; /* tests: many rounds, different on each rank */
  uint64_t rounds = (ql->n + chunk - 1) / chunk;
  MPI_Allreduce(MPI_IN_PLACE, &rounds, 1, MPI_UINT64_T, MPI_MAX, cf->comm);
  int ok = 1;
  for (uint64_t k = 0; k < rounds && ok; k++) {
    size_t from = (size_t)k * chunk, n = from < ql->n ? ql->n - from : 0;
    ok = write_rows(cf, a, ql, failed, from, n < chunk ? n : chunk);
  }
  oa_watchdog_disarm(cf->watchdog);
  return ok;
}

static int write_int_attr(hid_t file, const char *name, int32_t value) {
  hid_t aspace = H5Screate(H5S_SCALAR);
  hid_t at = H5Acreate2(file, name, H5T_NATIVE_INT32, aspace, H5P_DEFAULT, H5P_DEFAULT);
  int ok = at >= 0 && H5Awrite(at, H5T_NATIVE_INT32, &value) >= 0;
  if (at >= 0) H5Aclose(at);
  H5Sclose(aspace);
  return ok;
}

/* format, format_version (docs/FORMAT.md, "Clips file") and sample_rate. */
static int write_clip_attrs(const oa_clips_file *cf, int32_t rate) {
  int ok = 1;
  hid_t aspace = H5Screate(H5S_SCALAR);
  hid_t str = H5Tcopy(H5T_C_S1);
  H5Tset_size(str, 14);
  hid_t at = H5Acreate2(cf->file, "format", str, aspace, H5P_DEFAULT, H5P_DEFAULT);
  if (at < 0 || H5Awrite(at, str, "opusarc-clips") < 0) ok = 0;
  if (at >= 0) H5Aclose(at);
  H5Tclose(str), H5Sclose(aspace);
  return ok && write_int_attr(cf->file, "format_version", OA_CLIPS_FORMAT_VERSION) &&
         write_int_attr(cf->file, "sample_rate", rate);
}

/* Collective: the table and attributes are written, the file closed and
 * given its name. A rank whose collective step failed ends the process
 * without MPI_Finalize (sets *broken): HDF5 could not close the file. */
int oa_clips_finish(oa_clips_file *cf, int rows_ok, int keep, int *broken, oa_err *err) {
  watch(cf, "finishing");
  int ok = oa_mpi_agree(cf->comm, rows_ok && write_clip_attrs(cf, cf->rate));
  H5Dclose(cf->clips), H5Dclose(cf->table), H5Tclose(cf->row_type), H5Tclose(cf->rec_type);
  if (ok) ok = oa_mpi_agree(cf->comm, H5Fclose(cf->file) >= 0);
  else *broken = 1; /* the file stays open: closing it collectively could block */
  oa_watchdog_disarm(cf->watchdog);
  oa_err why;
  oa_err_clear(&why);
  int published = 1;
  if (cf->rank == 0) {
    published = ok && keep && oa_out_sync(cf->tmp, &why) == OA_OK &&
                oa_out_publish(cf->tmp, cf->path, cf->overwrite, &why) == OA_OK;
    if (!published) unlink(cf->tmp);
  }
  if (!oa_mpi_agree_err(cf->comm, published, &why))
    return oa_err_set(err, OA_EIO, "%s: %s", cf->path, why.msg[0] ? why.msg : "writing the clips file failed");
  return OA_OK;
}

/* Frames [out_frame, out_frame + frames) of q's clip: a run of the flat
 * /clips, or part of its row (--shape fixed: row = offset / row length). */
int oa_clips_write(const oa_clips_file *cf, const oa_query *q, int64_t out_frame, const float *pcm, size_t frames,
                   oa_err *err) {
  hid_t fs = H5Dget_space(cf->clips);
  hsize_t start[3] = {q->clip_offset + (uint64_t)out_frame * (uint64_t)q->out_channels, 0, 0},
          count[3] = {frames * (size_t)q->out_channels, 1, 1};
  if (cf->ndims > 1) {
    start[0] = q->clip_offset / cf->row_floats, start[1] = (hsize_t)out_frame;
    count[0] = 1, count[1] = frames, count[2] = (hsize_t)q->out_channels;
  }
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  hsize_t n = frames * (size_t)q->out_channels;
  hid_t ms = H5Screate_simple(1, &n, NULL);
  herr_t rc = H5Dwrite(cf->clips, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, pcm);
  H5Sclose(ms);
  H5Sclose(fs);
  return rc < 0 ? oa_err_set(err, OA_EIO, "writing clip %s failed (disk full?)", q->id) : OA_OK;
}

void oa_clips_free(oa_clips_file *cf) {
  free(cf->label_width);
  cf->label_width = NULL;
}
