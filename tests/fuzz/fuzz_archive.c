/* libFuzzer target: the archive reader and extractor on hostile archives.
 * FUZZ_ARCHIVE names a valid archive; each input is a list of 8-byte edits
 * (table, row, byte within the row, value, xor or set) applied to its
 * datasets — rows of /recordings, /links and /intervals, bytes of
 * /packets/data, /packets/heads, /checkpoints/state and /strings — written
 * into a copy.
 * The copy is then opened, every recording verified and three ranges of
 * each extracted (with OA_EXTRACT_NO_SNAPSHOTS for odd-length inputs): whatever the edits, this must end in errors or samples,
 * never a crash or an out-of-bounds access (ASan/UBSan). Damage to HDF5's
 * own structures is HDF5's to parse and not fuzzed here. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opusarc/archive.h"
#include "opusarc/extract.h"

enum { NTABLES = 7 };
static const char *const TABLES[NTABLES] = {"recordings", "links", "intervals", "packets/data", "checkpoints/state",
                                            "strings", "packets/heads"};

typedef struct table {
  hid_t type;      /* the dataset's own (file) type: raw bytes, no conversion */
  size_t row_size; /* bytes per element */
  hsize_t rows;
  unsigned char *base, *work;
} table;

static table tables[NTABLES];
static unsigned char *base_file;
static size_t base_len;
static char copy_path[64];

static int load_base(void) {
  const char *path = getenv("FUZZ_ARCHIVE");
  FILE *f = path ? fopen(path, "rb") : NULL;
  if (!f) {
    fprintf(stderr, "fuzz_archive: set FUZZ_ARCHIVE to a valid archive\n");
    return -1;
  }
  fseek(f, 0, SEEK_END);
  base_len = (size_t)ftell(f);
  rewind(f);
  base_file = malloc(base_len);
  if (!base_file || fread(base_file, 1, base_len, f) != base_len) return -1;
  fclose(f);
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) return -1;
  for (int t = 0; t < NTABLES; t++) {
    hid_t ds = H5Dopen2(file, TABLES[t], H5P_DEFAULT);
    hid_t space = H5Dget_space(ds);
    H5Sget_simple_extent_dims(space, &tables[t].rows, NULL);
    tables[t].type = H5Dget_type(ds);
    tables[t].row_size = H5Tget_size(tables[t].type);
    size_t n = tables[t].rows * tables[t].row_size + 1;
    tables[t].base = calloc(n, 1);
    tables[t].work = calloc(n, 1);
    if (tables[t].rows && H5Dread(ds, tables[t].type, H5S_ALL, H5S_ALL, H5P_DEFAULT, tables[t].base) < 0) return -1;
    H5Sclose(space);
    H5Dclose(ds);
  }
  H5Fclose(file);
  snprintf(copy_path, sizeof copy_path, "/dev/shm/fuzz_archive.%d.h5", (int)getpid());
  return 0;
}

static int write_copy(const int *edited) {
  FILE *f = fopen(copy_path, "wb");
  if (!f || fwrite(base_file, 1, base_len, f) != base_len) return -1;
  fclose(f);
  hid_t file = H5Fopen(copy_path, H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0) return -1;
  for (int t = 0; t < NTABLES; t++) {
    if (!edited[t]) continue;
    hid_t ds = H5Dopen2(file, TABLES[t], H5P_DEFAULT);
    H5Dwrite(ds, tables[t].type, H5S_ALL, H5S_ALL, H5P_DEFAULT, tables[t].work);
    H5Dclose(ds);
  }
  H5Fclose(file);
  return 0;
}

static int null_sink(void *ctx, const float *pcm, size_t frames, int channels, oa_err *err) {
  (void)ctx, (void)pcm, (void)frames, (void)channels, (void)err;
  return 0;
}

static void exercise(int flags) {
  oa_archive *a;
  oa_err err;
  if (oa_archive_open(copy_path, &a, &err) != OA_OK) return;
  oa_archive_totals t;
  oa_archive_get_totals(a, &t); /* sums every row, a block at a time */
  uint64_t found;
  if (oa_archive_recording_count(a)) oa_archive_find(a, oa_archive_recording_name(a, 0), &found, &err);
  oa_extractor *x;
  if (oa_extractor_create(a, flags, &x, &err) == OA_OK) {
    for (uint64_t i = 0; i < oa_archive_recording_count(a); i++) {
      oa_extract_stats st = {0};
      oa_verify_recording(x, i, NULL, NULL, &st, &err);
      int64_t n = oa_archive_recording(a, i)->samples;
      const int64_t starts[3] = {0, n / 2, n - 100};
      for (int k = 0; k < 3; k++)
        if (starts[k] >= 0 && starts[k] + 100 <= n) oa_extract_range(x, i, starts[k], starts[k] + 100, null_sink, NULL, &st, &err);
    }
    oa_extractor_free(x);
  }
  oa_archive_close(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready = -2;
  if (ready == -2) ready = load_base();
  if (ready != 0) abort();
  int edited[NTABLES] = {0};
  for (int t = 0; t < NTABLES; t++) memcpy(tables[t].work, tables[t].base, tables[t].rows * tables[t].row_size);
  for (size_t e = 0; e + 8 <= size && e < 8 * 16; e += 8) {
    const uint8_t *p = data + e;
    table *t = &tables[p[0] % NTABLES];
    if (t->rows == 0) continue;
    size_t row = (size_t)(p[1] | p[2] << 8) % t->rows, at = (size_t)(p[3] | p[4] << 8) % t->row_size;
    unsigned char *b = t->work + row * t->row_size + at;
    *b = p[6] & 1 ? (unsigned char)(*b ^ p[5]) : p[5];
    edited[p[0] % NTABLES] = 1;
  }
  /* An odd-length input also runs the extractor without snapshots. */
  if (write_copy(edited) == 0) exercise(size % 2 ? OA_EXTRACT_NO_SNAPSHOTS : 0);
  unlink(copy_path);
  H5garbage_collect(); /* HDF5's free lists would otherwise grow run after run */
  return 0;
}
