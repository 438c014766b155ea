/* Batches of rows between collective writes, and their spill file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opusarc/archive.h"
#include "opusarc/mpiutil.h"
#include "opusarc/util.h"

void oa_batch_clear(oa_batch *b) {
  b->data_len = b->nheads = b->nlinks = b->nintervals = 0;
  b->state_len = b->strings_len = b->nrecs = 0;
  b->data_spilled = b->heads_spilled = b->state_spilled = 0;
  b->nchunks = 0;
  /* Give the disk space back; the file is reused from its start (if the
   * cut fails, the next batch writes over the old bytes). */
  if (b->spill_at && b->spill_end && ftruncate(b->spill_fd, 0) != 0) errno = 0;
  b->spill_end = 0;
}

void oa_batch_free(oa_batch *b) {
  free(b->data);
  free(b->heads);
  free(b->links);
  free(b->intervals);
  free(b->state);
  free(b->strings);
  free(b->recs);
  free(b->rec_index);
  free(b->chunks);
  free(b->spill_name);
  if (b->spill_at) close(b->spill_fd);
  memset(b, 0, sizeof *b);
}

int oa_batch_add_string(oa_batch *b, const char *s, uint64_t *off, uint32_t *len) {
  size_t n = s ? strlen(s) : 0;
  if (oa_grow((void **)&b->strings, &b->strings_cap, b->strings_len + n, 1)) return -1;
  if (n) memcpy(b->strings + b->strings_len, s, n);
  *off = b->strings_len;
  *len = (uint32_t)n;
  b->strings_len += n;
  return 0;
}

size_t oa_batch_bytes(const oa_batch *b) {
  return b->data_len + b->nheads * sizeof *b->heads + b->state_len + b->strings_len + b->nlinks * sizeof(oa_link_row) +
         b->nintervals * sizeof(oa_interval_row) + b->nrecs * sizeof(oa_rec_row);
}

size_t oa_spill_elem(int kind) { return kind == OA_SPILL_HEADS ? sizeof(uint32_t) : 1; }

int oa_batch_spill_open(oa_batch *b, const char *near, size_t at, oa_err *err) {
  size_t n = strlen(near) + 32;
  char *name = malloc(n);
  if (!name) return oa_err_set(err, OA_ENOMEM, "out of memory");
  snprintf(name, n, "%s.spill-XXXXXX", near);
  int fd = mkstemp(name);
  if (fd < 0) {
    oa_err_set(err, OA_EIO, "cannot create a spill file next to %s: %s", near, strerror(errno));
    free(name);
    return OA_EIO;
  }
  unlink(name); /* nothing is left behind, whatever ends the run */
  b->spill_name = name;
  b->spill_fd = fd;
  b->spill_at = at;
  b->spill_end = 0;
  return OA_OK;
}

static int write_all(int fd, const void *p, size_t n, uint64_t at) {
  const uint8_t *c = p;
  while (n > 0) {
    ssize_t w = pwrite(fd, c, n, (off_t)at);
    if (w < 0 && errno == EINTR) continue;
    if (w == 0) errno = EIO;
    if (w <= 0) return -1;
    c += w, n -= (size_t)w, at += (uint64_t)w;
  }
  return 0;
}

/* Moves `count` elements of one kind from memory to the spill file. */
static int spill_kind(oa_batch *b, int kind, void *mem, size_t count, oa_err *err) {
  if (count == 0) return OA_OK;
  size_t bytes = count * oa_spill_elem(kind);
  if (oa_grow((void **)&b->chunks, &b->chunks_cap, b->nchunks + 1, sizeof *b->chunks))
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  const int injected = oa_fault("spill"); /* tests */
  if (injected) errno = EIO;
  if (injected || write_all(b->spill_fd, mem, bytes, b->spill_end) != 0) {
    b->spill_failed = 1;
    return oa_err_set(err, OA_EIO, "cannot write the batch's spill file %s: %s", b->spill_name,
                      strerror(errno ? errno : EIO));
  }
  b->chunks[b->nchunks++] = (oa_spill_chunk){kind, b->spill_end, count};
  b->spill_end += bytes;
  return OA_OK;
}

/* What one recording may hold in memory before the batch spills, whatever
 * the batch's budget: a day-long recording is indexed in tens of MB, while
 * a batch of short ones never touches the spill file. */
#define RECORDING_IN_MEMORY ((size_t)16 << 20)

void oa_batch_begin_recording(oa_batch *b) {
  b->rec_data = b->data_len;
  b->rec_heads = b->nheads;
  b->rec_state = b->state_len;
}

/* Elements of one kind added since `from` that are still in memory. */
static size_t in_memory_since(size_t len, size_t spilled, size_t from) {
  size_t first = from > spilled ? from : spilled;
  return len > first ? len - first : 0;
}

/* Packets and heads are never read back while indexing: they go as soon
 * as the batch passes its budget or the recording its share. */
static int maybe_spill_packets(oa_batch *b, oa_err *err) {
  size_t data_mem = b->data_len - b->data_spilled, heads_mem = b->nheads - b->heads_spilled;
  size_t rec_mem = in_memory_since(b->data_len, b->data_spilled, b->rec_data) +
                   in_memory_since(b->nheads, b->heads_spilled, b->rec_heads) * sizeof *b->heads;
  if (!b->spill_at || (data_mem + heads_mem * sizeof *b->heads < b->spill_at && rec_mem < RECORDING_IN_MEMORY))
    return OA_OK;
  int rc = spill_kind(b, OA_SPILL_DATA, b->data, data_mem, err);
  if (rc == OA_OK) rc = spill_kind(b, OA_SPILL_HEADS, b->heads, heads_mem, err);
  if (rc == OA_OK) b->data_spilled = b->data_len, b->heads_spilled = b->nheads;
  return rc;
}

int oa_batch_put_data(oa_batch *b, const void *p, size_t n, oa_err *err) {
  size_t used = b->data_len - b->data_spilled;
  if (oa_grow((void **)&b->data, &b->data_cap, used + n, 1)) return oa_err_set(err, OA_ENOMEM, "out of memory");
  if (n) memcpy(b->data + used, p, n);
  b->data_len += n;
  return maybe_spill_packets(b, err);
}

int oa_batch_put_head(oa_batch *b, uint32_t head, oa_err *err) {
  size_t used = b->nheads - b->heads_spilled;
  if (oa_grow((void **)&b->heads, &b->heads_cap, used + 1, sizeof *b->heads))
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  b->heads[used] = head;
  b->nheads++;
  return maybe_spill_packets(b, err);
}

/* Blobs already stored are spilled only when a new one comes: the indexer
 * may read the last one back (patch_matches) until the next row. */
int oa_batch_put_state(oa_batch *b, const void *p, size_t n, uint64_t *offset, oa_err *err) {
  size_t used = b->state_len - b->state_spilled;
  size_t rec_mem = in_memory_since(b->state_len, b->state_spilled, b->rec_state);
  if (b->spill_at && (used >= b->spill_at / 4 || rec_mem >= RECORDING_IN_MEMORY / 4)) {
    int rc = spill_kind(b, OA_SPILL_STATE, b->state, used, err);
    if (rc != OA_OK) return rc;
    b->state_spilled = b->state_len;
    used = 0;
  }
  if (oa_grow((void **)&b->state, &b->state_cap, used + n, 1)) return oa_err_set(err, OA_ENOMEM, "out of memory");
  memcpy(b->state + used, p, n);
  *offset = b->state_len;
  b->state_len += n;
  return OA_OK;
}

const uint8_t *oa_batch_state_at(const oa_batch *b, uint64_t off) {
  return off >= b->state_spilled ? b->state + (off - b->state_spilled) : NULL;
}

/* Cuts one kind back to `len` elements: chunks past it go (their file
 * space is reused at the next clear), the one across it is shortened. */
static void cut_kind(oa_batch *b, int kind, size_t len, size_t *spilled) {
  if (len >= *spilled) return;
  uint64_t at = 0;
  size_t keep = 0;
  for (size_t i = 0; i < b->nchunks; i++) {
    oa_spill_chunk c = b->chunks[i];
    if (c.kind == kind) {
      if (at >= len) continue;
      if (at + c.count > len) c.count = len - at;
      at += c.count;
    }
    b->chunks[keep++] = c;
  }
  b->nchunks = keep;
  *spilled = len;
}

void oa_batch_cut(oa_batch *b, size_t data_len, size_t nheads, size_t state_len) {
  cut_kind(b, OA_SPILL_DATA, data_len, &b->data_spilled);
  cut_kind(b, OA_SPILL_HEADS, nheads, &b->heads_spilled);
  cut_kind(b, OA_SPILL_STATE, state_len, &b->state_spilled);
  b->data_len = data_len;
  b->nheads = nheads;
  b->state_len = state_len;
}

int oa_batch_read_spill(const oa_batch *b, const oa_spill_chunk *c, uint64_t at, uint64_t count, void *buf) {
  size_t elem = oa_spill_elem(c->kind), n = (size_t)(count * elem);
  uint64_t from = c->file_offset + at * elem;
  uint8_t *p = buf;
  while (n > 0) {
    ssize_t r = pread(b->spill_fd, p, n, (off_t)from);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0) errno = EIO;
      return -1;
    }
    p += r, n -= (size_t)r, from += (uint64_t)r;
  }
  return 0;
}
