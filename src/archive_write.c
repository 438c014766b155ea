#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive_h5.h"
#include "opusarc/mpiutil.h"
#include "opusarc/util.h"

/* ---- batches ---- */

void oa_batch_clear(oa_batch *b) {
  b->data_len = b->nlinks = b->nintervals = 0;
  b->state_len = b->strings_len = b->nrecs = 0;
}

void oa_batch_free(oa_batch *b) {
  free(b->data);
  free(b->links);
  free(b->intervals);
  free(b->state);
  free(b->strings);
  free(b->recs);
  free(b->rec_index);
  memset(b, 0, sizeof *b);
}

int oa_batch_add_string(oa_batch *b, const char *s, uint64_t *off, uint32_t *len) {
  size_t n = s ? strlen(s) : 0;
  if (oa_grow((void **)&b->strings, &b->strings_cap, b->strings_len + n, 1)) return -1;
  if (n) memcpy(b->strings + b->strings_len, s, n);
  *off = b->strings_len;
  *len = (uint32_t)n;
  b->strings_len += n;
  return 0;
}

size_t oa_batch_bytes(const oa_batch *b) {
  return b->data_len + b->state_len + b->strings_len + b->nlinks * sizeof(oa_link_row) +
         b->nintervals * sizeof(oa_interval_row) + b->nrecs * sizeof(oa_rec_row);
}

/* ---- writer ---- */

enum { DS_STRINGS, DS_LINKS, DS_DATA, DS_INTERVALS, DS_STATE, DS_COUNT };

struct oa_archive_writer {
  MPI_Comm comm;
  int rank;
  hid_t file, dxpl;
  hid_t ds[DS_COUNT], recs;
  oa_h5_types types;
  uint64_t cur[DS_COUNT]; /* current length of each appendable dataset */
  char *path, *partial;
  oa_archive_meta meta;
};

static const char *const DS_NAMES[DS_COUNT] = {OA_DS_STRINGS, OA_DS_LINKS, OA_DS_PACKET_DATA, OA_DS_INTERVALS,
                                               OA_DS_CP_STATE};

static hid_t create_dataset(hid_t file, const char *name, hid_t type, hsize_t initial, hsize_t chunk,
                            int compress) {
  hsize_t dims[1] = {initial}, maxdims[1] = {H5S_UNLIMITED}, chunks[1] = {chunk};
  hid_t space = H5Screate_simple(1, dims, maxdims);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, chunks);
  H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
  if (compress) {
    /* Index rows are regular numbers: byte shuffling + deflate shrinks them
     * several times. (Filters need collective writes, which we use.) */
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, 6);
  }
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t ds = H5Dcreate2(file, name, type, space, lcpl, dcpl, H5P_DEFAULT);
  H5Pclose(lcpl);
  H5Pclose(dcpl);
  H5Sclose(space);
  return ds;
}

static hid_t dataset_type(const oa_archive_writer *w, int which) {
  switch (which) {
    case DS_LINKS: return w->types.link;
    case DS_INTERVALS: return w->types.interval;
    default: return H5T_NATIVE_UINT8;
  }
}

/* Chunks of 0.1-1 MiB: large contiguous I/O for the payload, index rows
 * grouped so a reader fetches few chunks per query, and little slack in
 * small archives (an unlimited dataset allocates whole chunks). */
static hsize_t dataset_chunk(int which) {
  switch (which) {
    case DS_DATA: return 512u << 10;
    case DS_STATE: return 64u << 10;
    case DS_STRINGS: return 16u << 10;
    case DS_LINKS: return 256;
    default: return 4096; /* intervals */
  }
}

static void writer_close_handles(oa_archive_writer *w) {
  for (int i = 0; i < DS_COUNT; i++)
    if (w->ds[i] >= 0) H5Dclose(w->ds[i]);
  if (w->recs >= 0) H5Dclose(w->recs);
  if (w->dxpl >= 0) H5Pclose(w->dxpl);
  if (w->file >= 0) H5Fclose(w->file);
  oa_h5_types_close(&w->types);
  w->file = -1;
}

static void writer_free(oa_archive_writer *w) {
  free(w->path);
  free(w->partial);
  free(w);
}

int oa_writer_create(MPI_Comm comm, const char *path, int overwrite, const oa_archive_meta *meta,
                     oa_archive_writer **out, oa_err *err) {
  *out = NULL;
  oa_h5_quiet();
  oa_archive_writer *w = calloc(1, sizeof *w);
  int ok = w != NULL;
  if (ok) {
    w->comm = comm;
    MPI_Comm_rank(comm, &w->rank);
    w->meta = *meta;
    w->path = strdup(path);
    w->partial = malloc(strlen(path) + 16);
    ok = w->path && w->partial;
    if (ok) sprintf(w->partial, "%s.partial", path);
  }
  if (!oa_mpi_agree(comm, ok)) {
    if (w) writer_free(w);
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  int exists = 0;
  if (w->rank == 0 && !overwrite) exists = access(path, F_OK) == 0;
  MPI_Bcast(&exists, 1, MPI_INT, 0, comm);
  if (exists) {
    writer_free(w);
    return oa_err_set(err, OA_EUSAGE, "%s already exists (use --force to replace it)", path);
  }
  for (int i = 0; i < DS_COUNT; i++) w->ds[i] = -1;
  w->recs = w->dxpl = w->file = -1;
  oa_h5_types_create(&w->types);

  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  H5Pset_all_coll_metadata_ops(fapl, 1);
  H5Pset_coll_metadata_write(fapl, 1);
  w->file = H5Fcreate(w->partial, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (!oa_mpi_agree(comm, w->file >= 0)) {
    int e = errno;
    writer_close_handles(w);
    writer_free(w);
    return oa_err_set(err, OA_EIO, "cannot create %s.partial: %s", path, e ? strerror(e) : "HDF5 error");
  }
  w->dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(w->dxpl, H5FD_MPIO_COLLECTIVE);
  int good = 1;
  for (int i = 0; i < DS_COUNT; i++) {
    w->ds[i] = create_dataset(w->file, DS_NAMES[i], dataset_type(w, i), 0, dataset_chunk(i),
                              i == DS_LINKS || i == DS_INTERVALS);
    good &= w->ds[i] >= 0;
  }
  uint64_t nrec = meta->recordings;
  w->recs = create_dataset(w->file, OA_DS_RECORDINGS, w->types.rec, nrec, 256, 0);
  good &= w->recs >= 0;
  if (!oa_mpi_agree(comm, good)) {
    oa_writer_finish(w, 0, NULL);
    return oa_err_set(err, OA_EIO, "cannot create datasets in %s.partial", path);
  }
  *out = w;
  return OA_OK;
}

/* Grows one dataset by `total` elements and writes this rank's `local`
 * elements at `cur + before`. Every rank calls it, even with nothing. */
static int append_dataset(oa_archive_writer *w, hid_t ds, hid_t type, uint64_t cur, uint64_t before,
                          uint64_t local, uint64_t total, const void *buf) {
  if (total == 0) return 0;
  hsize_t size[1] = {cur + total};
  if (H5Dset_extent(ds, size) < 0) return -1;
  hid_t fspace = H5Dget_space(ds);
  hsize_t start[1] = {cur + before}, count[1] = {local};
  hid_t mspace = H5Screate_simple(1, count, NULL);
  if (local > 0) {
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
  } else {
    H5Sselect_none(fspace);
    H5Sselect_none(mspace);
  }
  static const uint8_t dummy[1] = {0};
  herr_t rc = H5Dwrite(ds, type, mspace, fspace, w->dxpl, local ? buf : dummy);
  H5Sclose(mspace);
  H5Sclose(fspace);
  return rc < 0 ? -1 : 0;
}

static int write_recordings(oa_archive_writer *w, oa_batch *b) {
  hid_t fspace = H5Dget_space(w->recs);
  hsize_t n = b->nrecs ? b->nrecs : 1;
  hsize_t *coords = malloc(n * sizeof *coords);
  if (!coords) return -1;
  hsize_t count[1] = {b->nrecs};
  hid_t mspace = H5Screate_simple(1, count, NULL);
  if (b->nrecs) {
    for (size_t i = 0; i < b->nrecs; i++) coords[i] = b->rec_index[i];
    H5Sselect_elements(fspace, H5S_SELECT_SET, b->nrecs, coords);
  } else {
    H5Sselect_none(fspace);
    H5Sselect_none(mspace);
  }
  static const oa_rec_row dummy;
  herr_t rc = H5Dwrite(w->recs, w->types.rec, mspace, fspace, w->dxpl, b->nrecs ? (void *)b->recs : (void *)&dummy);
  free(coords);
  H5Sclose(mspace);
  H5Sclose(fspace);
  return rc < 0 ? -1 : 0;
}

/* Turns batch-local indexes into global ones. */
static void rebase(oa_batch *b, const uint64_t *base) {
  for (size_t i = 0; i < b->nlinks; i++) {
    b->links[i].first_interval += base[DS_INTERVALS];
    b->links[i].data_offset += base[DS_DATA];
  }
  for (size_t i = 0; i < b->nintervals; i++) {
    oa_interval_row *v = &b->intervals[i];
    v->link += base[DS_LINKS];
    v->data_offset += base[DS_DATA];
    v->preroll_offset += base[DS_DATA];
    v->state_offset += base[DS_STATE];
  }
  for (size_t i = 0; i < b->nrecs; i++) {
    oa_rec_row *r = &b->recs[i];
    r->name_off += base[DS_STRINGS];
    r->path_off += base[DS_STRINGS];
    r->error_off += base[DS_STRINGS];
    r->start_off += base[DS_STRINGS];
    r->tags_off += base[DS_STRINGS];
    r->first_link += base[DS_LINKS];
    r->first_interval += base[DS_INTERVALS];
    r->data_offset += base[DS_DATA];
  }
}

int oa_writer_append(oa_archive_writer *w, oa_batch *b, oa_err *err) {
  uint64_t local[DS_COUNT] = {b->strings_len, b->nlinks, b->data_len, b->nintervals, b->state_len};
  uint64_t before[DS_COUNT], total[DS_COUNT], base[DS_COUNT];
  oa_mpi_offsets(w->comm, local, before, total, DS_COUNT);
  for (int i = 0; i < DS_COUNT; i++) base[i] = w->cur[i] + before[i];
  rebase(b, base);
  const void *bufs[DS_COUNT] = {b->strings, b->links, b->data, b->intervals, b->state};
  int ok = 1;
  for (int i = 0; i < DS_COUNT; i++) {
    /* Every rank takes part in every call; failures are agreed on after. */
    if (append_dataset(w, w->ds[i], dataset_type(w, i), w->cur[i], before[i], local[i], total[i], bufs[i]) != 0)
      ok = 0;
    w->cur[i] += total[i];
  }
  if (write_recordings(w, b) != 0) ok = 0;
  oa_batch_clear(b);
  if (!oa_mpi_agree(w->comm, ok))
    return oa_err_set(err, OA_EIO, "writing to %s failed (disk full or I/O error?)", w->partial);
  /* Flushing per batch bounds what a crash can lose. */
  if (!oa_mpi_agree(w->comm, H5Fflush(w->file, H5F_SCOPE_GLOBAL) >= 0))
    return oa_err_set(err, OA_EIO, "flushing %s failed (disk full or I/O error?)", w->partial);
  return OA_OK;
}

static int put_attr(hid_t obj, const char *name, hid_t type, const void *value) {
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t rc = a >= 0 ? H5Awrite(a, type, value) : -1;
  if (a >= 0) H5Aclose(a);
  H5Sclose(space);
  return rc < 0 ? -1 : 0;
}

static int put_string_attr(hid_t obj, const char *name, const char *value) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, strlen(value) + 1);
  H5Tset_strpad(type, H5T_STR_NULLTERM);
  int rc = put_attr(obj, name, type, value);
  H5Tclose(type);
  return rc;
}

static int write_meta(hid_t file, const oa_archive_meta *m) {
  int32_t version = OA_FORMAT_VERSION, rate = 48000, complete = 1;
  int rc = 0;
  rc |= put_string_attr(file, "format", OA_FORMAT_NAME);
  rc |= put_attr(file, "format_version", H5T_NATIVE_INT32, &version);
  rc |= put_string_attr(file, "libopus_version", m->build.version);
  rc |= put_attr(file, "libopus_decoder_size_mono", H5T_NATIVE_INT32, &m->build.dec_size_mono);
  rc |= put_attr(file, "libopus_decoder_size_stereo", H5T_NATIVE_INT32, &m->build.dec_size_stereo);
  rc |= put_attr(file, "libopus_code_hash", H5T_NATIVE_UINT64, &m->build.code_hash);
  rc |= put_attr(file, "libopus_layout_known", H5T_NATIVE_INT32, &m->build.layout_known);
  rc |= put_attr(file, "libopus_arch", H5T_NATIVE_INT32, &m->build.arch);
  rc |= put_string_attr(file, "cpu_features", m->build.cpu_features);
  rc |= put_attr(file, "checkpoint_every_seconds", H5T_NATIVE_DOUBLE, &m->checkpoint_every);
  rc |= put_string_attr(file, "checkpoints", m->checkpoints);
  rc |= put_attr(file, "max_preroll_packets", H5T_NATIVE_INT32, &m->max_preroll);
  rc |= put_attr(file, "sample_rate", H5T_NATIVE_INT32, &rate);
  rc |= put_attr(file, "recording_count", H5T_NATIVE_UINT64, &m->recordings);
  rc |= put_string_attr(file, "created", m->created);
  rc |= put_string_attr(file, "tool_version", m->tool_version);
  rc |= put_attr(file, "complete", H5T_NATIVE_INT32, &complete);
  return rc;
}

int oa_writer_finish(oa_archive_writer *w, int ok, oa_err *err) {
  if (ok) ok = oa_mpi_agree(w->comm, write_meta(w->file, &w->meta) == 0);
  writer_close_handles(w);
  int rc = OA_OK;
  int renamed = 1;
  if (w->rank == 0) {
    if (ok) renamed = rename(w->partial, w->path) == 0;
    else unlink(w->partial);
  }
  MPI_Bcast(&renamed, 1, MPI_INT, 0, w->comm);
  if (!ok) rc = err && err->code ? err->code : OA_EIO;
  else if (!renamed) rc = oa_err_set(err, OA_EIO, "cannot rename %s to %s", w->partial, w->path);
  writer_free(w);
  return rc;
}
