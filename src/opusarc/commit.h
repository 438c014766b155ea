/* Crash safety for indexing. After every collective flush of the archive,
 * rank 0 replaces a small commit record beside it (ARCHIVE.partial.commit):
 * how long each appendable dataset was at that flush and which corpus
 * entries were done. `index --resume` trusts the partial archive only up to
 * that record (docs/FORMAT.md, "Interrupted runs"). */
#ifndef OPUSARC_COMMIT_H
#define OPUSARC_COMMIT_H

#include <stdint.h>

#include "opusarc/error.h"

#define OA_COMMIT_DATASETS 6 /* strings, links, packets/data, intervals, checkpoints/state, packets/heads */
#define OA_COMMIT_OPTIONS_MAX 512

typedef struct oa_commit {
  uint64_t corpus_hash;                 /* oa_corpus_hash of the corpus */
  char options[OA_COMMIT_OPTIONS_MAX];  /* indexing options and libopus build, as text */
  uint64_t entries;                     /* corpus entries = rows of /recordings */
  uint64_t extent[OA_COMMIT_DATASETS];  /* committed elements of each dataset */
  uint64_t rounds;                      /* collective writes so far */
  uint32_t rows_check;                  /* XOR of oa_commit_row_check over done rows */
  uint8_t *done;                        /* bitmap, bit i = entry i committed */
} oa_commit;

/* Allocates an empty record for `entries` corpus entries. */
int oa_commit_init(oa_commit *c, uint64_t entries);
void oa_commit_free(oa_commit *c);
static inline int oa_commit_is_done(const oa_commit *c, uint64_t i) { return (c->done[i >> 3] >> (i & 7)) & 1; }
static inline void oa_commit_set_done(oa_commit *c, uint64_t i) { c->done[i >> 3] |= (uint8_t)(1u << (i & 7)); }
uint64_t oa_commit_done_count(const oa_commit *c);

/* Check value of one /recordings row (its bytes and its row number). */
uint32_t oa_commit_row_check(uint64_t row, const void *bytes, size_t len);

/* Writes PATH atomically (temporary file, fsync, rename). */
int oa_commit_save(const char *path, const oa_commit *c, oa_err *err);
/* Removes PATH and a temporary file a killed save may have left. */
void oa_commit_remove(const char *path);
/* Reads and checks PATH (size, magic, version, CRC); OA_ENOTFOUND if absent. */
int oa_commit_load(const char *path, oa_commit *c, oa_err *err);

/* Serialized form, for broadcasting a loaded record. */
int oa_commit_encode(const oa_commit *c, uint8_t **buf, uint64_t *len);
int oa_commit_decode(const uint8_t *buf, uint64_t len, oa_commit *c, oa_err *err);

#endif
