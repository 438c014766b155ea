#include "opusarc/packet.h"

#define OA_MAX_FRAME_BYTES 1275
#define OA_MAX_PACKET_SAMPLES 5760 /* 120 ms at 48 kHz */

/* Samples per frame at 48 kHz for a TOC config (RFC 6716 table 2). */
static int frame_samples(int config) {
  if (config < 12) {
    static const int silk[4] = {480, 960, 1920, 2880};
    return silk[config & 3];
  }
  if (config < 16) return (config & 1) ? 960 : 480;
  static const int celt[4] = {120, 240, 480, 960};
  return celt[config & 3];
}

/* A frame length: one byte below 252, else two bytes (RFC 6716 3.2.1). */
static int read_length(const uint8_t *p, size_t avail, int *length, size_t *used) {
  if (avail < 1) return -1;
  if (p[0] < 252) {
    *length = p[0];
    *used = 1;
    return 0;
  }
  if (avail < 2) return -1;
  *length = p[0] + 4 * p[1];
  *used = 2;
  return 0;
}

/* Parses one stream's packet starting at data. With self_delimited, the
 * packet carries its own length (RFC 6716 appendix B) and *consumed tells
 * how many bytes it spans; otherwise it spans all of len. */
static int parse_stream(const uint8_t *data, size_t len, int self_delimited, size_t *consumed,
                        oa_packet_info *info, int stream_no, oa_err *err) {
  if (len < 1)
    return oa_err_set(err, OA_EFORMAT, "stream %d: empty packet (no TOC byte)", stream_no);
  const int config = data[0] >> 3, code = data[0] & 3;
  size_t pos = 1;
  int count, lengths[48] = {0};
  int padding = 0, vbr = 0;
  if (code == 3) {
    if (pos >= len) return oa_err_set(err, OA_EFORMAT, "stream %d: code-3 packet without frame count byte", stream_no);
    vbr = (data[pos] >> 7) & 1;
    int has_padding = (data[pos] >> 6) & 1;
    count = data[pos] & 0x3f;
    pos++;
    if (count < 1) return oa_err_set(err, OA_EFORMAT, "stream %d: code-3 packet with 0 frames", stream_no);
    if (count * frame_samples(config) > OA_MAX_PACKET_SAMPLES)
      return oa_err_set(err, OA_EFORMAT, "stream %d: %d frames of %d samples exceed 120 ms", stream_no,
                        count, frame_samples(config));
    while (has_padding) {
      if (pos >= len) return oa_err_set(err, OA_EFORMAT, "stream %d: truncated padding length", stream_no);
      int b = data[pos++];
      padding += b == 255 ? 254 : b;
      has_padding = b == 255;
    }
  } else {
    count = code == 0 ? 1 : 2;
  }
  /* Frame lengths that are written explicitly. */
  int explicit_n = 0;
  if (code == 2) explicit_n = 1;
  if (code == 3 && vbr) explicit_n = count - 1;
  if (self_delimited) explicit_n += 1; /* the delimiting length comes last */
  for (int i = 0; i < explicit_n; i++) {
    size_t used;
    if (read_length(data + pos, len - pos, &lengths[i], &used) != 0)
      return oa_err_set(err, OA_EFORMAT, "stream %d: truncated frame length", stream_no);
    pos += used;
  }
  if (pos > len || (size_t)padding > len - pos)
    return oa_err_set(err, OA_EFORMAT, "stream %d: padding of %d bytes exceeds packet", stream_no, padding);
  size_t payload;
  if (self_delimited) {
    /* The last explicit length is the delimiting one: it gives the size of
     * each CBR frame, or of the last VBR/code-2 frame. */
    int sd = lengths[explicit_n - 1];
    size_t total = 0;
    if (code == 0) total = (size_t)sd;
    else if (code == 1) total = 2 * (size_t)sd;
    else if (code == 2) total = (size_t)lengths[0] + (size_t)sd;
    else if (!vbr) total = (size_t)count * (size_t)sd;
    else {
      for (int i = 0; i < count - 1; i++) total += (size_t)lengths[i];
      total += (size_t)sd;
    }
    if (total > len - pos - (size_t)padding)
      return oa_err_set(err, OA_EFORMAT, "stream %d: frames of %zu bytes exceed packet", stream_no, total);
    if (sd > OA_MAX_FRAME_BYTES) return oa_err_set(err, OA_EFORMAT, "stream %d: frame longer than 1275 bytes", stream_no);
    payload = total;
  } else {
    payload = len - pos - (size_t)padding;
    if (code == 1 && payload % 2 != 0)
      return oa_err_set(err, OA_EFORMAT, "stream %d: code-1 packet with odd payload", stream_no);
    if (code == 3 && !vbr && payload % (size_t)count != 0)
      return oa_err_set(err, OA_EFORMAT, "stream %d: CBR payload not divisible by %d frames", stream_no, count);
    size_t explicit_sum = 0;
    for (int i = 0; i < explicit_n; i++) explicit_sum += (size_t)lengths[i];
    if (explicit_sum > payload)
      return oa_err_set(err, OA_EFORMAT, "stream %d: frame lengths exceed packet", stream_no);
    size_t last = payload - explicit_sum;
    size_t each = code == 1 ? payload / 2 : (code == 3 && !vbr) ? payload / (size_t)count : last;
    if (each > OA_MAX_FRAME_BYTES) return oa_err_set(err, OA_EFORMAT, "stream %d: frame longer than 1275 bytes", stream_no);
  }
  for (int i = 0; i < explicit_n; i++)
    if (lengths[i] > OA_MAX_FRAME_BYTES)
      return oa_err_set(err, OA_EFORMAT, "stream %d: frame longer than 1275 bytes", stream_no);
  *consumed = pos + payload + (size_t)padding;
  info->duration = count * frame_samples(config);
  info->frames = count;
  info->config = config;
  return OA_OK;
}

int oa_packet_duration(const uint8_t *data, size_t len) {
  if (len < 1) return -1;
  int code = data[0] & 3, count;
  if (code == 0) count = 1;
  else if (code != 3) count = 2;
  else if (len < 2) return -1;
  else count = data[1] & 0x3f;
  return count * frame_samples(data[0] >> 3);
}

int oa_packet_validate(const uint8_t *data, size_t len, int streams, oa_packet_info *info,
                       oa_err *err) {
  if (streams < 1) return oa_err_set(err, OA_EUSAGE, "stream count %d < 1", streams);
  size_t pos = 0;
  for (int s = 0; s < streams; s++) {
    oa_packet_info one;
    size_t consumed = 0;
    int last = s == streams - 1;
    int rc = parse_stream(data + pos, len - pos, !last, &consumed, &one, s, err);
    if (rc != OA_OK) return rc;
    if (s == 0) *info = one;
    else if (one.duration != info->duration)
      return oa_err_set(err, OA_EFORMAT, "stream %d lasts %d samples, stream 0 lasts %d", s,
                        one.duration, info->duration);
    pos += consumed;
  }
  return OA_OK;
}

size_t oa_prefix_write(uint8_t *out, uint32_t length) {
  if (length < 240) {
    out[0] = (uint8_t)length;
    return 1;
  }
  if (length < 240 + 15 * 256) {
    uint32_t v = length - 240;
    out[0] = (uint8_t)(0xF0 | (v >> 8));
    out[1] = (uint8_t)(v & 0xff);
    return 2;
  }
  out[0] = 0xFF;
  for (int i = 0; i < 4; i++) out[1 + i] = (uint8_t)(length >> (8 * i));
  return 5;
}

size_t oa_prefix_read(const uint8_t *p, size_t avail, uint32_t *length) {
  if (avail < 1) return 0;
  if (p[0] < 0xF0) {
    *length = p[0];
    return 1;
  }
  if (p[0] < 0xFF) {
    if (avail < 2) return 0;
    *length = 240 + ((uint32_t)(p[0] & 0x0f) << 8) + p[1];
    return 2;
  }
  if (avail < 5) return 0;
  *length = (uint32_t)p[1] | ((uint32_t)p[2] << 8) | ((uint32_t)p[3] << 16) | ((uint32_t)p[4] << 24);
  return 5;
}
