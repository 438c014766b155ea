/* The archive: one HDF5 file of a few flat datasets (docs/FORMAT.md).
 * Writing is collective over an MPI communicator and appends in batches, so
 * the number of collective HDF5 calls depends on the number of batches, not
 * on the number of recordings. Reading is independent per process. */
#ifndef OPUSARC_ARCHIVE_H
#define OPUSARC_ARCHIVE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "opusarc/corpus.h"
#include "opusarc/error.h"
#include "opusarc/log.h"
#include "opusarc/opusbuild.h"

#define OA_FORMAT_NAME "opusarc"
#define OA_FORMAT_VERSION 7
#define OA_FORMAT_VERSION_OLDEST 3 /* still read: 3 has no source mtime and inode, 3-4 no start fields,
                                     3-5 no damaged recordings, 3-6 length prefixes instead of /packets/heads */

/* A link row of a file before format 7: its packets carry length prefixes
 * in /packets/data (docs/FORMAT.md) instead of entries in /packets/heads. */
#define OA_NO_HEADS UINT64_MAX

/* A damaged recording (format 6) kept what its file still holds; its error
 * text names the damage and lost_samples counts the silence standing for
 * lost audio. It reads like an ok one. */
enum oa_rec_status { OA_REC_OK = 0, OA_REC_FAILED = 1, OA_REC_DAMAGED = 2 };
/* Whether a recording's samples can be read (ok or damaged). */
#define OA_REC_READABLE(r) ((r)->status == OA_REC_OK || (r)->status == OA_REC_DAMAGED)

/* How the decoder for an interval is obtained (docs/FORMAT.md). */
enum oa_checkpoint_kind {
  OA_CP_START = 0,    /* first interval of a link: a fresh decoder */
  OA_CP_PREROLL = 1,  /* fresh decoder fed the `preroll` packets before the interval */
  OA_CP_SNAPSHOT = 2, /* restored full decoder snapshot */
  OA_CP_PATCH = 3     /* format 7: a pre-roll, then the decoder's memory patched (exact over the interval) */
};
#define OA_CP_KINDS 4
/* Kinds whose row carries bytes in /checkpoints/state. */
#define OA_CP_HAS_STATE(kind) ((kind) == OA_CP_SNAPSHOT || (kind) == OA_CP_PATCH)

/* /recordings: one row per corpus entry, in name order. String fields are
 * (offset, length) into /strings. */
typedef struct oa_rec_row {
  uint64_t name_off;
  uint64_t path_off;
  uint64_t error_off;
  uint32_t name_len, path_len, error_len;
  int32_t status;
  uint64_t source_size;
  int32_t channels, mapping_family, pre_skip, gain_q8; /* of the first link */
  int64_t samples;         /* 48 kHz sample frames after pre-skip and trimming */
  uint64_t first_link, link_count;
  uint64_t first_interval, interval_count;
  uint64_t data_offset, data_size; /* its bytes in /packets/data */
  uint64_t packet_count;
  uint64_t payload_bytes;  /* Opus packet bytes, without length prefixes */
  int64_t failed_packet;   /* packet number within the recording, -1 if n/a */
  /* The source file (docs/FORMAT.md): rate, frames, libsndfile format, how
   * its rate was handled, start time and other metadata. */
  int32_t source_rate, source_format, rate_mode;
  int64_t source_frames;
  uint64_t start_off, tags_off;
  uint32_t start_len, tags_len;
  /* Identity of the source when indexed (format 4): --resume and the
   * complete-archive check compare it with the inputs. 0 if unknown. */
  int64_t source_mtime_ns;
  uint64_t source_inode;
  /* Start time and recorder (format 5; docs/FORMAT.md, "Start times"):
   * an oa_start (opusarc/clock.h) with the recorder id in /strings. For
   * older archives the reader derives them from the UTC start string. */
  int64_t start_us;
  int32_t utc_offset_s, start_zone, start_source;
  uint32_t recorder_len;
  uint64_t recorder_off;
  int64_t lost_samples;    /* format 6: silence standing for audio lost in holes (damaged rows) */
} oa_rec_row;

/* /links: one row per chain link. */
typedef struct oa_link_row {
  uint64_t recording;
  uint64_t first_interval, interval_count;
  uint64_t data_offset, data_size;
  uint64_t packet_count;
  int64_t out_start;       /* first output sample of this link in the recording */
  int64_t out_samples;
  int64_t decoded_samples; /* sum of packet durations */
  uint64_t first_packet;   /* format 7: its first packet's entry in /packets/heads; OA_NO_HEADS before */
  int32_t channels, mapping_family, streams, coupled, pre_skip, gain_q8;
  uint8_t mapping[255];
} oa_link_row;

/* /intervals: a link is cut into intervals of consecutive packets; each
 * carries the checkpoint that starts it and a CRC of its reference output. */
typedef struct oa_interval_row {
  uint64_t link;
  uint64_t packet;         /* first packet, counted within the link */
  int64_t link_pos;        /* decoded samples of the link before it */
  uint64_t data_offset;    /* its first packet in /packets/data */
  uint64_t preroll_offset; /* where decoding starts (packet - preroll) */
  uint32_t packet_count;
  uint32_t samples;        /* decoded samples of its packets */
  uint32_t preroll;        /* packets decoded and discarded before it */
  uint32_t crc32;          /* CRC-32 of its decoded float32 LE samples */
  int32_t kind;            /* enum oa_checkpoint_kind */
  uint32_t state_size, state_raw_size, state_crc32;
  uint64_t state_offset;   /* snapshot in /checkpoints/state */
} oa_interval_row;

typedef struct oa_archive_meta {
  int32_t format_version;
  oa_opus_build build;       /* of the indexing ranks (load range not stored) */
  double checkpoint_every;   /* seconds */
  char checkpoints[16];      /* preroll, snapshot or auto */
  int32_t max_preroll;       /* packets */
  uint64_t recordings;
  char created[32];          /* ISO 8601 UTC */
  char tool_version[32];
  /* A segment added by --append: "INODE SIZE CREATED" of the archive file
   * it extends ("" for an archive made by index without --append). */
  char segment_of[128];
  uint64_t archive_id;       /* random, set when the file is made (0: older files) */
} oa_archive_meta;

/* The first checkpoint rule two archives' settings disagree on (what reads
 * their checkpoints: spacing, kind, pre-roll limit, libopus build): its
 * name and each side's value; 0 when they agree. Appends and merges keep
 * one archive's rules. */
typedef struct oa_rule_diff {
  char what[96], a[96], b[96];
} oa_rule_diff;
int oa_meta_rules_differ(const oa_archive_meta *a, const oa_archive_meta *b, oa_rule_diff *d);

/* A run of a batch's packets, heads or checkpoint blobs moved to its
 * spill file: `count` elements at `file_offset`. */
enum { OA_SPILL_DATA, OA_SPILL_HEADS, OA_SPILL_STATE, OA_SPILL_KINDS };
typedef struct oa_spill_chunk {
  int kind;
  uint64_t file_offset, count;
} oa_spill_chunk;

/* Rows a rank has produced since the last append. Indexes and offsets in
 * them are local (relative to this batch) until oa_writer_append rebases
 * them.
 *
 * A batch may spill (oa_batch_spill_open): once its packets and heads pass
 * `spill_at` bytes in memory, or those of the recording being added pass
 * 16 MiB, they go to an unlinked temporary file, and so do its checkpoint
 * blobs before a new one is added (past a quarter of those), so a recording
 * of any length is indexed in bounded memory. data[], heads[] and state[] then
 * hold only what follows their first data_spilled / heads_spilled /
 * state_spilled elements (data_len, nheads and state_len count all), and
 * the writer reads the chunks back a piece at a time. */
typedef struct oa_batch {
  uint8_t *data; size_t data_len, data_cap;   /* packets without their first (TOC) byte */
  uint32_t *heads; size_t nheads, heads_cap;  /* per packet: oa_head_make(length, TOC byte) */
  oa_link_row *links; size_t nlinks, links_cap;
  oa_interval_row *intervals; size_t nintervals, intervals_cap;
  uint8_t *state; size_t state_len, state_cap;
  char *strings; size_t strings_len, strings_cap;
  oa_rec_row *recs; size_t nrecs, recs_cap;
  uint64_t *rec_index; size_t rec_index_cap; /* corpus row of each recs[i] */
  size_t spill_at;                            /* 0: never spill */
  int spill_fd;
  char *spill_name;                           /* for messages (the file is unlinked at once) */
  int spill_failed;                           /* a spill write failed: the job cannot go on */
  uint64_t spill_end;                         /* bytes written to the spill file */
  size_t data_spilled, heads_spilled, state_spilled;
  size_t rec_data, rec_heads, rec_state;      /* where the recording being added began */
  oa_spill_chunk *chunks; size_t nchunks, chunks_cap;
} oa_batch;

/* Real seconds per sample of a row: 48000, or a time-expanded source's rate. */
double oa_rec_row_rate(const oa_rec_row *r);

void oa_batch_clear(oa_batch *b);
void oa_batch_free(oa_batch *b);
/* Appends a string to the batch's string blob; returns its local offset. */
int oa_batch_add_string(oa_batch *b, const char *s, uint64_t *off, uint32_t *len);
/* The batch's bytes, spilled ones included: what a round will write. */
size_t oa_batch_bytes(const oa_batch *b);
/* Lets the batch spill past `at` bytes (at > 0) into an unlinked file made
 * next to `near` (the output: it has room for what the batch will write). */
int oa_batch_spill_open(oa_batch *b, const char *near, size_t at, oa_err *err);
/* Marks the start of a recording (what it may hold in memory is counted
 * from here). */
void oa_batch_begin_recording(oa_batch *b);
/* Append packet bytes, one packet head, or a checkpoint blob (its batch
 * offset in *offset); each may spill first. */
int oa_batch_put_data(oa_batch *b, const void *p, size_t n, oa_err *err);
int oa_batch_put_head(oa_batch *b, uint32_t head, oa_err *err);
int oa_batch_put_state(oa_batch *b, const void *p, size_t n, uint64_t *offset, oa_err *err);
/* The checkpoint blob at batch offset `off`, or NULL if it was spilled. */
const uint8_t *oa_batch_state_at(const oa_batch *b, uint64_t off);
/* Cuts the packets, heads and blobs back to these lengths (a recording
 * undone), spilled ones included. */
void oa_batch_cut(oa_batch *b, size_t data_len, size_t nheads, size_t state_len);
/* Reads `count` elements of spilled chunk c from element `at` into buf. */
int oa_batch_read_spill(const oa_batch *b, const oa_spill_chunk *c, uint64_t at, uint64_t count, void *buf);
/* Bytes per element of each spill kind. */
size_t oa_spill_elem(int kind);

typedef struct oa_archive_writer oa_archive_writer;

typedef struct oa_writer_config {
  int overwrite;          /* replace PATH and any PATH.partial */
  int resume;             /* continue PATH.partial from its commit record */
  /* The inputs, which no output may be and --resume compares: either the
   * whole list on rank 0 (corpus), or each rank's run of the sorted list
   * (run: entries with their rows; each rank checks its own) with
   * `gather`, a collective call that puts the whole list on rank 0 when a
   * refusal must say what differs. */
  const oa_corpus *corpus;
  const oa_corpus *run;
  int (*gather)(void *ctx, oa_corpus *whole, oa_err *err);
  void *gather_ctx;
  uint64_t corpus_hash;   /* oa_corpus_hash of the corpus being indexed */
  const char *options;    /* indexing options as "--name=value;..." and the build; a resume must match */
  char *note;             /* rank 0, OA_ERRMSG_MAX bytes or NULL: what --resume did */
  double io_timeout;      /* > 0: a collective write round taking longer than this (plus 1 s
                           * per 10 MB it writes) ends the process with a message; 0: never */
  const oa_logger *log;   /* or NULL: its front-end hint completes the time limit's message */
} oa_writer_config;

/* Collective. Takes the archive's lock (PATH.lock, see src/archlock.h),
 * then creates PATH.partial, or with cfg->resume reopens it at its last
 * commit. The rules (docs/FORMAT.md, "Interrupted runs"):
 * - PATH or PATH.partial existing is refused unless resume or overwrite;
 *   no output is ever one of the inputs (same device and inode).
 * - PATH existing: OA_EEXIST; PATH.partial existing: OA_EPARTIAL.
 * - resume: a PATH.partial with a commit record is continued; refused
 *   (OA_ECHANGED, message naming what differs) when the options or the
 *   inputs differ from the interrupted run's or a committed source changed,
 *   and (OA_EREBUILD) when PATH also exists (an interrupted rebuild)
 *   without overwrite. A partial that cannot be trusted is started over
 *   (note).
 * - resume without such a partial, PATH existing: when PATH holds exactly
 *   these inputs, OA_OK with *out NULL and *complete set; otherwise
 *   refused (OA_ENEWINPUTS), naming the recordings that are new, gone or
 *   changed. */
int oa_writer_create(MPI_Comm comm, const char *path, const oa_writer_config *cfg, const oa_archive_meta *meta,
                     oa_archive_writer **out, int *complete, oa_err *err);
/* Whether corpus entry `entry` was committed by the run being resumed. */
int oa_writer_is_done(const oa_archive_writer *w, uint64_t entry);
/* What the committed rows of the resumed run hold (zeros for a new run). */
typedef struct oa_resumed_totals {
  uint64_t ok, failed, damaged, packets, payload_bytes, data_bytes, intervals; /* ok includes damaged */
  int64_t samples, lost_samples;
  double seconds; /* real seconds */
} oa_resumed_totals;
void oa_writer_resumed(const oa_archive_writer *w, oa_resumed_totals *t);
/* Commits (collective write rounds) of this archive so far, resumed ones included. */
uint64_t oa_writer_commits(const oa_archive_writer *w);
/* Collective. Writes every rank's batch, flushes, and commits: rank 0
 * replaces PATH.partial.commit. Clears the batch. */
int oa_writer_append(oa_archive_writer *w, oa_batch *batch, oa_err *err);
/* True after a failed collective write: HDF5 can no longer close the file
 * collectively, so oa_writer_finish leaves it open and the process should
 * exit without MPI_Finalize (whose HDF5 clean-up would block). */
int oa_writer_broken(const oa_archive_writer *w);
/* Collective. With ok, writes the final attributes and renames PATH.partial
 * to PATH; otherwise keeps PATH.partial for --resume if anything was
 * committed (err then says so) or removes it (err untouched). Frees w. */
int oa_writer_finish(oa_archive_writer *w, int ok, oa_err *err);

/* ---- reading ---- */
typedef struct oa_archive oa_archive;

/* Opens PATH and the segments its list (PATH.segments) names, as one
 * archive (docs/FORMAT.md, "Appends"): recordings, links, intervals and
 * byte offsets run on from file to file. A listed segment that is missing,
 * damaged or unlike the first file is an error, never left out. */
int oa_archive_open(const char *path, oa_archive **out, oa_err *err);
void oa_archive_close(oa_archive *a);
/* Segments read with the first file (0: an archive never appended to). */
size_t oa_archive_segment_count(const oa_archive *a);
/* Segments of a list that belongs to an earlier archive of this name
 * (rebuilt with --force since): ignored. */
size_t oa_archive_stale_segments(const oa_archive *a);
/* File k (0: the first, then the segments) and its recordings. */
const char *oa_archive_file(const oa_archive *a, size_t k);
uint64_t oa_archive_file_recordings(const oa_archive *a, size_t k);
const oa_archive_meta *oa_archive_get_meta(const oa_archive *a);
uint64_t oa_archive_recording_count(const oa_archive *a);
const oa_rec_row *oa_archive_recording(const oa_archive *a, uint64_t index);
/* Name or path of a recording (NUL-terminated, owned by the archive). */
const char *oa_archive_recording_name(const oa_archive *a, uint64_t index);
const char *oa_archive_recording_path(const oa_archive *a, uint64_t index);
const char *oa_archive_recording_error(const oa_archive *a, uint64_t index);
/* ISO 8601 as the source gave it ("...+01:00", "...Z", or a wall-clock time
 * without a zone), "" if unknown; the numbers are in the row. */
const char *oa_archive_recording_start(const oa_archive *a, uint64_t index);
const char *oa_archive_recording_tags(const oa_archive *a, uint64_t index);
const char *oa_archive_recording_recorder(const oa_archive *a, uint64_t index); /* "" if unknown */
/* Samples per second of a recording's own time base: 48000, or the source
 * rate of a time-expanded recording (`--units seconds` uses it). */
double oa_archive_samples_per_second(const oa_archive *a, uint64_t index);
int oa_archive_find(const oa_archive *a, const char *name, uint64_t *index, oa_err *err);
/* For a name that is not in the archive: "; did you mean "a", "b"?" with up
 * to 3 names that share its file name or (archives up to 20,000
 * recordings) lie within a few edits; "" when none. */
void oa_archive_suggest(const oa_archive *a, const char *name, char *out, size_t len);

typedef struct oa_archive_totals {
  uint64_t packets, data_bytes, payload_bytes, links, intervals, state_bytes, string_bytes;
  uint64_t heads; /* entries of /packets/heads (0 before format 7) */
  /* Bytes the datasets occupy in the file (H5Dget_storage_size). */
  uint64_t stored_data, stored_index, stored_checkpoints;
} oa_archive_totals;
/* packets and payload_bytes are sums over every row: the first call reads
 * them all (a block at a time, none kept). */
void oa_archive_get_totals(const oa_archive *a, oa_archive_totals *t);
/* A row's texts as a scan passes them (valid during the call only). */
typedef struct oa_row_texts {
  const char *name, *path, *error, *start, *tags, *recorder;
} oa_row_texts;
/* Calls fn(ctx, i, row, texts) for every recording in order, reading the
 * rows a block at a time without keeping them (a pass over 10^6 rows holds
 * one block); fn returns nonzero to stop. Returns that value, 0, or -1
 * when out of memory. */
typedef int (*oa_archive_row_fn)(void *ctx, uint64_t i, const oa_rec_row *r, const oa_row_texts *tx);
int oa_archive_scan(const oa_archive *a, oa_archive_row_fn fn, void *ctx);
/* The same over recordings [first, first + count) only. */
int oa_archive_scan_range(const oa_archive *a, uint64_t first, uint64_t count, oa_archive_row_fn fn, void *ctx);
/* Blocks of recordings rows read so far (rows load on first use). */
uint64_t oa_archive_blocks_loaded(const oa_archive *a);

int oa_archive_read_links(oa_archive *a, uint64_t first, uint64_t n, oa_link_row *rows, oa_err *err);
int oa_archive_read_intervals(oa_archive *a, uint64_t first, uint64_t n, oa_interval_row *rows, oa_err *err);
int oa_archive_read_data(oa_archive *a, uint64_t offset, uint64_t n, uint8_t *buf, oa_err *err);
/* Entries [first, first + n) of /packets/heads (format 7), by union position. */
int oa_archive_read_heads(oa_archive *a, uint64_t first, uint64_t n, uint32_t *heads, oa_err *err);
int oa_archive_read_state(oa_archive *a, uint64_t offset, uint64_t n, uint8_t *buf, oa_err *err);

#endif
