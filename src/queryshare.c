/* A queries table read once, in shares (queryshare.h): each rank reads the
 * header and the lines that begin in its part of the bytes after it, so no
 * rank holds the whole table. A file not every rank can read alike (stdin,
 * a FIFO, a file on one node's disk) is copied by rank 0 into a temporary
 * file and its shares sent, a block at a time, into the other ranks'. */
#include "opusarc/queryshare.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "opusarc/mpiutil.h"
#include "querytext.h"
#include "opusarc/util.h"

enum { SHARE_TAG = 4343 };

void oa_text_share_free(oa_text_share *s) {
  free(s->text);
  free(s->first_row);
  if (s->fd >= 0) close(s->fd);
  memset(s, 0, sizeof *s);
  s->fd = -1;
}

/* Every rank opened the same regular file (its size and identity agree):
 * then each reads its own part. */
static int readable_alike(MPI_Comm comm, const char *path, int *fd, uint64_t *size) {
  struct stat st;
  *fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a FIFO must not block here */
  int ok = *fd >= 0 && fstat(*fd, &st) == 0 && S_ISREG(st.st_mode);
  uint64_t v[4] = {ok ? (uint64_t)st.st_size : UINT64_MAX, ok ? (uint64_t)st.st_ino : UINT64_MAX, 0, 0};
  v[2] = ~v[0], v[3] = ~v[1];
  if (!OA_SOLO(comm)) MPI_Allreduce(MPI_IN_PLACE, v, 4, MPI_UINT64_T, MPI_MAX, comm);
  ok = oa_mpi_agree(comm, ok) && v[0] == ~v[2] && v[1] == ~v[3];
  if (!ok && *fd >= 0) close(*fd), *fd = -1;
  *size = v[0];
  return ok;
}

/* ------------------------------------------------------- lines in a buffer */

/* Where the header ends (after its '\n') and the first non-empty row after
 * it (a copy, or NULL); *whole: both lines end inside t[0, n). */
static int header_of(const char *t, size_t n, size_t *hdr_end, char **first_row, int *whole) {
  const char *nl = memchr(t, '\n', n);
  *hdr_end = nl ? (size_t)(nl - t) + 1 : n;
  *first_row = NULL;
  *whole = 0;
  for (size_t at = *hdr_end; nl && at < n;) {
    const char *e = memchr(t + at, '\n', n - at);
    size_t len = e ? (size_t)(e - (t + at)) : n - at;
    while (len && t[at + len - 1] == '\r') len--;
    if (len) {
      *whole = e != NULL;
      return (*first_row = strndup(t + at, len)) ? 0 : -1;
    }
    at += (e ? (size_t)(e - (t + at)) + 1 : n - at);
  }
  return 0;
}

static long count_lines(const char *t, size_t n) {
  long lines = 0;
  for (const char *p = t; (p = memchr(p, '\n', n - (size_t)(p - t))) != NULL; p++) lines++;
  return lines + (n && t[n - 1] != '\n');
}

/* The header (with a line end) then body[0, n). */
static int compose(oa_text_share *s, const char *hdr, size_t hlen, const char *body, size_t n) {
  int add_nl = hlen && hdr[hlen - 1] != '\n';
  s->text = malloc(hlen + (size_t)add_nl + n + 1);
  if (!s->text) return -1;
  memcpy(s->text, hdr, hlen);
  if (add_nl) s->text[hlen] = '\n';
  memcpy(s->text + hlen + add_nl, body, n);
  s->len = hlen + (size_t)add_nl + n;
  s->text[s->len] = '\0';
  return 0;
}

/* --------------------------------------------------------- each rank reads */

/* Reads all of [off, off + n) of fd into b: 0, or -1 (an error or the end). */
static int pread_all(int fd, char *b, size_t n, uint64_t off) {
  for (size_t got = 0; got < n;) {
    ssize_t r = pread(fd, b + got, n - got, (off_t)(off + got));
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

/* Reads [off, off + n) of fd into a new buffer. */
static char *read_at(int fd, uint64_t off, size_t n) {
  char *b = malloc(n + 1);
  if (b && pread_all(fd, b, n, off) != 0) free(b), b = NULL;
  return b;
}

/* The header and first row, from the file's start (read until both are
 * found, doubling). */
static int read_head(int fd, uint64_t size, char **head, size_t *hlen, char **first_row) {
  for (size_t want = 65536;; want *= 2) {
    size_t n = want < size ? want : (size_t)size;
    char *b = read_at(fd, 0, n);
    if (!b) return -1;
    size_t hdr_end;
    int whole;
    if (header_of(b, n, &hdr_end, first_row, &whole) != 0) return free(b), -1;
    if (n == size || whole) {
      *head = b, *hlen = hdr_end;
      return 0;
    }
    free(*first_row), free(b);
  }
}

/* The first line start at or after pos in the file. */
static int file_line_start(int fd, uint64_t size, uint64_t hdr_end, uint64_t pos, uint64_t *out) {
  if (pos <= hdr_end || pos >= size) return *out = pos <= hdr_end ? hdr_end : size, 0;
  char buf[65536];
  for (uint64_t at = pos - 1; at < size;) {
    size_t n = size - at < sizeof buf ? (size_t)(size - at) : sizeof buf;
    ssize_t r = pread(fd, buf, n, (off_t)at);
    if (r <= 0) return -1;
    const char *nl = memchr(buf, '\n', (size_t)r); /* from pos - 1: a line ending there starts one at pos */
    if (nl) return *out = at + (uint64_t)(nl - buf) + 1, 0;
    at += (uint64_t)r;
  }
  return *out = size, 0;
}

/* Lines in the file's bytes [lo, hi), read a block at a time. */
static int count_file_lines(int fd, uint64_t lo, uint64_t hi, uint64_t *lines) {
  size_t block = oa_lines_block();
  char *buf = malloc(block);
  *lines = 0;
  for (uint64_t at = lo; buf && at < hi;) {
    size_t n = hi - at < block ? (size_t)(hi - at) : block;
    ssize_t r = pread(fd, buf, n, (off_t)at);
    if (r <= 0) return free(buf), -1;
    *lines += (uint64_t)count_lines(buf, (size_t)r) - (buf[r - 1] != '\n'); /* a line cut by the block counts once */
    at += (uint64_t)r;
    if (at == hi && buf[r - 1] != '\n') (*lines)++;
  }
  if (!buf) return -1;
  free(buf);
  return 0;
}

/* The header (with a line end) alone: the rows stay in the file, read a
 * block at a time by whoever parses them. */
static int keep_rows_in_file(oa_text_share *s, int fd, const char *head, size_t hlen, uint64_t lo, uint64_t hi) {
  if (compose(s, head, hlen, "", 0) != 0) return -1;
  s->fd = dup(fd);
  s->from = lo, s->to = hi;
  return s->fd >= 0 ? 0 : -1;
}

static int read_own(MPI_Comm comm, int fd, uint64_t size, oa_text_share *s, oa_err *err, const char *path) {
  int rank, nranks;
  oa_mpi_rank_size(comm, &rank, &nranks);
  char *head = NULL;
  size_t hlen = 0;
  int ok = read_head(fd, size, &head, &hlen, &s->first_row) == 0;
  uint64_t body = size - hlen, lo = 0, hi = 0;
  ok = ok && file_line_start(fd, size, hlen, hlen + body * (uint64_t)rank / (uint64_t)nranks, &lo) == 0 &&
       file_line_start(fd, size, hlen, hlen + body * (uint64_t)(rank + 1) / (uint64_t)nranks, &hi) == 0;
  uint64_t lines = 0, before, total;
  ok = ok && keep_rows_in_file(s, fd, head, hlen, lo, hi) == 0 && count_file_lines(fd, lo, hi, &lines) == 0;
  free(head);
  if (!ok) oa_err_set(err, OA_EIO, "%s: cannot read its share of the queries: %s", path,
                      errno ? strerror(errno) : "out of memory");
  if (!oa_mpi_agree_err(comm, ok, err)) return err->code;
  oa_mpi_offsets(comm, &lines, &before, &total, 1);
  s->line_base = (long)before;
  return OA_OK;
}

/* ------------------------------------------- rank 0 spools, then sends */

/* A file not every rank reads alike (stdin, a FIFO, a file on one node)
 * is copied by rank 0 into an unlinked temporary file a block at a time;
 * each other rank gets its part in blocks into a temporary file of its
 * own. Every rank then reads its rows from its file as if they were the
 * queries file, a block at a time: no rank holds the table. */
enum { SPOOL_BLOCK = 1 << 20 };

/* path copied into a temporary file: its fd and size. */
static int spool(const char *path, int *fd, uint64_t *size, oa_err *err) {
  char tmp[4096];
  int in = open(path, O_RDONLY | O_CLOEXEC);
  if (in < 0) return oa_err_set(err, OA_EIO, "%s: cannot read queries file: %s", path, strerror(errno));
  *fd = oa_temp_fd("queries", tmp, sizeof tmp);
  char *buf = *fd >= 0 ? malloc(SPOOL_BLOCK) : NULL;
  int rc = OA_OK;
  if (*fd < 0) rc = oa_err_set(err, OA_EIO, "cannot make a temporary file for the queries (%s): %s", tmp, strerror(errno));
  else if (!buf) rc = oa_err_set(err, OA_ENOMEM, "out of memory");
  for (*size = 0; rc == OA_OK;) {
    ssize_t got = read(in, buf, SPOOL_BLOCK);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) rc = oa_err_set(err, OA_EIO, "%s: cannot read queries file: read error: %s", path, strerror(errno));
    else if (got == 0) break;
    else if (oa_write_all(*fd, buf, (size_t)got) != 0)
      rc = oa_err_set(err, OA_EIO, "cannot copy the queries to a temporary file (%s): %s", tmp, strerror(errno));
    else *size += (uint64_t)got;
  }
  free(buf);
  close(in);
  if (rc != OA_OK && *fd >= 0) close(*fd), *fd = -1;
  return rc;
}

/* Rank 0: the spooled file's header and where each rank's rows begin
 * (cuts[r] .. cuts[r + 1]) and how many rows come before (base[r]). */
static int plan_cuts(int fd, uint64_t size, int nranks, char **head, size_t *hlen, char **first_row, uint64_t *cuts,
                     uint64_t *base) {
  if (read_head(fd, size, head, hlen, first_row) != 0) return -1;
  uint64_t body = size - *hlen;
  for (int r = 0; r <= nranks; r++)
    if (file_line_start(fd, size, *hlen, *hlen + body * (uint64_t)r / (uint64_t)nranks, &cuts[r]) != 0) return -1;
  base[0] = 0;
  for (int r = 0; r + 1 < nranks; r++) {
    uint64_t lines;
    if (count_file_lines(fd, cuts[r], cuts[r + 1], &lines) != 0) return -1;
    base[r + 1] = base[r] + lines;
  }
  return 0;
}

/* Rank 0 sends bytes [lo, hi) of fd to rank `to` in blocks (always as many
 * blocks as the receiver expects: a block it could not read is sent
 * anyway, and the failure agreed after). */
static int send_part(MPI_Comm comm, int fd, uint64_t lo, uint64_t hi, int to, char *buf) {
  int ok = 1;
  for (uint64_t at = lo; at < hi;) {
    size_t n = hi - at < SPOOL_BLOCK ? (size_t)(hi - at) : SPOOL_BLOCK;
    ok = ok && pread_all(fd, buf, n, at) == 0;
    MPI_Send(buf, (int)n, MPI_BYTE, to, SHARE_TAG, comm);
    at += n;
  }
  return ok;
}

/* A rank receives its n bytes into a temporary file of its own (every
 * block received, even when it cannot keep them). */
static int receive_part(MPI_Comm comm, uint64_t n, int *fd, char *buf) {
  char tmp[4096];
  *fd = n ? oa_temp_fd("queries", tmp, sizeof tmp) : -1;
  int ok = n == 0 || *fd >= 0;
  for (uint64_t at = 0; at < n;) {
    size_t want = n - at < SPOOL_BLOCK ? (size_t)(n - at) : SPOOL_BLOCK;
    MPI_Recv(buf, (int)want, MPI_BYTE, 0, SHARE_TAG, comm, MPI_STATUS_IGNORE);
    ok = ok && oa_write_all(*fd, buf, want) == 0;
    at += want;
  }
  return ok;
}

/* What rank 0 found, on every rank: the header and first row (into s)
 * and each rank's part size and line base (into mine). */
static int share_plan(MPI_Comm comm, char **head, size_t *hlen, const uint64_t *cuts, const uint64_t *base,
                      oa_text_share *s, uint64_t mine[2]) {
  int rank, nranks;
  oa_mpi_rank_size(comm, &rank, &nranks);
  uint8_t *h = (uint8_t *)*head, *row = (uint8_t *)(s->first_row || rank != 0 ? s->first_row : strdup(""));
  uint64_t hl = *hlen, rlen = s->first_row ? strlen(s->first_row) + 1 : 0; /* 0: a table without rows */
  int ok = oa_mpi_bcast_bytes(comm, 0, &h, &hl) == 0 && oa_mpi_bcast_bytes(comm, 0, &row, &rlen) == 0;
  *head = (char *)h, *hlen = (size_t)hl;
  s->first_row = rlen ? (char *)row : (free(row), NULL);
  uint64_t *sizes = rank == 0 ? calloc((size_t)nranks * 2, sizeof *sizes) : NULL;
  for (int r = 0; sizes && r < nranks; r++) sizes[2 * r] = cuts[r + 1] - cuts[r], sizes[2 * r + 1] = base[r];
  ok = oa_mpi_agree(comm, ok && (rank != 0 || sizes));
  if (ok) MPI_Scatter(sizes, 2, MPI_UINT64_T, mine, 2, MPI_UINT64_T, 0, comm);
  free(sizes);
  s->line_base = (long)mine[1];
  return ok;
}

/* Rank 0 keeps its rows in the spooled file and sends the others theirs;
 * each other rank keeps its rows in a file of its own. */
static int move_parts(MPI_Comm comm, int fd, const uint64_t *cuts, const uint64_t mine[2], const char *head,
                      size_t hlen, oa_text_share *s, char *buf) {
  int rank, nranks, ok = 1;
  oa_mpi_rank_size(comm, &rank, &nranks);
  if (rank == 0) {
    for (int r = 1; r < nranks; r++) ok = send_part(comm, fd, cuts[r], cuts[r + 1], r, buf) && ok;
    return keep_rows_in_file(s, fd, head, hlen, cuts[0], cuts[1]) == 0 && ok;
  }
  int own = -1;
  ok = receive_part(comm, mine[0], &own, buf);
  ok = ok && (mine[0] ? keep_rows_in_file(s, own, head, hlen, 0, mine[0]) : compose(s, head, hlen, "", 0)) == 0;
  if (own >= 0) close(own);
  return ok;
}

static int send_shares(MPI_Comm comm, const char *path, oa_text_share *s, oa_err *err) {
  int rank, nranks;
  oa_mpi_rank_size(comm, &rank, &nranks);
  int fd = -1;
  uint64_t size = 0, mine[2] = {0, 0};
  uint64_t *cuts = calloc((size_t)nranks + 1, sizeof *cuts), *base = calloc((size_t)nranks, sizeof *base);
  char *head = NULL, *buf = malloc(SPOOL_BLOCK);
  size_t hlen = 0;
  s->spooled = 1;
  int ok = cuts && base && buf;
  if (!ok) oa_err_set(err, OA_ENOMEM, "out of memory");
  if (ok && rank == 0) {
    ok = spool(path, &fd, &size, err) == OA_OK;
    if (ok && plan_cuts(fd, size, nranks, &head, &hlen, &s->first_row, cuts, base) != 0)
      ok = 0, oa_err_set(err, OA_EIO, "cannot read the queries back from their temporary file: %s",
                         errno ? strerror(errno) : "out of memory");
  }
  if (oa_mpi_agree_err(comm, ok, err)) {
    ok = share_plan(comm, &head, &hlen, cuts, base, s, mine);
    if (!ok) oa_err_set(err, OA_ENOMEM, "out of memory sharing the queries");
    else if (!(ok = move_parts(comm, fd, cuts, mine, head, hlen, s, buf)))
      oa_err_set(err, OA_EIO, "cannot pass the queries on through temporary files: %s",
                 errno ? strerror(errno) : "out of memory");
    ok = oa_mpi_agree_err(comm, ok, err);
  }
  if (fd >= 0) close(fd);
  free(cuts), free(base), free(head), free(buf);
  return ok ? OA_OK : err->code;
}

/* A process alone: a file it cannot read twice alike (stdin, a FIFO) is
 * copied into a temporary file, and its rows read from there. */
static int read_whole(const char *path, oa_text_share *s, oa_err *err) {
  int fd;
  uint64_t size;
  char *head = NULL;
  size_t hlen = 0;
  if (spool(path, &fd, &size, err) != OA_OK) return err->code;
  int ok = read_head(fd, size, &head, &hlen, &s->first_row) == 0 && keep_rows_in_file(s, fd, head, hlen, hlen, size) == 0;
  close(fd);
  free(head);
  s->spooled = 1;
  return ok ? OA_OK : oa_err_set(err, OA_EIO, "cannot read the queries back from their temporary file: %s",
                                 errno ? strerror(errno) : "out of memory");
}

int oa_text_share_read(MPI_Comm comm, const char *path, oa_text_share *s, oa_err *err) {
  memset(s, 0, sizeof *s);
  s->fd = -1;
  int fd;
  uint64_t size;
  int alike = readable_alike(comm, path, &fd, &size); /* alone: a regular file */
  if (OA_SOLO(comm) && !alike) {
    int rc = read_whole(path, s, err);
    if (rc != OA_OK) oa_text_share_free(s);
    return rc;
  }
  int rc = alike ? read_own(comm, fd, size, s, err, path) : send_shares(comm, path, s, err);
  if (fd >= 0) close(fd);
  if (rc != OA_OK) oa_text_share_free(s);
  return rc;
}

/* ------------------------------------------------------ a sweep's source */

struct oa_table_source {
  oa_text_share sh;
  oa_table_reader *r;
  const oa_logger *log;
  int pass;
  const char *path;   /* rows read from this file: it must not change between passes */
  struct stat was;
};

static int changed(const struct stat *a, const struct stat *b) {
  return a->st_size != b->st_size || a->st_ino != b->st_ino || a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
         a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

static int table_next(void *ctx, int pass, size_t max, oa_query_list *out, oa_err *err) {
  oa_table_source *t = ctx;
  struct stat now;
  if (pass != t->pass && pass > 0 && t->path && oa_fault("changed")) /* tests: the file is touched meanwhile */
    utimensat(AT_FDCWD, t->path, (const struct timespec[2]){{0, UTIME_NOW}, {0, UTIME_NOW}}, 0);
  if (pass != t->pass && pass > 0 && t->path && (stat(t->path, &now) != 0 || changed(&now, &t->was))) {
    memset(out, 0, sizeof *out);
    return oa_err_set(err, OA_EIO, "%s changed while the sweep read it (between its survey and its run)", t->path);
  }
  if (pass != t->pass) t->pass = pass, oa_table_reader_rewind(t->r);
  return oa_table_reader_next(t->r, max, pass == 0 ? t->log : NULL, out, err);
}

int oa_table_source_open(const oa_archive *a, const char *source, oa_text_share *sh, const oa_table_options *opt,
                         const oa_logger *log, oa_table_source **out, oa_query_source *src, oa_err *err) {
  oa_table_source *t = calloc(1, sizeof *t);
  *out = NULL;
  if (!t) return oa_text_share_free(sh), oa_err_set(err, OA_ENOMEM, "out of memory");
  t->sh = *sh, t->log = log, t->pass = -1;
  memset(sh, 0, sizeof *sh);
  oa_table_options o = *opt;
  o.line_base = t->sh.line_base, o.first_row = t->sh.first_row;
  int rc;
  if (t->sh.fd >= 0) { /* rows read from the file a block at a time */
    if (!t->sh.spooled && fstat(t->sh.fd, &t->was) == 0) t->path = source; /* a copy of ours cannot change */
    oa_lines rows;
    oa_lines_file(&rows, t->sh.fd, t->sh.from, t->sh.to);
    t->sh.fd = -1; /* the reader's now */
    rc = oa_table_reader_open_lines(a, source, t->sh.text, t->sh.len, &rows, &o, &t->r, err);
  } else {
    rc = oa_table_reader_open(a, source, t->sh.text, t->sh.len, &o, &t->r, err);
  }
  if (rc != OA_OK) return oa_table_source_free(t), rc;
  *out = t;
  *src = (oa_query_source){table_next, t};
  return OA_OK;
}

int oa_text_share_load(oa_text_share *s, oa_err *err) {
  if (s->fd < 0) return OA_OK;
  size_t n = (size_t)(s->to - s->from);
  char *rows = read_at(s->fd, s->from, n), *text = rows ? realloc(s->text, s->len + n + 1) : NULL;
  if (!text) return free(rows), oa_err_set(err, OA_EIO, "cannot read the queries: %s", errno ? strerror(errno) : "out of memory");
  memcpy(text + s->len, rows, n);
  s->text = text, s->len += n, s->text[s->len] = '\0';
  free(rows);
  close(s->fd);
  s->fd = -1;
  return OA_OK;
}

const oa_table_reader *oa_table_source_reader(const oa_table_source *t) { return t->r; }

void oa_table_source_free(oa_table_source *t) {
  if (!t) return;
  oa_table_reader_free(t->r);
  oa_text_share_free(&t->sh);
  free(t);
}
