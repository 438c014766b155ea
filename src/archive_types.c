#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_h5.h"
#include "opusarc/commit.h"
#include "opusarc/util.h"

#define FIELD(t, type, name, h5) H5Tinsert(t, #name, HOFFSET(type, name), h5)

/* /recordings rows of format `version`: 3 had no source identity (mtime,
 * inode), 3 and 4 no start fields, 3-5 no lost samples. */
static hid_t rec_type(int version) {
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(oa_rec_row));
  FIELD(t, oa_rec_row, name_off, H5T_NATIVE_UINT64);
  FIELD(t, oa_rec_row, path_off, H5T_NATIVE_UINT64);
  FIELD(t, oa_rec_row, error_off, H5T_NATIVE_UINT64);
  FIELD(t, oa_rec_row, name_len, H5T_NATIVE_UINT32);
  FIELD(t, oa_rec_row, path_len, H5T_NATIVE_UINT32);
  FIELD(t, oa_rec_row, error_len, H5T_NATIVE_UINT32);
  FIELD(t, oa_rec_row, status, H5T_NATIVE_INT32);
  FIELD(t, oa_rec_row, source_size, H5T_NATIVE_UINT64);
  FIELD(t, oa_rec_row, channels, H5T_NATIVE_INT32);
  FIELD(t, oa_rec_row, mapping_family, H5T_NATIVE_INT32);
  FIELD(t, oa_rec_row, pre_skip, H5T_NATIVE_INT32);
  FIELD(t, oa_rec_row, gain_q8, H5T_NATIVE_INT32);
  FIELD(t, oa_rec_row, samples, H5T_NATIVE_INT64);
  FIELD(t, oa_rec_row, first_link, H5T_NATIVE_UINT64);
  FIELD(t, oa_rec_row, link_count, H5T_NATIVE_UINT64);
  FIELD(t, oa_rec_row, first_interval, H5T_NATIVE_UINT64);
  FIELD(t, oa_rec_row, interval_count, H5T_NATIVE_UINT64);
  FIELD(t, oa_rec_row, data_offset, H5T_NATIVE_UINT64);
  FIELD(t, oa_rec_row, data_size, H5T_NATIVE_UINT64);
  FIELD(t, oa_rec_row, packet_count, H5T_NATIVE_UINT64);
  FIELD(t, oa_rec_row, payload_bytes, H5T_NATIVE_UINT64);
  FIELD(t, oa_rec_row, failed_packet, H5T_NATIVE_INT64);
  FIELD(t, oa_rec_row, source_rate, H5T_NATIVE_INT32);
  FIELD(t, oa_rec_row, source_format, H5T_NATIVE_INT32);
  FIELD(t, oa_rec_row, rate_mode, H5T_NATIVE_INT32);
  FIELD(t, oa_rec_row, source_frames, H5T_NATIVE_INT64);
  FIELD(t, oa_rec_row, start_off, H5T_NATIVE_UINT64);
  FIELD(t, oa_rec_row, tags_off, H5T_NATIVE_UINT64);
  FIELD(t, oa_rec_row, start_len, H5T_NATIVE_UINT32);
  FIELD(t, oa_rec_row, tags_len, H5T_NATIVE_UINT32);
  if (version >= 4) {
    FIELD(t, oa_rec_row, source_mtime_ns, H5T_NATIVE_INT64);
    FIELD(t, oa_rec_row, source_inode, H5T_NATIVE_UINT64);
  }
  if (version >= 5) {
    FIELD(t, oa_rec_row, start_us, H5T_NATIVE_INT64);
    FIELD(t, oa_rec_row, utc_offset_s, H5T_NATIVE_INT32);
    FIELD(t, oa_rec_row, start_zone, H5T_NATIVE_INT32);
    FIELD(t, oa_rec_row, start_source, H5T_NATIVE_INT32);
    FIELD(t, oa_rec_row, recorder_len, H5T_NATIVE_UINT32);
    FIELD(t, oa_rec_row, recorder_off, H5T_NATIVE_UINT64);
  }
  if (version >= 6) FIELD(t, oa_rec_row, lost_samples, H5T_NATIVE_INT64);
  return t;
}

double oa_rec_row_rate(const oa_rec_row *r) {
  return r->rate_mode == 3 && r->source_rate > 0 ? (double)r->source_rate : (double)OA_SAMPLE_RATE;
}

/* /links as format `version` has it: format 7 adds first_packet. */
static hid_t link_type(hid_t mapping, int version) {
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(oa_link_row));
  FIELD(t, oa_link_row, recording, H5T_NATIVE_UINT64);
  FIELD(t, oa_link_row, first_interval, H5T_NATIVE_UINT64);
  FIELD(t, oa_link_row, interval_count, H5T_NATIVE_UINT64);
  FIELD(t, oa_link_row, data_offset, H5T_NATIVE_UINT64);
  FIELD(t, oa_link_row, data_size, H5T_NATIVE_UINT64);
  FIELD(t, oa_link_row, packet_count, H5T_NATIVE_UINT64);
  FIELD(t, oa_link_row, out_start, H5T_NATIVE_INT64);
  FIELD(t, oa_link_row, out_samples, H5T_NATIVE_INT64);
  FIELD(t, oa_link_row, decoded_samples, H5T_NATIVE_INT64);
  if (version >= 7) FIELD(t, oa_link_row, first_packet, H5T_NATIVE_UINT64);
  FIELD(t, oa_link_row, channels, H5T_NATIVE_INT32);
  FIELD(t, oa_link_row, mapping_family, H5T_NATIVE_INT32);
  FIELD(t, oa_link_row, streams, H5T_NATIVE_INT32);
  FIELD(t, oa_link_row, coupled, H5T_NATIVE_INT32);
  FIELD(t, oa_link_row, pre_skip, H5T_NATIVE_INT32);
  FIELD(t, oa_link_row, gain_q8, H5T_NATIVE_INT32);
  FIELD(t, oa_link_row, mapping, mapping);
  return t;
}

int oa_h5_types_create(oa_h5_types *t) {
  hsize_t map_dim[1] = {255};
  t->mapping = H5Tarray_create2(H5T_NATIVE_UINT8, 1, map_dim);

  t->rec = rec_type(OA_FORMAT_VERSION);
  t->rec_v3 = rec_type(3);
  t->rec_v4 = rec_type(4);
  t->rec_v5 = rec_type(5);

  t->link = link_type(t->mapping, OA_FORMAT_VERSION);
  t->link_v6 = link_type(t->mapping, 6);

  t->interval = H5Tcreate(H5T_COMPOUND, sizeof(oa_interval_row));
  FIELD(t->interval, oa_interval_row, link, H5T_NATIVE_UINT64);
  FIELD(t->interval, oa_interval_row, packet, H5T_NATIVE_UINT64);
  FIELD(t->interval, oa_interval_row, link_pos, H5T_NATIVE_INT64);
  FIELD(t->interval, oa_interval_row, data_offset, H5T_NATIVE_UINT64);
  FIELD(t->interval, oa_interval_row, preroll_offset, H5T_NATIVE_UINT64);
  FIELD(t->interval, oa_interval_row, packet_count, H5T_NATIVE_UINT32);
  FIELD(t->interval, oa_interval_row, samples, H5T_NATIVE_UINT32);
  FIELD(t->interval, oa_interval_row, preroll, H5T_NATIVE_UINT32);
  FIELD(t->interval, oa_interval_row, crc32, H5T_NATIVE_UINT32);
  FIELD(t->interval, oa_interval_row, kind, H5T_NATIVE_INT32);
  FIELD(t->interval, oa_interval_row, state_size, H5T_NATIVE_UINT32);
  FIELD(t->interval, oa_interval_row, state_raw_size, H5T_NATIVE_UINT32);
  FIELD(t->interval, oa_interval_row, state_crc32, H5T_NATIVE_UINT32);
  FIELD(t->interval, oa_interval_row, state_offset, H5T_NATIVE_UINT64);

  return (t->rec < 0 || t->rec_v3 < 0 || t->rec_v4 < 0 || t->rec_v5 < 0 || t->link < 0 || t->link_v6 < 0 || t->interval < 0 || t->mapping < 0) ? -1 : 0;
}

void oa_h5_types_close(oa_h5_types *t) {
  H5Tclose(t->rec);
  H5Tclose(t->rec_v3);
  H5Tclose(t->rec_v4);
  H5Tclose(t->rec_v5);
  H5Tclose(t->link);
  H5Tclose(t->link_v6);
  H5Tclose(t->interval);
  H5Tclose(t->mapping);
}

void oa_h5_quiet(void) {
  if (!getenv("OPUSARC_HDF5_DEBUG")) H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

uint32_t oa_rec_row_check(uint64_t row, const oa_rec_row *r) {
  const uint64_t f[] = {r->name_off, r->path_off, r->error_off, r->name_len, r->path_len, r->error_len,
                        (uint64_t)r->status, r->source_size, (uint64_t)r->channels, (uint64_t)r->mapping_family,
                        (uint64_t)r->pre_skip, (uint64_t)r->gain_q8, (uint64_t)r->samples, r->first_link,
                        r->link_count, r->first_interval, r->interval_count, r->data_offset, r->data_size,
                        r->packet_count, r->payload_bytes, (uint64_t)r->failed_packet, (uint64_t)r->source_rate,
                        (uint64_t)r->source_format, (uint64_t)r->rate_mode, (uint64_t)r->source_frames,
                        r->start_off, r->tags_off, r->start_len, r->tags_len, (uint64_t)r->source_mtime_ns,
                        r->source_inode, (uint64_t)r->start_us, (uint64_t)r->utc_offset_s,
                        (uint64_t)r->start_zone, (uint64_t)r->start_source, r->recorder_len, r->recorder_off,
                        (uint64_t)r->lost_samples};
  uint8_t bytes[sizeof f];
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    for (int k = 0; k < 8; k++) bytes[8 * i + (size_t)k] = (uint8_t)(f[i] >> (8 * k));
  return oa_commit_row_check(row, bytes, sizeof bytes);
}

/* A type conversion (rows of an older format, or the two name members of
 * a row) goes through a buffer HDF5 allocates and clears per read, 1 MiB
 * by default: a few rows need far less (the ~20 reads of a name search
 * spent ~10 ms clearing pages), so it is sized to the read. */
int oa_h5_read_1d(hid_t ds, hid_t type, uint64_t first, uint64_t n, void *buf) {
  if (n == 0) return 0;
  hid_t fspace = H5Dget_space(ds);
  hsize_t start[1] = {first}, count[1] = {n};
  H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
  hid_t mspace = H5Screate_simple(1, count, NULL);
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  hid_t ftype = H5Dget_type(ds);
  size_t elem = 512; /* at least one element of either type, as HDF5 requires */
  if (H5Tget_size(type) > elem) elem = H5Tget_size(type);
  if (ftype >= 0 && H5Tget_size(ftype) > elem) elem = H5Tget_size(ftype);
  if (ftype >= 0) H5Tclose(ftype);
  size_t want = (size_t)n * elem;
  H5Pset_buffer(dxpl, want < (1u << 20) ? want : (1u << 20), NULL, NULL);
  herr_t rc = H5Dread(ds, type, mspace, fspace, dxpl, buf);
  H5Pclose(dxpl);
  H5Sclose(mspace);
  H5Sclose(fspace);
  return rc < 0 ? -1 : 0;
}

int oa_meta_rules_differ(const oa_archive_meta *a, const oa_archive_meta *b, oa_rule_diff *d) {
  if (a->checkpoint_every != b->checkpoint_every) {
    snprintf(d->what, sizeof d->what, "checkpoint spacing");
    snprintf(d->a, sizeof d->a, "%g s", a->checkpoint_every);
    snprintf(d->b, sizeof d->b, "%g s", b->checkpoint_every);
  } else if (strcmp(a->checkpoints, b->checkpoints) != 0) {
    snprintf(d->what, sizeof d->what, "checkpoint kind");
    snprintf(d->a, sizeof d->a, "%s", a->checkpoints);
    snprintf(d->b, sizeof d->b, "%s", b->checkpoints);
  } else if (a->max_preroll != b->max_preroll) {
    snprintf(d->what, sizeof d->what, "pre-roll limit");
    snprintf(d->a, sizeof d->a, "%d packets", (int)a->max_preroll);
    snprintf(d->b, sizeof d->b, "%d packets", (int)b->max_preroll);
  } else if (a->build.code_hash != b->build.code_hash || strcmp(a->build.version, b->build.version) != 0) {
    snprintf(d->what, sizeof d->what, "libopus build (checkpoints are only valid for the build that made them)");
    snprintf(d->a, sizeof d->a, "%.48s, fingerprint %016llx", a->build.version, (unsigned long long)a->build.code_hash);
    snprintf(d->b, sizeof d->b, "%.48s, fingerprint %016llx", b->build.version, (unsigned long long)b->build.code_hash);
  } else {
    return 0;
  }
  return 1;
}
