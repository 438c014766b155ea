/* One archive file read on its own: an archive made by `index`, or one
 * segment added by `index --append` (docs/FORMAT.md, "Appends"). The
 * public reader (src/archive_read.c) presents the union of a base file and
 * its segments as one archive; this is the per-file part. Every recording
 * row is checked against the file's dataset sizes at open, and every row
 * read later against them, so offsets within the file can be trusted. */
#ifndef OPUSARC_ARCHIVE_SEG_H
#define OPUSARC_ARCHIVE_SEG_H

#include "archive_h5.h"
#include "namesearch.h"

/* Recordings rows are read in blocks of this many, when first asked for:
 * opening an archive reads no row, and a process holds the blocks it used
 * (issue 18: a reader of one range of a 10^6-recording archive). */
#define OA_SEG_BLOCK 1024

enum { OA_STR_NAME, OA_STR_PATH, OA_STR_ERROR, OA_STR_START, OA_STR_TAGS, OA_STR_RECORDER, OA_STR_COUNT };

/* A block of rows, checked and moved onto the union's positions, and
 * their strings (NUL-terminated, in `text`). */
typedef struct oa_seg_block {
  oa_rec_row *rows;
  const char **str; /* OA_STR_COUNT per row */
  char *text;
} oa_seg_block;

typedef struct oa_seg {
  hid_t file;
  hid_t recs_ds, strings_ds, links_ds, data_ds, heads_ds, intervals_ds, state_ds; /* heads_ds: format 7 */
  oa_h5_types types;
  oa_archive_meta meta;
  oa_archive_totals totals; /* packets and payload_bytes: 0 until summed (oa_seg_sum_rows) */
  uint64_t nrecs;
  oa_seg_block *blocks;     /* nrecs / OA_SEG_BLOCK rounded up; rows NULL until loaded */
  uint64_t blocks_loaded;
  /* Added to a row's first_link, first_interval and data_offset as it is
   * loaded (set by the union before any row is read). */
  uint64_t base_links, base_intervals, base_data;
  oa_rec_row bad_row;       /* stands for a row that cannot be loaded (out of memory) */
  oa_name_reader names;     /* binary search over the rows' names */
  int can_search;
  int order_known, in_order; /* a whole pass has seen the rows in name order (then a miss is final) */
  uint64_t lookups;          /* names searched for: past a few, searches keep the blocks they touch */
  char *path;
} oa_seg;

int oa_seg_open(const char *path, oa_seg **out, oa_err *err);
void oa_seg_close(oa_seg *s);
/* Row i (< nrecs) and its strings, loaded with their block on first use.
 * Never NULL: a row that is inconsistent with the datasets, or whose
 * block cannot be read, is a failed row whose error says so. */
const oa_rec_row *oa_seg_recording(oa_seg *s, uint64_t i);
const char *oa_seg_string(oa_seg *s, uint64_t i, int field);
/* Calls fn for every row in order (blocks not yet loaded are read and
 * dropped, so a scan holds one block at a time); fn returns nonzero to
 * stop. Returns that value, or 0. */
/* Looks `name` up by binary search over the rows (stored in name order;
 * loaded blocks are searched in memory): 1 with *row set (a readable row
 * of that name if there is one, else the first); 0 when it is not in the
 * file, known because a whole pass has seen the rows in order; -1 when
 * unsure (a miss before such a pass, or a read error). Rows out of order
 * can only make it miss, never find a row of another name: callers pass
 * over every row when unsure (which also learns the order). */
int oa_seg_find(oa_seg *s, const char *name, uint64_t *row);
typedef int (*oa_seg_row_fn)(void *ctx, uint64_t i, const oa_rec_row *r, const char *const *str);
int oa_seg_scan(oa_seg *s, oa_seg_row_fn fn, void *ctx);
/* The same over rows [from, to) only. */
int oa_seg_scan_range(oa_seg *s, uint64_t from, uint64_t to, oa_seg_row_fn fn, void *ctx);
/* Rows and bytes by position within this file, checked against its sizes. */
int oa_seg_read_links(oa_seg *s, uint64_t first, uint64_t n, oa_link_row *rows, oa_err *err);
int oa_seg_read_intervals(oa_seg *s, uint64_t first, uint64_t n, oa_interval_row *rows, oa_err *err);
int oa_seg_read_data(oa_seg *s, uint64_t offset, uint64_t n, uint8_t *buf, oa_err *err);
int oa_seg_read_heads(oa_seg *s, uint64_t first, uint64_t n, uint32_t *heads, oa_err *err);
int oa_seg_read_state(oa_seg *s, uint64_t offset, uint64_t n, uint8_t *buf, oa_err *err);

#endif
