#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive_h5.h"
#include "opusarc/commit.h"
#include "opusarc/watchdog.h"
#include "opusarc/mpiutil.h"
#include "opusarc/util.h"
#include "archlock.h"
#include "inputdiff.h"
#include "outfile.h"

/* ---- writer ---- */

enum { DS_STRINGS, DS_LINKS, DS_DATA, DS_INTERVALS, DS_STATE, DS_HEADS, DS_COUNT };

struct oa_archive_writer {
  MPI_Comm comm;
  int rank;
  hid_t file, dxpl;
  hid_t ds[DS_COUNT], recs;
  oa_h5_types types;
  uint64_t cur[DS_COUNT]; /* current length of each appendable dataset */
  char *path, *partial, *commit_path;
  oa_archive_meta meta;
  oa_commit commit;       /* what the last flush made durable (bitmap on every rank) */
  int broken;             /* a collective write failed: HDF5 cannot close the file */
  double io_timeout;      /* seconds a collective write round may take (plus 1 s per 10 MB) */
  const oa_logger *log;   /* or NULL: the front end's hint for the time limit's message */
  oa_watchdog *watchdog;  /* ends the process when a round is stuck */
  oa_archlock *lock;      /* rank 0: PATH.lock, held until the writer is freed */
  oa_resumed_totals resumed;
};

static const char *const DS_NAMES[DS_COUNT] = {OA_DS_STRINGS, OA_DS_LINKS, OA_DS_PACKET_DATA, OA_DS_INTERVALS,
                                               OA_DS_CP_STATE, OA_DS_PACKET_HEADS};

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
    case DS_HEADS: return H5T_NATIVE_UINT32;
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
    case DS_HEADS: return 16u << 10;
    default: return 4096; /* intervals */
  }
}

static void writer_close_handles(oa_archive_writer *w) {
  for (int i = 0; i < DS_COUNT; i++) {
    if (w->ds[i] >= 0) H5Dclose(w->ds[i]);
    w->ds[i] = -1;
  }
  if (w->recs >= 0) H5Dclose(w->recs);
  if (w->dxpl >= 0) H5Pclose(w->dxpl);
  if (w->file >= 0) H5Fclose(w->file);
  w->recs = w->dxpl = w->file = -1;
}

static void writer_free(oa_archive_writer *w) {
  oa_watchdog_stop(w->watchdog);
  oa_archlock_release(w->lock);
  oa_h5_types_close(&w->types);
  oa_commit_free(&w->commit);
  free(w->path);
  free(w->partial);
  free(w->commit_path);
  free(w);
}

static char *with_suffix(const char *path, const char *suffix) {
  size_t n = strlen(path), k = strlen(suffix);
  char *s = malloc(n + k + 1);
  if (s) memcpy(s, path, n), memcpy(s + n, suffix, k + 1);
  return s;
}

static hid_t file_access(MPI_Comm comm) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  H5Pset_all_coll_metadata_ops(fapl, 1);
  H5Pset_coll_metadata_write(fapl, 1);
  return fapl;
}

static int open_transfer(oa_archive_writer *w) {
  w->dxpl = H5Pcreate(H5P_DATASET_XFER);
  return w->dxpl >= 0 && H5Pset_dxpl_mpio(w->dxpl, H5FD_MPIO_COLLECTIVE) >= 0;
}

/* Collective. A new, empty PATH.partial. */
static int create_fresh(oa_archive_writer *w, oa_err *err) {
  int made = 1, e = 0;
  if (w->rank == 0) {
    oa_commit_remove(w->commit_path); /* a record of an older run vouches for nothing here */
    /* The name is ours (we hold the lock): whatever is there, a file or a
     * planted symlink, goes; the new file is created, never followed. */
    unlink(w->partial);
    int fd = open(w->partial, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    made = fd >= 0;
    e = errno;
    if (fd >= 0) close(fd);
  }
  MPI_Bcast(&e, 1, MPI_INT, 0, w->comm);
  if (!oa_mpi_agree(w->comm, made)) return oa_err_set(err, OA_EIO, "cannot create %s: %s", w->partial, strerror(e));
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  /* Never reuse freed file space: blocks a commit record vouches for are
   * then never overwritten by later writes, so a killed run leaves them
   * intact for --resume. */
  H5Pset_file_space_strategy(fcpl, H5F_FSPACE_STRATEGY_NONE, 0, 1);
  hid_t fapl = file_access(w->comm);
  errno = 0;
  w->file = H5Fcreate(w->partial, H5F_ACC_TRUNC, fcpl, fapl);
  e = errno;
  H5Pclose(fapl);
  H5Pclose(fcpl);
  if (!oa_mpi_agree(w->comm, w->file >= 0))
    return oa_err_set(err, OA_EIO, "cannot create %s: %s", w->partial, e ? strerror(e) : "HDF5 error");
  int good = open_transfer(w);
  for (int i = 0; i < DS_COUNT; i++) {
    w->ds[i] = create_dataset(w->file, DS_NAMES[i], dataset_type(w, i), 0, dataset_chunk(i),
                              i != DS_DATA && i != DS_STATE);
    good &= w->ds[i] >= 0;
  }
  /* Compressed too (a row is ~250 bytes, mostly small numbers: ~20x). Rows
   * land by point selection over the rounds, so a chunk may be rewritten
   * once per round that touches it; the space given up is about one
   * compressed chunk per batch, small against the batch's payload. */
  w->recs = create_dataset(w->file, OA_DS_RECORDINGS, w->types.rec, w->meta.recordings, 256, 1);
  good &= w->recs >= 0;
  if (!oa_mpi_agree(w->comm, good)) return oa_err_set(err, OA_EIO, "cannot create datasets in %s", w->partial);
  memset(w->cur, 0, sizeof w->cur);
  return OA_OK;
}

/* The first option that differs between two "--name=value;..." texts, as
 * "--bitrate: 32 in the interrupted run, 64 now". */
static void option_difference(const char *then, const char *now, char *out, size_t len) {
  char a[OA_COMMIT_OPTIONS_MAX], b[OA_COMMIT_OPTIONS_MAX];
  snprintf(a, sizeof a, "%s", then);
  snprintf(b, sizeof b, "%s", now);
  char *sa, *sb;
  char *ta = strtok_r(a, ";", &sa), *tb = strtok_r(b, ";", &sb);
  for (; ta && tb; ta = strtok_r(NULL, ";", &sa), tb = strtok_r(NULL, ";", &sb)) {
    if (strcmp(ta, tb) == 0) continue;
    char *ea = strchr(ta, '='), *eb = strchr(tb, '=');
    if (ea && eb && ea - ta == eb - tb && strncmp(ta, tb, (size_t)(ea - ta)) == 0) {
      snprintf(out, len, "%.*s: %s in the interrupted run, %s now", (int)(ea - ta), ta, ea + 1, eb + 1);
      return;
    }
    break;
  }
  snprintf(out, len, "the interrupted run used \"%.200s\"", then);
}

/* Rank 0 loads the commit record and checks the options are this run's;
 * every rank receives it. A record from other options is refused: going
 * on would mix two settings in one archive, starting over would discard
 * committed work the user did not ask to discard. */
static int load_commit(oa_archive_writer *w, const oa_writer_config *cfg, oa_err *err) {
  uint8_t *buf = NULL;
  uint64_t len = 0;
  oa_commit c;
  int ok = 1;
  if (w->rank == 0) {
    ok = oa_commit_load(w->commit_path, &c, err) == OA_OK;
    if (ok && strcmp(c.options, cfg->options) != 0) {
      char diff[600];
      option_difference(c.options, cfg->options, diff, sizeof diff);
      oa_err_set(err, OA_ECHANGED, "cannot resume %s: the options differ from the interrupted run's (%s); its %llu "
                 "committed recordings are kept", w->partial, diff, (unsigned long long)oa_commit_done_count(&c));
      ok = 0;
    }
    if (ok) ok = oa_commit_encode(&c, &buf, &len) == 0;
    if (ok || c.done) oa_commit_free(&c);
  }
  if (!oa_mpi_agree_err(w->comm, ok, err)) {
    free(buf);
    return err->code ? err->code : OA_EARCHIVE;
  }
  ok = oa_mpi_bcast_bytes(w->comm, 0, &buf, &len) == 0;
  oa_commit_free(&w->commit);
  if (ok) ok = oa_commit_decode(buf, len, &w->commit, err) == OA_OK;
  free(buf);
  return oa_mpi_agree(w->comm, ok) ? OA_OK : oa_err_set(err, OA_EMPI, "cannot share the commit record");
}

static uint64_t dataset_length(hid_t ds) {
  hsize_t dims[1] = {0};
  hid_t space = H5Dget_space(ds);
  if (space < 0 || H5Sget_simple_extent_ndims(space) != 1) dims[0] = 0;
  else H5Sget_simple_extent_dims(space, dims, NULL);
  if (space >= 0) H5Sclose(space);
  return dims[0];
}

/* Collective read of the first n elements of a dataset into rank 0's buf
 * (the others select nothing, unless all). With `all` every rank reads the
 * same: a chunked dataset whose chunk index only rank 0 looked up leaves
 * HDF5's metadata caches out of step, and cutting that dataset back then
 * hung H5Fclose (integration_resume found it). */
/* Collective: elements [at, at + n) of ds into buf on this rank (n 0: none). */
static int read_slab(oa_archive_writer *w, hid_t ds, hid_t type, uint64_t at, uint64_t n, void *buf) {
  hid_t fspace = H5Dget_space(ds);
  hsize_t start[1] = {at}, count[1] = {n};
  hid_t mspace = H5Screate_simple(1, count, NULL);
  if (n) H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
  else H5Sselect_none(fspace), H5Sselect_none(mspace);
  herr_t rc = H5Dread(ds, type, mspace, fspace, w->dxpl, buf);
  H5Sclose(mspace);
  H5Sclose(fspace);
  return rc < 0 ? -1 : 0;
}

static int read_on_root(oa_archive_writer *w, hid_t ds, hid_t type, uint64_t n, void *buf, int all) {
  return read_slab(w, ds, type, 0, w->rank == 0 || all ? n : 0, buf);
}

/* Rows [at, at + n) (in `rows`): the committed ones lie inside the
 * committed data; their check values are XORed into *check and their
 * totals added to w->resumed. */
static int verify_rows(oa_archive_writer *w, const oa_rec_row *rows, uint64_t at, uint64_t n, uint32_t *check,
                       oa_err *err) {
  const uint64_t *ext = w->commit.extent;
  oa_resumed_totals *t = &w->resumed;
  for (uint64_t i = at; i < at + n; i++) {
    if (!oa_commit_is_done(&w->commit, i)) continue;
    const oa_rec_row *r = &rows[i - at];
    *check ^= oa_rec_row_check(i, r);
    int fits = r->first_link <= ext[DS_LINKS] && r->link_count <= ext[DS_LINKS] - r->first_link &&
               r->first_interval <= ext[DS_INTERVALS] && r->interval_count <= ext[DS_INTERVALS] - r->first_interval &&
               r->data_offset <= ext[DS_DATA] && r->data_size <= ext[DS_DATA] - r->data_offset &&
               r->name_off <= ext[DS_STRINGS] && r->name_len <= ext[DS_STRINGS] - r->name_off &&
               r->path_off <= ext[DS_STRINGS] && r->path_len <= ext[DS_STRINGS] - r->path_off;
    if (!fits) return oa_err_set(err, OA_EARCHIVE, "committed /recordings row %llu points outside the committed data",
                                 (unsigned long long)i);
    if (OA_REC_READABLE(r)) t->ok++;
    else t->failed++;
    t->damaged += r->status == OA_REC_DAMAGED;
    t->lost_samples += r->lost_samples;
    t->samples += r->samples, t->packets += r->packet_count, t->payload_bytes += r->payload_bytes;
    t->seconds += (double)r->samples / oa_rec_row_rate(r);
    t->data_bytes += r->data_size, t->intervals += r->interval_count;
  }
  return OA_OK;
}

enum { ROWS_PER_READ = 65536 };

/* Collective: every rank checks its even share of the committed rows, a
 * bounded block at a time; the check values and totals are combined. */
static int verify_committed(oa_archive_writer *w, oa_err *err) {
  int size;
  MPI_Comm_size(w->comm, &size);
  uint64_t n = w->meta.recordings, lo = n * (uint64_t)w->rank / (uint64_t)size;
  uint64_t hi = n * (uint64_t)(w->rank + 1) / (uint64_t)size, most = (n + (uint64_t)size - 1) / (uint64_t)size;
  oa_rec_row *rows = malloc(ROWS_PER_READ * sizeof *rows);
  uint32_t check = 0;
  memset(&w->resumed, 0, sizeof w->resumed);
  int ok = oa_mpi_agree(w->comm, rows != NULL);
  if (!ok) oa_err_set(err, OA_ENOMEM, "out of memory");
  for (uint64_t at = lo; ok && at < lo + most; at += ROWS_PER_READ) { /* every rank the same number of reads */
    uint64_t k = at < hi ? (hi - at < ROWS_PER_READ ? hi - at : ROWS_PER_READ) : 0;
    int good = read_slab(w, w->recs, w->types.rec, at, k, rows) == 0;
    if (!good) oa_err_set(err, OA_EARCHIVE, "cannot read /recordings");
    else good = verify_rows(w, rows, at, k, &check, err) == OA_OK;
    ok = oa_mpi_agree_err(w->comm, good, err);
  }
  free(rows);
  if (!ok) return err->code ? err->code : OA_EARCHIVE;
  oa_resumed_totals *t = &w->resumed;
  uint64_t sums[9] = {t->ok, t->failed, t->damaged, t->packets, t->payload_bytes, t->data_bytes, t->intervals,
                      (uint64_t)t->samples, (uint64_t)t->lost_samples};
  MPI_Allreduce(MPI_IN_PLACE, sums, 9, MPI_UINT64_T, MPI_SUM, w->comm);
  MPI_Allreduce(MPI_IN_PLACE, &t->seconds, 1, MPI_DOUBLE, MPI_SUM, w->comm);
  MPI_Allreduce(MPI_IN_PLACE, &check, 1, MPI_UINT32_T, MPI_BXOR, w->comm);
  *t = (oa_resumed_totals){sums[0], sums[1], sums[2], sums[3], sums[4], sums[5], sums[6], (int64_t)sums[7],
                           (int64_t)sums[8], t->seconds};
  if (check != w->commit.rows_check)
    return oa_err_set(err, OA_EARCHIVE, "committed /recordings rows do not match the commit record");
  return OA_OK;
}

/* Rank 0: the committed sources against the whole list of this run's
 * inputs, which differ (their fingerprint or count): what differs. */
static int compare_inputs(oa_archive_writer *w, const oa_corpus *list, const oa_rec_row *rows, const char *strings,
                          oa_err *err) {
  uint64_t n = w->meta.recordings, k = 0;
  oa_recorded_source *rec = calloc(n ? n : 1, sizeof *rec);
  char **names = calloc(2 * (n ? n : 1), sizeof *names);
  int rc = rec && names ? OA_OK : oa_err_set(err, OA_ENOMEM, "out of memory");
  for (uint64_t i = 0; rc == OA_OK && i < n; i++) {
    if (!oa_commit_is_done(&w->commit, i)) continue;
    const oa_rec_row *r = &rows[i];
    names[2 * k] = strndup(strings + r->name_off, r->name_len);
    names[2 * k + 1] = strndup(strings + r->path_off, r->path_len);
    if (!names[2 * k] || !names[2 * k + 1]) rc = oa_err_set(err, OA_ENOMEM, "out of memory");
    else rec[k] = (oa_recorded_source){names[2 * k], names[2 * k + 1], r}, k++;
  }
  if (rc == OA_OK) {
    char diff[900];
    uint64_t nd = oa_input_diff(list, rec, k, 0, diff, sizeof diff);
    rc = oa_err_set(err, OA_ECHANGED, "cannot resume %s: the inputs differ from the interrupted run's (%llu "
                    "recordings then, %llu now%s%s); its %llu committed recordings are kept", w->partial,
                    (unsigned long long)w->commit.entries, (unsigned long long)n, nd ? "; " : "", nd ? diff : "",
                    (unsigned long long)k);
  }
  for (uint64_t i = 0; names && i < 2 * k; i++) free(names[i]);
  free(names);
  free(rec);
  return rc;
}

/* Collective: rank 0 gets the whole list of inputs (cfg->corpus, or
 * gathered into *whole by cfg->gather). */
static int whole_list(const oa_writer_config *cfg, oa_corpus *whole, const oa_corpus **list, oa_err *err) {
  memset(whole, 0, sizeof *whole);
  *list = cfg->corpus;
  if (!cfg->gather) return OA_OK;
  *list = whole;
  return cfg->gather(cfg->gather_ctx, whole, err);
}

/* Collective, when the inputs are not the interrupted run's: rank 0 reads
 * the committed rows and names what differs (a refusal, so reading every
 * row on one rank is the cost of the message). */
static int refuse_changed_inputs(oa_archive_writer *w, const oa_writer_config *cfg, oa_err *err) {
  oa_corpus whole;
  const oa_corpus *list;
  uint64_t n = w->meta.recordings, nstr = w->commit.extent[DS_STRINGS];
  int root = w->rank == 0;
  int ok = whole_list(cfg, &whole, &list, err) == OA_OK;
  oa_rec_row *rows = malloc((root && n ? n : 1) * sizeof *rows);
  char *strings = malloc(nstr ? nstr : 1);
  if (ok && (!rows || !strings)) ok = 0, oa_err_set(err, OA_ENOMEM, "out of memory");
  if (oa_mpi_agree_err(w->comm, ok, err)) {
    /* Every rank reads the same bytes of /strings (docs/FORMAT.md). */
    int read_rows = read_on_root(w, w->recs, w->types.rec, n, rows, 0) == 0;
    ok = read_on_root(w, w->ds[DS_STRINGS], H5T_NATIVE_UINT8, nstr, strings, 1) == 0 && read_rows;
    if (!ok) oa_err_set(err, OA_EARCHIVE, "cannot read /recordings");
    else if (root) compare_inputs(w, list, rows, strings, err);
    ok = 0; /* refused in any case */
  }
  free(rows), free(strings);
  oa_corpus_free(&whole);
  oa_mpi_agree_err(w->comm, ok, err);
  return err->code ? err->code : OA_ECHANGED;
}

/* Collective: the committed rows check out against the record (every rank
 * its share), and the inputs are the interrupted run's: the same
 * fingerprint (names, paths, sizes, times, inodes in order) and count. */
static int check_committed_rows(oa_archive_writer *w, const oa_writer_config *cfg, oa_err *err) {
  int rc = verify_committed(w, err);
  if (rc != OA_OK) return rc;
  if (cfg->corpus_hash == w->commit.corpus_hash && w->meta.recordings == w->commit.entries) return OA_OK;
  return refuse_changed_inputs(w, cfg, err);
}

/* Collective. Opens PATH.partial and its datasets, each at least as long as
 * the commit record says. */
static int open_partial(oa_archive_writer *w, oa_err *err) {
  hid_t fapl = file_access(w->comm);
  w->file = H5Fopen(w->partial, H5F_ACC_RDWR, fapl);
  H5Pclose(fapl);
  if (!oa_mpi_agree(w->comm, w->file >= 0)) return oa_err_set(err, OA_EARCHIVE, "HDF5 cannot open it");
  int good = open_transfer(w);
  for (int i = 0; i < DS_COUNT; i++) {
    w->ds[i] = H5Dopen2(w->file, DS_NAMES[i], H5P_DEFAULT);
    good &= w->ds[i] >= 0 && dataset_length(w->ds[i]) >= w->commit.extent[i];
  }
  w->recs = H5Dopen2(w->file, OA_DS_RECORDINGS, H5P_DEFAULT);
  good &= w->recs >= 0 && dataset_length(w->recs) == w->meta.recordings;
  if (!oa_mpi_agree(w->comm, good))
    return oa_err_set(err, OA_EARCHIVE, "datasets missing or shorter than the commit record says");
  return OA_OK;
}

/* Collective. Opens PATH.partial, checks it against the commit record and
 * cuts every dataset back to its committed length (rows written after the
 * last commit are redone). */
static int reopen_partial(oa_archive_writer *w, const oa_writer_config *cfg, oa_err *err) {
  int rc = load_commit(w, cfg, err);
  if (rc == OA_OK) rc = open_partial(w, err);
  if (rc == OA_OK) rc = check_committed_rows(w, cfg, err);
  if (rc != OA_OK) return rc;
  int good = 1;
  for (int i = 0; i < DS_COUNT; i++) {
    hsize_t size[1] = {w->commit.extent[i]};
    good &= H5Dset_extent(w->ds[i], size) >= 0;
    w->cur[i] = w->commit.extent[i];
  }
  /* HDF5 1.10.8 loses rows written (collectively, to compressed datasets)
   * after a dataset was cut back in the same session; the integration test
   * `resume` found it. Closing and reopening the file avoids that. */
  writer_close_handles(w);
  if (!oa_mpi_agree(w->comm, good)) return oa_err_set(err, OA_EIO, "cannot cut datasets back to the last commit");
  return open_partial(w, err);
}

static int writer_alloc(MPI_Comm comm, const char *path, const oa_archive_meta *meta, oa_archive_writer **out) {
  oa_archive_writer *w = calloc(1, sizeof *w);
  *out = w;
  if (!w) return 0;
  w->comm = comm;
  MPI_Comm_rank(comm, &w->rank);
  w->meta = *meta;
  for (int i = 0; i < DS_COUNT; i++) w->ds[i] = -1;
  w->recs = w->dxpl = w->file = -1;
  oa_h5_types_create(&w->types);
  w->path = strdup(path);
  w->partial = with_suffix(path, ".partial");
  w->commit_path = with_suffix(path, ".partial.commit");
  return w->path && w->partial && w->commit_path && oa_commit_init(&w->commit, meta->recordings) == 0;
}

enum start_action { START_FRESH, START_RESUME, START_CHECK_COMPLETE };

/* Rank 0: PATH and PATH.partial are not inputs and not directories etc. */
static int check_not_inputs(oa_archive_writer *w, const oa_writer_config *cfg, const oa_file_id *hit, size_t nhit,
                            oa_err *err) {
  const oa_corpus *c = cfg->corpus;
  size_t n = (c ? c->count : 0) + nhit;
  oa_file_id *ids = calloc(n ? n : 1, sizeof *ids);
  if (!ids) return oa_err_set(err, OA_ENOMEM, "out of memory");
  for (size_t i = 0; i < nhit; i++) ids[i] = hit[i];
  for (size_t i = nhit; i < n; i++) ids[i] = (oa_file_id){c->entries[i - nhit].dev, c->entries[i - nhit].ino};
  int rc = oa_out_check(w->path, 1, ids, n, "archive", err);
  if (rc == OA_OK) rc = oa_out_check(w->partial, 1, ids, n, "archive", err);
  free(ids);
  return rc;
}

/* Collective, with each rank's run of the inputs: which of PATH and
 * PATH.partial are inputs now, found without the whole list (each rank
 * looks in its run); rank 0 gets their identities, at most two. */
static size_t paths_among_runs(oa_archive_writer *w, const oa_corpus *run, oa_file_id hit[2]) {
  const char *paths[2] = {w->path, w->partial};
  uint64_t ids[6] = {0}; /* dev, ino, exists, for each */
  for (int k = 0; w->rank == 0 && k < 2; k++) {
    oa_file_id id;
    if (oa_file_id_of(paths[k], &id) == 0) ids[3 * k] = id.dev, ids[3 * k + 1] = id.ino, ids[3 * k + 2] = 1;
  }
  MPI_Bcast(ids, 6, MPI_UINT64_T, 0, w->comm);
  uint8_t found[2] = {0, 0};
  for (size_t i = 0; i < run->count; i++)
    for (int k = 0; k < 2; k++)
      found[k] |= ids[3 * k + 2] && run->entries[i].dev == ids[3 * k] && run->entries[i].ino == ids[3 * k + 1];
  oa_mpi_max_bytes(w->comm, found, 2);
  size_t n = 0;
  for (int k = 0; k < 2; k++)
    if (found[k]) hit[n++] = (oa_file_id){ids[3 * k], ids[3 * k + 1]};
  return n;
}

/* Rank 0 looks at what exists on disk (under the lock) and chooses. */
static int choose_start(oa_archive_writer *w, const oa_writer_config *cfg, int *action, oa_err *err) {
  int have_path = access(w->path, F_OK) == 0;
  struct stat st;
  int have_partial = lstat(w->partial, &st) == 0; /* a planted symlink counts: it is replaced, never followed */
  int have_record = access(w->commit_path, F_OK) == 0;
  *action = START_FRESH;
  if (!cfg->resume && !cfg->overwrite) {
    if (have_path) return oa_err_set(err, OA_EEXIST, "%s already exists", w->path);
    if (have_partial) return oa_err_set(err, OA_EPARTIAL, "%s exists, left by an interrupted run", w->partial);
    return OA_OK;
  }
  if (!cfg->resume) return OA_OK; /* --force: a rebuild */
  if (have_partial && have_record) {
    if (have_path && !cfg->overwrite)
      return oa_err_set(err, OA_EREBUILD, "%s exists and %s holds an interrupted rebuild of it, which replaces %s "
                        "when finished; remove %s to keep the archive as it is", w->path, w->partial, w->path,
                        w->partial);
    *action = START_RESUME;
  } else if (have_path && !cfg->overwrite) {
    *action = START_CHECK_COMPLETE;
  }
  return OA_OK;
}

/* Rank 0: PATH is complete; does it hold exactly these inputs (the whole
 * list)? What differs, if anything. */
static int compare_complete(oa_archive_writer *w, const oa_corpus *list, oa_err *err) {
  oa_archive *a;
  int rc = oa_archive_open(w->path, &a, err);
  if (rc != OA_OK) return oa_err_set(err, OA_EUSAGE, "%s exists but cannot be read (%s); it was not changed", w->path,
                                     err->msg);
  uint64_t n = oa_archive_recording_count(a);
  oa_recorded_source *rec = calloc(n ? n : 1, sizeof *rec);
  if (!rec) {
    oa_archive_close(a);
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  for (uint64_t i = 0; i < n; i++)
    rec[i] = (oa_recorded_source){oa_archive_recording_name(a, i), oa_archive_recording_path(a, i),
                                  oa_archive_recording(a, i)};
  char diff[900];
  uint64_t nd = oa_input_diff(list, rec, n, 1, diff, sizeof diff);
  if (nd)
    rc = oa_err_set(err, OA_ENEWINPUTS, "%s is complete, but the inputs differ from what it holds: %s. It was not "
                    "changed", w->path, diff);
  free(rec);
  oa_archive_close(a);
  return rc;
}

/* This rank's run of the inputs against the rows of the same places in
 * PATH (rows are in the inputs' order): 1 when every entry matches its row
 * (name, path, source) and PATH has as many rows as there are inputs. */
static int run_matches(const oa_archive_writer *w, const oa_corpus *run) {
  oa_archive *a;
  oa_err ignored;
  if (oa_archive_open(w->path, &a, &ignored) != OA_OK) return 0;
  int same = oa_archive_recording_count(a) == w->meta.recordings;
  for (size_t i = 0; same && i < run->count; i++) {
    const oa_corpus_entry *e = &run->entries[i];
    const char *name = oa_archive_recording_name(a, e->row), *path = oa_archive_recording_path(a, e->row);
    const oa_rec_row *r = oa_archive_recording(a, e->row);
    char what[256] = "";
    if (r && name && path) oa_source_changes(e, r, what, sizeof what);
    same = r && name && path && strcmp(name, e->name) == 0 && strcmp(path, e->path) == 0 && !what[0];
  }
  oa_archive_close(a);
  return same;
}

/* Collective: PATH is complete; does it hold exactly these inputs? With
 * each rank's run given, every rank checks its own part; the whole list
 * goes to rank 0 only to say what differs. */
static int check_complete(oa_archive_writer *w, const oa_writer_config *cfg, oa_err *err) {
  if (cfg->run && oa_mpi_agree(w->comm, run_matches(w, cfg->run))) return OA_OK;
  oa_corpus whole;
  const oa_corpus *list;
  int ok = whole_list(cfg, &whole, &list, err) == OA_OK;
  if (ok && w->rank == 0) ok = compare_complete(w, list, err) == OA_OK;
  oa_corpus_free(&whole);
  return oa_mpi_agree_err(w->comm, ok, err) ? OA_OK : (err->code ? err->code : OA_ENEWINPUTS);
}

/* Collective: the lock, then the verdict on what is on disk. */
static int start_checks(oa_archive_writer *w, const oa_writer_config *cfg, int *action, int *complete, oa_err *err) {
  int ok = 1;
  char lock_note[OA_ERRMSG_MAX] = "";
  oa_file_id hit[2];
  size_t nhit = cfg->run ? paths_among_runs(w, cfg->run, hit) : 0;
  if (w->rank == 0) {
    ok = oa_archlock_acquire(w->path, &w->lock, lock_note, err) == OA_OK;
    if (ok && oa_fault("stall")) sleep(600); /* tests: a job that holds the lock */
    if (ok) ok = check_not_inputs(w, cfg, hit, nhit, err) == OA_OK;
    if (ok) ok = choose_start(w, cfg, action, err) == OA_OK;
    if (lock_note[0] && cfg->note) snprintf(cfg->note, OA_ERRMSG_MAX, "%s", lock_note);
  }
  if (!oa_mpi_agree_err(w->comm, ok, err)) return err->code ? err->code : OA_EUSAGE;
  MPI_Bcast(action, 1, MPI_INT, 0, w->comm);
  if (*action != START_CHECK_COMPLETE) return OA_OK;
  int rc = check_complete(w, cfg, err);
  if (rc != OA_OK) return rc;
  *complete = 1;
  if (w->rank == 0) {
    oa_commit_remove(w->commit_path); /* the record of a run killed after its rename */
    if (access(w->partial, F_OK) == 0) unlink(w->partial); /* a rebuild killed before its first commit */
  }
  return OA_OK;
}

static void resume_note(oa_archive_writer *w, const oa_writer_config *cfg, int resumed, const oa_err *why) {
  if (w->rank != 0 || !cfg->note) return;
  size_t k = strlen(cfg->note);
  char *out = cfg->note + k;
  size_t room = OA_ERRMSG_MAX - k;
  const char *sep = k ? "; " : "";
  if (resumed)
    snprintf(out, room, "%sresuming %.600s: %llu of %llu recordings were committed by the interrupted run", sep,
             w->partial, (unsigned long long)oa_commit_done_count(&w->commit), (unsigned long long)w->meta.recordings);
  else if (!why)
    snprintf(out, room, "%snothing to resume (no commit record %.600s); starting a new archive", sep, w->commit_path);
  else
    snprintf(out, room, "%scannot resume %.300s: %.600s; starting over", sep, w->partial, why->msg);
}

/* Collective: a new, empty commit record and PATH.partial. */
static int start_fresh(oa_archive_writer *w, const oa_writer_config *cfg, oa_err *err) {
  writer_close_handles(w);
  oa_commit_free(&w->commit);
  memset(&w->resumed, 0, sizeof w->resumed);
  int ok = oa_commit_init(&w->commit, w->meta.recordings) == 0;
  if (ok) {
    snprintf(w->commit.options, sizeof w->commit.options, "%s", cfg->options ? cfg->options : "");
    w->commit.corpus_hash = cfg->corpus_hash;
  }
  int rc = oa_mpi_agree(w->comm, ok) ? create_fresh(w, err) : oa_err_set(err, OA_ENOMEM, "out of memory");
  if (rc != OA_OK) {
    writer_close_handles(w);
    if (w->rank == 0) unlink(w->partial);
  }
  return rc;
}

int oa_writer_create(MPI_Comm comm, const char *path, const oa_writer_config *cfg, const oa_archive_meta *meta,
                     oa_archive_writer **out, int *complete, oa_err *err) {
  *out = NULL;
  *complete = 0;
  oa_h5_quiet();
  oa_archive_writer *w;
  if (!oa_mpi_agree(comm, writer_alloc(comm, path, meta, &w))) {
    if (w) writer_free(w);
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  if (cfg->note) cfg->note[0] = '\0';
  int action = START_FRESH;
  int rc = start_checks(w, cfg, &action, complete, err);
  if (rc != OA_OK || *complete) {
    writer_free(w);
    return rc;
  }
  snprintf(w->commit.options, sizeof w->commit.options, "%s", cfg->options ? cfg->options : "");
  w->commit.corpus_hash = cfg->corpus_hash;
  int resumed = 0;
  if (action == START_RESUME) {
    oa_err why;
    oa_err_clear(&why);
    rc = reopen_partial(w, cfg, &why);
    resumed = rc == OA_OK;
    if (rc == OA_ECHANGED) { /* other inputs or options: refused, nothing touched */
      writer_close_handles(w);
      *err = why;
      writer_free(w);
      return rc;
    }
    resume_note(w, cfg, resumed, resumed ? NULL : &why);
  } else if (cfg->resume) {
    resume_note(w, cfg, 0, NULL);
  }
  if (!resumed && (rc = start_fresh(w, cfg, err)) != OA_OK) {
    writer_free(w);
    return rc;
  }
  w->io_timeout = cfg->io_timeout;
  w->log = cfg->log;
  if (w->io_timeout > 0) {
    int size;
    MPI_Comm_size(comm, &size);
    oa_logger lg = {.rank = w->rank, .size = size, .level = OA_LOG_ERROR};
    oa_watchdog_start(&lg, &w->watchdog);
  }
  *out = w;
  return OA_OK;
}

/* Arms the watchdog for one collective step that writes `bytes`. Rank 0
 * (which holds the commit record) says why; the others end silently a
 * little later, in case the launcher does not stop them. */
static void watch_step(oa_archive_writer *w, const char *what, uint64_t bytes) {
  if (!w->watchdog) return;
  double limit = w->io_timeout + (double)bytes / 10e6;
  char msg[1024] = "";
  if (w->rank != 0)
    oa_watchdog_arm(w->watchdog, limit + 10, "");
  else if (w->commit.rounds > 0)
    snprintf(msg, sizeof msg, "%s %s has not finished after %.0f s, the I/O time limit (a collective HDF5 call is "
             "stuck, e.g. after an I/O error on some rank); %s kept with %llu committed recordings%s", what, w->partial,
             limit, w->partial, (unsigned long long)oa_commit_done_count(&w->commit), oa_log_hint(w->log, OA_EPARTIAL));
  else
    snprintf(msg, sizeof msg, "%s %s has not finished after %.0f s, the I/O time limit (a collective HDF5 call is "
             "stuck, e.g. after an I/O error on some rank); nothing was committed yet%s", what, w->partial, limit,
             oa_log_hint(w->log, OA_EPARTIAL));
  if (w->rank == 0) oa_watchdog_arm(w->watchdog, limit, msg);
}

int oa_writer_is_done(const oa_archive_writer *w, uint64_t entry) {
  return entry < w->commit.entries && oa_commit_is_done(&w->commit, entry);
}

uint64_t oa_writer_commits(const oa_archive_writer *w) { return w->commit.rounds; }

void oa_writer_resumed(const oa_archive_writer *w, oa_resumed_totals *t) { *t = w->resumed; }

/* One collective write of `n` elements at `at` (n = 0: this rank writes
 * nothing but takes part). */
static int write_slab(oa_archive_writer *w, hid_t ds, hid_t type, uint64_t at, uint64_t n, const void *buf) {
  hid_t fspace = H5Dget_space(ds);
  hsize_t start[1] = {at}, count[1] = {n};
  hid_t mspace = H5Screate_simple(1, count, NULL);
  if (n > 0) {
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
  } else {
    H5Sselect_none(fspace);
    H5Sselect_none(mspace);
  }
  static const uint8_t dummy[1] = {0};
  herr_t rc = H5Dwrite(ds, type, mspace, fspace, w->dxpl, n ? buf : dummy);
  H5Sclose(mspace);
  H5Sclose(fspace);
  return rc < 0 ? -1 : 0;
}

/* Grows one dataset by `total` elements and writes this rank's `local`
 * elements at `cur + before`. Every rank calls it, even with nothing. */
static int append_dataset(oa_archive_writer *w, hid_t ds, hid_t type, uint64_t cur, uint64_t before,
                          uint64_t local, uint64_t total, const void *buf) {
  if (total == 0) return 0;
  hsize_t size[1] = {cur + total};
  if (H5Dset_extent(ds, size) < 0) return -1;
  return write_slab(w, ds, type, cur + before, local, buf);
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
    b->links[i].first_packet += base[DS_HEADS];
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
    r->recorder_off += base[DS_STRINGS];
    r->first_link += base[DS_LINKS];
    r->first_interval += base[DS_INTERVALS];
    r->data_offset += base[DS_DATA];
  }
}

/* After a flush: rank 0 learns which rows every rank wrote and replaces the
 * commit record. The batch still holds this round's rows. */
static int commit_round(oa_archive_writer *w, const oa_batch *b, oa_err *err) {
  int size;
  MPI_Comm_size(w->comm, &size);
  uint32_t check = 0, all_checks = 0;
  for (size_t i = 0; i < b->nrecs; i++) check ^= oa_rec_row_check(b->rec_index[i], &b->recs[i]);
  MPI_Reduce(&check, &all_checks, 1, MPI_UINT32_T, MPI_BXOR, 0, w->comm);
  int mine = (int)b->nrecs, *counts = NULL, *displs = NULL, total = 0;
  uint64_t *rows = NULL;
  if (w->rank == 0) counts = calloc((size_t)size, sizeof *counts), displs = calloc((size_t)size, sizeof *displs);
  MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, 0, w->comm);
  if (w->rank == 0 && counts && displs) {
    for (int r = 0; r < size; r++) displs[r] = total, total += counts[r];
    rows = malloc((total ? (size_t)total : 1) * sizeof *rows);
  }
  MPI_Gatherv(b->rec_index, mine, MPI_UINT64_T, rows, counts, displs, MPI_UINT64_T, 0, w->comm);
  int ok = 1;
  if (w->rank == 0) {
    ok = rows != NULL;
    for (int k = 0; ok && k < total; k++)
      if (rows[k] < w->commit.entries) oa_commit_set_done(&w->commit, rows[k]);
    w->commit.rows_check ^= all_checks;
    memcpy(w->commit.extent, w->cur, sizeof w->cur);
    if (!ok) oa_err_set(err, OA_ENOMEM, "out of memory");
    else if (oa_fault("commit")) ok = oa_err_set(err, OA_EIO, "cannot write %s: %s (injected fault)",
                                                 w->commit_path, strerror(EIO)) == OA_OK;
    else ok = oa_commit_save(w->commit_path, &w->commit, err) == OA_OK;
  }
  free(counts), free(displs), free(rows);
  if (!oa_mpi_agree(w->comm, ok)) return OA_EIO;
  w->commit.rounds++;
  return OA_OK;
}

/* The round's bytes plus room for rewritten compressed chunks and HDF5
 * metadata (measured: well under 1/8 plus 64 KiB). */
static uint64_t reserve_bytes(uint64_t bytes) { return bytes + bytes / 8 + (64u << 10); }

/* Rank 0 reserves the round's bytes (plus room for rewritten compressed
 * chunks and metadata) at the end of PATH.partial before any collective
 * write. A full disk or quota is then found here, where all ranks can stop
 * in step; inside a collective HDF5 write it leaves ranks blocked. Returns
 * 0 or an errno value, the same on every rank. */
static int reserve_space(oa_archive_writer *w, uint64_t bytes) {
  int e = 0;
  if (w->rank == 0) {
    int fd = open(w->partial, O_WRONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) e = errno;
    else e = posix_fallocate(fd, st.st_size, (off_t)reserve_bytes(bytes));
    if (fd >= 0) close(fd);
    if (e == EOPNOTSUPP || e == ENOSYS || e == EINVAL) e = 0; /* cannot reserve here: carry on */
    if (oa_fault("reserve")) e = ENOSPC;
  }
  MPI_Bcast(&e, 1, MPI_INT, 0, w->comm);
  return e;
}

/* A fault injected into one rank's write (tests), or the errno of a real one. */
static int write_fault(int failed) {
  if (oa_fault("enospc")) return ENOSPC;
  if (oa_fault("write")) return EIO;
  return failed ? (errno ? errno : EIO) : 0;
}

/* The pieces one rank writes of a dataset that may have spilled: its
 * chunks of that kind, read back at most PIECE_BYTES at a time, then what
 * is in memory. */
#define PIECE_BYTES (4u << 20)
typedef struct piece_walk {
  const oa_batch *b;
  int kind;
  size_t chunk;       /* next chunk to look at */
  uint64_t at;        /* elements of b->chunks[chunk] already written */
  const void *mem;    /* the part in memory, NULL once written */
  uint64_t mem_count;
  uint8_t *buf;       /* PIECE_BYTES */
} piece_walk;

static uint64_t count_pieces(const piece_walk *p) {
  const uint64_t per = PIECE_BYTES / oa_spill_elem(p->kind);
  uint64_t n = p->mem_count > 0;
  for (size_t i = 0; i < p->b->nchunks; i++)
    if (p->b->chunks[i].kind == p->kind) n += (p->b->chunks[i].count + per - 1) / per;
  return n;
}

/* The next piece: *buf and *count (0 when this rank has no more); -1 if a
 * spilled piece cannot be read back. */
static int next_piece(piece_walk *p, const void **buf, uint64_t *count) {
  const uint64_t per = PIECE_BYTES / oa_spill_elem(p->kind);
  *count = 0;
  while (p->chunk < p->b->nchunks && (p->b->chunks[p->chunk].kind != p->kind || p->at == p->b->chunks[p->chunk].count))
    p->chunk++, p->at = 0;
  if (p->chunk < p->b->nchunks) {
    const oa_spill_chunk *c = &p->b->chunks[p->chunk];
    uint64_t n = c->count - p->at < per ? c->count - p->at : per;
    if (oa_batch_read_spill(p->b, c, p->at, n, p->buf) != 0) return -1;
    p->at += n;
    *buf = p->buf, *count = n;
  } else if (p->mem) {
    *buf = p->mem, *count = p->mem_count;
    p->mem = NULL;
  }
  return 0;
}

/* append_dataset for a kind that may have spilled: the extent once, then
 * as many collective writes as the rank with the most pieces needs (every
 * rank takes part in each, with nothing when it has no more). */
static int append_pieces(oa_archive_writer *w, int which, uint64_t before, uint64_t total, piece_walk *p) {
  if (total == 0) return 0;
  uint64_t mine[2] = {count_pieces(p), 0}, most[2];
  for (size_t i = 0; i < p->b->nchunks; i++) mine[1] |= p->b->chunks[i].kind == p->kind;
  MPI_Allreduce(mine, most, 2, MPI_UINT64_T, MPI_MAX, w->comm);
  if (!most[1]) /* nothing spilled anywhere: one write, as for any dataset */
    return append_dataset(w, w->ds[which], dataset_type(w, which), w->cur[which], before, p->mem_count, total, p->mem);
  hsize_t size[1] = {w->cur[which] + total};
  /* A rank without a piece buffer still takes part in every write, with nothing. */
  int failed = H5Dset_extent(w->ds[which], size) < 0 || (mine[1] && !p->buf);
  uint64_t at = w->cur[which] + before;
  for (uint64_t k = 0; k < most[0]; k++) {
    const void *buf = NULL;
    uint64_t n = 0;
    if (!failed && next_piece(p, &buf, &n) != 0) failed = 1, n = 0;
    failed |= write_slab(w, w->ds[which], dataset_type(w, which), at, n, buf) != 0;
    at += n;
  }
  return failed ? -1 : 0;
}

int oa_writer_append(oa_archive_writer *w, oa_batch *b, oa_err *err) {
  uint64_t local[DS_COUNT] = {b->strings_len, b->nlinks, b->data_len, b->nintervals, b->state_len, b->nheads};
  uint64_t before[DS_COUNT], total[DS_COUNT], base[DS_COUNT];
  oa_mpi_offsets(w->comm, local, before, total, DS_COUNT);
  for (int i = 0; i < DS_COUNT; i++) base[i] = w->cur[i] + before[i];
  rebase(b, base);
  const void *bufs[DS_COUNT] = {b->strings, b->links, b->data, b->intervals, b->state, b->heads};
  const int spill_kind[DS_COUNT] = {-1, -1, OA_SPILL_DATA, -1, OA_SPILL_STATE, OA_SPILL_HEADS};
  const uint64_t spilled[DS_COUNT] = {0, 0, b->data_spilled, 0, b->state_spilled, b->heads_spilled};
  uint64_t bytes = total[DS_STRINGS] + total[DS_DATA] + total[DS_STATE] + total[DS_HEADS] * sizeof(uint32_t) +
                   total[DS_LINKS] * sizeof(oa_link_row) +
                   total[DS_INTERVALS] * sizeof(oa_interval_row) + w->meta.recordings / 64 * sizeof(oa_rec_row);
  int e = reserve_space(w, bytes);
  if (e) {
    oa_batch_clear(b);
    return oa_err_set(err, OA_EIO, "cannot write %s: %s (this batch needs %.2f MB: %.2f MB of rows and packets "
                      "plus room for HDF5 metadata)", w->partial, strerror(e), (double)reserve_bytes(bytes) / 1e6,
                      (double)bytes / 1e6);
  }
  uint8_t *piece = b->nchunks ? malloc(PIECE_BYTES) : NULL;
  /* Every rank takes part in every collective call, and all agree after
   * each one: after a failed call (a full disk on one rank) HDF5's ranks
   * are out of step, and the next collective call would hang. */
  int worst = 0;
  errno = 0;
  watch_step(w, "writing to", bytes);
  for (int i = 0; i <= DS_COUNT + 1 && !worst; i++) {
    int failed;
    if (i < DS_COUNT && spill_kind[i] >= 0) {
      piece_walk p = {.b = b, .kind = spill_kind[i], .mem = bufs[i], .mem_count = local[i] - spilled[i], .buf = piece};
      failed = append_pieces(w, i, before[i], total[i], &p) != 0; /* collective: called by every rank */
      w->cur[i] += total[i];
    } else if (i < DS_COUNT) {
      failed = append_dataset(w, w->ds[i], dataset_type(w, i), w->cur[i], before[i], local[i], total[i], bufs[i]) != 0;
      w->cur[i] += total[i];
    } else if (i == DS_COUNT) {
      failed = write_recordings(w, b) != 0;
    } else {
      failed = H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0;
    }
    int e = write_fault(failed);
    MPI_Allreduce(&e, &worst, 1, MPI_INT, MPI_MAX, w->comm);
  }
  free(piece);
  int rc = OA_OK;
  if (worst) {
    w->broken = 1;
    rc = oa_err_set(err, OA_EIO, "writing to %s failed: %s", w->partial, strerror(worst));
  }
  else
    rc = commit_round(w, b, err);
  oa_watchdog_disarm(w->watchdog);
  oa_batch_clear(b);
  return rc;
}

/* Replaces an attribute of that name: a run killed while closing the file
 * may have left the attributes in a .partial that --resume then finishes. */
static int put_attr(hid_t obj, const char *name, hid_t type, const void *value) {
  htri_t exists = H5Aexists(obj, name);
  if (exists < 0 || (exists > 0 && H5Adelete(obj, name) < 0)) return -1;
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
  int32_t version = OA_FORMAT_VERSION, rate = OA_SAMPLE_RATE, complete = 1;
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
  if (m->segment_of[0]) rc |= put_string_attr(file, "segment_of", m->segment_of);
  rc |= put_attr(file, "archive_id", H5T_NATIVE_UINT64, &m->archive_id);
  rc |= put_attr(file, "complete", H5T_NATIVE_INT32, &complete);
  return rc;
}

int oa_writer_broken(const oa_archive_writer *w) { return w->broken; }

int oa_writer_finish(oa_archive_writer *w, int ok, oa_err *err) {
  if (w->broken) ok = 0;
  int meta_ok = 1;
  watch_step(w, "closing", 0);
  if (ok) ok = meta_ok = oa_mpi_agree(w->comm, write_meta(w->file, &w->meta) == 0);
  /* After a failed collective write HDF5's ranks disagree about the file's
   * metadata and closing it would block: leave it open (the process must
   * then exit without MPI_Finalize). Its committed part is still valid. */
  if (!w->broken) writer_close_handles(w);
  int rc = OA_OK;
  int renamed = 1;
  if (w->rank == 0) {
    if (ok) {
      if (oa_fault("rename")) _exit(137); /* a kill between closing and renaming */
      oa_err why;
      renamed = oa_out_sync(w->partial, &why) == OA_OK && rename(w->partial, w->path) == 0;
      if (renamed && oa_fault("renamed")) _exit(137); /* a kill before the commit record is removed */
      if (renamed) oa_commit_remove(w->commit_path);
    } else if (w->commit.rounds == 0) {
      unlink(w->partial); /* nothing committed: nothing to resume */
    }
  }
  MPI_Bcast(&renamed, 1, MPI_INT, 0, w->comm);
  oa_watchdog_disarm(w->watchdog);
  /* What is kept can be resumed: the code says so (the front end's advice). */
  const int kept = w->commit.rounds > 0;
  if (!ok) {
    rc = kept ? OA_EPARTIAL : OA_EIO;
    if (!meta_ok)
      oa_err_set(err, rc, "cannot write the attributes of %s%s", w->partial, kept ? " (kept)" : "");
    else if (kept)
      oa_err_set(err, rc, "%s kept with %llu committed recordings", w->partial,
                 (unsigned long long)oa_commit_done_count(&w->commit));
  } else if (!renamed) {
    rc = oa_err_set(err, kept ? OA_EPARTIAL : OA_EIO, "cannot flush %s to disk or rename it to %s%s", w->partial,
                    w->path, kept ? " (kept)" : "");
  }
  writer_free(w);
  return rc;
}
