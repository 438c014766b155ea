/* Query text: CSV lines and fields, ids that are file names. */
#include "querytext.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opusarc/mpiutil.h"
#include "opusarc/util.h"

/* Splits one CSV line into fields; handles "quoted, fields". Returns the
 * number of fields (a trailing comma starts an empty one), or -1 if there
 * are more than `max` or a quote is not closed. */
int oa_csv_split(char *line, char **fields, int max) {
  int n = 0;
  char *p = line;
  for (;;) {
    if (n == max) return -1;
    char *out = p;
    fields[n++] = p;
    if (*p == '"') {
      char *q = p + 1;
      for (;;) {
        if (*q == '\0') return -1;
        if (*q == '"' && q[1] == '"') *out++ = '"', q += 2;
        else if (*q == '"') {
          q++;
          break;
        } else *out++ = *q++;
      }
      if (*q != ',' && *q != '\0') return -1;
      char sep = *q;
      *out = '\0';
      if (sep == '\0') return n;
      p = q + 1;
    } else {
      char *comma = strchr(p, ',');
      if (!comma) return n;
      *comma = '\0';
      p = comma + 1;
    }
  }
}

int oa_tsv_split(char *line, char **fields, int max) {
  int n = 0;
  for (char *p = line;;) {
    if (n == max) return -1;
    fields[n++] = p;
    char *tab = strchr(p, '\t');
    if (!tab) return n;
    *tab = '\0';
    p = tab + 1;
  }
}

int oa_id_is_safe(const char *id) {
  return id[0] && strcmp(id, ".") != 0 && strcmp(id, "..") != 0 && !strchr(id, '/') && strlen(id) < 128;
}

/* Next line of text[pos..len) without its line end; NULL at the end. The
 * line is copied into *buf (grown as needed). */
char *oa_csv_next_line(const char *text, size_t len, size_t *pos, char **buf, size_t *cap) {
  if (*pos >= len) return NULL;
  const char *start = text + *pos, *nl = memchr(start, '\n', len - *pos);
  size_t n = nl ? (size_t)(nl - start) : len - *pos;
  *pos += n + (nl ? 1 : 0);
  while (n > 0 && start[n - 1] == '\r') n--;
  if (oa_grow((void **)buf, cap, n + 1, 1) != 0) return NULL;
  memcpy(*buf, start, n);
  (*buf)[n] = '\0';
  return *buf;
}

void oa_lines_memory(oa_lines *l, const char *text, size_t len) {
  *l = (oa_lines){.text = text, .fd = -1, .from = 0, .to = len, .at = 0};
}

void oa_lines_file(oa_lines *l, int fd, uint64_t from, uint64_t to) {
  *l = (oa_lines){.fd = fd, .from = from, .to = to, .at = from};
}

void oa_lines_free(oa_lines *l) {
  if (l->fd >= 0) close(l->fd);
  free(l->buf);
  memset(l, 0, sizeof *l);
  l->fd = -1;
}

/* Bytes read at a time (tests: 61, so lines cross blocks). */
size_t oa_lines_block(void) { return oa_fault("lines") ? 61 : 1u << 20; }

/* The file's bytes from l->at on are in the buffer, up to a line end or
 * the end of the range (a line longer than a block grows the buffer). */
static int fill_line(oa_lines *l) {
  for (;;) {
    size_t off = (size_t)(l->at - l->buf_at);
    if (l->at >= l->buf_at && l->at <= l->buf_at + l->buf_len &&
        ((l->buf_len > off && memchr(l->buf + off, '\n', l->buf_len - off)) || l->buf_at + l->buf_len >= l->to))
      return 0;
    int fresh = l->at < l->buf_at || l->at > l->buf_at + l->buf_len; /* a rewind: start a new block */
    size_t keep = fresh ? 0 : l->buf_len - off;
    if (!fresh && keep) memmove(l->buf, l->buf + off, keep);
    uint64_t block = oa_lines_block();
    uint64_t want = l->to - (l->at + keep) < block ? l->to - (l->at + keep) : block;
    if (oa_grow((void **)&l->buf, &l->buf_cap, keep + (size_t)want + 1, 1)) return l->error = ENOMEM, -1;
    ssize_t r = pread(l->fd, l->buf + keep, (size_t)want, (off_t)(l->at + keep));
    if (r <= 0) return l->error = r < 0 ? errno : EIO, -1; /* the file got shorter */
    l->buf_at = l->at, l->buf_len = keep + (size_t)r;
  }
}

char *oa_lines_next(oa_lines *l, char **line, size_t *cap) {
  if (l->at >= l->to || l->error) return NULL;
  if (l->fd < 0) {
    size_t pos = (size_t)l->at;
    char *got = oa_csv_next_line(l->text, (size_t)l->to, &pos, line, cap);
    l->at = pos;
    return got;
  }
  if (fill_line(l)) return NULL;
  size_t off = (size_t)(l->at - l->buf_at), pos = off;
  char *got = oa_csv_next_line(l->buf, l->buf_len, &pos, line, cap);
  l->at += pos - off;
  return got;
}

/* A window's id: the recording name made a file name one to one ('/' as
 * '~'; '~', '%' and control bytes as %XX), then "_<start sample>". A name
 * too long for that keeps its start and a fingerprint of the whole name. */
void oa_name_stem(const char *name, char *stem, size_t len) {
  char enc[1024];
  size_t k = 0;
  for (const unsigned char *p = (const unsigned char *)name; *p && k + 4 < sizeof enc; p++) {
    if (*p == '/') enc[k++] = '~';
    else if (*p == '~' || *p == '%' || *p < 0x20 || *p == 0x7f) k += (size_t)snprintf(enc + k, 4, "%%%02X", *p);
    else enc[k++] = (char)*p;
  }
  enc[k] = '\0';
  size_t room = len - 1;
  if (k <= room && strlen(name) * 3 + 4 < sizeof enc) {
    snprintf(stem, len, "%s", enc);
    return;
  }
  uint64_t h = oa_fnv1a(1469598103934665603ull, (const uint8_t *)name, strlen(name));
  snprintf(stem, len, "%.*s~%016" PRIx64, (int)(room - 17), enc, h);
}

