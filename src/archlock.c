#include "archlock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct oa_archlock {
  char *path;
  int fd;
};

typedef struct holder {
  char host[256];
  long pid;
  char job[64];
  char since[32];
} holder;

static void describe_self(char *buf, size_t len) {
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  const char *job = getenv("SLURM_JOB_ID");
  time_t now = time(NULL);
  char since[32];
  strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  snprintf(buf, len, "host=%s\npid=%ld\nslurm_job=%s\nsince=%s\n", host, (long)getpid(), job ? job : "", since);
}

static void read_holder(int fd, holder *h) {
  memset(h, 0, sizeof *h);
  char buf[1024];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return;
  buf[n] = '\0';
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    if (strncmp(line, "host=", 5) == 0) snprintf(h->host, sizeof h->host, "%s", line + 5);
    else if (strncmp(line, "pid=", 4) == 0) h->pid = strtol(line + 4, NULL, 10);
    else if (strncmp(line, "slurm_job=", 10) == 0) snprintf(h->job, sizeof h->job, "%s", line + 10);
    else if (strncmp(line, "since=", 6) == 0) snprintf(h->since, sizeof h->since, "%s", line + 6);
  }
}

static int busy(const char *archive, const char *lock, const holder *h, int provable, oa_err *err) {
  char job[96] = "";
  if (h->job[0]) snprintf(job, sizeof job, ", Slurm job %s", h->job);
  return oa_err_set(err, OA_EUSAGE, "%s is being written by another job (host %s, pid %ld%s, since %s)%s%s%s",
                    archive, h->host[0] ? h->host : "unknown", h->pid, job, h->since[0] ? h->since : "unknown",
                    provable ? "" : "; this file system has no working locks: if that job is gone, remove ",
                    provable ? "" : lock, provable ? "" : " and rerun");
}

static int write_self(int fd) {
  char me[512];
  describe_self(me, sizeof me);
  size_t n = strlen(me);
  return ftruncate(fd, 0) == 0 && pwrite(fd, me, n, 0) == (ssize_t)n ? 0 : -1;
}

static int same_file(int fd, const char *path) {
  struct stat a, b;
  return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The lock file as the lock (no kernel locks): O_EXCL creation; a file
 * naming a dead process of this host is stale. */
static int acquire_file(oa_archlock *l, const char *archive, char *note, oa_err *err) {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  for (int attempt = 0; attempt < 3; attempt++) {
    int fd = open(l->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) {
      l->fd = fd;
      return write_self(fd) == 0 ? OA_OK : oa_err_set(err, OA_EIO, "cannot write %s: %s", l->path, strerror(errno));
    }
    if (errno != EEXIST) return oa_err_set(err, OA_EIO, "cannot create %s: %s", l->path, strerror(errno));
    fd = open(l->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue; /* removed meanwhile */
    holder h;
    read_holder(fd, &h);
    close(fd);
    int here = strcmp(h.host, host) == 0;
    int alive = !here || h.pid <= 0 || kill((pid_t)h.pid, 0) == 0 || errno == EPERM;
    if (alive) return busy(archive, l->path, &h, 0, err);
    if (note) snprintf(note, OA_ERRMSG_MAX, "took over the stale lock %s of pid %ld on this host (no longer running)", l->path,
                       h.pid);
    unlink(l->path);
  }
  return oa_err_set(err, OA_EIO, "cannot take the lock %s: it keeps changing", l->path);
}

static int flock_unavailable(int e) { return e == ENOSYS || e == ENOLCK || e == EOPNOTSUPP || e == EINVAL || e == 524; }

int oa_archlock_acquire(const char *archive, oa_archlock **out, char *note, oa_err *err) {
  *out = NULL;
  if (note) note[0] = '\0';
  const char *mode = getenv("OPUSARC_LOCK");
  if (mode && strcmp(mode, "none") == 0) return OA_OK;
  oa_archlock *l = calloc(1, sizeof *l);
  size_t n = strlen(archive);
  if (!l || !(l->path = malloc(n + 6))) {
    free(l);
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  memcpy(l->path, archive, n);
  memcpy(l->path + n, ".lock", 6);
  l->fd = -1;
  int rc = OA_OK;
  int use_file = mode && strcmp(mode, "file") == 0;
  for (int attempt = 0; !use_file && attempt < 10; attempt++) {
    int fd = open(l->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
      rc = oa_err_set(err, OA_EIO, "cannot create %s: %s", l->path, strerror(errno));
      break;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      holder h;
      read_holder(fd, &h);
      close(fd);
      if (flock_unavailable(e)) {
        use_file = 1;
        break;
      }
      rc = e == EWOULDBLOCK ? busy(archive, l->path, &h, 1, err)
                            : oa_err_set(err, OA_EIO, "cannot lock %s: %s", l->path, strerror(e));
      break;
    }
    /* A holder that finished removed the file after we opened it: lock the
     * file that has the name now. */
    if (!same_file(fd, l->path)) {
      close(fd);
      continue;
    }
    l->fd = fd;
    rc = write_self(fd) == 0 ? OA_OK : oa_err_set(err, OA_EIO, "cannot write %s: %s", l->path, strerror(errno));
    break;
  }
  if (use_file && rc == OA_OK && l->fd < 0) rc = acquire_file(l, archive, note, err);
  else if (rc == OA_OK && l->fd < 0) rc = oa_err_set(err, OA_EIO, "cannot lock %s: it keeps changing", l->path);
  if (rc != OA_OK) {
    if (l->fd >= 0) close(l->fd);
    free(l->path);
    free(l);
    return rc;
  }
  *out = l;
  return OA_OK;
}

void oa_archlock_release(oa_archlock *l) {
  if (!l) return;
  unlink(l->path); /* while still held: a waiter then finds the name gone and retries */
  close(l->fd);
  free(l->path);
  free(l);
}
