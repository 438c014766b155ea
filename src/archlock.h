/* One writer per archive. `index` holds ARCHIVE.lock for its whole run, so
 * a second job on the same -o (a double sbatch, an --array without %1)
 * refuses at once, naming the job that holds it.
 *
 * The lock is an flock(2) on ARCHIVE.lock taken by rank 0: the kernel drops
 * it when its holder dies, however it dies, so a lock left by a killed job
 * never blocks --resume. The file also says who holds it (host, pid, Slurm
 * job id, start time), for the refusal message.
 *
 * Where flock is unavailable (some Lustre and NFS mounts answer ENOSYS,
 * ENOLCK or EOPNOTSUPP), or with OPUSARC_LOCK=file, the lock is the file
 * itself, created with O_EXCL: a lock file naming this host and a process
 * that no longer exists is stale and taken over; one naming another host
 * cannot be proven stale and is refused, with the holder named and the
 * file to remove once that job is known to be gone. OPUSARC_LOCK=none
 * turns locking off (the user then promises one writer). */
#ifndef OPUSARC_ARCHLOCK_H
#define OPUSARC_ARCHLOCK_H

#include "opusarc/error.h"

typedef struct oa_archlock oa_archlock;

/* Takes the lock of ARCHIVE (not collective: rank 0 only). OA_EBUSY-like
 * failure is OA_EUSAGE with "ARCHIVE is being written by another job
 * (host H, pid P, Slurm job J, since T)". *note (OA_ERRMSG_MAX bytes or
 * NULL) says when a stale lock was taken over. */
int oa_archlock_acquire(const char *archive, oa_archlock **out, char *note, oa_err *err);
/* Removes the lock file and releases the lock (NULL: no-op). */
void oa_archlock_release(oa_archlock *l);

#endif
