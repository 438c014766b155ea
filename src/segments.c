#include "segments.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "opusarc/util.h"
#include "outfile.h"

#define LIST_MAGIC "opusarc-segments 1"

int oa_base_identity(const char *path, const oa_archive_meta *m, char *out, size_t len, oa_err *err) {
  struct stat st;
  if (stat(path, &st) != 0) return oa_err_set(err, OA_EARCHIVE, "%s: %s", path, strerror(errno));
  snprintf(out, len, "%016llx %llu %s", (unsigned long long)m->archive_id, (unsigned long long)st.st_size,
           m->created);
  return OA_OK;
}

void oa_seglist_path(const char *archive, char *out, size_t len) { snprintf(out, len, "%s.segments", archive); }

void oa_segment_path(const char *archive, unsigned k, char *out, size_t len) {
  size_t n = strlen(archive);
  if (n > 3 && strcmp(archive + n - 3, ".h5") == 0) n -= 3;
  snprintf(out, len, "%.*s.seg-%04u.h5", (int)n, archive, k);
}

void oa_segment_in_dir(const char *archive, const char *name, char *out, size_t len) {
  const char *slash = strrchr(archive, '/');
  if (!slash) snprintf(out, len, "%s", name);
  else snprintf(out, len, "%.*s/%s", (int)(slash - archive), archive, name);
}

int oa_seglist_add(oa_seglist *l, const char *name) {
  char **grown = realloc(l->names, (l->n + 1) * sizeof *grown);
  if (!grown) return -1;
  l->names = grown;
  if (!(l->names[l->n] = strdup(name))) return -1;
  l->n++;
  return 0;
}

void oa_seglist_free(oa_seglist *l) {
  for (size_t i = 0; i < l->n; i++) free(l->names[i]);
  free(l->names);
  memset(l, 0, sizeof *l);
}

/* A listed name must stay in the base file's directory and be a plain name. */
static int name_ok(const char *s) { return s[0] && s[0] != '.' && !strchr(s, '/') && strlen(s) < 1024; }

/* The list's lines, without "end", in one buffer (the text the CRC covers). */
static char *body_of(const oa_seglist *l, size_t *len) {
  size_t cap = strlen(LIST_MAGIC) + strlen(l->base) + 16;
  for (size_t i = 0; i < l->n; i++) cap += strlen(l->names[i]) + 6;
  char *b = malloc(cap);
  if (!b) return NULL;
  size_t k = (size_t)snprintf(b, cap, "%s\nbase %s\n", LIST_MAGIC, l->base);
  for (size_t i = 0; i < l->n; i++) k += (size_t)snprintf(b + k, cap - k, "seg %s\n", l->names[i]);
  *len = k;
  return b;
}

static uint32_t crc_of(const char *p, size_t n) { return (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)p, (uInt)n); }

static int parse(const char *path, char *text, size_t len, oa_seglist *l, oa_err *err) {
  char *end = NULL;
  for (size_t i = len; i-- > 0;)
    if (i == 0 || text[i - 1] == '\n') {
      if (strncmp(text + i, "end ", 4) == 0) end = text + i;
      break;
    }
  unsigned long long n = 0;
  unsigned crc = 0;
  if (!end || sscanf(end, "end %llu %x", &n, &crc) != 2)
    return oa_err_set(err, OA_EARCHIVE, "%s: damaged segment list (no end line)", path);
  if (crc_of(text, (size_t)(end - text)) != crc)
    return oa_err_set(err, OA_EARCHIVE, "%s: damaged segment list (checksum mismatch)", path);
  *end = '\0';
  char *save = NULL;
  char *line = strtok_r(text, "\n", &save);
  if (!line || strcmp(line, LIST_MAGIC) != 0)
    return oa_err_set(err, OA_EARCHIVE, "%s: not an opusarc segment list (or a newer version)", path);
  line = strtok_r(NULL, "\n", &save);
  if (!line || strncmp(line, "base ", 5) != 0 || strlen(line + 5) >= sizeof l->base)
    return oa_err_set(err, OA_EARCHIVE, "%s: damaged segment list (no base line)", path);
  snprintf(l->base, sizeof l->base, "%s", line + 5);
  while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
    if (strncmp(line, "seg ", 4) != 0 || !name_ok(line + 4) || l->n >= OA_SEGLIST_MAX)
      return oa_err_set(err, OA_EARCHIVE, "%s: damaged segment list (bad line \"%.80s\")", path, line);
    if (oa_seglist_add(l, line + 4) != 0) return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  if (n != l->n)
    return oa_err_set(err, OA_EARCHIVE, "%s: damaged segment list (%zu segments, end line says %llu)", path, l->n, n);
  return OA_OK;
}

int oa_seglist_parse(const char *what, const uint8_t *buf, size_t len, oa_seglist *l, oa_err *err) {
  memset(l, 0, sizeof *l);
  char *text = malloc(len + 1);
  if (!text) return oa_err_set(err, OA_ENOMEM, "out of memory");
  memcpy(text, buf, len);
  text[len] = '\0';
  int rc = strlen(text) != len ? oa_err_set(err, OA_EARCHIVE, "%s: not a segment list (NUL bytes)", what)
                               : parse(what, text, len, l, err);
  free(text);
  if (rc != OA_OK) oa_seglist_free(l);
  return rc;
}

int oa_seglist_load(const char *archive, oa_seglist *l, int *found, oa_err *err) {
  memset(l, 0, sizeof *l);
  *found = 0;
  char path[4096];
  oa_seglist_path(archive, path, sizeof path);
  struct stat st;
  if (lstat(path, &st) != 0) {
    if (errno == ENOENT) return OA_OK;
    return oa_err_set(err, OA_EARCHIVE, "%s: %s", path, strerror(errno));
  }
  if (!S_ISREG(st.st_mode) || st.st_size > 64 * 1024 * 1024)
    return oa_err_set(err, OA_EARCHIVE, "%s: not a segment list (not a regular file of sane size)", path);
  uint8_t *buf;
  size_t len;
  char why[256];
  if (oa_read_file(path, &buf, &len, why, sizeof why) != 0) return oa_err_set(err, OA_EARCHIVE, "%s: %s", path, why);
  int rc = oa_seglist_parse(path, buf, len, l, err);
  free(buf);
  if (rc == OA_OK) *found = 1;
  return rc;
}

/* The directory entry of the rename must reach the disk too. */
static int sync_dir_of(const char *path) {
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", path);
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

/* Temporary lists left by a writer killed between creating and renaming
 * one (PATH.partial.PID.K). Only the holder of the archive's lock writes the
 * list, so any such file found by the holder is stale. */
static void remove_stale_temporaries(const char *path) {
  char copy[4096], dir[4096];
  snprintf(copy, sizeof copy, "%s", path);
  snprintf(dir, sizeof dir, "%s", path);
  const char *base = basename(copy);
  size_t blen = strlen(base);
  DIR *d = opendir(dirname(dir));
  if (!d) return;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (strncmp(e->d_name, base, blen) != 0 || strncmp(e->d_name + blen, ".partial.", 9) != 0) continue;
    char victim[8192];
    oa_segment_in_dir(path, e->d_name, victim, sizeof victim);
    unlink(victim);
  }
  closedir(d);
}

int oa_seglist_save(const char *archive, const oa_seglist *l, oa_err *err) {
  char path[4096], tmp[4200];
  oa_seglist_path(archive, path, sizeof path);
  remove_stale_temporaries(path);
  size_t len;
  char *body = body_of(l, &len);
  if (!body) return oa_err_set(err, OA_ENOMEM, "out of memory");
  char end[64];
  snprintf(end, sizeof end, "end %zu %08x\n", l->n, (unsigned)crc_of(body, len));
  int fd = oa_out_create_temp(path, tmp, sizeof tmp, err);
  int ok = fd >= 0;
  if (ok) ok = oa_write_all(fd, body, len) == 0 && oa_write_all(fd, end, strlen(end)) == 0 && fsync(fd) == 0;
  int e = errno;
  if (fd >= 0 && close(fd) != 0 && ok) ok = 0, e = errno;
  free(body);
  if (fd < 0) return err->code;
  if (ok && rename(tmp, path) != 0) ok = 0, e = errno;
  if (!ok) {
    unlink(tmp);
    return oa_err_set(err, OA_EIO, "cannot write %s: %s", path, strerror(e));
  }
  sync_dir_of(path);
  return OA_OK;
}
