/* eio_shim.so: LD_PRELOAD library that makes one MPI rank's file writes fail
 * with EIO, below HDF5 and MPI-IO, so a test can produce a real I/O error
 * in the middle of a collective HDF5 write (opusarc's own fault points sit
 * outside the library calls).
 *   EIO_RANK=R   the rank (OMPI_COMM_WORLD_RANK) whose writes fail
 *   EIO_AFTER=N  the first N writes of 4 KiB or more succeed */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* Only writes to regular files: MPI's own sockets must keep working. */
static int should_fail(int fd, size_t bytes) {
  static long seen = 0;
  const char *rank = getenv("OMPI_COMM_WORLD_RANK"), *victim = getenv("EIO_RANK"), *after = getenv("EIO_AFTER");
  if (bytes < 4096 || !rank || !victim || strcmp(rank, victim) != 0) return 0;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  return ++seen > (after ? atol(after) : 0);
}

static size_t iov_bytes(const struct iovec *iov, int n) {
  size_t sum = 0;
  for (int i = 0; i < n; i++) sum += iov[i].iov_len;
  return sum;
}

#define PASS_ON(name, type, ...)                        \
  static type (*real)();                                \
  if (!real) real = (type(*)())dlsym(RTLD_NEXT, name);  \
  return real(__VA_ARGS__)

ssize_t pwrite(int fd, const void *buf, size_t n, off_t at) {
  if (should_fail(fd, n)) return errno = EIO, -1;
  PASS_ON("pwrite", ssize_t, fd, buf, n, at);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t at) {
  if (should_fail(fd, n)) return errno = EIO, -1;
  PASS_ON("pwrite64", ssize_t, fd, buf, n, at);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t at) {
  if (should_fail(fd, iov_bytes(iov, cnt))) return errno = EIO, -1;
  PASS_ON("pwritev", ssize_t, fd, iov, cnt, at);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
  if (should_fail(fd, iov_bytes(iov, cnt))) return errno = EIO, -1;
  PASS_ON("writev", ssize_t, fd, iov, cnt);
}
