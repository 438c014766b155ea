/* Progress of a job spread over ranks. Every rank adds what it finished to
 * counters kept on rank 0 in an MPI window (passive target: nobody waits
 * for anybody); rank 0 reports every few seconds — a redrawn bar on a
 * terminal, plain lines in a job log — with items, bytes, audio, speed
 * (x real time) and ETA. */
#ifndef OPUSARC_PROGRESS_H
#define OPUSARC_PROGRESS_H

#include <mpi.h>
#include <stdint.h>

#include "opusarc/log.h"

typedef struct oa_progress_spec {
  const char *what;     /* plural noun of the items: "recordings" */
  int64_t total_items;
  int64_t total_bytes;   /* 0 if unknown */
  int64_t total_samples; /* 0 if unknown; ETA follows bytes, else samples, else items */
  double every;         /* seconds between reports; <= 0: none */
  int bar;              /* redraw one line (a terminal) instead of printing lines */
} oa_progress_spec;

typedef struct oa_progress oa_progress;

/* Collective. */
int oa_progress_create(MPI_Comm comm, const oa_progress_spec *spec, const oa_logger *log, oa_progress **out);
/* Any rank: adds finished work; published to rank 0 at most twice a second. */
void oa_progress_add(oa_progress *p, int64_t items, int64_t bytes, int64_t samples);
/* Rank 0 (others return at once): reports if one is due. */
void oa_progress_poll(oa_progress *p);
/* Collective. Publishes what is left and ends a bar's line. */
void oa_progress_free(oa_progress *p);

#endif
