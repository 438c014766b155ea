/* The segment list of an archive grown by `index --append`
 * (docs/FORMAT.md, "Appends"). ARCHIVE stays the file `index` made; each
 * append adds one immutable archive file beside it, ARCHIVE-minus-.h5
 * ".seg-NNNN.h5", and then replaces ARCHIVE.segments, the list of the
 * segments in order, in one rename. A reader that reads the list sees the
 * archive as it was before an append or after it, never in between; a job
 * killed before the rename leaves the archive as it was.
 *
 * The list names the base file it extends ("ID SIZE CREATED": its
 * archive_id attribute, its size, its creation time). After a --force
 * rebuild of ARCHIVE the list no longer matches and is ignored (stale):
 * its segments belonged to the archive that was replaced. */
#ifndef OPUSARC_SEGMENTS_H
#define OPUSARC_SEGMENTS_H

#include <stddef.h>
#include <stdint.h>

#include "opusarc/archive.h"
#include "opusarc/error.h"

#define OA_SEGLIST_MAX 100000 /* segments in one list */

typedef struct oa_seglist {
  char base[128]; /* identity of the base file the list extends */
  size_t n;
  char **names;   /* file names of the segments, in the base file's directory */
} oa_seglist;

/* "ID SIZE CREATED" of the archive file at PATH whose metadata is m. */
int oa_base_identity(const char *path, const oa_archive_meta *m, char *out, size_t len, oa_err *err);
/* ARCHIVE.segments */
void oa_seglist_path(const char *archive, char *out, size_t len);
/* The path of segment k (1, 2, ...): ARCHIVE without ".h5", ".seg-%04u.h5". */
void oa_segment_path(const char *archive, unsigned k, char *out, size_t len);
/* The path of a listed segment name (in ARCHIVE's directory). */
void oa_segment_in_dir(const char *archive, const char *name, char *out, size_t len);
/* Reads the list: OA_OK with *found 0 when there is none; OA_EARCHIVE
 * naming the file and the defect when it is damaged (bad header, checksum,
 * a name with '/' or too long, count disagreeing). */
int oa_seglist_load(const char *archive, oa_seglist *l, int *found, oa_err *err);
/* Writes the list to a new temporary file beside it (O_EXCL|O_NOFOLLOW),
 * flushes it, renames it over ARCHIVE.segments and flushes the directory.
 * Call only while holding the archive's lock: temporaries of the list left
 * by a killed writer (ARCHIVE.segments.partial.*) are removed first. */
/* The same from bytes in memory (`what` names them in messages). */
int oa_seglist_parse(const char *what, const uint8_t *buf, size_t len, oa_seglist *l, oa_err *err);
int oa_seglist_save(const char *archive, const oa_seglist *l, oa_err *err);
int oa_seglist_add(oa_seglist *l, const char *name);
void oa_seglist_free(oa_seglist *l);

#endif
