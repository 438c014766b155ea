#include "namesearch.h"

#include <string.h>

#include "archive_h5.h"

/* A row's name reference only: HDF5 reads these two members out of the
 * whole compound row. */
typedef struct name_ref {
  uint64_t off;
  uint32_t len;
} name_ref;


int oa_name_reader_open(oa_name_reader *r, hid_t recs_ds, hid_t strings_ds, uint64_t nrecs, uint64_t string_bytes) {
  r->recs_ds = recs_ds, r->strings_ds = strings_ds, r->nrecs = nrecs, r->string_bytes = string_bytes;
  r->name_type = H5Tcreate(H5T_COMPOUND, sizeof(name_ref));
  if (r->name_type < 0) return -1;
  H5Tinsert(r->name_type, "name_off", HOFFSET(name_ref, off), H5T_NATIVE_UINT64);
  H5Tinsert(r->name_type, "name_len", HOFFSET(name_ref, len), H5T_NATIVE_UINT32);
  return 0;
}

void oa_name_reader_close(oa_name_reader *r) {
  if (r->name_type >= 0) H5Tclose(r->name_type);
  r->name_type = -1;
}

int oa_name_of_row(oa_name_reader *r, uint64_t row, char *buf, size_t len) {
  name_ref ref;
  if (row >= r->nrecs || oa_h5_read_1d(r->recs_ds, r->name_type, row, 1, &ref) != 0) return -1;
  if (ref.off > r->string_bytes || ref.len > r->string_bytes - ref.off || ref.len >= len) return -1;
  if (oa_h5_read_1d(r->strings_ds, H5T_NATIVE_UINT8, ref.off, ref.len, buf) != 0) return -1;
  buf[ref.len] = '\0';
  return 0;
}
