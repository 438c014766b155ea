/* Extraction sweeps: many range queries spread over MPI ranks.
 *
 * Queries come from a table (CSV, Raven, BirdNET), from fixed windows over
 * the recordings, or from time spans. Each rank holds a share of them and
 * gives it to the sweep batch by batch (oa_query_source), twice: a survey
 * that keeps nothing, then rounds. In a round each rank turns its batch
 * into work units: overlapping or adjacent queries of one recording are
 * grouped so one decode serves them all, and long queries are cut into
 * pieces that different ranks decode. Ranks take units from their own
 * queue, then the others' (MPI one-sided fetch-and-add, chunk sizes
 * shrinking as the queue empties). Outputs are one file per query or one
 * HDF5 file of clips; a query's output appears only when all of it was
 * written. */
#ifndef OPUSARC_SWEEP_H
#define OPUSARC_SWEEP_H

#include <mpi.h>
#include <stdint.h>

#include "opusarc/archive.h"
#include "opusarc/error.h"
#include "opusarc/log.h"

/* A part of a joined output (extract --join): samples [start, end) of
 * recording `rec` at frame `out_frame` of the output, or, with rec
 * OA_GAP_REC, end - start frames of silence filling a gap between files. */
#define OA_GAP_REC UINT64_MAX
typedef struct oa_query_part {
  uint64_t rec;
  int64_t start, end, out_frame;
} oa_query_part;

typedef struct oa_query {
  char id[128];
  uint64_t rec;       /* a joined output: its first recording */
  int64_t start, end; /* samples of rec (a joined output: its first part) */
  int64_t frames;     /* frames of the output (end - start unless joined) */
  long line;          /* CSV line, 0 for windows and time spans */
  int channels;       /* of the recording (the decode) */
  int out_channels;   /* written (--mono, --channels; set by the sweep) */
  /* Set by the sweep (--rate): the rate the decoded samples are read at
   * (the time base, or 48000 for --rate native), the rate written, and the
   * frames written (oa_resampled_frames of frames when the two differ). */
  int32_t in_rate, out_rate;
  int64_t out_frames;
  uint64_t clip_offset; /* HDF5 output: first float in /clips */
  /* Absolute start of the output where the recording's start is known
   * (zone as enum oa_start_zone: UTC, or a wall-clock time). */
  int64_t start_us;
  int32_t start_zone, start_offset_s;
  /* A joined output: parts[first_part .. first_part + nparts) of the
   * list, in output order (0: the single range above). */
  size_t first_part, nparts;
  uint32_t gaps;      /* gaps filled with silence */
  int64_t gap_frames; /* their frames */
  /* Set by the sweep: the query's place in the whole list (over every
   * rank's share), whether it was cut into several units (its pieces may
   * be decoded on other ranks), whether it was refused before decoding. */
  uint64_t index;
  uint8_t pieced, refused;
} oa_query;

typedef struct oa_query_list {
  oa_query *q;
  size_t n, cap;
  uint64_t first; /* set by the sweep: the whole list's index of q[0] (ranks hold shares) */
  oa_query_part *parts;
  size_t nparts, parts_cap;
  uint64_t bad; /* rows rejected while parsing */
  uint64_t clamped; /* ranges cut to their recording (--clamp) */
  /* Extra columns of a queries table (labels, scores, species), kept as
   * strings for the clips file: column k is named label_names[k]; query
   * i's value is label_text + label_at[i * nlabels + k] (oa_query_label). */
  size_t nlabels;
  char **label_names;
  char *label_text;
  size_t label_len, label_cap;
  size_t *label_at;
  size_t label_at_cap;
} oa_query_list;

/* Query i's value of label column k ("" when there are none). */
const char *oa_query_label(const oa_query_list *l, size_t i, size_t k);

/* Sets label column k of the last query added (columns in order, 0 first). */
int oa_query_list_label(oa_query_list *l, size_t k, const char *value);
/* Appends queries [from, from + n) of l with their parts and labels to out
 * (its label columns are l's: named from l if it has none yet). */
int oa_query_list_copy(const oa_query_list *l, size_t from, size_t n, oa_query_list *out);
/* Appends a query (and for a joined one, its parts: q->first_part is set). */
int oa_query_list_add(oa_query_list *l, const oa_query *q, const oa_query_part *parts, size_t nparts);
/* Sets q's absolute start from its recording's start and q->start (the
 * recording's row r, or q->rec's). */
void oa_query_set_clock(const oa_archive *a, oa_query *q);
void oa_query_clock_of(const oa_rec_row *r, oa_query *q);

enum { OA_QUERY_SECONDS = 1, /* positions were given in seconds: messages say seconds */
       OA_QUERY_CLAMP = 2 }; /* a range crossing the recording's edges is cut to it */
/* Checks q (rec, start, end set) against its recording, cutting it with
 * OA_QUERY_CLAMP (*clamped then says so); fills channels, frames, clock. */
int oa_query_fit(const oa_archive *a, oa_query *q, unsigned flags, int *clamped, oa_err *err);

/* Sets q's in_rate, out_rate and out_frames for --rate `rate` (Hz, 0 for
 * the time base, OA_RATE_NATIVE); OA_EUSAGE, naming both, when the parts of
 * a joined q (ql may be NULL for a single range) differ in time base. */
int oa_query_rates(const oa_archive *a, const oa_query_list *ql, oa_query *q, int32_t rate, oa_err *err);

enum oa_tail { OA_TAIL_DROP = 0, OA_TAIL_PAD = 1, OA_TAIL_KEEP = 2 };

typedef struct oa_window_spec {
  double length, hop;     /* in samples, or with `seconds` in seconds of each recording's time base */
  int seconds;
  const char *glob;       /* only recordings whose name matches; NULL: all */
  uint64_t max_windows;   /* refuse more than this (0: no limit) */
  int tail;               /* enum oa_tail: the audio after the last whole window (and a recording
                           * shorter than a window): dropped (counted), a window padded with zeros
                           * to the full length, or a shorter last window */
} oa_window_spec;

typedef struct oa_window_stats {
  uint64_t windows, recordings;   /* windows made, recordings matched */
  uint64_t padded, short_windows; /* --tail pad / keep: windows padded, shorter last windows */
  uint64_t short_recordings;      /* shorter than one window: no window */
  uint64_t tails;                 /* recordings whose last samples no window covers */
  double uncovered_seconds;       /* audio no window covers, in those two */
} oa_window_stats;

/* Windows [s, s+len) for s = 0, hop, 2 hop, ... over every matching
 * recording, made a batch at a time (never held whole). Collective over
 * comm (MPI_COMM_NULL: alone): each rank counts the windows of an even
 * share of the rows (a block at a time, none kept), and *st counts all of
 * them on every rank; the shares in rank order are the whole list. Ids
 * are unique by construction: the name with '/' as '~' (and '~', '%',
 * control bytes as %XX) plus "_<start sample>"; over-long names keep their
 * start and a fingerprint of the whole name (the sweep still checks them).
 * Fails (agreed) when nothing matches or when there would be more than
 * max_windows. *src is then this rank's share as a sweep's source
 * (oa_window_source_of); spec and a must outlive it. */
typedef struct oa_window_source {
  const oa_archive *a;
  const oa_window_spec *w;
  uint64_t from, count; /* this rank's rows */
  uint64_t row;         /* the cursor: the next window is window k of row `row` */
  int64_t k;
  int pass;
} oa_window_source;
int oa_windows_open(MPI_Comm comm, const oa_archive *a, const oa_window_spec *spec, oa_window_source *src,
                    oa_window_stats *st, oa_err *err);

/* Ids checked unique batch by batch over every rank's share (collective
 * calls): each id is sent to the rank its hash names, which keeps it
 * ([line][id] bytes); past 16 MB they are sorted and spilled to a
 * temporary file ($TMPDIR) as a run, and finish merges the runs. */
typedef struct oa_id_check {
  MPI_Comm comm;
  uint8_t *recs;      /* received, not yet spilled */
  size_t len, cap, limit;
  int spill;          /* a temporary file of sorted runs (-1: none yet) */
  uint64_t *runs;     /* run k is the file's bytes [runs[k], runs[k + 1]) */
  size_t nruns, runs_cap;
  int failed;         /* out of memory, or the file could not be written: why */
  oa_err why;
} oa_id_check;
void oa_id_check_init(oa_id_check *c, MPI_Comm comm);
int oa_id_check_add(oa_id_check *c, const oa_query_list *batch, oa_err *err);
/* OA_EUSAGE (agreed) naming both lines of an id given twice. */
int oa_id_check_finish(oa_id_check *c, const char *source, oa_err *err);
void oa_id_check_free(oa_id_check *c);

/* OA_EUSAGE naming both CSV lines when two queries share an id. */
int oa_queries_check_unique(const oa_query_list *l, const char *source, oa_err *err);
/* The same over every rank's share (collective): each id is checked on the
 * rank its hash names, so no rank holds every id. */
int oa_queries_check_unique_all(MPI_Comm comm, const oa_query_list *l, const char *source, oa_err *err);
void oa_query_list_free(oa_query_list *l);

/* This rank's share of a sweep's queries, batch by batch. next() fills
 * *out (empty on entry; the caller frees it) with the next at most `max`
 * queries of the share, in order: a batch shorter than max is the last.
 * The sweep reads the share twice, pass 0 then pass 1 (the first call of a
 * pass starts at the beginning), and both passes must give the same
 * batches; pass 0 reports bad rows (out->bad, out->clamped count them),
 * pass 1 is silent. */
typedef struct oa_query_source {
  int (*next)(void *ctx, int pass, size_t max, oa_query_list *out, oa_err *err);
  void *ctx;
} oa_query_source;

/* A source over a list held whole (windows, time spans, tests). */
typedef struct oa_list_source {
  const oa_query_list *ql;
  size_t at;
  int pass;
} oa_list_source;
oa_query_source oa_list_source_of(oa_list_source *ctx, const oa_query_list *ql);
/* The windows of oa_windows_open, a batch at a time. */
oa_query_source oa_window_source_of(oa_window_source *src);

enum oa_sweep_output { OA_SWEEP_DIR = 0, OA_SWEEP_HDF5 = 1 };

typedef struct oa_sweep_options {
  int output;           /* enum oa_sweep_output */
  const char *path;     /* directory, or HDF5 file */
  int format;           /* enum oa_pcm_format, for directories */
  int flags;            /* oa_extract_flags */
  double progress_every; /* seconds between progress lines on rank 0; <= 0: none */
  int progress_bar;      /* redraw one line (a terminal) instead */
  int64_t piece;        /* longest unit in samples (long queries are cut) */
  int overwrite;        /* --force: replace existing outputs (never the archive, never a non-regular file) */
  const char *source;   /* queries file, for messages */
  const char *archive_path; /* the inputs: no output may be one of them */
  const char *queries_path; /* NULL for windows */
  double io_timeout;    /* > 0: a collective step of the clips file that takes longer ends the process */
  const struct oa_channel_spec *channels; /* --mono / --channels (NULL: every channel as decoded) */
  int fixed_shape;      /* --shape fixed: /clips is [n, frames] or [n, frames, channels] */
  int32_t rate;         /* --rate: Hz (opusarc/resample.h), 0: each recording's time base, OA_RATE_NATIVE */
} oa_sweep_options;

typedef struct oa_sweep_result {
  uint64_t queries;     /* in the whole list */
  uint64_t ok, failed;  /* queries (failed includes rows rejected while parsing) */
  uint64_t clamped;     /* ranges cut to their recording (--clamp), counted while reading */
  int partial;          /* a round failed after earlier rounds wrote their files (directories) */
  double audio_seconds, wall_seconds;
  uint64_t units;
  uint64_t units_taken; /* units run by a rank other than the one whose share they came from */
  int stopped;          /* a signal (SIGTERM, SIGINT) stopped the sweep early: its number */
  uint64_t not_run;     /* queries not extracted because of that stop (counted in failed) */
  uint64_t clipped;     /* samples clipped by an integer format (s16, wav16, wav24, flac) */
  int broken;           /* a collective HDF5 step failed: leave without MPI_Finalize */
} oa_sweep_result;

/* Collective over comm. Each rank passes its share of the queries as a
 * source: the shares, in rank order, make the whole list (so query k of
 * the whole list is the same whatever the rank count). A survey reads
 * every batch once (sizes, clip offsets, label widths, outputs that exist,
 * ids unique over the whole list) and keeps none; then the batches run in
 * rounds, every rank joining each: a rank plans its batch's units, and
 * ranks that run out of their own take units from the others' queues
 * (one-sided reads of the unit, its members and queries). Memory follows
 * the batch, not the list. Outputs, ids, clip offsets and the clips table
 * follow the whole list. */
int oa_sweep_run(MPI_Comm comm, oa_archive *a, const oa_query_source *src, const oa_sweep_options *opt,
                 const oa_logger *log, oa_sweep_result *result, oa_err *err);

#endif
