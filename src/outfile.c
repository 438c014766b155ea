#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int oa_file_id_of(const char *path, oa_file_id *id) {
  struct stat st;
  if (stat(path, &st) != 0) return -1;
  id->dev = (uint64_t)st.st_dev;
  id->ino = (uint64_t)st.st_ino;
  return 0;
}

static const char *kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

/* The directory PATH would be created in: writable and searchable. */
static int check_parent(const char *path, const char *what, oa_err *err) {
  char *copy = strdup(path);
  if (!copy) return oa_err_set(err, OA_ENOMEM, "out of memory");
  const char *dir = dirname(copy);
  struct stat st;
  int rc = OA_OK;
  if (stat(dir, &st) != 0)
    rc = oa_err_set(err, OA_EUSAGE, "%s %s: directory %s: %s", what, path, dir, strerror(errno));
  else if (!S_ISDIR(st.st_mode))
    rc = oa_err_set(err, OA_EUSAGE, "%s %s: %s is not a directory", what, path, dir);
  else if (access(dir, W_OK | X_OK) != 0)
    rc = oa_err_set(err, OA_EUSAGE, "%s %s: cannot write in %s: %s", what, path, dir, strerror(errno));
  free(copy);
  return rc;
}

int oa_out_check(const char *path, int force, const oa_file_id *inputs, size_t n, const char *what, oa_err *err) {
  struct stat lst, st;
  if (lstat(path, &lst) != 0) {
    if (errno != ENOENT) return oa_err_set(err, OA_EUSAGE, "%s %s: %s", what, path, strerror(errno));
    return check_parent(path, what, err);
  }
  if (stat(path, &st) != 0) /* a dangling symlink: renaming over it replaces only the link */
    return force ? check_parent(path, what, err)
                 : oa_err_set(err, OA_EEXIST, "%s %s already exists as a symbolic link", what, path);
  for (size_t i = 0; i < n; i++)
    if (inputs[i].dev == (uint64_t)st.st_dev && inputs[i].ino == (uint64_t)st.st_ino)
      return oa_err_set(err, OA_EUSAGE, "%s %s is an input of this command: an output never replaces an input",
                        what, path);
  if (!S_ISREG(st.st_mode))
    return oa_err_set(err, OA_EUSAGE, "%s %s is %s: opusarc writes outputs under a temporary name and renames "
                      "them, which would replace it; give the path of a file", what, path, kind_of(st.st_mode));
  if (!force) return oa_err_set(err, OA_EEXIST, "%s %s already exists", what, path);
  return check_parent(path, what, err);
}

int oa_out_create_temp(const char *path, char *tmp, size_t len, oa_err *err) {
  for (int k = 0; k < 100; k++) {
    if ((size_t)snprintf(tmp, len, "%s.partial.%ld.%d", path, (long)getpid(), k) >= len) {
      oa_err_set(err, OA_EUSAGE, "%s: path too long", path);
      return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    if (errno != EEXIST) {
      oa_err_set(err, OA_EIO, "%s: cannot create output: %s", path, strerror(errno));
      return -1;
    }
  }
  oa_err_set(err, OA_EIO, "%s: cannot create output: 100 temporary names taken", path);
  return -1;
}

int oa_out_sync(const char *path, oa_err *err) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  int ok = fd >= 0 && fsync(fd) == 0;
  int e = errno;
  if (fd >= 0) close(fd);
  return ok ? OA_OK : oa_err_set(err, OA_EIO, "%s: cannot flush to disk: %s", path, strerror(e));
}

int oa_out_publish(const char *tmp, const char *path, int force, oa_err *err) {
  if (force) {
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
      return oa_err_set(err, OA_EUSAGE, "%s is %s: not replaced", path, kind_of(st.st_mode));
    if (rename(tmp, path) != 0)
      return oa_err_set(err, OA_EIO, "%s: cannot rename into place: %s", path, strerror(errno));
    return OA_OK;
  }
  /* link() fails with EEXIST instead of replacing: nothing that appeared
   * under PATH since the check is lost. */
  if (link(tmp, path) == 0) {
    unlink(tmp);
    return OA_OK;
  }
  if (errno == EEXIST) return oa_err_set(err, OA_EEXIST, "%s already exists", path);
  if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS)
    return oa_err_set(err, OA_EIO, "%s: cannot move into place: %s", path, strerror(errno));
  /* File systems without hard links: rename after a last look. */
  if (access(path, F_OK) == 0) return oa_err_set(err, OA_EEXIST, "%s already exists", path);
  if (rename(tmp, path) != 0) return oa_err_set(err, OA_EIO, "%s: cannot rename into place: %s", path, strerror(errno));
  return OA_OK;
}

int oa_out_dir_ready(const char *dir, oa_err *err) {
  char *tmp = strdup(dir);
  if (!tmp) return oa_err_set(err, OA_ENOMEM, "out of memory");
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      mkdir(tmp, 0777);
      *p = '/';
    }
  int made = mkdir(tmp, 0777) == 0 || errno == EEXIST ? 0 : errno;
  free(tmp);
  struct stat st;
  if (stat(dir, &st) != 0)
    return oa_err_set(err, OA_EIO, "%s: cannot create output directory: %s", dir, strerror(made ? made : errno));
  if (!S_ISDIR(st.st_mode)) return oa_err_set(err, OA_EIO, "%s: not a directory", dir);
  if (access(dir, W_OK | X_OK) != 0) return oa_err_set(err, OA_EIO, "%s: %s", dir, strerror(errno));
  return OA_OK;
}
