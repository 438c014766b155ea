/* mkqueries: writes a queries CSV aimed at the places where extraction can
 * go wrong: the first and last samples, one sample before / at / after
 * every interval start (checkpoint), across chain-link boundaries, single samples, whole
 * recordings, and random ranges.
 *   mkqueries ARCHIVE.h5 RANDOM_PER_RECORDING SEED > queries.csv
 * Positions come from the archive; correctness is judged by refcheck against
 * opusfile, not by anything computed here. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "opusarc/archive.h"

static unsigned long long rng_state;
static unsigned long long rnd(void) {
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return rng_state >> 33;
}

static long counter;
static void emit(const char *name, int64_t len, int64_t a, int64_t b) {
  if (a < 0) a = 0;
  if (b > len) b = len;
  if (a >= b) return;
  printf("q%06ld,%s,%lld,%lld\n", ++counter, name, (long long)a, (long long)b);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: mkqueries ARCHIVE.h5 RANDOM_PER_RECORDING SEED\n");
    return 2;
  }
  MPI_Init(&argc, &argv);
  oa_archive *a;
  oa_err err;
  if (oa_archive_open(argv[1], &a, &err) != OA_OK) {
    fprintf(stderr, "mkqueries: %s\n", err.msg);
    return 1;
  }
  int nrandom = atoi(argv[2]);
  rng_state = strtoull(argv[3], NULL, 10) + 1;
  printf("id,recording,start,end\n");
  for (uint64_t i = 0; i < oa_archive_recording_count(a); i++) {
    const oa_rec_row *r = oa_archive_recording(a, i);
    const char *name = oa_archive_recording_name(a, i);
    int64_t len = r->samples;
    if (r->status != OA_REC_OK || len == 0) continue;
    emit(name, len, 0, 960);
    emit(name, len, 0, 1);
    emit(name, len, len - 1500, len);
    emit(name, len, len - 1, len);
    if (len < 48000 * 30) emit(name, len, 0, len);
    oa_link_row *links = malloc(r->link_count * sizeof *links);
    if (oa_archive_read_links(a, r->first_link, r->link_count, links, &err) != OA_OK) return 1;
    for (uint64_t l = 0; l < r->link_count; l++) {
      if (l > 0) emit(name, len, links[l].out_start - 700, links[l].out_start + 700);
      if (l > 0) emit(name, len, links[l].out_start - 1, links[l].out_start + 1);
      for (uint64_t k = 1; k < links[l].interval_count; k++) {
        oa_interval_row v;
        if (oa_archive_read_intervals(a, links[l].first_interval + k, 1, &v, &err) != OA_OK) return 1;
        int64_t at = links[l].out_start + v.link_pos - links[l].pre_skip;
        emit(name, len, at - 1, at + 500);
        emit(name, len, at, at + 500);
        emit(name, len, at + 1, at + 700);
        emit(name, len, at - 1, at + 1);
      }
    }
    free(links);
    for (int k = 0; k < nrandom; k++) {
      int64_t start = (int64_t)(rnd() % (unsigned long long)len);
      /* Mostly up to 3 s; every fifth up to 20 s, across several intervals. */
      int64_t span = 1 + (int64_t)(rnd() % (k % 5 == 4 ? 20 * 48000 : 3 * 48000));
      emit(name, len, start, start + span);
    }
  }
  oa_archive_close(a);
  MPI_Finalize();
  return 0;
}
