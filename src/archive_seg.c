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

static int read_rows(hid_t ds, hid_t type, uint64_t first, uint64_t n, void *buf) {
  if (n == 0) return 0;
  hid_t fspace = H5Dget_space(ds);
  hsize_t start[1] = {first}, count[1] = {n};
  H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
  hid_t mspace = H5Screate_simple(1, count, NULL);
  herr_t rc = H5Dread(ds, type, mspace, fspace, H5P_DEFAULT, buf);
  H5Sclose(mspace);
  H5Sclose(fspace);
  return rc < 0 ? -1 : 0;
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

static char *string_at(oa_seg *a, const char *blob, uint64_t off, uint32_t len) {
  if (!range_ok(off, len, a->totals.string_bytes)) return NULL;
  char *s = malloc((size_t)len + 1);
  if (!s) return NULL;
  memcpy(s, blob + off, len);
  s[len] = '\0';
  return s;
}

/* Archives before format 5 hold the start only as a UTC string. */
static void derive_start(oa_rec_row *r, const char *start) {
  int64_t us;
  int zone;
  int32_t off;
  r->start_zone = OA_ZONE_NONE;
  if (!start[0] || oa_time_parse(start, &us, &zone, &off) != 0 || !zone) return;
  r->start_us = us, r->utc_offset_s = 0, r->start_zone = OA_ZONE_KNOWN, r->start_source = OA_START_FORMAT4;
}

/* Every recording row is checked against the dataset sizes once, so the
 * extraction code can index links/packets/checkpoints through them. */
static int check_recording(oa_seg *a, uint64_t i, oa_err *err) {
  const oa_rec_row *r = &a->recs[i];
  oa_archive_totals *t = &a->totals;
  int status_ok = r->status == OA_REC_OK || r->status == OA_REC_FAILED ||
                  (r->status == OA_REC_DAMAGED && a->meta.format_version >= 6);
  if (!status_ok || r->samples < 0 || r->lost_samples < 0 || r->lost_samples > r->samples ||
      !range_ok(r->first_link, r->link_count, t->links) ||
      !range_ok(r->first_interval, r->interval_count, t->intervals) ||
      !range_ok(r->data_offset, r->data_size, t->data_bytes) || (OA_REC_READABLE(r) && r->link_count == 0) ||
      r->channels < 0 || r->channels > 255 || r->rate_mode < 0 || r->rate_mode > 3 ||
      r->start_zone < OA_ZONE_NONE || r->start_zone > OA_ZONE_LOCAL || r->start_source < OA_START_NONE ||
      r->start_source > OA_START_FORMAT4 || r->utc_offset_s < -50400 || r->utc_offset_s > 50400 ||
      r->start_us < -OA_US_PER_DAY * 800000 || r->start_us > OA_US_PER_DAY * 3000000)
    return oa_err_set(err, OA_EARCHIVE, "%s: recordings row %llu is inconsistent with the datasets", a->path,
                      (unsigned long long)i);
  t->packets += r->packet_count;
  t->payload_bytes += r->payload_bytes;
  return OA_OK;
}

static int load_recordings(oa_seg *a, oa_err *err) {
  uint64_t n = a->nrecs;
  char *blob = malloc(a->totals.string_bytes ? a->totals.string_bytes : 1);
  a->recs = calloc(n ? n : 1, sizeof *a->recs);
  a->names = calloc(n ? n : 1, sizeof *a->names);
  a->paths = calloc(n ? n : 1, sizeof *a->paths);
  a->errors = calloc(n ? n : 1, sizeof *a->errors);
  a->starts = calloc(n ? n : 1, sizeof *a->starts);
  a->tags = calloc(n ? n : 1, sizeof *a->tags);
  a->recorders = calloc(n ? n : 1, sizeof *a->recorders);
  if (!blob || !a->recs || !a->names || !a->paths || !a->errors || !a->starts || !a->tags || !a->recorders) {
    free(blob);
    return oa_err_set(err, OA_ENOMEM, "out of memory loading %llu recordings", (unsigned long long)n);
  }
  int rc = OA_OK;
  if (read_rows(a->strings_ds, H5T_NATIVE_UINT8, 0, a->totals.string_bytes, blob) != 0 ||
      read_rows(a->recs_ds, rec_type_of(a), 0, n, a->recs) != 0)
    rc = oa_err_set(err, OA_EARCHIVE, "%s: cannot read the recordings table", a->path);
  for (uint64_t i = 0; rc == OA_OK && i < n; i++) {
    const oa_rec_row *r = &a->recs[i];
    a->names[i] = string_at(a, blob, r->name_off, r->name_len);
    a->paths[i] = string_at(a, blob, r->path_off, r->path_len);
    a->errors[i] = string_at(a, blob, r->error_off, r->error_len);
    a->starts[i] = string_at(a, blob, r->start_off, r->start_len);
    a->tags[i] = string_at(a, blob, r->tags_off, r->tags_len);
    a->recorders[i] = string_at(a, blob, r->recorder_off, r->recorder_len);
    if (a->meta.format_version < 5 && a->starts[i]) derive_start(&a->recs[i], a->starts[i]);
    if (!a->names[i] || !a->paths[i] || !a->errors[i] || !a->starts[i] || !a->tags[i] || !a->recorders[i])
      rc = oa_err_set(err, OA_EARCHIVE, "%s: recordings row %llu has a string outside /strings", a->path,
                      (unsigned long long)i);
    else
      rc = check_recording(a, i, err);
  }
  free(blob);
  return rc;
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
  if (rc == OA_OK) rc = load_recordings(a, err);
  if (rc != OA_OK) {
    oa_seg_close(a);
    return rc;
  }
  *out = a;
  return OA_OK;
}

void oa_seg_close(oa_seg *a) {
  if (!a) return;
  hid_t ds[] = {a->recs_ds, a->strings_ds, a->links_ds, a->data_ds, a->heads_ds, a->intervals_ds, a->state_ds};
  for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
    if (ds[i] >= 0) H5Dclose(ds[i]);
  if (a->file > 0) H5Fclose(a->file);
  oa_h5_types_close(&a->types);
  for (uint64_t i = 0; a->names && i < a->nrecs; i++) {
    free(a->names[i]);
    free(a->paths[i]);
    free(a->errors[i]);
    free(a->starts[i]);
    free(a->tags[i]);
    free(a->recorders[i]);
  }
  free(a->starts), free(a->tags), free(a->recorders);
  free(a->names), free(a->paths), free(a->errors), free(a->recs), free(a->path);
  free(a);
}

static int read_checked(oa_seg *a, hid_t ds, hid_t type, uint64_t first, uint64_t n, uint64_t size, void *buf,
                        const char *what, oa_err *err) {
  if (!range_ok(first, n, size))
    return oa_err_set(err, OA_EARCHIVE, "%s: %s [%llu, +%llu) outside the dataset (%llu)", a->path, what,
                      (unsigned long long)first, (unsigned long long)n, (unsigned long long)size);
  if (oa_fault("read")) return oa_err_set(err, OA_EIO, "%s: reading %s failed (injected fault)", a->path, what);
  if (read_rows(ds, type, first, n, buf) != 0)
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
