/* Finding a recording by name without reading the table: every writer
 * stores a file's /recordings rows in byte order of their names (corpus
 * order, docs/FORMAT.md), so a binary search reads ~log2(N) rows' names,
 * each with two small reads and no row block. Nothing in the file is
 * trusted: rows out of order can only make a search miss, and callers read
 * every row on a miss (archive_read.c). */
#ifndef OPUSARC_NAMESEARCH_H
#define OPUSARC_NAMESEARCH_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

typedef struct oa_name_reader {
  hid_t recs_ds, strings_ds, name_type; /* name_type: name_off and name_len of a row */
  uint64_t nrecs, string_bytes;
} oa_name_reader;

int oa_name_reader_open(oa_name_reader *r, hid_t recs_ds, hid_t strings_ds, uint64_t nrecs, uint64_t string_bytes);
void oa_name_reader_close(oa_name_reader *r);
/* Row `row`'s name, NUL-terminated in buf: 0, or -1 when it cannot be read,
 * lies outside /strings or does not fit. */
int oa_name_of_row(oa_name_reader *r, uint64_t row, char *buf, size_t len);
#endif
