/* Query tables: the rows of a CSV or a detector's table become queries.
 *
 *   csv      id,recording,start,end[,more columns...] (comma-separated,
 *            "quoted" fields); positions in samples or, with
 *            OA_QUERY_SECONDS, seconds of the recording's time base.
 *   raven    a Raven selection table (tab-separated; also BirdNET's
 *            "--rtype table" output): Begin File or Begin Path, Begin Time
 *            (s), End Time (s), and File Offset (s) where present (then the
 *            range starts there: Begin Time counts from the start of a file
 *            sequence). Rows of a second view of the same selection (the
 *            View column differs from the first row's) are skipped, counted.
 *   birdnet  a BirdNET-Analyzer CSV: Start (s), End (s), File; a table
 *            with Begin Time (s) is read as raven.
 *
 * Every other column is kept, by its header name, as a string label of
 * each query (oa_query_label), for the clips file. Detector tables name
 * files by path or name: a recording is the one whose archive name is the
 * longest '/'-bounded tail of the path, else the only one with that file
 * name, else the only one with that name without its extension (a table
 * made on x.WAV finds x.opus); several candidates are an error naming two.
 * Detector rows get ids "<recording as a file name>_<selection or line>". */
#ifndef OPUSARC_QUERYTABLE_H
#define OPUSARC_QUERYTABLE_H

#include <stddef.h>

#include "opusarc/archive.h"
#include "opusarc/error.h"
#include "opusarc/log.h"
#include "opusarc/sweep.h"

enum oa_table_format { OA_TABLE_CSV = 0, OA_TABLE_RAVEN = 1, OA_TABLE_BIRDNET = 2 };

typedef struct oa_table_options {
  int format;         /* enum oa_table_format */
  unsigned flags;     /* OA_QUERY_SECONDS (csv; detector tables are in seconds), OA_QUERY_CLAMP */
  double pad_seconds; /* widen each range by this much on both sides, cut at the recording's edges */
  /* A share of a longer table (each rank parses its own lines): the text
   * is the header line, then lines line_base + 2, line_base + 3... of the
   * table; first_row is the table's first non-empty row after the header
   * (NULL: the text's own), whose View a detector table keeps. */
  long line_base;
  const char *first_row;
} oa_table_options;

/* "csv", "raven", "birdnet": 0, else -1. */
int oa_table_format_parse(const char *name, int *format);

/* Parses a table (a UTF-8 byte-order mark is skipped); `source` names it
 * in messages. Bad rows are logged with their line number and counted in
 * out->bad, not returned. Returns an error if the header lacks a needed
 * column. Ids are not checked here: the caller checks them over every
 * rank's share (oa_queries_check_unique_all). */
int oa_queries_from_table(const oa_archive *a, const char *source, const char *text, size_t len,
                          const oa_table_options *opt, const oa_logger *log, oa_query_list *out, oa_err *err);

/* The same, batch by batch (sweeps in rounds): open reads the header (and
 * for a detector table indexes the recordings it names); next parses the
 * next at most `max` rows into *out (emptied first; fewer than max: the
 * end), logging bad rows to log when it is not NULL; rewind starts again
 * at the first row. text must outlive the reader. */
typedef struct oa_table_reader oa_table_reader;
int oa_table_reader_open(const oa_archive *a, const char *source, const char *text, size_t len,
                         const oa_table_options *opt, oa_table_reader **out, oa_err *err);
/* The same over the lines `rows` (taken over), the header being head's
 * first line (NULL: the rows' first). */
struct oa_lines;
int oa_table_reader_open_lines(const oa_archive *a, const char *source, const char *head, size_t hlen,
                               struct oa_lines *rows, const oa_table_options *opt, oa_table_reader **out,
                               oa_err *err);
int oa_table_reader_next(oa_table_reader *r, size_t max, const oa_logger *log, oa_query_list *out, oa_err *err);
void oa_table_reader_rewind(oa_table_reader *r);
void oa_table_reader_free(oa_table_reader *r);
/* How many label columns the header has (*first: the first's name, or NULL). */
size_t oa_table_reader_labels(const oa_table_reader *r, const char **first);

/* The csv format with no padding (the table's original entry). */
int oa_queries_from_csv(const oa_archive *a, const char *source, const char *text, size_t len, unsigned flags,
                        const oa_logger *log, oa_query_list *out, oa_err *err);

#endif
