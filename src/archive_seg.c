#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_seg.h"
#include "opusarc/clock.h"
#include "opusarc/mpiutil.h"

static int get_attr(hid_t file, const char *name, hid_t type, void *value) {
  if (H5Aexists(file, name) <= 0) return -1;
  hid_t a = H5Aopen(file, name, H5P_DEFAULT);
  if (a < 0) return -1;
  herr_t rc = H5Aread(a, type, value);
  H5Aclose(a);
  return rc < 0 ? -1 : 0;
}

static int get_string_attr(hid_t file, const char *name, char *buf, size_t len) {
  if (H5Aexists(file, name) <= 0) return -1;
  hid_t a = H5Aopen(file, name, H5P_DEFAULT);
  if (a < 0) return -1;
  hid_t ftype = H5Aget_type(a);
  size_t need = H5Tget_size(ftype);
  int rc = -1;
  if (H5Tget_class(ftype) == H5T_STRING && !H5Tis_variable_str(ftype) && need < len) {
    hid_t mtype = H5Tcopy(H5T_C_S1);
    H5Tset_size(mtype, need);
    memset(buf, 0, len);
    rc = H5Aread(a, mtype, buf) < 0 ? -1 : 0;
    H5Tclose(mtype);
  }
  H5Tclose(ftype);
  H5Aclose(a);
  return rc;
}

static int read_meta(oa_seg *a, oa_err *err) {
  char format[32];
  if (get_string_attr(a->file, "format", format, sizeof format) != 0 || strcmp(format, OA_FORMAT_NAME) != 0)
    return oa_err_set(err, OA_EARCHIVE, "%s: not an opusarc archive (no format=\"opusarc\" attribute)", a->path);
  oa_archive_meta *m = &a->meta;
  if (get_attr(a->file, "format_version", H5T_NATIVE_INT32, &m->format_version) != 0)
    return oa_err_set(err, OA_EARCHIVE, "%s: format_version attribute missing", a->path);
  if (m->format_version < OA_FORMAT_VERSION_OLDEST || m->format_version > OA_FORMAT_VERSION)
    return oa_err_set(err, OA_EARCHIVE, "%s: archive format version %d is not supported (this opusarc reads %d to %d)",
                      a->path, m->format_version, OA_FORMAT_VERSION_OLDEST, OA_FORMAT_VERSION);
  int32_t complete = 0;
  int bad = 0;
  bad |= get_attr(a->file, "complete", H5T_NATIVE_INT32, &complete);
  bad |= get_string_attr(a->file, "libopus_version", m->build.version, sizeof m->build.version);
  bad |= get_attr(a->file, "libopus_decoder_size_mono", H5T_NATIVE_INT32, &m->build.dec_size_mono);
  bad |= get_attr(a->file, "libopus_decoder_size_stereo", H5T_NATIVE_INT32, &m->build.dec_size_stereo);
  bad |= get_attr(a->file, "libopus_code_hash", H5T_NATIVE_UINT64, &m->build.code_hash);
  bad |= get_attr(a->file, "libopus_layout_known", H5T_NATIVE_INT32, &m->build.layout_known);
  bad |= get_attr(a->file, "libopus_arch", H5T_NATIVE_INT32, &m->build.arch);
  bad |= get_string_attr(a->file, "cpu_features", m->build.cpu_features, sizeof m->build.cpu_features);
  bad |= get_attr(a->file, "checkpoint_every_seconds", H5T_NATIVE_DOUBLE, &m->checkpoint_every);
  bad |= get_string_attr(a->file, "checkpoints", m->checkpoints, sizeof m->checkpoints);
  bad |= get_attr(a->file, "max_preroll_packets", H5T_NATIVE_INT32, &m->max_preroll);
  bad |= get_attr(a->file, "recording_count", H5T_NATIVE_UINT64, &m->recordings);
  bad |= get_string_attr(a->file, "created", m->created, sizeof m->created);
  bad |= get_string_attr(a->file, "tool_version", m->tool_version, sizeof m->tool_version);
  /* Optional: a segment names the archive it was appended to (docs/FORMAT.md, "Appends"). */
  if (H5Aexists(a->file, "archive_id") > 0) bad |= get_attr(a->file, "archive_id", H5T_NATIVE_UINT64, &m->archive_id);
  if (H5Aexists(a->file, "segment_of") > 0)
    bad |= get_string_attr(a->file, "segment_of", m->segment_of, sizeof m->segment_of);
  if (bad || complete != 1)
    return oa_err_set(err, OA_EARCHIVE, "%s: archive metadata incomplete or damaged", a->path);
  return OA_OK;
}

static int open_1d(oa_seg *a, const char *name, hid_t expect_type, hid_t *ds, uint64_t *len, oa_err *err) {
  *ds = H5Dopen2(a->file, name, H5P_DEFAULT);
  if (*ds < 0) return oa_err_set(err, OA_EARCHIVE, "%s: dataset /%s missing", a->path, name);
  hid_t space = H5Dget_space(*ds);
  hsize_t dims[1] = {0};
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank == 1) H5Sget_simple_extent_dims(space, dims, NULL);
  H5Sclose(space);
  hid_t ftype = H5Dget_type(*ds);
  /* The file's compound must convert to ours: same class and all our fields. */
  int compatible = H5Tget_class(ftype) == H5Tget_class(expect_type);
  if (compatible && H5Tget_class(ftype) == H5T_COMPOUND) {
    int n = H5Tget_nmembers(expect_type);
    for (int i = 0; i < n && compatible; i++) {
      char *field = H5Tget_member_name(expect_type, (unsigned)i);
      compatible = H5Tget_member_index(ftype, field) >= 0;
      H5free_memory(field);
    }
  }
  H5Tclose(ftype);
  if (rank != 1 || !compatible)
    return oa_err_set(err, OA_EARCHIVE, "%s: dataset /%s has an unexpected shape or type", a->path, name);
  *len = dims[0];
  return OA_OK;
}


static hid_t rec_type_of(const oa_seg *a) {
  switch (a->meta.format_version) {
  case 3: return a->types.rec_v3;
  case 4: return a->types.rec_v4;
  case 5: return a->types.rec_v5;
  default: return a->types.rec;
  }
}

static hid_t link_type_of(const oa_seg *a) { return a->meta.format_version >= 7 ? a->types.link : a->types.link_v6; }

static int range_ok(uint64_t first, uint64_t n, uint64_t size) { return first <= size && n <= size - first; }

/* Archives before format 5 hold the start only as a UTC string. */
static void derive_start(oa_rec_row *r, const char *start) {
  int64_t us;
  int zone;
  int32_t off;
  r->start_zone = OA_ZONE_NONE;
  if (!start[0] || oa_time_parse(start, &us, &zone, &off) != 0 || !zone) return;
  r->start_us = us, r->utc_offset_s = 0, r->start_zone = OA_ZONE_KNOWN, r->start_source = OA_START_FORMAT4;
}

/* A row is checked against the dataset sizes as its block is loaded, so
 * the extraction code can index links/packets/checkpoints through it. */
static int row_consistent(const oa_seg *a, const oa_rec_row *r) {
  const oa_archive_totals *t = &a->totals;
  int status_ok = r->status == OA_REC_OK || r->status == OA_REC_FAILED ||
                  (r->status == OA_REC_DAMAGED && a->meta.format_version >= 6);
  return status_ok && r->samples >= 0 && r->lost_samples >= 0 && r->lost_samples <= r->samples &&
         range_ok(r->first_link, r->link_count, t->links) &&
         range_ok(r->first_interval, r->interval_count, t->intervals) &&
         range_ok(r->data_offset, r->data_size, t->data_bytes) && !(OA_REC_READABLE(r) && r->link_count == 0) &&
         r->channels >= 0 && r->channels <= 255 && r->rate_mode >= 0 && r->rate_mode <= 3 &&
         r->start_zone >= OA_ZONE_NONE && r->start_zone <= OA_ZONE_LOCAL && r->start_source >= OA_START_NONE &&
         r->start_source <= OA_START_FORMAT4 && r->utc_offset_s >= -50400 && r->utc_offset_s <= 50400 &&
         r->start_us >= -OA_US_PER_DAY * 800000 && r->start_us <= OA_US_PER_DAY * 3000000;
}

/* Where a row's strings lie in /strings. */
static void string_refs(const oa_rec_row *r, uint64_t off[OA_STR_COUNT], uint32_t len[OA_STR_COUNT]) {
  off[OA_STR_NAME] = r->name_off, len[OA_STR_NAME] = r->name_len;
  off[OA_STR_PATH] = r->path_off, len[OA_STR_PATH] = r->path_len;
  off[OA_STR_ERROR] = r->error_off, len[OA_STR_ERROR] = r->error_len;
  off[OA_STR_START] = r->start_off, len[OA_STR_START] = r->start_len;
  off[OA_STR_TAGS] = r->tags_off, len[OA_STR_TAGS] = r->tags_len;
  off[OA_STR_RECORDER] = r->recorder_off, len[OA_STR_RECORDER] = r->recorder_len;
}

/* One string of a block: where it lies in /strings and where it goes. */
typedef struct str_ref {
  uint64_t off;
  uint32_t len;
  uint32_t slot; /* row * OA_STR_COUNT + field */
} str_ref;

static int by_offset(const void *x, const void *y) {
  const str_ref *a = x, *b = y;
  return a->off < b->off ? -1 : a->off > b->off;
}

/* Strings closer than this are read in one run (the writer stores a row's
 * strings together and rows in order, so a block is usually one run). */
#define RUN_GAP (64u << 10)
#define RUN_MAX (8u << 20)

/* The strings of a block's good rows, read from /strings in runs of nearby
 * bytes and copied out NUL-terminated. A string outside /strings makes its
 * row bad (bad[k] set) before anything is read. 0, or -1 when out of
 * memory (an unreadable run makes its rows bad). */
static int block_text(oa_seg *a, const oa_rec_row *rows, size_t n, uint8_t *bad, oa_seg_block *blk) {
  str_ref *refs = malloc(n * OA_STR_COUNT * sizeof *refs);
  size_t nrefs = 0;
  uint64_t total = 0;
  if (!refs) return -1;
  for (size_t k = 0; k < n; k++) {
    uint64_t off[OA_STR_COUNT];
    uint32_t len[OA_STR_COUNT];
    string_refs(&rows[k], off, len);
    for (int f = 0; f < OA_STR_COUNT && !bad[k]; f++) bad[k] = !range_ok(off[f], len[f], a->totals.string_bytes);
    for (int f = 0; f < OA_STR_COUNT && !bad[k]; f++) {
      refs[nrefs++] = (str_ref){off[f], len[f], (uint32_t)(k * OA_STR_COUNT + (size_t)f)};
      total += (uint64_t)len[f] + 1;
    }
  }
  qsort(refs, nrefs, sizeof *refs, by_offset);
  /* No run is longer than the block's strings span (usually its text). */
  uint64_t span = 0;
  for (size_t r = 0; r < nrefs; r++)
    if (refs[r].off + refs[r].len - refs[0].off > span) span = refs[r].off + refs[r].len - refs[0].off;
  blk->text = malloc(total ? total : 1);
  blk->str = calloc(n * OA_STR_COUNT, sizeof *blk->str);
  uint8_t *run = malloc(span < RUN_MAX ? (span ? span : 1) : RUN_MAX);
  int rc = blk->text && blk->str && run ? 0 : -1;
  char *at = blk->text;
  for (size_t r = 0; rc == 0 && r < nrefs;) {
    /* refs[r, e) lie in [lo, hi): one read (a longer string: a read of its own). */
    uint64_t lo = refs[r].off, hi = lo + refs[r].len;
    size_t e = r + 1;
    while (e < nrefs && refs[e].off <= hi + RUN_GAP && (refs[e].off + refs[e].len > hi ? refs[e].off + refs[e].len : hi) - lo <= RUN_MAX) {
      if (refs[e].off + refs[e].len > hi) hi = refs[e].off + refs[e].len;
      e++;
    }
    uint8_t *buf = hi - lo <= RUN_MAX ? run : malloc(hi - lo);
    int got = buf && oa_h5_read_1d(a->strings_ds, H5T_NATIVE_UINT8, lo, hi - lo, buf) == 0;
    if (!buf) rc = -1;
    for (size_t q = r; rc == 0 && q < e; q++) {
      size_t k = refs[q].slot / OA_STR_COUNT;
      if (!got) {
        bad[k] = 1;
        continue;
      }
      memcpy(at, buf + (refs[q].off - lo), refs[q].len);
      at[refs[q].len] = '\0';
      blk->str[refs[q].slot] = at;
      at += (size_t)refs[q].len + 1;
    }
    if (buf != run) free(buf);
    r = e;
  }
  free(run);
  free(refs);
  return rc;
}

/* A row that cannot be used: failed, holding nothing, saying why. */
static void make_bad(oa_rec_row *r, const char **str, const char *why) {
  memset(r, 0, sizeof *r);
  r->status = OA_REC_FAILED;
  for (int f = 0; f < OA_STR_COUNT; f++) str[f] = "";
  str[OA_STR_NAME] = "(unreadable recordings row)";
  str[OA_STR_ERROR] = why;
}

static void block_free(oa_seg_block *blk) {
  free(blk->rows), free(blk->str), free(blk->text);
  memset(blk, 0, sizeof *blk);
}

/* Reads, checks and rebases block b. 0, or -1 when out of memory (blk
 * then holds nothing). A block whose rows cannot be read is all bad rows. */
static int block_load(oa_seg *a, size_t b, oa_seg_block *blk) {
  static const char *const unreadable = "this recordings row cannot be read from the archive (damaged file?)";
  static const char *const inconsistent = "this recordings row is inconsistent with the archive's datasets";
  uint64_t first = (uint64_t)b * OA_SEG_BLOCK;
  size_t n = (size_t)(a->nrecs - first < OA_SEG_BLOCK ? a->nrecs - first : OA_SEG_BLOCK);
  memset(blk, 0, sizeof *blk);
  blk->rows = calloc(n, sizeof *blk->rows); /* fields an older format lacks read as 0 */
  uint8_t *bad = calloc(n, 1);
  if (!blk->rows || !bad) return free(bad), block_free(blk), -1;
  int readable = oa_h5_read_1d(a->recs_ds, rec_type_of(a), first, n, blk->rows) == 0;
  for (size_t k = 0; k < n; k++) bad[k] = !readable || !row_consistent(a, &blk->rows[k]);
  if (block_text(a, blk->rows, n, bad, blk) != 0) return free(bad), block_free(blk), -1;
  for (size_t k = 0; k < n; k++) {
    oa_rec_row *r = &blk->rows[k];
    const char **str = &blk->str[k * OA_STR_COUNT];
    if (bad[k]) {
      make_bad(r, str, readable ? inconsistent : unreadable);
      continue;
    }
    if (a->meta.format_version < 5) derive_start(r, str[OA_STR_START]);
    r->first_link += a->base_links, r->first_interval += a->base_intervals, r->data_offset += a->base_data;
  }
  free(bad);
  return 0;
}

static oa_seg_block *block_of(oa_seg *a, uint64_t i) {
  oa_seg_block *blk = &a->blocks[i / OA_SEG_BLOCK];
  if (!blk->rows) {
    if (block_load(a, (size_t)(i / OA_SEG_BLOCK), blk) != 0) return NULL;
    a->blocks_loaded++;
  }
  return blk;
}

const oa_rec_row *oa_seg_recording(oa_seg *a, uint64_t i) {
  oa_seg_block *blk = block_of(a, i);
  return blk ? &blk->rows[i % OA_SEG_BLOCK] : &a->bad_row;
}

const char *oa_seg_string(oa_seg *a, uint64_t i, int field) {
  oa_seg_block *blk = block_of(a, i);
  if (!blk) return field == OA_STR_ERROR ? "out of memory reading this recordings row" : "";
  return blk->str[(i % OA_SEG_BLOCK) * OA_STR_COUNT + (size_t)field];
}

/* A process that has looked up more names than this (a query table) has
 * the blocks a search touches loaded and kept: lookups then run in memory,
 * and the table touches those rows anyway. Fewer lookups read names alone. */
#define FEW_LOOKUPS 16

/* Row i's name for a search: from its block when that is loaded (or, past
 * FEW_LOOKUPS, loaded now), else read alone into buf. NULL when it cannot
 * be read. */
static const char *probe_name(oa_seg *a, uint64_t i, char *buf, size_t len) {
  const oa_seg_block *blk = a->lookups > FEW_LOOKUPS ? block_of(a, i) : &a->blocks[i / OA_SEG_BLOCK];
  if (blk && blk->rows) return blk->str[(i % OA_SEG_BLOCK) * OA_STR_COUNT + OA_STR_NAME];
  return oa_name_of_row(&a->names, i, buf, len) == 0 ? buf : NULL;
}

int oa_seg_find(oa_seg *a, const char *name, uint64_t *row) {
  if (!a->can_search) return -1;
  a->lookups++;
  char buf[4096];
  uint64_t lo = 0, hi = a->nrecs;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    const char *cand = probe_name(a, mid, buf, sizeof buf);
    if (!cand) return -1;
    if (strcmp(cand, name) < 0) lo = mid + 1;
    else hi = mid;
  }
  const char *at = lo < a->nrecs ? probe_name(a, lo, buf, sizeof buf) : "";
  if (!at) return -1;
  if (strcmp(at, name) != 0) return a->order_known && a->in_order ? 0 : -1; /* a miss is final once the order is seen */
  uint64_t first = lo;
  /* Duplicates are adjacent: prefer one that was indexed. The name is
   * checked again through the row's block, as every row is. */
  *row = first;
  for (uint64_t p = first; p < a->nrecs && strcmp(oa_seg_string(a, p, OA_STR_NAME), name) == 0; p++)
    if (OA_REC_READABLE(oa_seg_recording(a, p))) {
      *row = p;
      break;
    }
  return strcmp(oa_seg_string(a, *row, OA_STR_NAME), name) == 0;
}

/* A whole pass also learns whether the rows are in name order (the last
 * name of each block is kept to compare with the next block's first). */
/* Rows [from, to) a block at a time; a pass over every row also learns
 * whether they are in name order (`whole`). */
static int scan_rows(oa_seg *a, uint64_t from, uint64_t to, int whole, oa_seg_row_fn fn, void *ctx) {
  size_t nblocks = (size_t)((to + OA_SEG_BLOCK - 1) / OA_SEG_BLOCK);
  char *last = NULL;
  int in_order = 1, stop = 0;
  for (size_t b = (size_t)(from / OA_SEG_BLOCK); b < nblocks && !stop; b++) {
    oa_seg_block tmp, *blk = &a->blocks[b];
    int cached = blk->rows != NULL;
    if (!cached) {
      if (block_load(a, b, &tmp) != 0) {
        free(last);
        return -1;
      }
      blk = &tmp;
    }
    uint64_t first = (uint64_t)b * OA_SEG_BLOCK, n = a->nrecs - first < OA_SEG_BLOCK ? a->nrecs - first : OA_SEG_BLOCK;
    for (uint64_t k = first < from ? from - first : 0; k < n && first + k < to && !stop; k++) {
      const char *name = blk->str[k * OA_STR_COUNT + OA_STR_NAME];
      const char *prev = k ? blk->str[(k - 1) * OA_STR_COUNT + OA_STR_NAME] : last;
      if (prev && strcmp(prev, name) > 0) in_order = 0;
      stop = fn(ctx, first + k, &blk->rows[k], (const char *const *)&blk->str[k * OA_STR_COUNT]);
    }
    free(last);
    last = n ? strdup(blk->str[(n - 1) * OA_STR_COUNT + OA_STR_NAME]) : NULL;
    if (n && !last) in_order = 0; /* out of memory: order unknown, read as out of order */
    if (!cached) block_free(&tmp);
  }
  free(last);
  if (!stop && whole) a->order_known = 1, a->in_order = in_order;
  return stop;
}

int oa_seg_scan(oa_seg *a, oa_seg_row_fn fn, void *ctx) { return scan_rows(a, 0, a->nrecs, 1, fn, ctx); }

int oa_seg_scan_range(oa_seg *a, uint64_t from, uint64_t to, oa_seg_row_fn fn, void *ctx) {
  if (to > a->nrecs) to = a->nrecs;
  return from < to ? scan_rows(a, from, to, 0, fn, ctx) : 0;
}

int oa_seg_open(const char *path, oa_seg **out, oa_err *err) {
  *out = NULL;
  oa_h5_quiet();
  oa_seg *a = calloc(1, sizeof *a);
  if (!a || !(a->path = strdup(path))) {
    free(a);
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  a->recs_ds = a->strings_ds = a->links_ds = a->data_ds = a->heads_ds = a->intervals_ds = a->state_ds = -1;
  oa_h5_types_create(&a->types);
  int rc = OA_OK;
  if (H5Fis_hdf5(path) <= 0) {
    FILE *f = fopen(path, "rb");
    if (!f) rc = oa_err_set(err, OA_EARCHIVE, "%s: cannot open archive: %m", path);
    else {
      fclose(f);
      rc = oa_err_set(err, OA_EARCHIVE, "%s: not an HDF5 file (or damaged)", path);
    }
  } else {
    /* Many readers on parallel file systems: take the shared lock where the
     * file system supports locks, carry on where it does not (Lustre
     * mounted without flock). */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_file_locking(fapl, 1, 1);
    a->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (a->file < 0) rc = oa_err_set(err, OA_EARCHIVE, "%s: HDF5 cannot open the file", path);
  }
  if (rc == OA_OK && oa_fault("open")) rc = oa_err_set(err, OA_EIO, "%s: cannot open archive (injected fault)", path);
  if (rc == OA_OK) rc = read_meta(a, err);
  oa_archive_totals *t = &a->totals;
  if (rc == OA_OK) rc = open_1d(a, OA_DS_RECORDINGS, rec_type_of(a), &a->recs_ds, &a->nrecs, err);
  if (rc == OA_OK) rc = open_1d(a, OA_DS_STRINGS, H5T_NATIVE_UINT8, &a->strings_ds, &t->string_bytes, err);
  if (rc == OA_OK) rc = open_1d(a, OA_DS_LINKS, link_type_of(a), &a->links_ds, &t->links, err);
  if (rc == OA_OK) rc = open_1d(a, OA_DS_PACKET_DATA, H5T_NATIVE_UINT8, &a->data_ds, &t->data_bytes, err);
  if (rc == OA_OK && a->meta.format_version >= 7)
    rc = open_1d(a, OA_DS_PACKET_HEADS, H5T_NATIVE_UINT32, &a->heads_ds, &t->heads, err);
  if (rc == OA_OK) rc = open_1d(a, OA_DS_INTERVALS, a->types.interval, &a->intervals_ds, &t->intervals, err);
  if (rc == OA_OK) rc = open_1d(a, OA_DS_CP_STATE, H5T_NATIVE_UINT8, &a->state_ds, &t->state_bytes, err);
  if (rc == OA_OK) {
    t->stored_data = H5Dget_storage_size(a->data_ds) + (a->heads_ds >= 0 ? H5Dget_storage_size(a->heads_ds) : 0);
    t->stored_index = H5Dget_storage_size(a->intervals_ds) + H5Dget_storage_size(a->links_ds) +
                      H5Dget_storage_size(a->recs_ds) + H5Dget_storage_size(a->strings_ds);
    t->stored_checkpoints = H5Dget_storage_size(a->state_ds);
  }
  if (rc == OA_OK && a->nrecs != a->meta.recordings)
    rc = oa_err_set(err, OA_EARCHIVE, "%s: recording_count attribute (%llu) disagrees with /recordings (%llu)",
                    path, (unsigned long long)a->meta.recordings, (unsigned long long)a->nrecs);
  if (rc == OA_OK && !(a->blocks = calloc((size_t)((a->nrecs + OA_SEG_BLOCK - 1) / OA_SEG_BLOCK) + 1, sizeof *a->blocks)))
    rc = oa_err_set(err, OA_ENOMEM, "out of memory opening %s", path);
  a->bad_row.status = OA_REC_FAILED;
  if (rc == OA_OK)
    a->can_search = oa_name_reader_open(&a->names, a->recs_ds, a->strings_ds, a->nrecs, a->totals.string_bytes) == 0;
  if (rc != OA_OK) {
    oa_seg_close(a);
    return rc;
  }
  *out = a;
  return OA_OK;
}

void oa_seg_close(oa_seg *a) {
  if (!a) return;
  if (a->can_search) oa_name_reader_close(&a->names);
  hid_t ds[] = {a->recs_ds, a->strings_ds, a->links_ds, a->data_ds, a->heads_ds, a->intervals_ds, a->state_ds};
  for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
    if (ds[i] >= 0) H5Dclose(ds[i]);
  if (a->file > 0) H5Fclose(a->file);
  oa_h5_types_close(&a->types);
  size_t nblocks = a->blocks ? (size_t)((a->nrecs + OA_SEG_BLOCK - 1) / OA_SEG_BLOCK) : 0;
  for (size_t b = 0; b < nblocks; b++) block_free(&a->blocks[b]);
  free(a->blocks), free(a->path);
  free(a);
}

static int read_checked(oa_seg *a, hid_t ds, hid_t type, uint64_t first, uint64_t n, uint64_t size, void *buf,
                        const char *what, oa_err *err) {
  if (!range_ok(first, n, size))
    return oa_err_set(err, OA_EARCHIVE, "%s: %s [%llu, +%llu) outside the dataset (%llu)", a->path, what,
                      (unsigned long long)first, (unsigned long long)n, (unsigned long long)size);
  if (oa_fault("read")) return oa_err_set(err, OA_EIO, "%s: reading %s failed (injected fault)", a->path, what);
  if (oa_h5_read_1d(ds, type, first, n, buf) != 0)
    return oa_err_set(err, OA_EARCHIVE, "%s: reading %s failed", a->path, what);
  return OA_OK;
}

int oa_seg_read_links(oa_seg *a, uint64_t first, uint64_t n, oa_link_row *rows, oa_err *err) {
  int rc = read_checked(a, a->links_ds, link_type_of(a), first, n, a->totals.links, rows, "links", err);
  for (uint64_t i = 0; rc == OA_OK && i < n; i++) {
    oa_link_row *l = &rows[i];
    if (a->heads_ds < 0) l->first_packet = OA_NO_HEADS;
    int heads_ok = a->heads_ds < 0 || range_ok(l->first_packet, l->packet_count, a->totals.heads);
    if (!heads_ok || !range_ok(l->data_offset, l->data_size, a->totals.data_bytes) ||
        !range_ok(l->first_interval, l->interval_count, a->totals.intervals) || l->channels < 1 ||
        l->channels > 255 || l->streams < 1 || l->coupled < 0 || l->coupled > l->streams ||
        l->streams + l->coupled > 255 || l->pre_skip < 0 || l->out_samples < 0 || l->out_start < 0 ||
        l->decoded_samples < 0 || l->gain_q8 < -32768 || l->gain_q8 > 32767)
      rc = oa_err_set(err, OA_EARCHIVE, "%s: link row %llu is invalid", a->path, (unsigned long long)(first + i));
  }
  return rc;
}

int oa_seg_read_intervals(oa_seg *a, uint64_t first, uint64_t n, oa_interval_row *rows, oa_err *err) {
  int rc = read_checked(a, a->intervals_ds, a->types.interval, first, n, a->totals.intervals, rows, "intervals", err);
  for (uint64_t i = 0; rc == OA_OK && i < n; i++) {
    const oa_interval_row *v = &rows[i];
    int state_ok = !OA_CP_HAS_STATE(v->kind) || range_ok(v->state_offset, v->state_size, a->totals.state_bytes);
    int max_kind = a->meta.format_version >= 7 ? OA_CP_PATCH : OA_CP_SNAPSHOT;
    if (!state_ok || v->data_offset >= a->totals.data_bytes || v->preroll_offset > v->data_offset ||
        v->link >= a->totals.links || v->link_pos < 0 || v->kind < OA_CP_START || v->kind > max_kind ||
        v->packet_count == 0 || v->preroll > v->packet)
      rc = oa_err_set(err, OA_EARCHIVE, "%s: interval row %llu is invalid", a->path, (unsigned long long)(first + i));
  }
  return rc;
}

int oa_seg_read_data(oa_seg *a, uint64_t offset, uint64_t n, uint8_t *buf, oa_err *err) {
  return read_checked(a, a->data_ds, H5T_NATIVE_UINT8, offset, n, a->totals.data_bytes, buf, "packet data", err);
}

int oa_seg_read_heads(oa_seg *a, uint64_t first, uint64_t n, uint32_t *heads, oa_err *err) {
  if (a->heads_ds < 0) return oa_err_set(err, OA_EARCHIVE, "%s: format %d has no /%s", a->path, a->meta.format_version,
                                         OA_DS_PACKET_HEADS);
  return read_checked(a, a->heads_ds, H5T_NATIVE_UINT32, first, n, a->totals.heads, heads, "packet heads", err);
}

int oa_seg_read_state(oa_seg *a, uint64_t offset, uint64_t n, uint8_t *buf, oa_err *err) {
  return read_checked(a, a->state_ds, H5T_NATIVE_UINT8, offset, n, a->totals.state_bytes, buf, "checkpoint state", err);
}
