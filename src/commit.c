#include "opusarc/commit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "opusarc/util.h"

/* Layout, all integers little-endian:
 *   "OACOMMIT" | u32 version | u32 options length | options bytes |
 *   u64 corpus hash | u64 entries | 6 x u64 extents | u64 rounds |
 *   u32 rows check | bitmap ((entries + 7) / 8 bytes) | u32 CRC-32 of all before */
static const char MAGIC[8] = {'O', 'A', 'C', 'O', 'M', 'M', 'I', 'T'};
#define COMMIT_VERSION 2u /* 2: archive format 7 (six datasets) */
#define FIXED_BYTES (8 + 4 + 4 + 8 + 8 + 8 * OA_COMMIT_DATASETS + 8 + 4 + 4)

static uint64_t bitmap_bytes(uint64_t entries) { return (entries + 7) / 8; }

int oa_commit_init(oa_commit *c, uint64_t entries) {
  memset(c, 0, sizeof *c);
  c->entries = entries;
  c->done = calloc(bitmap_bytes(entries) + 1, 1);
  return c->done ? 0 : -1;
}

void oa_commit_free(oa_commit *c) {
  free(c->done);
  memset(c, 0, sizeof *c);
}

uint64_t oa_commit_done_count(const oa_commit *c) {
  uint64_t n = 0;
  for (uint64_t i = 0; i < c->entries; i++) n += (uint64_t)oa_commit_is_done(c, i);
  return n;
}

uint32_t oa_commit_row_check(uint64_t row, const void *bytes, size_t len) {
  uint8_t r[8];
  for (int k = 0; k < 8; k++) r[k] = (uint8_t)(row >> (8 * k));
  uLong crc = crc32(0L, r, sizeof r);
  return (uint32_t)crc32(crc, bytes, (uInt)len);
}

static void put_u32(uint8_t **p, uint32_t v) {
  for (int k = 0; k < 4; k++) *(*p)++ = (uint8_t)(v >> (8 * k));
}
static void put_u64(uint8_t **p, uint64_t v) {
  for (int k = 0; k < 8; k++) *(*p)++ = (uint8_t)(v >> (8 * k));
}
static uint32_t get_u32(const uint8_t **p) {
  uint32_t v = oa_le32(*p);
  *p += 4;
  return v;
}
static uint64_t get_u64(const uint8_t **p) {
  uint64_t lo = oa_le32(*p), hi = oa_le32(*p + 4);
  *p += 8;
  return lo | (hi << 32);
}

int oa_commit_encode(const oa_commit *c, uint8_t **buf, uint64_t *len) {
  uint32_t olen = (uint32_t)strnlen(c->options, OA_COMMIT_OPTIONS_MAX - 1);
  uint64_t total = FIXED_BYTES + olen + bitmap_bytes(c->entries);
  uint8_t *b = malloc(total), *p = b;
  if (!b) return -1;
  memcpy(p, MAGIC, 8);
  p += 8;
  put_u32(&p, COMMIT_VERSION);
  put_u32(&p, olen);
  memcpy(p, c->options, olen);
  p += olen;
  put_u64(&p, c->corpus_hash);
  put_u64(&p, c->entries);
  for (int i = 0; i < OA_COMMIT_DATASETS; i++) put_u64(&p, c->extent[i]);
  put_u64(&p, c->rounds);
  put_u32(&p, c->rows_check);
  memcpy(p, c->done, bitmap_bytes(c->entries));
  p += bitmap_bytes(c->entries);
  put_u32(&p, (uint32_t)crc32(0L, b, (uInt)(total - 4)));
  *buf = b;
  *len = total;
  return 0;
}

int oa_commit_decode(const uint8_t *buf, uint64_t len, oa_commit *c, oa_err *err) {
  memset(c, 0, sizeof *c);
  if (len < FIXED_BYTES || memcmp(buf, MAGIC, 8) != 0) return oa_err_set(err, OA_EARCHIVE, "not a commit record");
  const uint8_t *p = buf + 8;
  if (get_u32(&p) != COMMIT_VERSION) return oa_err_set(err, OA_EARCHIVE, "unknown commit record version");
  uint32_t olen = get_u32(&p);
  if (olen >= OA_COMMIT_OPTIONS_MAX || olen > len - FIXED_BYTES)
    return oa_err_set(err, OA_EARCHIVE, "commit record damaged (options length)");
  if ((uint32_t)crc32(0L, buf, (uInt)(len - 4)) != oa_le32(buf + len - 4))
    return oa_err_set(err, OA_EARCHIVE, "commit record damaged (CRC mismatch)");
  char options[OA_COMMIT_OPTIONS_MAX];
  memcpy(options, p, olen);
  options[olen] = '\0';
  p += olen;
  uint64_t hash = get_u64(&p), entries = get_u64(&p);
  if (entries > (len - FIXED_BYTES - olen) * 8 || bitmap_bytes(entries) != len - FIXED_BYTES - olen)
    return oa_err_set(err, OA_EARCHIVE, "commit record damaged (entry count)");
  if (oa_commit_init(c, entries) != 0) return oa_err_set(err, OA_ENOMEM, "out of memory");
  memcpy(c->options, options, olen + 1);
  c->corpus_hash = hash;
  for (int i = 0; i < OA_COMMIT_DATASETS; i++) c->extent[i] = get_u64(&p);
  c->rounds = get_u64(&p);
  c->rows_check = get_u32(&p);
  memcpy(c->done, p, bitmap_bytes(entries));
  return OA_OK;
}

/* PATH.tmp, where a record is written before it replaces PATH. */
static char *temp_path(const char *path) {
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 5);
  if (!tmp) return NULL;
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp", 5);
  return tmp;
}

int oa_commit_save(const char *path, const oa_commit *c, oa_err *err) {
  uint8_t *buf;
  uint64_t len;
  if (oa_commit_encode(c, &buf, &len) != 0) return oa_err_set(err, OA_ENOMEM, "out of memory");
  char *tmp = temp_path(path);
  if (!tmp) {
    free(buf);
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  unlink(tmp); /* left by a killed save, or planted: never followed */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  int ok = fd >= 0;
  for (uint64_t done = 0; ok && done < len;) {
    ssize_t n = write(fd, buf + done, len - done);
    if (n <= 0) ok = 0;
    else done += (uint64_t)n;
  }
  /* The record must not reach the disk before the archive data it vouches
   * for (flushed by the caller) and must be whole when it replaces the old. */
  if (ok) ok = fsync(fd) == 0;
  int e = errno;
  if (fd >= 0 && close(fd) != 0 && ok) ok = 0, e = errno;
  if (ok && rename(tmp, path) != 0) ok = 0, e = errno;
  if (!ok) unlink(tmp);
  free(tmp);
  free(buf);
  return ok ? OA_OK : oa_err_set(err, OA_EIO, "cannot write %s: %s", path, strerror(e));
}

int oa_commit_load(const char *path, oa_commit *c, oa_err *err) {
  memset(c, 0, sizeof *c);
  if (access(path, F_OK) != 0) return oa_err_set(err, OA_ENOTFOUND, "%s: %s", path, strerror(errno));
  uint8_t *buf;
  size_t len;
  char why[256];
  if (oa_read_file(path, &buf, &len, why, sizeof why) != 0) return oa_err_set(err, OA_EIO, "%s: %s", path, why);
  int rc = oa_commit_decode(buf, len, c, err);
  free(buf);
  if (rc != OA_OK) oa_err_prefix(err, "%s: ", path);
  return rc;
}

void oa_commit_remove(const char *path) {
  unlink(path);
  char *tmp = temp_path(path);
  if (tmp) unlink(tmp); /* left by a run killed while saving */
  free(tmp);
}
