/* h5tamper: edits an archive in place, to test how opusarc reacts to
 * archives from another libopus build or to damaged contents.
 *   h5tamper ARCHIVE.h5 ATTRIBUTE INTEGER        overwrite a numeric root attribute
 *   h5tamper ARCHIVE.h5 --xor DATASET OFFSET MASK xor one byte of a uint8 dataset
 *   h5tamper ARCHIVE.h5 --crc ROW MASK             xor the crc32 of /intervals row ROW
 *   h5tamper ARCHIVE.h5 --copy-state DST SRC       give /intervals row DST the snapshot of row SRC
 *     (a forged snapshot: valid, with a matching CRC, but the wrong state) */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_attribute(const char *path, const char *name, long long v) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) return 1;
  hid_t a = H5Aopen(f, name, H5P_DEFAULT);
  herr_t rc = a >= 0 ? H5Awrite(a, H5T_NATIVE_LLONG, &v) : -1;
  if (a >= 0) H5Aclose(a);
  H5Fclose(f);
  return rc < 0;
}

static int xor_byte(const char *path, const char *dataset, unsigned long long offset, unsigned mask) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) return 1;
  hid_t d = H5Dopen2(f, dataset, H5P_DEFAULT);
  if (d < 0) return 1;
  hid_t fs = H5Dget_space(d);
  hsize_t start[1] = {offset}, count[1] = {1};
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  hid_t ms = H5Screate_simple(1, count, NULL);
  unsigned char b;
  herr_t rc = H5Dread(d, H5T_NATIVE_UCHAR, ms, fs, H5P_DEFAULT, &b);
  b ^= (unsigned char)mask;
  if (rc >= 0) rc = H5Dwrite(d, H5T_NATIVE_UCHAR, ms, fs, H5P_DEFAULT, &b);
  H5Sclose(ms), H5Sclose(fs), H5Dclose(d), H5Fclose(f);
  return rc < 0;
}

static int xor_crc(const char *path, unsigned long long row, unsigned mask) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) return 1;
  hid_t d = H5Dopen2(f, "intervals", H5P_DEFAULT);
  if (d < 0) return 1;
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(unsigned));
  H5Tinsert(t, "crc32", 0, H5T_NATIVE_UINT);
  hid_t fs = H5Dget_space(d);
  hsize_t start[1] = {row}, count[1] = {1};
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  hid_t ms = H5Screate_simple(1, count, NULL);
  unsigned v;
  herr_t rc = H5Dread(d, t, ms, fs, H5P_DEFAULT, &v);
  v ^= mask;
  if (rc >= 0) rc = H5Dwrite(d, t, ms, fs, H5P_DEFAULT, &v);
  H5Tclose(t), H5Sclose(ms), H5Sclose(fs), H5Dclose(d), H5Fclose(f);
  return rc < 0;
}

/* The snapshot fields of an /intervals row, read by name. */
typedef struct state_ref {
  unsigned long long offset;
  unsigned size, raw_size, crc32;
} state_ref;

static int copy_state(const char *path, unsigned long long dst, unsigned long long src) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) return 1;
  hid_t d = H5Dopen2(f, "intervals", H5P_DEFAULT);
  if (d < 0) return 1;
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(state_ref));
  H5Tinsert(t, "state_offset", HOFFSET(state_ref, offset), H5T_NATIVE_ULLONG);
  H5Tinsert(t, "state_size", HOFFSET(state_ref, size), H5T_NATIVE_UINT);
  H5Tinsert(t, "state_raw_size", HOFFSET(state_ref, raw_size), H5T_NATIVE_UINT);
  H5Tinsert(t, "state_crc32", HOFFSET(state_ref, crc32), H5T_NATIVE_UINT);
  hid_t fs = H5Dget_space(d);
  hsize_t count[1] = {1};
  hid_t ms = H5Screate_simple(1, count, NULL);
  state_ref v;
  hsize_t start[1] = {src};
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  herr_t rc = H5Dread(d, t, ms, fs, H5P_DEFAULT, &v);
  start[0] = dst;
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  if (rc >= 0) rc = H5Dwrite(d, t, ms, fs, H5P_DEFAULT, &v);
  H5Tclose(t), H5Sclose(ms), H5Sclose(fs), H5Dclose(d), H5Fclose(f);
  return rc < 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[2], "--copy-state") == 0)
    return copy_state(argv[1], strtoull(argv[3], NULL, 0), strtoull(argv[4], NULL, 0));
  if (argc == 5 && strcmp(argv[2], "--crc") == 0)
    return xor_crc(argv[1], strtoull(argv[3], NULL, 0), (unsigned)strtoul(argv[4], NULL, 0));
  if (argc == 6 && strcmp(argv[2], "--xor") == 0)
    return xor_byte(argv[1], argv[3], strtoull(argv[4], NULL, 0), (unsigned)strtoul(argv[5], NULL, 0));
  if (argc == 4) return set_attribute(argv[1], argv[2], strtoll(argv[3], NULL, 0));
  fprintf(stderr, "usage: h5tamper ARCHIVE.h5 ATTRIBUTE INTEGER | --xor DATASET OFFSET MASK | --crc ROW MASK |\n"
                  "                --copy-state DST SRC\n");
  return 2;
}
