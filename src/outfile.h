/* Output files: the rules every command follows before it writes a path.
 *
 * An output never replaces an input (same device and inode, whatever the
 * name or the flags); an existing output is replaced only with force; a
 * directory, FIFO, device or socket is never replaced by a regular file.
 * Data goes first into a temporary file created here with O_EXCL and
 * O_NOFOLLOW (a name planted in advance, as a file or a symlink, makes the
 * creation fail instead of being followed or reused), and reaches its final
 * name only when complete; without force the final step never replaces a
 * file that appeared meanwhile. */
#ifndef OPUSARC_OUTFILE_H
#define OPUSARC_OUTFILE_H

#include <stddef.h>
#include <stdint.h>

#include "opusarc/error.h"

typedef struct oa_file_id {
  uint64_t dev, ino;
} oa_file_id;

/* Device and inode of PATH (symlinks followed); -1 with errno if absent. */
int oa_file_id_of(const char *path, oa_file_id *id);

/* OA_OK when PATH may be written as an output: refuses (OA_EUSAGE, message
 * names PATH and why) a path that is one of the `n` inputs, a directory or
 * other non-regular file, a path whose directory is missing or not
 * writable, and an existing file unless force. `what` names the option
 * in messages ("-o", "--out"). */
int oa_out_check(const char *path, int force, const oa_file_id *inputs, size_t n, const char *what, oa_err *err);

/* Creates a new temporary file beside PATH, named PATH.partial.<pid>.<k>,
 * with O_CREAT|O_EXCL|O_NOFOLLOW; returns its descriptor (or -1, err set)
 * and its name in tmp. */
int oa_out_create_temp(const char *path, char *tmp, size_t len, oa_err *err);

/* Gives TMP the name PATH. Without force an existing PATH is never
 * replaced (OA_EUSAGE); with force it is, unless it is not a regular file.
 * On failure TMP is left for the caller to remove. */
/* fsync: a file's data on disk before it takes its final name, so a crash
 * after the rename never leaves an incomplete file under that name (and a
 * multi-GB write-back does not land on the MPI run-time at exit: Open MPI
 * 4.1 then reports ranks that finalized as "exiting improperly"). */
int oa_out_sync(const char *path, oa_err *err);
int oa_out_publish(const char *tmp, const char *path, int force, oa_err *err);

/* Whether DIR (created if missing, with parents) can take new files:
 * OA_OK, or OA_EIO with "DIR: cannot create output directory: <reason>"
 * / "DIR: Permission denied". */
int oa_out_dir_ready(const char *dir, oa_err *err);

#endif
