/* Extraction sweeps: many range queries spread over MPI ranks.
 *
 * Queries come from a CSV (id,recording,start,end) or from fixed windows
 * over every recording. Rank 0 parses and validates them and turns them
 * into work units: overlapping or adjacent queries of one recording are
 * grouped so one decode serves them all, and long queries are cut into
 * pieces that different ranks decode. Ranks take units from a shared
 * counter (MPI one-sided fetch-and-add, chunk sizes shrinking as the queue
 * empties), so no rank waits for rank 0. Outputs are one file per query or
 * one HDF5 file of clips; a query's output appears only when all of it was
 * written. */
#ifndef OPUSARC_SWEEP_H
#define OPUSARC_SWEEP_H

#include <mpi.h>
#include <stdint.h>

#include "opusarc/archive.h"
#include "opusarc/error.h"
#include "opusarc/log.h"

typedef struct oa_query {
  char id[128];
  uint64_t rec;
  int64_t start, end; /* samples */
  long line;          /* CSV line, 0 for windows */
  int channels;
  uint64_t clip_offset; /* HDF5 output: first float in /clips */
} oa_query;

typedef struct oa_query_list {
  oa_query *q;
  size_t n, cap;
  uint64_t bad; /* rows rejected while parsing */
} oa_query_list;

/* Parses a queries CSV (header id,recording,start,end); bad rows are logged
 * with their line number and counted, not returned. Returns an error only if
 * the file cannot be read or its header is wrong. */
int oa_queries_from_csv(const oa_archive *a, const char *path, int seconds, const oa_logger *log,
                        oa_query_list *out, oa_err *err);
/* Windows [s, s+len) for s = 0, hop, 2 hop, ... over every recording whose
 * name matches glob (NULL: all); len and hop in samples, or with `seconds`
 * in seconds of each recording's time base. Ids are the name with '/' as
 * '_' plus "_<start sample>". */
int oa_queries_windows(const oa_archive *a, double len, double hop, int seconds, const char *glob,
                       oa_query_list *out, oa_err *err);
void oa_query_list_free(oa_query_list *l);

enum oa_sweep_output { OA_SWEEP_DIR = 0, OA_SWEEP_HDF5 = 1 };

typedef struct oa_sweep_options {
  int output;           /* enum oa_sweep_output */
  const char *path;     /* directory, or HDF5 file */
  int format;           /* enum oa_pcm_format, for directories */
  int flags;            /* oa_extract_flags */
  double progress_every; /* seconds between progress lines on rank 0; <= 0: none */
  int progress_bar;      /* redraw one line (a terminal) instead */
  int64_t piece;        /* longest unit in samples (long queries are cut) */
  int overwrite;        /* HDF5 output: replace an existing file */
  const char *source;   /* queries file, for messages */
} oa_sweep_options;

typedef struct oa_sweep_result {
  uint64_t ok, failed;  /* queries (failed includes rows rejected while parsing) */
  double audio_seconds, wall_seconds;
  uint64_t units;
} oa_sweep_result;

/* Collective over comm. Every rank passes the same query list. */
int oa_sweep_run(MPI_Comm comm, oa_archive *a, oa_query_list *queries, const oa_sweep_options *opt,
                 const oa_logger *log, oa_sweep_result *result, oa_err *err);

#endif
