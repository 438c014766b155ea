/* Query text (internal): CSV lines and fields, and ids that are file names
 * (sweep.c, timequery.c). */
#ifndef OPUSARC_QUERYTEXT_H
#define OPUSARC_QUERYTEXT_H

#include <stddef.h>
#include <stdint.h>

/* Splits one CSV line in place into fields; handles "quoted, fields".
 * Returns the number of fields (a trailing comma starts an empty one), or
 * -1 if there are more than `max` or a quote is not closed. */
int oa_csv_split(char *line, char **fields, int max);
/* The same for tab-separated lines (Raven selection tables: no quoting). */
int oa_tsv_split(char *line, char **fields, int max);
/* Next line of text[pos..len) without its line end (CR LF too); NULL at
 * the end. The line is copied into *buf (grown as needed). */
char *oa_csv_next_line(const char *text, size_t len, size_t *pos, char **buf, size_t *cap);
/* Lines of a text in memory, or of a file's bytes [from, to) read a
 * block at a time (a queries table's rows: never held whole). */
typedef struct oa_lines {
  const char *text; /* in memory (fd < 0) */
  int fd;
  uint64_t from, to, at; /* the bytes, and the next line's start */
  char *buf;             /* file bytes [buf_at, buf_at + buf_len) */
  uint64_t buf_at;
  size_t buf_len, buf_cap;
  int error;             /* an errno value once a read failed */
} oa_lines;
void oa_lines_memory(oa_lines *l, const char *text, size_t len);
/* Takes fd over (closed by oa_lines_free). */
void oa_lines_file(oa_lines *l, int fd, uint64_t from, uint64_t to);
/* The next line without its line end (CR LF too), copied into *line
 * (grown as needed); NULL at the end, or on a read error (l->error). */
char *oa_lines_next(oa_lines *l, char **line, size_t *cap);
void oa_lines_free(oa_lines *l);
/* How many bytes oa_lines reads at a time (1 MiB; fault point "lines": 61). */
size_t oa_lines_block(void);

/* An id can name a file: not empty, ".", "..", no '/', under 128 bytes. */
int oa_id_is_safe(const char *id);
/* A recording name made a file name one to one ('/' as '~'; '~', '%' and
 * control bytes as %XX); a name too long for `len` keeps its start and a
 * fingerprint of the whole name. */
void oa_name_stem(const char *name, char *stem, size_t len);

#endif
