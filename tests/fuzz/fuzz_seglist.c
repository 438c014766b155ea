/* libFuzzer target: the segment list of an appended archive (src/segments.h)
 * from hostile bytes. Each input is parsed as it is, and once more with a
 * correct "end N CRC" line appended (N from the first byte), so the checks
 * after the checksum (header, base line, names, count) are reached too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "segments.h"

static void parse_once(const uint8_t *p, size_t n) {
  oa_seglist l;
  oa_err err;
  oa_err_clear(&err);
  if (oa_seglist_parse("fuzz", p, n, &l, &err) == OA_OK) {
    for (size_t i = 0; i < l.n; i++)
      if (!l.names[i][0] || strchr(l.names[i], '/')) abort(); /* a name that escapes the directory */
    oa_seglist_free(&l);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  parse_once(data, size);
  if (size < 1) return 0;
  const uint8_t *body = data + 1;
  size_t n = size - 1;
  char end[64];
  uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), body, (uInt)n);
  int k = snprintf(end, sizeof end, "end %u %08x\n", (unsigned)(data[0] % 8), (unsigned)crc);
  uint8_t *buf = malloc(n + (size_t)k);
  if (!buf) return 0;
  memcpy(buf, body, n);
  memcpy(buf + n, end, (size_t)k);
  parse_once(buf, n + (size_t)k);
  free(buf);
  return 0;
}
