/* A queries table read once and shared out (sweeps): each rank gets the
 * header line and its own part of the rows, whole lines split by bytes, in
 * order, so the shares in rank order make the table. */
#ifndef OPUSARC_QUERYSHARE_H
#define OPUSARC_QUERYSHARE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "opusarc/error.h"
#include "opusarc/querytable.h"
#include "opusarc/sweep.h"

typedef struct oa_text_share {
  char *text;      /* the header line, then this rank's rows (NUL-terminated) */
  size_t len;
  /* fd >= 0: text is the header line alone, and this rank's rows are the
   * bytes [from, to) of fd (a regular file: read a block at a time, never
   * held whole; oa_text_share_load reads them into text). */
  int fd;
  uint64_t from, to;
  int spooled;     /* fd is a temporary copy (stdin, a FIFO, a file only rank 0 sees), not the queries file */
  long line_base;  /* rows of the table before this rank's (its first is line line_base + 2) */
  char *first_row; /* the table's first non-empty row after the header, NULL if none */
} oa_text_share;

/* Collective (MPI_COMM_NULL: the whole file). A regular file every rank
 * sees alike is read in parts, each rank its own; anything else (stdin, a
 * FIFO, a file only rank 0 sees) is copied by rank 0 into a temporary file
 * in $TMPDIR, which sends the parts into the other ranks' temporary files
 * (1 MiB at a time; the files are unlinked at once). */
int oa_text_share_read(MPI_Comm comm, const char *path, oa_text_share *s, oa_err *err);
void oa_text_share_free(oa_text_share *s);
/* The rows into text, when they were left in the file. */
int oa_text_share_load(oa_text_share *s, oa_err *err);

/* This rank's share of a queries table as a sweep's source: the share
 * (taken over: *sh is emptied) is parsed a batch at a time, bad rows
 * logged to log in the sweep's first pass. opt's line_base and first_row
 * come from the share. Fails when the header lacks a needed column. */
typedef struct oa_table_source oa_table_source;
int oa_table_source_open(const oa_archive *a, const char *source, oa_text_share *sh, const oa_table_options *opt,
                         const oa_logger *log, oa_table_source **out, oa_query_source *src, oa_err *err);
const oa_table_reader *oa_table_source_reader(const oa_table_source *t);
void oa_table_source_free(oa_table_source *t);

#endif
