/* What differs between the inputs of an index job and what an archive (or
 * an interrupted run's committed part) recorded of its sources: recordings
 * new to the inputs, gone from them, and sources changed since they were
 * indexed (size, modification time, inode: the message says which). Used
 * by --resume, which must never call an archive complete for other inputs,
 * nor continue a run whose committed sources have changed. */
#ifndef OPUSARC_INPUTDIFF_H
#define OPUSARC_INPUTDIFF_H

#include <stddef.h>
#include <stdint.h>

#include "opusarc/archive.h"
#include "opusarc/corpus.h"

typedef struct oa_recorded_source {
  const char *name, *path;
  const oa_rec_row *row; /* source_size, source_mtime_ns, source_inode (0: not recorded) */
} oa_recorded_source;

/* Compares; returns the number of differences and, when there are any, a
 * message in msg: "2 new recordings (a.opus, b.opus); 1 changed since it
 * was indexed (c.opus: modification time)". With `all_recorded` false (an
 * interrupted run, where only committed rows are known) recordings absent
 * from `rec` are not counted as new. */
uint64_t oa_input_diff(const oa_corpus *c, const oa_recorded_source *rec, size_t n, int all_recorded, char *msg,
                       size_t len);

/* Which of the source's size, modification time and inode differ from
 * what row recorded, as words ("size 10 -> 12 bytes, modification time");
 * "" when none does (fields not recorded are not compared). */
void oa_source_changes(const oa_corpus_entry *e, const oa_rec_row *r, char *out, size_t len);

#endif
