#include "opusarc/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

int oa_grow(void **buf, size_t *cap, size_t need, size_t elem_size) {
  if (need <= *cap) return 0;
  size_t next = *cap ? *cap : 16;
  while (next < need) {
    if (next > SIZE_MAX / 2) return -1;
    next *= 2;
  }
  if (next > SIZE_MAX / elem_size) return -1;
  void *p = realloc(*buf, next * elem_size);
  if (!p) return -1;
  *buf = p;
  *cap = next;
  return 0;
}

int oa_write_all(int fd, const void *p, size_t n) {
  for (const uint8_t *b = p; n;) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    if (w == 0) return errno = EIO, -1;
    b += w, n -= (size_t)w;
  }
  return 0;
}

int oa_temp_fd(const char *tag, char *path, size_t len) {
  const char *dir = getenv("TMPDIR");
  snprintf(path, len, "%s/opusarc-%s-XXXXXX", dir && *dir ? dir : "/tmp", tag);
  int fd = mkstemp(path);
  if (fd >= 0) unlink(path);
  return fd;
}

int oa_read_file(const char *path, uint8_t **data, size_t *len, char *why, size_t why_len) {
  *data = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(why, why_len, "%s", strerror(errno));
    return -1;
  }
  size_t cap = 0, used = 0;
  uint8_t *buf = NULL;
  for (;;) {
    if (oa_grow((void **)&buf, &cap, used + 65536, 1) != 0) {
      snprintf(why, why_len, "out of memory");
      free(buf);
      fclose(f);
      return -1;
    }
    size_t got = fread(buf + used, 1, cap - used, f);
    used += got;
    if (got == 0) break;
  }
  int failed = ferror(f);
  if (failed) snprintf(why, why_len, "read error: %s", strerror(errno));
  fclose(f);
  if (failed) {
    free(buf);
    return -1;
  }
  *data = buf;
  *len = used;
  return 0;
}

uint32_t oa_crc_f32le(uint32_t crc, const float *x, size_t n) {
  const uint16_t one = 1;
  uint8_t little;
  memcpy(&little, &one, 1);
  if (little) return (uint32_t)crc32(crc, (const unsigned char *)x, (unsigned)(n * sizeof *x));
  for (size_t i = 0; i < n; i++) {
    uint8_t b[4], r[4];
    memcpy(b, &x[i], 4);
    r[0] = b[3], r[1] = b[2], r[2] = b[1], r[3] = b[0];
    crc = (uint32_t)crc32(crc, r, 4);
  }
  return crc;
}

uint32_t oa_crc_init(void) { return (uint32_t)crc32(0L, NULL, 0); }

uint64_t oa_fnv1a(uint64_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

uint64_t oa_random_id(void) {
  uint64_t id = 0;
  FILE *f = fopen("/dev/urandom", "rb");
  if (!f || fread(&id, sizeof id, 1, f) != 1) id = 0;
  if (f) fclose(f);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  id ^= (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 32);
  return id ? id : 1;
}

int oa_has_extension(const char *path, const char *const *ext, size_t n) {
  const char *dot = strrchr(path, '.');
  for (size_t i = 0; dot && i < n; i++)
    if (strcasecmp(dot, ext[i]) == 0) return 1;
  return 0;
}

int oa_parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end != '\0' || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

int oa_parse_int64(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end != '\0') return -1;
  *out = v;
  return 0;
}

int oa_parse_position(const char *s, double per_second, int64_t *out) {
  if (per_second <= 0) return oa_parse_int64(s, out);
  double v;
  if (oa_parse_double(s, &v) != 0 || fabs(v) > 1e12) return -1;
  *out = llround(v * per_second);
  return 0;
}
