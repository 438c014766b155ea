/* The corpus walk shared by the ranks of an index job, in the spirit of
 * mpifileutils' distributed walk: the directories of each depth are split
 * among the ranks, each reads its own; the audio files found are dealt out
 * to all ranks, which stat them; the subdirectories found make the next
 * depth's list; the lines of a --list file are split likewise. The entries
 * are then sorted across the ranks (src/corpussort.c): no rank holds the
 * whole list. */
#ifndef OPUSARC_CORPUSWALK_H
#define OPUSARC_CORPUSWALK_H

#include <mpi.h>

#include "opusarc/corpus.h"

/* Collective. Each rank gets one run of the whole sorted list in *run (the
 * runs in rank order are the list oa_corpus_scan makes: rows numbered,
 * duplicate names and files reached twice failed). Errors are agreed:
 * every rank returns the same code. */
int oa_corpus_walk(MPI_Comm comm, const char *const *inputs, int ninputs, const char *list_file,
                   const oa_corpus_naming *naming, oa_corpus *run, oa_err *err);

/* Collective: the entries every rank holds (any order; `mine` is emptied)
 * become runs of the sorted list as oa_corpus_walk describes (a sample
 * sort by name; equal names meet on one rank, a file's names on the rank
 * its device and inode hash to). */
int oa_corpus_sort_across(MPI_Comm comm, oa_corpus *mine, oa_corpus *run, oa_err *err);
/* Collective: oa_corpus_hash of the whole list, passed along the runs. */
uint64_t oa_corpus_hash_across(MPI_Comm comm, const oa_corpus *run);
/* Collective: the runs cut again by bytes (each file counted 4 KiB more):
 * rank r gets the entries whose middle byte falls in the r-th of `size`
 * equal parts of the list, in row order. `run` is emptied. */
int oa_corpus_split_bytes(MPI_Comm comm, oa_corpus *run, oa_corpus *mine, oa_err *err);
/* Collective: rank 0 gets a copy of the whole list in *whole (the other
 * ranks an empty one), for checks that compare the list as a whole. */
int oa_corpus_gather(MPI_Comm comm, const oa_corpus *run, oa_corpus *whole, oa_err *err);
/* Collective: each rank keeps the entries of its run that its keep[]
 * marks; rows numbered again over all runs. */
void oa_corpus_keep_across(MPI_Comm comm, oa_corpus *run, const uint8_t *keep);

#endif
