/* Corpus scan and partitioning. The scan's steps (the ranks share them:
 * src/corpuswalk.c), the whole list sorted by name (an entry's place is its
 * /recordings row), its split by bytes, and the messages that carry a
 * rank's share (src/indexjob.c). */
#ifndef OPUSARC_CORPUS_H
#define OPUSARC_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "opusarc/error.h"

typedef struct oa_corpus_entry {
  char *name;   /* recording name: path relative to its directory argument */
  char *path;   /* path to open */
  uint64_t size;
  int64_t mtime_ns;   /* modification time, ns since the epoch (0 if unknown) */
  uint64_t dev, ino;  /* device and inode: the same file under two names is one file */
  char *error;  /* set when the entry already failed at scan time */
  uint64_t row; /* its place in the whole sorted list: its /recordings row */
} oa_corpus_entry;

typedef struct oa_corpus {
  oa_corpus_entry *entries;
  size_t count, cap;
} oa_corpus;

/* Walks files and directories (recursively, *.opus / *.ogg), plus the paths
 * listed one per line in list_file (may be NULL; empty lines and lines
 * starting with '#' are skipped, a path starting with '#' can be given as
 * ./#name). Entries are sorted by name; unreadable paths, duplicate names
 * and a file reached twice (same device and inode) become failed entries. Returns an
 * error only for problems with the arguments themselves. */
/* How recordings are named. By default a file found in a directory
 * argument is named by its path below that directory, a file argument (or
 * a --list line) by the path as given. With root, every name is the path
 * below ROOT (directories resolved), whatever the arguments, so
 * `index small/site*` and `index small` agree; prefix goes in front. */
typedef struct oa_corpus_naming {
  const char *root;   /* NULL: the default rule */
  const char *prefix; /* NULL: none */
} oa_corpus_naming;

int oa_corpus_scan(const char *const *inputs, int ninputs, const char *list_file, const oa_corpus_naming *naming,
                   oa_corpus *c, oa_err *err);

/* The scan's steps, which ranks share (src/corpuswalk.c) and
 * oa_corpus_scan runs alone. Directories still to read: */
typedef struct oa_dir {
  char *dir; /* path to open */
  char *rel; /* its path below the directory argument it was found under ("" for the argument) */
} oa_dir;
typedef struct oa_dirlist {
  oa_dir *items;
  size_t count, cap;
} oa_dirlist;
int oa_dirlist_add(oa_dirlist *l, const char *dir, const char *rel);
void oa_dirlist_free(oa_dirlist *l);
/* As one message (NUL-terminated strings in pairs), and back: appended to
 * l; -1 out of memory, -2 a corrupt message. One item's part of a message:
 * its size, and written at p (returns the bytes written). */
size_t oa_dir_message_size(const oa_dir *d);
size_t oa_dir_write_message(const oa_dir *d, uint8_t *p);
int oa_dirlist_serialize(const oa_dirlist *l, uint8_t **buf, uint64_t *len);
int oa_dirlist_append_message(oa_dirlist *l, const uint8_t *buf, uint64_t len);

/* Every argument exists: OA_EUSAGE naming the first that does not. */
int oa_corpus_check_inputs(const char *const *inputs, int ninputs, oa_err *err);
/* Arguments i with i % nparts == part: files join c, directories `dirs`. */
int oa_corpus_add_inputs(oa_corpus *c, const char *const *inputs, int ninputs, int part, int nparts,
                         oa_dirlist *dirs);
/* One directory, not its subdirectories: its audio files join c (stat'ed;
 * other files cost no stat where the file system gives entry types), or,
 * when `files` is not NULL, join `files` unstat'ed (path as dir, name as
 * rel: the ranks share the stats); its subdirectories join `more` (links
 * to directories are not followed). An unreadable directory is a failed
 * entry. -1: out of memory. */
int oa_corpus_read_dir(oa_corpus *c, const char *dir, const char *rel, oa_dirlist *more, oa_dirlist *files);
/* The same in steps, so that a directory of very many files is dealt out
 * a part at a time: oa_dir_open (an unreadable directory is a failed entry
 * in c, *r NULL), then oa_dir_read_some until *done: it adds up to `most`
 * audio files to `files` (unstat'ed) and the subdirectories met to `more`.
 * -1: out of memory. */
typedef struct oa_dir_reader oa_dir_reader;
int oa_dir_open(oa_corpus *c, const char *dir, const char *rel, oa_dir_reader **r);
int oa_dir_read_some(oa_dir_reader *r, size_t most, oa_dirlist *more, oa_dirlist *files, int *done);
void oa_dir_close(oa_dir_reader *r);
/* Stats the files of such a list into c. -1: out of memory. */
int oa_corpus_add_files(oa_corpus *c, const oa_dirlist *files);
/* The list file's paths k with k % nparts == part (each rank stats its share). */
int oa_corpus_read_list(oa_corpus *c, const char *list_file, int part, int nparts, oa_err *err);
/* --root/--prefix naming of the entries (any part of the corpus). */
int oa_corpus_name(oa_corpus *c, const oa_corpus_naming *naming, oa_err *err);
/* The whole list: sorted by name, rows numbered, duplicate names and
 * files reached twice marked failed (the three steps below). */
int oa_corpus_finish(oa_corpus *c, oa_err *err);
/* By name, then path. */
void oa_corpus_sort(oa_corpus *c);
/* In a sorted list (or a run of one that holds every entry of its names):
 * an entry named like the one before it fails, unless it already has.
 * -1: out of memory. */
int oa_corpus_mark_duplicates(oa_corpus *c);
/* Entries in row order: of the entries with one device and inode (inode 0:
 * unknown, never grouped), the first keeps the file and each later one
 * fails, saying so, unless it or the first already failed. -1: out of memory. */
int oa_corpus_mark_same_files(oa_corpus *c);
/* Appends a message's entries (oa_corpus_serialize) to c. */
int oa_corpus_append_message(oa_corpus *c, const uint8_t *buf, uint64_t len, oa_err *err);
void oa_corpus_free(oa_corpus *c);
/* Keeps the entries i with keep[i] set, in order (rows renumbered from 0);
 * frees the others. */
void oa_corpus_keep(oa_corpus *c, const uint8_t *keep);

/* The entries (rows included) as one message; `pick`, if not NULL, lists
 * the n entries to send by index (n ignored when pick is NULL). The size
 * first, then the message into a buffer of that size (which cannot fail),
 * or both in one allocation. */
uint64_t oa_corpus_message_size(const oa_corpus *c, const size_t *pick, size_t n);
void oa_corpus_write_message(const oa_corpus *c, const size_t *pick, size_t n, uint8_t *out);
int oa_corpus_serialize(const oa_corpus *c, const size_t *pick, size_t n, uint8_t **buf, uint64_t *len);
int oa_corpus_deserialize(const uint8_t *buf, uint64_t len, oa_corpus *c, oa_err *err);

/* Fingerprint of the entries' names, paths, sizes, mtimes and inodes, in order: a resumed
 * run must see the same corpus as the run it continues. */
uint64_t oa_corpus_hash(const oa_corpus *c);
/* The same fingerprint continued over more entries: the hash of a list cut
 * in runs is each run's hash started from the one before (FNV-1a). */
#define OA_CORPUS_HASH_START 1469598103934665603ull
uint64_t oa_corpus_hash_from(uint64_t h, const oa_corpus *c);

/* owner[i] = rank that indexes entry i. Largest files first, each to the
 * rank with the fewest bytes so far (ties: lowest rank). */
int oa_corpus_partition(const oa_corpus *c, int nranks, int *owner);
/* The same rule for any list of sizes (used for archive recordings too). */
int oa_partition_by_size(const uint64_t *sizes, size_t n, int nranks, int *owner);

#endif
