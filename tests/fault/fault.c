// An LD_PRELOAD fault injector for the black-box tests of a failed write or sync
// (tests/blackbox/fsync_fault.test.mjs): once armed, the chosen call on a descriptor of a
// file whose name ends with the chosen suffix fails with the chosen errno, and does nothing.
// A disk that answers EIO or ENOSPC, as the server would meet it, without a broken disk.
//
// Environment (read once, at the first wrapped call):
//   TR_FAULT_TRIGGER      a path: the fault is armed while a file exists there, so that a
//                         test arms it after start-up (the migrations, the bootstrap) and
//                         disarms it by removing the file. Unset: nothing ever fails.
//   TR_FAULT_PATH_SUFFIX  which files: their path ends with this ("-wal", ".db"); default "-wal"
//   TR_FAULT_OP           "fdatasync" (fdatasync and fsync) or "write" (write, pwrite and
//                         their 64-bit and vector forms); default "fdatasync"
//   TR_FAULT_ERRNO        "EIO" (default) or "ENOSPC"
//   TR_FAULT_AFTER        matching calls let through after arming before the first failure
//                         (default 0); every one after it fails
// Each failure is counted in TR_FAULT_TRIGGER + ".hits" (one byte appended per failure), so
// that a test can tell the fault was met.
//
// Thread contract: any wrapper from any thread; the counter of calls let through is atomic.
// The descriptor's path is read from /proc/self/fd only while armed: unarmed, a wrapper costs
// one stat() of the trigger.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum FaultOp { kSync = 1, kWrite = 2 };

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char* trigger;      // NULL: never armed
static char hits[PATH_MAX];      // the trigger's path + ".hits"
static const char* suffix = "-wal";
static int fault_op = kSync;
static int fault_errno = EIO;
static long after;               // calls to let through once armed
static long passed;              // calls let through so far (atomic builtins)

static void Init(void) {
  trigger = getenv("TR_FAULT_TRIGGER");
  if (trigger != NULL && *trigger == '\0') trigger = NULL;
  if (trigger != NULL) snprintf(hits, sizeof hits, "%s.hits", trigger);
  const char* s = getenv("TR_FAULT_PATH_SUFFIX");
  if (s != NULL && *s != '\0') suffix = s;
  const char* op = getenv("TR_FAULT_OP");
  if (op != NULL && strcmp(op, "write") == 0) fault_op = kWrite;
  const char* e = getenv("TR_FAULT_ERRNO");
  if (e != NULL && strcmp(e, "ENOSPC") == 0) fault_errno = ENOSPC;
  const char* a = getenv("TR_FAULT_AFTER");
  if (a != NULL) after = atol(a);
}

#define REAL(name, ret, ...)                                        \
  static ret (*real_##name)(__VA_ARGS__);                           \
  static ret (*Real_##name(void))(__VA_ARGS__) {                    \
    if (!real_##name) real_##name = dlsym(RTLD_NEXT, #name);        \
    return real_##name;                                             \
  }

REAL(fsync, int, int)
REAL(fdatasync, int, int)
REAL(write, ssize_t, int, const void*, size_t)
REAL(pwrite, ssize_t, int, const void*, size_t, off_t)
REAL(pwrite64, ssize_t, int, const void*, size_t, off_t)
REAL(writev, ssize_t, int, const struct iovec*, int)
REAL(pwritev, ssize_t, int, const struct iovec*, int, off_t)
REAL(pwritev64, ssize_t, int, const struct iovec*, int, off_t)

static int EndsWith(const char* s, const char* tail) {
  size_t n = strlen(s), m = strlen(tail);
  return n >= m && strcmp(s + n - m, tail) == 0;
}

// True when this call must fail (errno is then set). Never for the hits file itself.
static int Fails(int fd, int op) {
  pthread_once(&once, Init);
  if (trigger == NULL || op != fault_op) return 0;
  struct stat st;
  if (stat(trigger, &st) != 0) return 0;
  char link[64];
  char path[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return 0;
  path[n] = '\0';
  if (!EndsWith(path, suffix)) return 0;
  if (__atomic_fetch_add(&passed, 1, __ATOMIC_RELAXED) < after) return 0;
  int saved = fault_errno;
  int out = open(hits, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (out >= 0) {
    Real_write()(out, "x", 1);
    close(out);
  }
  errno = saved;
  return 1;
}

int fsync(int fd) { return Fails(fd, kSync) ? -1 : Real_fsync()(fd); }
int fdatasync(int fd) { return Fails(fd, kSync) ? -1 : Real_fdatasync()(fd); }
ssize_t write(int fd, const void* buf, size_t count) {
  return Fails(fd, kWrite) ? -1 : Real_write()(fd, buf, count);
}
ssize_t pwrite(int fd, const void* buf, size_t count, off_t off) {
  return Fails(fd, kWrite) ? -1 : Real_pwrite()(fd, buf, count, off);
}
ssize_t pwrite64(int fd, const void* buf, size_t count, off_t off) {
  return Fails(fd, kWrite) ? -1 : Real_pwrite64()(fd, buf, count, off);
}
ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  return Fails(fd, kWrite) ? -1 : Real_writev()(fd, iov, iovcnt);
}
ssize_t pwritev(int fd, const struct iovec* iov, int iovcnt, off_t off) {
  return Fails(fd, kWrite) ? -1 : Real_pwritev()(fd, iov, iovcnt, off);
}
ssize_t pwritev64(int fd, const struct iovec* iov, int iovcnt, off_t off) {
  return Fails(fd, kWrite) ? -1 : Real_pwritev64()(fd, iov, iovcnt, off);
}
