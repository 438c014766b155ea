/* One archive file read on its own: an archive made by `index`, or one
 * segment added by `index --append` (docs/FORMAT.md, "Appends"). The
 * public reader (src/archive_read.c) presents the union of a base file and
 * its segments as one archive; this is the per-file part. Every recording
 * row is checked against the file's dataset sizes at open, and every row
 * read later against them, so offsets within the file can be trusted. */
#ifndef OPUSARC_ARCHIVE_SEG_H
#define OPUSARC_ARCHIVE_SEG_H

#include "archive_h5.h"

typedef struct oa_seg {
  hid_t file;
  hid_t recs_ds, strings_ds, links_ds, data_ds, heads_ds, intervals_ds, state_ds; /* heads_ds: format 7 */
  oa_h5_types types;
  oa_archive_meta meta;
  oa_archive_totals totals;
  uint64_t nrecs;
  oa_rec_row *recs; /* offsets within this file when loaded; the union rebases them */
  char **names, **paths, **errors, **starts, **tags, **recorders;
  char *path;
} oa_seg;

int oa_seg_open(const char *path, oa_seg **out, oa_err *err);
void oa_seg_close(oa_seg *s);
/* Rows and bytes by position within this file, checked against its sizes. */
int oa_seg_read_links(oa_seg *s, uint64_t first, uint64_t n, oa_link_row *rows, oa_err *err);
int oa_seg_read_intervals(oa_seg *s, uint64_t first, uint64_t n, oa_interval_row *rows, oa_err *err);
int oa_seg_read_data(oa_seg *s, uint64_t offset, uint64_t n, uint8_t *buf, oa_err *err);
int oa_seg_read_heads(oa_seg *s, uint64_t first, uint64_t n, uint32_t *heads, oa_err *err);
int oa_seg_read_state(oa_seg *s, uint64_t offset, uint64_t n, uint8_t *buf, oa_err *err);

#endif
