/* The read-only API (opusarc/reader.h) over the archive reader and the
 * extraction engine: no MPI, no HDF5 types in what callers see. */
#include "opusarc/reader.h"

#include <stdlib.h>
#include <string.h>

#include "opusarc/archive.h"
#include "opusarc/extract.h"

_Static_assert((int)OA_READER_DECODE_FROM_START == (int)OA_EXTRACT_DECODE_FROM_START, "flag values shared with extract.h");
_Static_assert((int)OA_READER_NO_SNAPSHOTS == (int)OA_EXTRACT_NO_SNAPSHOTS, "flag values shared with extract.h");
_Static_assert((int)OA_READER_FAILED == (int)OA_REC_FAILED && (int)OA_READER_DAMAGED == (int)OA_REC_DAMAGED, "status values");

struct oa_reader {
  oa_archive *archive;
  oa_extractor *extractor;
};

const char *oa_reader_version(void) { return OPUSARC_VERSION_STRING; }

int oa_reader_open(const char *path, int flags, oa_reader **out, oa_err *err) {
  *out = NULL;
  if (flags & ~(OA_READER_DECODE_FROM_START | OA_READER_NO_SNAPSHOTS))
    return oa_err_set(err, OA_EUSAGE, "unknown reader flags 0x%x", (unsigned)flags);
  oa_reader *r = calloc(1, sizeof *r);
  if (!r) return oa_err_set(err, OA_ENOMEM, "out of memory");
  int rc = oa_archive_open(path, &r->archive, err);
  if (rc == OA_OK) rc = oa_extractor_create(r->archive, flags, &r->extractor, err);
  if (rc != OA_OK) {
    oa_reader_close(r);
    return rc;
  }
  *out = r;
  return OA_OK;
}

void oa_reader_close(oa_reader *r) {
  if (!r) return;
  if (r->extractor) oa_extractor_free(r->extractor);
  if (r->archive) oa_archive_close(r->archive);
  free(r);
}

uint64_t oa_reader_count(const oa_reader *r) { return oa_archive_recording_count(r->archive); }

static int check_index(const oa_reader *r, uint64_t index, oa_err *err) {
  uint64_t n = oa_archive_recording_count(r->archive);
  return index < n ? OA_OK
                   : oa_err_set(err, OA_ERANGE, "recording %llu does not exist (the archive holds %llu)",
                                (unsigned long long)index, (unsigned long long)n);
}

int oa_reader_info(const oa_reader *r, uint64_t index, oa_recording_info *info, oa_err *err) {
  int rc = check_index(r, index, err);
  if (rc != OA_OK) return rc;
  const oa_rec_row *row = oa_archive_recording(r->archive, index);
  memset(info, 0, sizeof *info);
  info->name = oa_archive_recording_name(r->archive, index);
  info->status = row->status;
  info->error = oa_archive_recording_error(r->archive, index);
  info->channels = row->channels;
  info->frames = OA_REC_READABLE(row) ? row->samples : 0;
  info->start_zone = row->start_zone;
  info->start_us = row->start_us;
  info->start_text = oa_archive_recording_start(r->archive, index);
  info->time_base = oa_archive_samples_per_second(r->archive, index);
  return OA_OK;
}

int oa_reader_find(const oa_reader *r, const char *name, uint64_t *index, oa_err *err) {
  return oa_archive_find(r->archive, name, index, err);
}

/* Where decoded frames go: the caller's buffer, filled in order. */
typedef struct buffer_sink {
  float *out;
  size_t frames_done, capacity;
  int channels;
} buffer_sink;

static int to_buffer(void *ctx, const float *pcm, size_t frames, int channels, oa_err *err) {
  buffer_sink *b = ctx;
  if (channels != b->channels)
    return oa_err_set(err, OA_EFORMAT, "a link of %d channels in a recording of %d", channels, b->channels);
  if (frames > b->capacity - b->frames_done)
    return oa_err_set(err, OA_EARCHIVE, "the archive decodes more frames than the range holds");
  memcpy(b->out + b->frames_done * (size_t)channels, pcm, frames * (size_t)channels * sizeof *pcm);
  b->frames_done += frames;
  return OA_OK;
}

int oa_reader_read(oa_reader *r, uint64_t index, int64_t start, int64_t end, float *out, size_t capacity_frames,
                   oa_err *err) {
  int rc = check_index(r, index, err);
  if (rc != OA_OK) return rc;
  const oa_rec_row *row = oa_archive_recording(r->archive, index);
  const char *name = oa_archive_recording_name(r->archive, index);
  if (!OA_REC_READABLE(row))
    return oa_err_set(err, OA_ERANGE, "%s failed when indexed and holds no audio: %s", name,
                      oa_archive_recording_error(r->archive, index));
  if (start < 0 || end < start || end > row->samples)
    return oa_err_set(err, OA_ERANGE, "%s: frames [%lld, %lld) are not within its %lld frames", name,
                      (long long)start, (long long)end, (long long)row->samples);
  if ((uint64_t)(end - start) > capacity_frames)
    return oa_err_set(err, OA_EUSAGE, "%s: %lld frames do not fit a buffer of %zu", name, (long long)(end - start),
                      capacity_frames);
  buffer_sink b = {.out = out, .capacity = (size_t)(end - start), .channels = row->channels};
  rc = oa_extract_range(r->extractor, index, start, end, to_buffer, &b, NULL, err);
  if (rc == OA_OK && b.frames_done != b.capacity)
    rc = oa_err_set(err, OA_EARCHIVE, "%s: the archive decoded %zu of the %zu frames asked for", name, b.frames_done,
                    b.capacity);
  return rc;
}
