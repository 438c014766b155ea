/* read_range: libopusarc's read-only API in one small program, built
 * against the installed library:
 *
 *   cc read_range.c $(pkg-config --cflags --libs opusarc) -o read_range
 *   read_range ARCHIVE.h5                      list the recordings
 *   read_range ARCHIVE.h5 NAME START END       frames [START, END) of NAME as raw
 *                                              float32, interleaved, on stdout
 *
 * No MPI start-up: the reader needs no MPI_Init. Exit 0 on success, 1 on an
 * error (its message on stderr), 2 on a bad command line. */
#include <opusarc/reader.h>
#include <stdio.h>
#include <stdlib.h>

static int list(oa_reader *r) {
  oa_err err;
  for (uint64_t i = 0; i < oa_reader_count(r); i++) {
    oa_recording_info info;
    if (oa_reader_info(r, i, &info, &err) != OA_OK) {
      fprintf(stderr, "read_range: %s\n", err.msg);
      return 1;
    }
    printf("%s\t%d\t%lld\t%s\n", info.name, info.channels, (long long)info.frames,
           info.status == OA_READER_FAILED ? "failed" : info.status == OA_READER_DAMAGED ? "damaged" : "ok");
  }
  return 0;
}

static int read_one(oa_reader *r, const char *name, long long start, long long end) {
  oa_err err;
  uint64_t index;
  oa_recording_info info;
  if (oa_reader_find(r, name, &index, &err) != OA_OK || oa_reader_info(r, index, &info, &err) != OA_OK) {
    fprintf(stderr, "read_range: %s\n", err.msg);
    return 1;
  }
  size_t frames = end > start ? (size_t)(end - start) : 0;
  float *pcm = malloc((frames ? frames : 1) * (size_t)info.channels * sizeof *pcm);
  if (!pcm) {
    fprintf(stderr, "read_range: out of memory\n");
    return 1;
  }
  int rc = oa_reader_read(r, index, start, end, pcm, frames, &err);
  if (rc != OA_OK) fprintf(stderr, "read_range: %s\n", err.msg);
  else if (fwrite(pcm, sizeof *pcm * (size_t)info.channels, frames, stdout) != frames) {
    fprintf(stderr, "read_range: writing stdout failed\n");
    rc = 1;
  }
  free(pcm);
  return rc == OA_OK ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc != 2 && argc != 5) {
    fprintf(stderr, "usage: read_range ARCHIVE.h5 [NAME START END]   (libopusarc %s)\n", oa_reader_version());
    return 2;
  }
  oa_reader *r;
  oa_err err;
  if (oa_reader_open(argv[1], 0, &r, &err) != OA_OK) {
    fprintf(stderr, "read_range: %s\n", err.msg);
    return 1;
  }
  int rc = argc == 2 ? list(r) : read_one(r, argv[2], atoll(argv[3]), atoll(argv[4]));
  oa_reader_close(r);
  return rc;
}
