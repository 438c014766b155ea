#include "opusarc/progress.h"

#include <stdio.h>
#include <stdlib.h>

#include "opusarc/mpiutil.h"
#include "opusarc/util.h"

enum { ITEMS, BYTES, SAMPLES, NCOUNTERS };

struct oa_progress {
  MPI_Comm comm;
  int rank;
  oa_progress_spec spec;
  const oa_logger *log;
  MPI_Win win;
  int64_t *shared;             /* rank 0: the sums */
  int64_t solo_sums[NCOUNTERS]; /* the sums of a process running without MPI */
  int64_t pending[NCOUNTERS];  /* this rank's, not yet published */
  double t0, last_publish, last_report;
  int drew_bar;
};

int oa_progress_create(MPI_Comm comm, const oa_progress_spec *spec, const oa_logger *log, oa_progress **out) {
  oa_progress *p = calloc(1, sizeof *p);
  *out = NULL;
  if (!oa_mpi_agree(comm, p != NULL)) { /* every rank or none enters the collective calls below */
    free(p);
    return -1;
  }
  p->comm = comm;
  p->spec = *spec;
  p->log = log;
  p->t0 = p->last_publish = p->last_report = oa_wtime();
  if (OA_SOLO(comm)) {
    p->shared = p->solo_sums;
    *out = p;
    return 0;
  }
  MPI_Comm_rank(comm, &p->rank);
  MPI_Win_allocate(p->rank == 0 ? NCOUNTERS * (MPI_Aint)sizeof(int64_t) : 0, sizeof(int64_t), MPI_INFO_NULL, comm,
                   &p->shared, &p->win);
  if (p->rank == 0)
    for (int i = 0; i < NCOUNTERS; i++) p->shared[i] = 0;
  MPI_Barrier(comm); /* counters zeroed before anyone adds */
  MPI_Win_lock_all(0, p->win);
  *out = p;
  return 0;
}

static void publish(oa_progress *p) {
  if (!p->pending[ITEMS] && !p->pending[BYTES] && !p->pending[SAMPLES]) return;
  if (OA_SOLO(p->comm)) {
    for (int i = 0; i < NCOUNTERS; i++) p->solo_sums[i] += p->pending[i];
  } else {
    MPI_Accumulate(p->pending, NCOUNTERS, MPI_INT64_T, 0, 0, NCOUNTERS, MPI_INT64_T, MPI_SUM, p->win);
    MPI_Win_flush(0, p->win);
  }
  for (int i = 0; i < NCOUNTERS; i++) p->pending[i] = 0;
  p->last_publish = oa_wtime();
}

void oa_progress_add(oa_progress *p, int64_t items, int64_t bytes, int64_t samples) {
  p->pending[ITEMS] += items;
  p->pending[BYTES] += bytes;
  p->pending[SAMPLES] += samples;
  if (oa_wtime() - p->last_publish >= 0.5) publish(p);
}

static void hms(double s, char *out, size_t n) {
  long t = s > 0 && s < 1e9 ? (long)(s + 0.5) : 0;
  snprintf(out, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

static void report(oa_progress *p) {
  int64_t now_c[NCOUNTERS] = {0, 0, 0}, zero[NCOUNTERS] = {0, 0, 0};
  if (OA_SOLO(p->comm)) {
    for (int i = 0; i < NCOUNTERS; i++) now_c[i] = p->solo_sums[i];
  } else {
    MPI_Get_accumulate(zero, NCOUNTERS, MPI_INT64_T, now_c, NCOUNTERS, MPI_INT64_T, 0, 0, NCOUNTERS, MPI_INT64_T,
                       MPI_NO_OP, p->win);
    MPI_Win_flush(0, p->win);
  }
  const oa_progress_spec *s = &p->spec;
  double el = oa_wtime() - p->t0, hours = (double)now_c[SAMPLES] / (double)OA_SAMPLE_RATE / 3600.0;
  double frac = s->total_bytes > 0     ? (double)now_c[BYTES] / (double)s->total_bytes
                : s->total_samples > 0 ? (double)now_c[SAMPLES] / (double)s->total_samples
                : s->total_items > 0   ? (double)now_c[ITEMS] / (double)s->total_items
                                       : 0.0;
  char eta[32] = "?", amount[96] = "";
  if (frac > 0) hms(el * (1.0 - frac) / frac, eta, sizeof eta);
  if (s->total_bytes > 0)
    snprintf(amount, sizeof amount, "%.1f of %.1f MB, ", (double)now_c[BYTES] / 1e6, (double)s->total_bytes / 1e6);
  char audio[64];
  if (s->total_samples > 0)
    snprintf(audio, sizeof audio, "%.2f of %.2f h audio", hours, (double)s->total_samples / (double)OA_SAMPLE_RATE / 3600.0);
  else
    snprintf(audio, sizeof audio, "%.2f h audio", hours);
  char line[512];
  snprintf(line, sizeof line, "%lld/%lld %s (%.1f%%), %s%s, %.0fx real time, ETA %s", (long long)now_c[ITEMS],
           (long long)s->total_items, s->what, 100.0 * frac, amount, audio, el > 0 ? hours * 3600.0 / el : 0.0, eta);
  if (s->bar) {
    char bar[21];
    int full = (int)(frac * 20 + 0.5);
    for (int i = 0; i < 20; i++) bar[i] = i < full ? '#' : '.';
    bar[20] = '\0';
    fprintf(stdout, "\r[%s] %s\033[K", bar, line);
    fflush(stdout);
    p->drew_bar = 1;
  } else {
    OA_LOG(p->log, INFO, "progress: %s", line);
  }
}

void oa_progress_poll(oa_progress *p) {
  if (p->rank != 0 || p->spec.every <= 0) return;
  double now = oa_wtime();
  if (now - p->last_report < p->spec.every) return;
  p->last_report = now;
  publish(p); /* rank 0's own work too */
  report(p);
}

void oa_progress_free(oa_progress *p) {
  if (!p) return;
  publish(p);
  if (!OA_SOLO(p->comm)) {
    MPI_Win_unlock_all(p->win);
    MPI_Win_free(&p->win);
  }
  if (p->drew_bar) {
    fputc('\n', stdout);
    fflush(stdout);
  }
  free(p);
}
