/* The corpus walk shared by the ranks of an index job, in the spirit of
 * mpifileutils' distributed walk: the directories of each depth are split
 * among the ranks, each reads its own; the audio files found are dealt out
 * to all ranks, which stat them; the subdirectories found make the next
 * depth's list; the lines of a --list file are split likewise. Rank 0 then gathers the entries and
 * sorts them (names, rows, duplicates: oa_corpus_finish). */
#ifndef OPUSARC_CORPUSWALK_H
#define OPUSARC_CORPUSWALK_H

#include <mpi.h>

#include "opusarc/corpus.h"

/* Collective. Rank 0 gets the whole sorted corpus in *c, the other ranks an
 * empty one. Errors are agreed: every rank returns the same code. */
int oa_corpus_walk(MPI_Comm comm, const char *const *inputs, int ninputs, const char *list_file,
                   const oa_corpus_naming *naming, oa_corpus *c, oa_err *err);

#endif
