/* pktdecode: straight libopus decode of one recording's stored packets,
 * written separately from opusarc's reader and extractor: the archive is
 * read with plain HDF5 calls, each packet put back together here from its
 * head in /packets/heads (length << 8 | first byte; format 7) and its other
 * bytes, or read behind its length prefix (formats before 7), every packet
 * decoded from a fresh decoder per link, pre-skip dropped, the link cut at
 * its output length.   pktdecode ARCHIVE.h5 ROW OUT.f32   (ROW in /recordings) */
#include <hdf5.h>
#include <opus/opus_multistream.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct link {
  uint64_t data_offset, data_size, packet_count, first_packet;
  int64_t out_samples;
  int32_t channels, streams, coupled, pre_skip, gain;
  uint8_t mapping[255];
} link;

static void read_slice(hid_t ds, hid_t type, hsize_t first, hsize_t n, void *buf) {
  hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(1, &n, NULL);
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, &first, NULL, &n, NULL);
  H5Dread(ds, type, ms, fs, H5P_DEFAULT, buf);
  H5Sclose(ms), H5Sclose(fs);
}

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  hid_t f = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return 1;
  hid_t recs = H5Dopen2(f, "recordings", H5P_DEFAULT), links = H5Dopen2(f, "links", H5P_DEFAULT);
  hid_t data = H5Dopen2(f, "packets/data", H5P_DEFAULT);
  hid_t heads = H5Lexists(f, "packets/heads", H5P_DEFAULT) > 0 ? H5Dopen2(f, "packets/heads", H5P_DEFAULT) : -1;
  struct { uint64_t first, count; } r;
  hid_t rt = H5Tcreate(H5T_COMPOUND, sizeof r);
  H5Tinsert(rt, "first_link", 0, H5T_NATIVE_UINT64);
  H5Tinsert(rt, "link_count", 8, H5T_NATIVE_UINT64);
  read_slice(recs, rt, strtoull(argv[2], NULL, 10), 1, &r);
  hid_t map = H5Tarray_create2(H5T_NATIVE_UINT8, 1, (hsize_t[]){255});
  hid_t lt = H5Tcreate(H5T_COMPOUND, sizeof(link));
  H5Tinsert(lt, "data_offset", HOFFSET(link, data_offset), H5T_NATIVE_UINT64);
  H5Tinsert(lt, "data_size", HOFFSET(link, data_size), H5T_NATIVE_UINT64);
  H5Tinsert(lt, "packet_count", HOFFSET(link, packet_count), H5T_NATIVE_UINT64);
  if (heads >= 0) H5Tinsert(lt, "first_packet", HOFFSET(link, first_packet), H5T_NATIVE_UINT64);
  H5Tinsert(lt, "out_samples", HOFFSET(link, out_samples), H5T_NATIVE_INT64);
  H5Tinsert(lt, "channels", HOFFSET(link, channels), H5T_NATIVE_INT32);
  H5Tinsert(lt, "streams", HOFFSET(link, streams), H5T_NATIVE_INT32);
  H5Tinsert(lt, "coupled", HOFFSET(link, coupled), H5T_NATIVE_INT32);
  H5Tinsert(lt, "pre_skip", HOFFSET(link, pre_skip), H5T_NATIVE_INT32);
  H5Tinsert(lt, "gain_q8", HOFFSET(link, gain), H5T_NATIVE_INT32);
  H5Tinsert(lt, "mapping", HOFFSET(link, mapping), map);
  FILE *out = fopen(argv[3], "wb");
  float pcm[5760 * 8];
  uint8_t packet[1 << 16];
  for (uint64_t l = 0; l < r.count; l++) {
    link k;
    read_slice(links, lt, r.first + l, 1, &k);
    uint8_t *bytes = malloc(k.data_size);
    read_slice(data, H5T_NATIVE_UINT8, k.data_offset, k.data_size, bytes);
    uint32_t *head = malloc((k.packet_count + 1) * sizeof *head);
    if (heads >= 0) read_slice(heads, H5T_NATIVE_UINT32, k.first_packet, k.packet_count, head);
    int err;
    OpusMSDecoder *d = opus_multistream_decoder_create(48000, k.channels, k.streams, k.coupled, k.mapping, &err);
    opus_multistream_decoder_ctl(d, OPUS_SET_GAIN(k.gain));
    int64_t pos = 0, written = 0;
    for (uint64_t at = 0, p = 0; p < k.packet_count; p++) {
      uint32_t len;
      const uint8_t *pk = bytes + at;
      if (heads >= 0) {
        len = head[p] >> 8;
        if (len > sizeof packet) return 1;
        packet[0] = (uint8_t)head[p];
        if (len > 1) memcpy(packet + 1, bytes + at, len - 1);
        at += len ? len - 1 : 0, pk = packet;
      } else {
        len = bytes[at];
        if (len < 0xF0) at += 1;
        else if (len < 0xFF) len = 240 + ((len & 0x0f) << 8) + bytes[at + 1], at += 2;
        else memcpy(&len, bytes + at + 1, 4), at += 5;
        pk = bytes + at, at += len;
      }
      int n = opus_multistream_decode_float(d, pk, (int)len, pcm, 5760, 0);
      if (n < 0) return 1;
      for (int i = 0; i < n; i++, pos++)
        if (pos >= k.pre_skip && written < k.out_samples) {
          fwrite(pcm + (size_t)i * k.channels, sizeof(float), (size_t)k.channels, out);
          written++;
        }
    }
    opus_multistream_decoder_destroy(d);
    free(bytes);
    free(head);
  }
  fclose(out);
  H5Fclose(f);
  return 0;
}
