/* HDF5 details shared by the archive writer and reader. */
#ifndef OPUSARC_ARCHIVE_H5_H
#define OPUSARC_ARCHIVE_H5_H

#include <hdf5.h>

#include "opusarc/archive.h"

#define OA_DS_RECORDINGS "recordings"
#define OA_DS_STRINGS "strings"
#define OA_DS_LINKS "links"
#define OA_DS_INTERVALS "intervals"
#define OA_DS_PACKET_DATA "packets/data"
#define OA_DS_PACKET_HEADS "packets/heads"
#define OA_DS_CP_STATE "checkpoints/state"

typedef struct oa_h5_types {
  hid_t rec, rec_v3, rec_v4, rec_v5, link, link_v6, interval, mapping; /* rec_vN, link_vN: of format N */
} oa_h5_types;

int oa_h5_types_create(oa_h5_types *t);
void oa_h5_types_close(oa_h5_types *t);

/* Check value of a /recordings row for commit records: its fields taken
 * one by one (struct padding is not data). */
uint32_t oa_rec_row_check(uint64_t row, const oa_rec_row *r);

/* Reads elements [first, first + n) of a 1-D dataset as `type`: 0 or -1. */
int oa_h5_read_1d(hid_t ds, hid_t type, uint64_t first, uint64_t n, void *buf);

/* Silences HDF5's own error stack printing unless OPUSARC_HDF5_DEBUG is set;
 * opusarc reports errors itself. */
void oa_h5_quiet(void);

#endif
