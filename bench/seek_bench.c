/* seek_bench: random-range extraction, opusarc against opusfile seeking.
 *
 *   seek_bench ARCHIVE.h5 CORPUS_DIR QUERIES SEED SECONDS
 *   seek_bench ARCHIVE.h5 CORPUS_DIR QUERIES.csv 0 0     (the ranges of a CSV)
 *
 * Picks QUERIES random ranges of SECONDS each (uniform over the corpus's
 * audio). In one process, in the same order, times opusarc's extraction and
 * opusfile's op_pcm_seek + op_read_float for each range (each file opened
 * once beforehand, as the archive is), after a warm-up pass. Then decodes
 * every recording linearly with op_read_float and counts how many ranges
 * each method got bit-identical (compared by CRC-32 of the float samples).
 * Prints one line per method: median, mean and 90th percentile ms/query,
 * and exact ranges; then a `floor` line: the same reads with opusfile's
 * seek left out of the time, i.e. decoding the range's own samples, which
 * no seeking method can go below on one core. */
#include <mpi.h>
#include <opusfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "opusarc/archive.h"
#include "opusarc/extract.h"

typedef struct query {
  uint64_t rec;
  int64_t start, end;
  uint32_t crc_ours, crc_of;
  double ms_ours, ms_of, ms_floor;
} query;

typedef struct crc_sink {
  uint32_t crc;
} crc_sink;

static int sink_crc(void *ctx, const float *pcm, size_t frames, int channels, oa_err *err) {
  (void)err;
  crc_sink *s = ctx;
  s->crc = (uint32_t)crc32(s->crc, (const Bytef *)pcm, (uInt)(frames * (size_t)channels * sizeof(float)));
  return 0;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Reads [at, end) from where the decoder stands (at); *read_ms (if not NULL):
 * the time of the reads. */
static uint32_t read_on(OggOpusFile *of, int channels, int64_t at, int64_t end, float *buf, double *read_ms) {
  uint32_t crc = (uint32_t)crc32(0, NULL, 0);
  const int64_t start = at;
  double t0 = now_ms();
  int64_t left = end - start;
  while (left > 0) {
    int want = left * channels < 5760 * 8 ? (int)left * channels : 5760 * 8;
    int got = op_read_float(of, buf, want, NULL);
    if (got <= 0) return 0;
    crc = (uint32_t)crc32(crc, (const Bytef *)buf, (uInt)((size_t)got * (size_t)channels * sizeof(float)));
    left -= got;
  }
  if (read_ms) *read_ms = now_ms() - t0;
  return crc;
}

/* op_pcm_seek + op_read_float of [start, end). */
static uint32_t opusfile_range(OggOpusFile *of, int channels, int64_t start, int64_t end, float *buf) {
  return op_pcm_seek(of, start) == 0 ? read_on(of, channels, start, end, buf, NULL) : 0;
}

/* The time of decoding [start, end) alone: the decoder is brought to start
 * by reading what precedes it, untimed. */
static double decode_floor(OggOpusFile *of, int channels, int64_t start, int64_t end, float *buf) {
  int64_t from = start > end - start ? start - (end - start) : 0;
  double ms = 0;
  if (op_pcm_seek(of, from) != 0) return 0;
  if (start > from) read_on(of, channels, from, start, buf, NULL);
  read_on(of, channels, start, end, buf, &ms);
  return ms;
}

static void run(query *q, int n, oa_extractor *x, OggOpusFile **of, const oa_archive *a, float *buf, int timed) {
  for (int i = 0; i < n; i++) {
    const oa_rec_row *r = oa_archive_recording(a, q[i].rec);
    crc_sink s = {(uint32_t)crc32(0, NULL, 0)};
    oa_err err;
    double t0 = now_ms();
    if (oa_extract_range(x, q[i].rec, q[i].start, q[i].end, sink_crc, &s, NULL, &err) != OA_OK)
      fprintf(stderr, "seek_bench: %s\n", err.msg);
    double t1 = now_ms();
    uint32_t c = opusfile_range(of[q[i].rec], r->channels, q[i].start, q[i].end, buf);
    double t2 = now_ms();
    double floor_ms = decode_floor(of[q[i].rec], r->channels, q[i].start, q[i].end, buf);
    if (!timed) continue;
    q[i].crc_ours = s.crc, q[i].crc_of = c;
    q[i].ms_ours = t1 - t0, q[i].ms_of = t2 - t1, q[i].ms_floor = floor_ms;
  }
}

/* Linear decode of each recording; counts exact ranges per method. */
static void check(query *q, int n, const oa_archive *a, const char *corpus, int *exact_ours, int *exact_of) {
  *exact_ours = *exact_of = 0;
  for (uint64_t rec = 0; rec < oa_archive_recording_count(a); rec++) {
    int any = 0;
    for (int i = 0; i < n; i++) any |= q[i].rec == rec;
    if (!any) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", corpus, oa_archive_recording_name(a, rec));
    int e;
    OggOpusFile *of = op_open_file(path, &e);
    if (!of) continue;
    int ch = oa_archive_recording(a, rec)->channels;
    int64_t total = op_pcm_total(of, -1);
    float *all = malloc((size_t)total * (size_t)ch * sizeof *all);
    int64_t at = 0;
    int got;
    while (at < total && (got = op_read_float(of, all + at * ch, (int)((total - at) * ch < 1 << 20 ? (total - at) * ch : 1 << 20), NULL)) > 0)
      at += got;
    op_free(of);
    for (int i = 0; i < n; i++) {
      if (q[i].rec != rec || q[i].end > at) continue;
      uint32_t crc = (uint32_t)crc32(crc32(0, NULL, 0), (const Bytef *)(all + q[i].start * ch),
                                     (uInt)((size_t)(q[i].end - q[i].start) * (size_t)ch * sizeof(float)));
      *exact_ours += crc == q[i].crc_ours;
      *exact_of += crc == q[i].crc_of;
    }
    free(all);
  }
}

enum { OURS, OPUSFILE, FLOOR };

static void report(const char *name, query *q, int n, int which, int exact) {
  double *ms = malloc((size_t)n * sizeof *ms), sum = 0;
  for (int i = 0; i < n; i++)
    ms[i] = which == OURS ? q[i].ms_ours : which == OPUSFILE ? q[i].ms_of : q[i].ms_floor, sum += ms[i];
  qsort(ms, (size_t)n, sizeof *ms, cmp_double);
  printf("%-10s median %.3f ms  mean %.3f ms  p90 %.3f ms", name, ms[n / 2], sum / n, ms[(int)(n * 0.9)]);
  if (exact >= 0) printf("  exact %d/%d", exact, n);
  printf("\n");
  free(ms);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: seek_bench ARCHIVE.h5 CORPUS_DIR QUERIES SEED SECONDS\n");
    return 2;
  }
  MPI_Init(&argc, &argv);
  oa_archive *a;
  oa_extractor *x;
  oa_err err;
  if (oa_archive_open(argv[1], &a, &err) != OA_OK || oa_extractor_create(a, 0, &x, &err) != OA_OK) {
    fprintf(stderr, "seek_bench: %s\n", err.msg);
    return 1;
  }
  int n = atoi(argv[3]);
  query *q = NULL;
  if (n <= 0) { /* a queries CSV: id,recording,start,end */
    FILE *f = fopen(argv[3], "r");
    char line[4096], name[2048];
    long long a0, b0;
    int cap = 1024;
    q = calloc((size_t)cap, sizeof *q);
    while (f && fgets(line, sizeof line, f)) {
      if (sscanf(line, "%*[^,],%2047[^,],%lld,%lld", name, &a0, &b0) != 3) continue;
      uint64_t rec;
      if (oa_archive_find(a, name, &rec, &err) != OA_OK) continue;
      if (n == cap) q = realloc(q, (size_t)(cap *= 2) * sizeof *q);
      q[n++] = (query){.rec = rec, .start = a0, .end = b0};
    }
    if (f) fclose(f);
  }
  rng += strtoull(argv[4], NULL, 10);
  int64_t len = (int64_t)(atof(argv[5]) * 48000);
  uint64_t nrec = oa_archive_recording_count(a);
  int64_t total = 0;
  for (uint64_t i = 0; i < nrec; i++)
    if (oa_archive_recording(a, i)->samples > len) total += oa_archive_recording(a, i)->samples - len;
  if (!q) q = calloc((size_t)n, sizeof *q);
  for (int i = 0; len > 0 && total > 0 && i < n && !q[i].end; i++) {
    int64_t pick = (int64_t)(next_rand() % (uint64_t)total);
    for (uint64_t r = 0; r < nrec; r++) {
      int64_t room = oa_archive_recording(a, r)->samples - len;
      if (room <= 0) continue;
      if (pick < room) {
        q[i] = (query){.rec = r, .start = pick, .end = pick + len};
        break;
      }
      pick -= room;
    }
  }
  /* Only the files the queries read are kept open (a corpus of 20,000
   * clips would pass the descriptor limit, and the check opens more). */
  OggOpusFile **of = calloc(nrec, sizeof *of);
  for (int i = 0; i < n; i++) {
    uint64_t r = q[i].rec;
    if (of[r]) continue;
    char path[4096];
    int e;
    snprintf(path, sizeof path, "%s/%s", argv[2], oa_archive_recording_name(a, r));
    of[r] = op_open_file(path, &e);
  }
  float *buf = malloc(sizeof(float) * 5760 * 8);
  run(q, n < 50 ? n : 50, x, of, a, buf, 0); /* warm-up: page cache, allocations */
  run(q, n, x, of, a, buf, 1);
  int exact_ours, exact_of;
  check(q, n, a, argv[2], &exact_ours, &exact_of);
  report("opusarc", q, n, OURS, exact_ours);
  report("opusfile", q, n, OPUSFILE, exact_of);
  report("floor", q, n, FLOOR, -1);
  for (uint64_t r = 0; r < nrec; r++)
    if (of[r]) op_free(of[r]);
  free(of), free(q), free(buf);
  oa_extractor_free(x);
  oa_archive_close(a);
  MPI_Finalize();
  return 0;
}
