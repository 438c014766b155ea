/* h5tamper: overwrites one numeric root attribute of an archive, to test
 * how opusarc reacts to archives from another libopus build or to damaged
 * metadata.   h5tamper ARCHIVE.h5 ATTRIBUTE INTEGER */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: h5tamper ARCHIVE.h5 ATTRIBUTE INTEGER\n");
    return 2;
  }
  hid_t f = H5Fopen(argv[1], H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) return 1;
  hid_t a = H5Aopen(f, argv[2], H5P_DEFAULT);
  if (a < 0) return 1;
  long long v = strtoll(argv[3], NULL, 0);
  herr_t rc = H5Awrite(a, H5T_NATIVE_LLONG, &v);
  H5Aclose(a);
  H5Fclose(f);
  return rc < 0;
}
