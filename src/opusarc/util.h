/* Small helpers shared by the library modules. */
#ifndef OPUSARC_UTIL_H
#define OPUSARC_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Every decoded sample, and an archive's time base: Opus decodes at 48 kHz. */
#define OA_SAMPLE_RATE 48000

/* Grows *buf (holding *cap elements of elem_size) to hold at least `need`.
 * Returns 0, or -1 on overflow or allocation failure (buffer untouched). */
int oa_grow(void **buf, size_t *cap, size_t need, size_t elem_size);

/* Little-endian readers for header fields. */
static inline uint16_t oa_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t oa_le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* A random non-zero 64-bit number (/dev/urandom mixed with the time and
 * pid): the archive_id that tells an archive file from an earlier one of
 * the same name. */
uint64_t oa_random_id(void);

/* FNV-1a, 64 bit: fingerprints (not for integrity against damage). */
uint64_t oa_fnv1a(uint64_t h, const uint8_t *p, size_t n);

/* Whether `path` ends in one of the n extensions (".wav"), any letter case. */
int oa_has_extension(const char *path, const char *const *ext, size_t n);

/* Reads a whole file into memory. */
int oa_read_file(const char *path, uint8_t **data, size_t *len, char *why, size_t why_len);
/* Writes all n bytes (retrying short writes and EINTR): 0, or -1 with errno. */
int oa_write_all(int fd, const void *p, size_t n);
/* A temporary file in $TMPDIR (or /tmp) named opusarc-TAG-XXXXXX, unlinked
 * at once (gone when closed): its fd, or -1 with errno set. path gets its
 * name either way, for messages. */
int oa_temp_fd(const char *tag, char *path, size_t len);

/* CRC-32 (zlib) of float samples taken as little-endian bytes: the byte
 * order of the reference-output CRCs in the archive. */
uint32_t oa_crc_init(void);
uint32_t oa_crc_f32le(uint32_t crc, const float *x, size_t n);

/* Numbers as users type them (options, CSV fields): the whole text must be
 * the number. 0, or -1 leaving *out alone. */
int oa_parse_double(const char *s, double *out); /* finite */
int oa_parse_int64(const char *s, int64_t *out); /* decimal */
/* A position in samples: an integer, or with per_second > 0 a number of
 * seconds (|s| <= 10^12) times per_second, rounded to the nearest sample. */
int oa_parse_position(const char *s, double per_second, int64_t *out);

#endif
