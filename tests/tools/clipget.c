/* clipget: reads one clip of an opusarc clips file with plain HDF5 calls
 * (as a user's script would), to check what the sweep wrote:
 *   clipget CLIPS.h5 ID OUT.f32
 * finds ID in /queries, takes its samples from /clips (1-D: offset and
 * length; 2-D [n, frames] or 3-D [n, frames, channels]: row of ID) and
 * writes them as raw float32. Prints "rate R channels C frames F rank D".
 * Exit 0 on success. */
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct row {
  char id[128];
  uint64_t offset;
  int64_t length;
  int32_t channels, rate, status;
} row;

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: clipget CLIPS.h5 ID OUT.f32\n");
    return 2;
  }
  hid_t f = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t table = f >= 0 ? H5Dopen2(f, "queries", H5P_DEFAULT) : -1;
  hid_t clips = f >= 0 ? H5Dopen2(f, "clips", H5P_DEFAULT) : -1;
  if (table < 0 || clips < 0) return fprintf(stderr, "clipget: %s: no /queries or /clips\n", argv[1]), 1;
  hid_t id_type = H5Tcopy(H5T_C_S1);
  H5Tset_size(id_type, 128);
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(row));
  H5Tinsert(t, "id", HOFFSET(row, id), id_type);
  H5Tinsert(t, "offset", HOFFSET(row, offset), H5T_NATIVE_UINT64);
  H5Tinsert(t, "length", HOFFSET(row, length), H5T_NATIVE_INT64);
  H5Tinsert(t, "channels", HOFFSET(row, channels), H5T_NATIVE_INT32);
  H5Tinsert(t, "rate", HOFFSET(row, rate), H5T_NATIVE_INT32);
  H5Tinsert(t, "status", HOFFSET(row, status), H5T_NATIVE_INT32);
  hid_t ts = H5Dget_space(table);
  hssize_t n = H5Sget_simple_extent_npoints(ts);
  row *rows = malloc(((size_t)n + 1) * sizeof *rows);
  if (H5Dread(table, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0) return fprintf(stderr, "clipget: bad /queries\n"), 1;
  hssize_t k = 0;
  while (k < n && strcmp(rows[k].id, argv[2]) != 0) k++;
  if (k == n) return fprintf(stderr, "clipget: no clip %s\n", argv[2]), 1;
  const row *r = &rows[k];
  if (r->status) return fprintf(stderr, "clipget: clip %s failed (status %d)\n", argv[2], r->status), 1;
  size_t count = (size_t)r->length * (size_t)r->channels;
  float *pcm = malloc((count + 1) * sizeof *pcm);
  hid_t fs = H5Dget_space(clips);
  int rank = H5Sget_simple_extent_ndims(fs);
  hsize_t dims[3] = {0, 0, 0}, start[3] = {0, 0, 0}, cnt[3] = {1, 1, 1};
  H5Sget_simple_extent_dims(fs, dims, NULL);
  if (rank == 1) start[0] = r->offset, cnt[0] = count;
  else start[0] = (hsize_t)k, cnt[1] = dims[1], cnt[2] = rank == 3 ? dims[2] : 1;
  if (rank > 1 && cnt[1] * cnt[2] != count) return fprintf(stderr, "clipget: row shape differs from the table\n"), 1;
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
  hsize_t flat = count;
  hid_t ms = H5Screate_simple(1, &flat, NULL);
  if (H5Dread(clips, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, pcm) < 0) return fprintf(stderr, "clipget: read failed\n"), 1;
  FILE *out = fopen(argv[3], "wb");
  if (!out || fwrite(pcm, sizeof *pcm, count, out) != count || fclose(out) != 0) return 1;
  printf("rate %d channels %d frames %lld rank %d\n", r->rate, r->channels, (long long)r->length, rank);
  return 0;
}
