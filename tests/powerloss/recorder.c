// The power-loss harness's recorder: an LD_PRELOAD library that logs, in order, every
// write, truncation, sync, open, rename, link and unlink a process makes to the files of one
// data directory, with the bytes written and a CLOCK_MONOTONIC timestamp. The harness
// (tests/powerloss/*.mjs) replays the log to build the disk images a power cut could leave.
//
// Environment:
//   TR_POWERLOSS_DIR    the data directory (only its own entries are recorded, not below it)
//   TR_POWERLOSS_LOG    the log file, appended to (several processes may share it)
//   TR_POWERLOSS_FAULT  unset, or a simulated product bug, for the harness's can-fail runs:
//                       "skip-wal-sync"  fsync/fdatasync of a read-only descriptor of a WAL
//                                        file (the syncer's) does nothing, logged as skipped;
//                       "late-wal-write" a write to a WAL file is logged only when the next
//                                        write to it comes, i.e. after the sync that should
//                                        have covered it.
//
// Thread contract: every wrapper may be called from any thread. One mutex orders the fd
// table and the appends of this process; each record is one writev() to a file opened with
// O_APPEND, so records of several processes interleave whole. A record is appended after
// its call returned and before the wrapper returns, so a record that depends on another
// (a write after the lock handoff, a 201 after the sync) comes after it in the log. A sync
// is logged twice: before the call (what it covers is what came before) and after it (from
// then on it is durable).
//
// Not recorded: the WAL index (`-shm`, which SQLite rebuilds after a crash), files below
// the directory, and anything a process writes through its own mapping (a shared writable
// mapping of a recorded file is logged, and the harness fails on it). The harness checks
// at the end that replaying the whole log gives the files as they are, so a write that
// escaped the recorder fails the run.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum Op {
  kOpen = 1,
  kWrite = 2,
  kTruncate = 3,
  kSyncBegin = 4,
  kSyncEnd = 5,
  kRename = 6,
  kLink = 7,
  kUnlink = 8,
  kClose = 9,
  kMmap = 10,
  kRange = 11,
  kFallocate = 12,
};

// Record flags.
enum {
  kExisted = 1,      // kOpen: the path existed just before the call
  kIsDir = 2,        // the descriptor is the data directory itself
  kLazy = 4,         // kOpen: first seen at a later call (opened where we could not see it)
  kFailed = 8,       // kSyncEnd: the call failed
  kSkipped = 16,     // kSyncEnd: not called (TR_POWERLOSS_FAULT)
  kGlobal = 32,      // kSync*: sync()/syncfs(): every file
  kHeldWrite = 64,   // kWrite: logged late (TR_POWERLOSS_FAULT=late-wal-write)
};

enum SyncKind { kFsync = 1, kFdatasync = 2, kSyncfs = 3, kSyncAll = 4 };

#pragma pack(push, 1)
struct Header {
  uint32_t magic;  // "PLR1"
  uint32_t size;   // of the whole record; 0 for a record of more than 4 GiB (never here)
  uint64_t ts;     // CLOCK_MONOTONIC, ns
  uint32_t pid;
  uint32_t tid;
  uint16_t op;
  uint16_t flags;
  int32_t fd;
  int64_t off;  // write offset, truncation length, size after open, fallocate offset
  int64_t arg;  // open flags, sync kind, rename flags, mmap prot | flags << 32, lengths
  uint64_t dev;
  uint64_t ino;
  uint32_t len1;  // path1 bytes, then path2 bytes, then data bytes follow the header
  uint32_t len2;
  uint64_t dlen;
};
#pragma pack(pop)

#define kMagic 0x31524c50u

// ---------------------------------------------------------------------------------------
// The real functions.

#define REAL(ret, name, ...)                                        \
  static ret (*real_##name)(__VA_ARGS__);                           \
  static ret (*get_##name(void))(__VA_ARGS__) {                     \
    if (!real_##name) real_##name = dlsym(RTLD_NEXT, #name);        \
    return real_##name;                                             \
  }

REAL(int, open, const char*, int, ...)
REAL(int, open64, const char*, int, ...)
REAL(int, openat, int, const char*, int, ...)
REAL(int, openat64, int, const char*, int, ...)
REAL(int, __open_2, const char*, int)
REAL(int, __open64_2, const char*, int)
REAL(int, __openat_2, int, const char*, int)
REAL(int, __openat64_2, int, const char*, int)
REAL(int, creat, const char*, mode_t)
REAL(int, creat64, const char*, mode_t)
REAL(FILE*, fopen, const char*, const char*)
REAL(FILE*, fopen64, const char*, const char*)
REAL(int, fclose, FILE*)
REAL(ssize_t, write, int, const void*, size_t)
REAL(ssize_t, pwrite, int, const void*, size_t, off_t)
REAL(ssize_t, pwrite64, int, const void*, size_t, off_t)
REAL(ssize_t, writev, int, const struct iovec*, int)
REAL(ssize_t, pwritev, int, const struct iovec*, int, off_t)
REAL(ssize_t, pwritev64, int, const struct iovec*, int, off_t)
REAL(ssize_t, pwritev2, int, const struct iovec*, int, off_t, int)
REAL(ssize_t, pwritev64v2, int, const struct iovec*, int, off_t, int)
REAL(int, ftruncate, int, off_t)
REAL(int, ftruncate64, int, off_t)
REAL(int, truncate, const char*, off_t)
REAL(int, truncate64, const char*, off_t)
REAL(int, fallocate, int, int, off_t, off_t)
REAL(int, fallocate64, int, int, off_t, off_t)
REAL(int, posix_fallocate, int, off_t, off_t)
REAL(int, posix_fallocate64, int, off_t, off_t)
REAL(int, fsync, int)
REAL(int, fdatasync, int)
REAL(int, syncfs, int)
REAL(void, sync, void)
REAL(int, sync_file_range, int, off_t, off_t, unsigned int)
REAL(int, rename, const char*, const char*)
REAL(int, renameat, int, const char*, int, const char*)
REAL(int, renameat2, int, const char*, int, const char*, unsigned int)
REAL(int, link, const char*, const char*)
REAL(int, linkat, int, const char*, int, const char*, int)
REAL(int, unlink, const char*)
REAL(int, unlinkat, int, const char*, int)
REAL(int, remove, const char*)
REAL(int, close, int)
REAL(int, dup, int)
REAL(int, dup2, int, int)
REAL(int, dup3, int, int, int)
REAL(void*, mmap, void*, size_t, int, int, int, off_t)
REAL(void*, mmap64, void*, size_t, int, int, int, off_t)

// ---------------------------------------------------------------------------------------
// State.

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char data_dir[PATH_MAX];  // realpath of TR_POWERLOSS_DIR; empty: record nothing
static size_t data_dir_len;
static int log_fd = -1;
enum Fault { kNoFault, kSkipWalSync, kLateWalWrite };
static enum Fault fault;

enum FdState { kUnknown = 0, kTracked = 1, kUntracked = 2 };
struct FdEntry {
  unsigned char state;
  unsigned char is_dir;
  unsigned char is_wal;
  unsigned char rdonly;
  dev_t dev;
  ino_t ino;
};
#define kMaxFds 65536
static struct FdEntry fds[kMaxFds];  // Guarded by mu

// TR_POWERLOSS_FAULT=late-wal-write: the WAL writes not logged yet (one record each).
struct Held {
  struct Held* next;
  size_t size;
  unsigned char bytes[];
};
static struct Held* held_first;  // Guarded by mu
static struct Held* held_last;   // Guarded by mu

// How many calls of this process have had their effect and not yet their record. The
// harness's cut stops the process and kills it only while this is 0 (tests/powerloss/lab.mjs),
// so that SIGKILL never lands between a write and its record. It lives in a file,
// "<log>.inflight.<pid>", mapped shared, which the harness reads.
static int no_inflight_file;
static int* inflight = &no_inflight_file;

static void BeginEffect(void) { __atomic_add_fetch(inflight, 1, __ATOMIC_SEQ_CST); }
static void EndEffect(void) { __atomic_sub_fetch(inflight, 1, __ATOMIC_SEQ_CST); }

static uint64_t Now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

__attribute__((constructor)) static void Init(void) {
  const char* dir = getenv("TR_POWERLOSS_DIR");
  const char* log = getenv("TR_POWERLOSS_LOG");
  const char* f = getenv("TR_POWERLOSS_FAULT");
  if (!dir || !log || !realpath(dir, data_dir)) {
    data_dir[0] = 0;
    return;
  }
  data_dir_len = strlen(data_dir);
  if (f && strcmp(f, "skip-wal-sync") == 0) fault = kSkipWalSync;
  if (f && strcmp(f, "late-wal-write") == 0) fault = kLateWalWrite;
  log_fd = get_open()(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    data_dir[0] = 0;
    return;
  }
  // Keep the log's descriptor out of the way of the product's low descriptors.
  int high = fcntl(log_fd, F_DUPFD_CLOEXEC, 900);
  if (high >= 0) {
    get_close()(log_fd);
    log_fd = high;
  }
  char name[PATH_MAX];
  snprintf(name, sizeof name, "%s.inflight.%d", log, (int)getpid());
  int fd = get_open()(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    if (syscall(SYS_ftruncate, fd, (off_t)4096) == 0) {
      void* page = (void*)syscall(SYS_mmap, NULL, (size_t)4096, PROT_READ | PROT_WRITE,
                                  MAP_SHARED, fd, (off_t)0);
      if (page != MAP_FAILED) inflight = (int*)page;
    }
    get_close()(fd);
  }
}

static int Enabled(void) { return data_dir[0] != 0 && log_fd >= 0; }

static int EndsWith(const char* s, const char* suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

// 1: `path` (absolute, canonical) is an entry of the data directory that we record;
// 2: it is the data directory itself; 0: neither.
static int Classify(const char* path) {
  if (strcmp(path, data_dir) == 0) return 2;
  if (strncmp(path, data_dir, data_dir_len) != 0 || path[data_dir_len] != '/') return 0;
  const char* name = path + data_dir_len + 1;
  if (*name == 0 || strchr(name, '/') != NULL) return 0;
  if (EndsWith(name, "-shm")) return 0;  // the WAL index: SQLite rebuilds it after a crash
  return 1;
}

// The canonical absolute path of (dirfd, path) without following its last component:
// realpath of the folder, then the name. 0 when it cannot be made.
static int Canon(int dirfd, const char* path, char* out) {
  char buf[2 * PATH_MAX];
  if (path == NULL || *path == 0) return 0;
  if (path[0] == '/') {
    snprintf(buf, sizeof buf, "%s", path);
  } else {
    char base[PATH_MAX];
    if (dirfd == AT_FDCWD) {
      if (!getcwd(base, sizeof base)) return 0;
    } else {
      char link[64];
      snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
      ssize_t n = readlink(link, base, sizeof base - 1);
      if (n <= 0) return 0;
      base[n] = 0;
    }
    snprintf(buf, sizeof buf, "%s/%s", base, path);
  }
  size_t n = strlen(buf);
  while (n > 1 && buf[n - 1] == '/') buf[--n] = 0;
  char* slash = strrchr(buf, '/');
  const char* name = slash + 1;
  char folder[PATH_MAX];
  if (slash == buf) {
    snprintf(folder, sizeof folder, "/");
  } else {
    *slash = 0;
    if (!realpath(buf, folder)) return 0;
  }
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
    char whole[2 * PATH_MAX];
    snprintf(whole, sizeof whole, "%s/%s", folder, name);
    return realpath(whole, out) != NULL;
  }
  if (strlen(folder) + strlen(name) + 2 > PATH_MAX) return 0;
  snprintf(out, PATH_MAX, "%s%s%s", strcmp(folder, "/") == 0 ? "" : folder, "/", name);
  return 1;
}

// REQUIRES: mu held. Appends one record (or holds it, for a late WAL write).
static void Append(uint16_t op, uint16_t flags, int fd, int64_t off, int64_t arg,
                   const struct stat* st, const char* p1, const char* p2, const void* data,
                   size_t dlen, int hold) {
  struct Header h;
  memset(&h, 0, sizeof h);
  h.magic = kMagic;
  h.ts = Now();
  h.pid = (uint32_t)getpid();
  h.tid = (uint32_t)syscall(SYS_gettid);
  h.op = op;
  h.flags = flags;
  h.fd = fd;
  h.off = off;
  h.arg = arg;
  if (st) {
    h.dev = (uint64_t)st->st_dev;
    h.ino = (uint64_t)st->st_ino;
  }
  h.len1 = p1 ? (uint32_t)strlen(p1) : 0;
  h.len2 = p2 ? (uint32_t)strlen(p2) : 0;
  h.dlen = dlen;
  uint64_t size = sizeof h + h.len1 + h.len2 + dlen;
  h.size = size > UINT32_MAX ? 0 : (uint32_t)size;
  if (hold) {
    struct Held* rec = malloc(sizeof(struct Held) + size);
    if (rec) {
      rec->next = NULL;
      rec->size = size;
      h.flags |= kHeldWrite;
      memcpy(rec->bytes, &h, sizeof h);
      memcpy(rec->bytes + sizeof h, data, dlen);
      if (held_last) held_last->next = rec; else held_first = rec;
      held_last = rec;
      return;
    }
  }
  struct iovec iov[4] = {
      {&h, sizeof h},
      {(void*)(p1 ? p1 : ""), h.len1},
      {(void*)(p2 ? p2 : ""), h.len2},
      {(void*)data, dlen},
  };
  ssize_t n = get_writev()(log_fd, iov, 4);
  if (n != (ssize_t)size) {
    // A torn log would be misread: say so loudly, the harness fails on the exit status.
    static const char msg[] = "powerloss recorder: cannot append to the log\n";
    get_write()(2, msg, sizeof msg - 1);
    abort();
  }
}

// REQUIRES: mu held. TR_POWERLOSS_FAULT=late-wal-write: logs the held WAL writes now, each
// with the time it is logged.
static void ReleaseHeld(void) {
  while (held_first) {
    struct Held* rec = held_first;
    held_first = rec->next;
    struct Header* h = (struct Header*)rec->bytes;
    h->ts = Now();
    if (get_write()(log_fd, rec->bytes, rec->size) != (ssize_t)rec->size) abort();
    free(rec);
  }
  held_last = NULL;
}

// REQUIRES: mu held. Looks `fd` up, resolving it (and logging a lazy open) when it is not
// known or has changed under us. Returns the entry when it is recorded, else NULL.
static struct FdEntry* Lookup(int fd) {
  if (fd < 0) return NULL;
  static struct FdEntry big;  // descriptors past the table: resolved on every call
  struct FdEntry* e = fd < kMaxFds ? &fds[fd] : &big;
  if (fd >= kMaxFds) e->state = kUnknown;
  if (e->state == kUntracked) return NULL;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    e->state = kUnknown;
    return NULL;
  }
  if (e->state == kTracked && e->dev == st.st_dev && e->ino == st.st_ino) return e;
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) {
    e->state = kUntracked;
    return NULL;
  }
  path[n] = 0;
  int kind = Classify(path);
  if (kind == 0) {
    e->state = kUntracked;
    return NULL;
  }
  e->state = kTracked;
  e->is_dir = kind == 2;
  e->is_wal = EndsWith(path, "-wal");
  int fl = fcntl(fd, F_GETFL);
  e->rdonly = fl >= 0 && (fl & O_ACCMODE) == O_RDONLY;
  e->dev = st.st_dev;
  e->ino = st.st_ino;
  Append(kOpen, kLazy | kExisted | (e->is_dir ? kIsDir : 0), fd, st.st_size, fl, &st, path,
         NULL, NULL, 0, 0);
  return e;
}

// After an open that returned `fd`: records it when it is ours.
static void Opened(int fd, int flags, int existed) {
  if (fd < 0 || !Enabled()) return;
  int saved = errno;
  pthread_mutex_lock(&mu);
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  struct FdEntry scratch;
  struct FdEntry* e = fd < kMaxFds ? &fds[fd] : &scratch;
  memset(e, 0, sizeof *e);
  e->state = kUntracked;
  struct stat st;
  if (n > 0 && fstat(fd, &st) == 0) {
    path[n] = 0;
    int kind = Classify(path);
    if (kind != 0) {
      e->state = kTracked;
      e->is_dir = kind == 2;
      e->is_wal = EndsWith(path, "-wal");
      e->rdonly = (flags & O_ACCMODE) == O_RDONLY;
      e->dev = st.st_dev;
      e->ino = st.st_ino;
      Append(kOpen, (existed ? kExisted : 0) | (e->is_dir ? kIsDir : 0), fd, st.st_size, flags,
             &st, path, NULL, NULL, 0, 0);
    }
  }
  if (fd >= kMaxFds) e->state = kUnknown;
  pthread_mutex_unlock(&mu);
  errno = saved;
}

// Before an open with O_CREAT: whether the path exists (racy across processes; the
// harness checks it against its own view of the folder).
static int ExistsAt(int dirfd, const char* path, int flags) {
  if (!Enabled() || !(flags & O_CREAT)) return 1;
  int saved = errno;
  char canon[PATH_MAX];
  int existed = 1;
  struct stat st;
  if (Canon(dirfd, path, canon) && Classify(canon) == 1) existed = lstat(canon, &st) == 0;
  errno = saved;
  return existed;
}

static void Forget(int fd) {
  if (fd < 0 || fd >= kMaxFds) return;
  pthread_mutex_lock(&mu);
  fds[fd].state = kUnknown;
  pthread_mutex_unlock(&mu);
}

// ---------------------------------------------------------------------------------------
// Opening and closing.

#define OPEN_MODE(flags)                 \
  mode_t mode = 0;                       \
  if ((flags) & (O_CREAT | O_TMPFILE)) { \
    va_list ap;                          \
    va_start(ap, flags);                 \
    mode = va_arg(ap, mode_t);           \
    va_end(ap);                          \
  }

int open(const char* path, int flags, ...) {
  OPEN_MODE(flags);
  int existed = ExistsAt(AT_FDCWD, path, flags);
  int fd = get_open()(path, flags, mode);
  Opened(fd, flags, existed);
  return fd;
}
int open64(const char* path, int flags, ...) {
  OPEN_MODE(flags);
  int existed = ExistsAt(AT_FDCWD, path, flags);
  int fd = get_open64()(path, flags, mode);
  Opened(fd, flags, existed);
  return fd;
}
int openat(int dirfd, const char* path, int flags, ...) {
  OPEN_MODE(flags);
  int existed = ExistsAt(dirfd, path, flags);
  int fd = get_openat()(dirfd, path, flags, mode);
  Opened(fd, flags, existed);
  return fd;
}
int openat64(int dirfd, const char* path, int flags, ...) {
  OPEN_MODE(flags);
  int existed = ExistsAt(dirfd, path, flags);
  int fd = get_openat64()(dirfd, path, flags, mode);
  Opened(fd, flags, existed);
  return fd;
}
int __open_2(const char* path, int flags) {
  int fd = get___open_2()(path, flags);
  Opened(fd, flags, 1);
  return fd;
}
int __open64_2(const char* path, int flags) {
  int fd = get___open64_2()(path, flags);
  Opened(fd, flags, 1);
  return fd;
}
int __openat_2(int dirfd, const char* path, int flags) {
  int fd = get___openat_2()(dirfd, path, flags);
  Opened(fd, flags, 1);
  return fd;
}
int __openat64_2(int dirfd, const char* path, int flags) {
  int fd = get___openat64_2()(dirfd, path, flags);
  Opened(fd, flags, 1);
  return fd;
}
int creat(const char* path, mode_t mode) {
  int flags = O_CREAT | O_WRONLY | O_TRUNC;
  int existed = ExistsAt(AT_FDCWD, path, flags);
  int fd = get_creat()(path, mode);
  Opened(fd, flags, existed);
  return fd;
}
int creat64(const char* path, mode_t mode) {
  int flags = O_CREAT | O_WRONLY | O_TRUNC;
  int existed = ExistsAt(AT_FDCWD, path, flags);
  int fd = get_creat64()(path, mode);
  Opened(fd, flags, existed);
  return fd;
}

static int FopenFlags(const char* mode) {
  int flags = 0;
  switch (mode[0]) {
    case 'r': flags = O_RDONLY; break;
    case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; break;
    case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; break;
    default: break;
  }
  for (const char* c = mode + 1; *c && *c != ','; ++c) {
    if (*c == '+') flags = (flags & ~O_ACCMODE) | O_RDWR;
    if (*c == 'x') flags |= O_EXCL;
  }
  return flags;
}
FILE* fopen(const char* path, const char* mode) {
  int flags = FopenFlags(mode);
  int existed = ExistsAt(AT_FDCWD, path, flags);
  FILE* f = get_fopen()(path, mode);
  if (f) Opened(fileno(f), flags, existed);
  return f;
}
FILE* fopen64(const char* path, const char* mode) {
  int flags = FopenFlags(mode);
  int existed = ExistsAt(AT_FDCWD, path, flags);
  FILE* f = get_fopen64()(path, mode);
  if (f) Opened(fileno(f), flags, existed);
  return f;
}

// fclose writes what stdio buffered through glibc's own write, which we cannot see; the
// replay check at the end of a run catches such a write (the product uses none).
int fclose(FILE* f) {
  int fd = f ? fileno(f) : -1;
  if (Enabled() && fd >= 0) {
    pthread_mutex_lock(&mu);
    struct FdEntry* e = Lookup(fd);
    if (e) Append(kClose, 0, fd, 0, 0, NULL, NULL, NULL, NULL, 0, 0);
    pthread_mutex_unlock(&mu);
  }
  int rc = get_fclose()(f);
  Forget(fd);
  return rc;
}

int close(int fd) {
  if (Enabled() && fd >= 0 && fd < kMaxFds) {
    pthread_mutex_lock(&mu);
    if (fds[fd].state == kTracked) Append(kClose, 0, fd, 0, 0, NULL, NULL, NULL, NULL, 0, 0);
    fds[fd].state = kUnknown;
    pthread_mutex_unlock(&mu);
  }
  return get_close()(fd);
}

int dup(int fd) {
  int r = get_dup()(fd);
  Forget(r);
  return r;
}
int dup2(int fd, int fd2) {
  int r = get_dup2()(fd, fd2);
  Forget(r);
  return r;
}
int dup3(int fd, int fd2, int flags) {
  int r = get_dup3()(fd, fd2, flags);
  Forget(r);
  return r;
}

// ---------------------------------------------------------------------------------------
// Writes.

// After a write of `n` bytes at `off` (-1: the position before the call, found from the
// position after it): records it when `fd` is ours.
static void Wrote(int fd, const struct iovec* iov, int iovcnt, ssize_t n, off_t off) {
  if (n <= 0 || !Enabled()) return;
  int saved = errno;
  pthread_mutex_lock(&mu);
  struct FdEntry* e = Lookup(fd);
  if (e && !e->is_dir) {
    if (off < 0) off = lseek(fd, 0, SEEK_CUR) - n;
    unsigned char* data = malloc((size_t)n);
    if (!data) abort();
    size_t done = 0;
    for (int i = 0; i < iovcnt && done < (size_t)n; ++i) {
      size_t take = iov[i].iov_len;
      if (take > (size_t)n - done) take = (size_t)n - done;
      memcpy(data + done, iov[i].iov_base, take);
      done += take;
    }
    int hold = fault == kLateWalWrite && e->is_wal;
    if (hold) ReleaseHeld();
    Append(kWrite, 0, fd, off, 0, NULL, NULL, NULL, data, (size_t)n, hold);
    free(data);
  }
  pthread_mutex_unlock(&mu);
  errno = saved;
}

ssize_t write(int fd, const void* buf, size_t count) {
  BeginEffect();
  ssize_t n = get_write()(fd, buf, count);
  struct iovec v = {(void*)buf, count};
  Wrote(fd, &v, 1, n, -1);
  EndEffect();
  return n;
}
ssize_t pwrite(int fd, const void* buf, size_t count, off_t off) {
  BeginEffect();
  ssize_t n = get_pwrite()(fd, buf, count, off);
  struct iovec v = {(void*)buf, count};
  Wrote(fd, &v, 1, n, off);
  EndEffect();
  return n;
}
ssize_t pwrite64(int fd, const void* buf, size_t count, off_t off) {
  BeginEffect();
  ssize_t n = get_pwrite64()(fd, buf, count, off);
  struct iovec v = {(void*)buf, count};
  Wrote(fd, &v, 1, n, off);
  EndEffect();
  return n;
}
ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  BeginEffect();
  ssize_t n = get_writev()(fd, iov, iovcnt);
  Wrote(fd, iov, iovcnt, n, -1);
  EndEffect();
  return n;
}
ssize_t pwritev(int fd, const struct iovec* iov, int iovcnt, off_t off) {
  BeginEffect();
  ssize_t n = get_pwritev()(fd, iov, iovcnt, off);
  Wrote(fd, iov, iovcnt, n, off);
  EndEffect();
  return n;
}
ssize_t pwritev64(int fd, const struct iovec* iov, int iovcnt, off_t off) {
  BeginEffect();
  ssize_t n = get_pwritev64()(fd, iov, iovcnt, off);
  Wrote(fd, iov, iovcnt, n, off);
  EndEffect();
  return n;
}
ssize_t pwritev2(int fd, const struct iovec* iov, int iovcnt, off_t off, int flags) {
  BeginEffect();
  ssize_t n = get_pwritev2()(fd, iov, iovcnt, off, flags);
  Wrote(fd, iov, iovcnt, n, off);
  EndEffect();
  return n;
}
ssize_t pwritev64v2(int fd, const struct iovec* iov, int iovcnt, off_t off, int flags) {
  BeginEffect();
  ssize_t n = get_pwritev64v2()(fd, iov, iovcnt, off, flags);
  Wrote(fd, iov, iovcnt, n, off);
  EndEffect();
  return n;
}

static void Truncated(int fd, const char* path, off_t length) {
  if (!Enabled()) return;
  int saved = errno;
  pthread_mutex_lock(&mu);
  if (fd >= 0) {
    if (Lookup(fd)) Append(kTruncate, 0, fd, length, 0, NULL, NULL, NULL, NULL, 0, 0);
  } else {
    char canon[PATH_MAX];
    if (Canon(AT_FDCWD, path, canon) && Classify(canon) == 1) {
      Append(kTruncate, 0, -1, length, 0, NULL, canon, NULL, NULL, 0, 0);
    }
  }
  pthread_mutex_unlock(&mu);
  errno = saved;
}
int ftruncate(int fd, off_t length) {
  BeginEffect();
  int rc = get_ftruncate()(fd, length);
  if (rc == 0) Truncated(fd, NULL, length);
  EndEffect();
  return rc;
}
int ftruncate64(int fd, off_t length) {
  BeginEffect();
  int rc = get_ftruncate64()(fd, length);
  if (rc == 0) Truncated(fd, NULL, length);
  EndEffect();
  return rc;
}
int truncate(const char* path, off_t length) {
  int rc = get_truncate()(path, length);
  if (rc == 0) Truncated(-1, path, length);
  return rc;
}
int truncate64(const char* path, off_t length) {
  int rc = get_truncate64()(path, length);
  if (rc == 0) Truncated(-1, path, length);
  return rc;
}

static void Allocated(int fd, int mode, off_t off, off_t len) {
  if (!Enabled()) return;
  int saved = errno;
  pthread_mutex_lock(&mu);
  if (Lookup(fd)) Append(kFallocate, 0, fd, off, ((int64_t)mode << 48) | len, NULL, NULL, NULL, NULL, 0, 0);
  pthread_mutex_unlock(&mu);
  errno = saved;
}
int fallocate(int fd, int mode, off_t off, off_t len) {
  int rc = get_fallocate()(fd, mode, off, len);
  if (rc == 0) Allocated(fd, mode, off, len);
  return rc;
}
int fallocate64(int fd, int mode, off_t off, off_t len) {
  int rc = get_fallocate64()(fd, mode, off, len);
  if (rc == 0) Allocated(fd, mode, off, len);
  return rc;
}
int posix_fallocate(int fd, off_t off, off_t len) {
  int rc = get_posix_fallocate()(fd, off, len);
  if (rc == 0) Allocated(fd, 0, off, len);
  return rc;
}
int posix_fallocate64(int fd, off_t off, off_t len) {
  int rc = get_posix_fallocate64()(fd, off, len);
  if (rc == 0) Allocated(fd, 0, off, len);
  return rc;
}

// ---------------------------------------------------------------------------------------
// Syncs.

// Logs the start of a sync of `fd` (-1: every file); returns whether to log its end, and
// sets *skip when the fault mode says not to call it.
static int SyncBegin(int fd, int kind, int* skip, uint16_t* flags) {
  *skip = 0;
  *flags = 0;
  if (!Enabled()) return 0;
  int saved = errno;
  pthread_mutex_lock(&mu);
  int log = 0;
  if (fd < 0) {
    *flags = kGlobal;
    log = 1;
  } else {
    struct FdEntry* e = Lookup(fd);
    if (e) {
      log = 1;
      *flags = e->is_dir ? kIsDir : 0;
      if (fault == kSkipWalSync && e->is_wal && e->rdonly && (kind == kFsync || kind == kFdatasync)) {
        *skip = 1;
      }
    }
  }
  if (log) Append(kSyncBegin, *flags, fd, 0, kind, NULL, NULL, NULL, NULL, 0, 0);
  pthread_mutex_unlock(&mu);
  errno = saved;
  return log;
}
static void SyncEnd(int fd, int kind, uint16_t flags, int rc, int skipped) {
  int saved = errno;
  pthread_mutex_lock(&mu);
  flags |= (rc != 0 ? kFailed : 0) | (skipped ? kSkipped : 0);
  Append(kSyncEnd, flags, fd, 0, kind, NULL, NULL, NULL, NULL, 0, 0);
  pthread_mutex_unlock(&mu);
  errno = saved;
}

int fsync(int fd) {
  int skip;
  uint16_t flags;
  int log = SyncBegin(fd, kFsync, &skip, &flags);
  int rc = skip ? 0 : get_fsync()(fd);
  if (log) SyncEnd(fd, kFsync, flags, rc, skip);
  return rc;
}
int fdatasync(int fd) {
  int skip;
  uint16_t flags;
  int log = SyncBegin(fd, kFdatasync, &skip, &flags);
  int rc = skip ? 0 : get_fdatasync()(fd);
  if (log) SyncEnd(fd, kFdatasync, flags, rc, skip);
  return rc;
}
int syncfs(int fd) {
  int skip;
  uint16_t flags;
  int log = SyncBegin(-1, kSyncfs, &skip, &flags);
  int rc = get_syncfs()(fd);
  if (log) SyncEnd(-1, kSyncfs, flags, rc, 0);
  return rc;
}
void sync(void) {
  int skip;
  uint16_t flags;
  int log = SyncBegin(-1, kSyncAll, &skip, &flags);
  get_sync()();
  if (log) SyncEnd(-1, kSyncAll, flags, 0, 0);
}
// Starts writeback of a range; it promises nothing about a power cut (no metadata, no
// disk cache flush), so the harness does not count it as a sync.
int sync_file_range(int fd, off_t off, off_t n, unsigned int flags) {
  int rc = get_sync_file_range()(fd, off, n, flags);
  if (Enabled()) {
    int saved = errno;
    pthread_mutex_lock(&mu);
    if (Lookup(fd)) Append(kRange, 0, fd, off, n, NULL, NULL, NULL, NULL, 0, 0);
    pthread_mutex_unlock(&mu);
    errno = saved;
  }
  return rc;
}

// ---------------------------------------------------------------------------------------
// Names.

// Records a successful rename/link (`op`) from (fd1, p1) to (fd2, p2) when either side is
// ours. The source is made canonical before the call (it is gone after a rename).
struct Names {
  int ok1, ok2;
  char a[PATH_MAX], b[PATH_MAX];
};
static void NamesBefore(struct Names* n, int fd1, const char* p1, int fd2, const char* p2) {
  n->ok1 = n->ok2 = 0;
  if (!Enabled()) return;
  int saved = errno;
  n->ok1 = p1 && Canon(fd1, p1, n->a) && Classify(n->a) == 1;
  n->ok2 = p2 && Canon(fd2, p2, n->b) && Classify(n->b) == 1;
  errno = saved;
}
static void NamesAfter(struct Names* n, uint16_t op, int64_t arg) {
  if (!n->ok1 && !n->ok2) return;
  int saved = errno;
  pthread_mutex_lock(&mu);
  if (op == kUnlink) {
    Append(kUnlink, 0, -1, 0, 0, NULL, n->a, NULL, NULL, 0, 0);
  } else {
    // A name outside the folder is logged empty: a file moved in or out of it.
    Append(op, 0, -1, 0, arg, NULL, n->ok1 ? n->a : "", n->ok2 ? n->b : "", NULL, 0, 0);
  }
  pthread_mutex_unlock(&mu);
  errno = saved;
}

int rename(const char* from, const char* to) {
  struct Names n;
  NamesBefore(&n, AT_FDCWD, from, AT_FDCWD, to);
  int rc = get_rename()(from, to);
  if (rc == 0) NamesAfter(&n, kRename, 0);
  return rc;
}
int renameat(int fd1, const char* from, int fd2, const char* to) {
  struct Names n;
  NamesBefore(&n, fd1, from, fd2, to);
  int rc = get_renameat()(fd1, from, fd2, to);
  if (rc == 0) NamesAfter(&n, kRename, 0);
  return rc;
}
int renameat2(int fd1, const char* from, int fd2, const char* to, unsigned int flags) {
  struct Names n;
  NamesBefore(&n, fd1, from, fd2, to);
  int rc = get_renameat2()(fd1, from, fd2, to, flags);
  if (rc == 0) NamesAfter(&n, kRename, flags);
  return rc;
}
int link(const char* from, const char* to) {
  struct Names n;
  NamesBefore(&n, AT_FDCWD, from, AT_FDCWD, to);
  int rc = get_link()(from, to);
  if (rc == 0) NamesAfter(&n, kLink, 0);
  return rc;
}
int linkat(int fd1, const char* from, int fd2, const char* to, int flags) {
  struct Names n;
  NamesBefore(&n, fd1, from, fd2, to);
  int rc = get_linkat()(fd1, from, fd2, to, flags);
  if (rc == 0) NamesAfter(&n, kLink, 0);
  return rc;
}
int unlink(const char* path) {
  struct Names n;
  NamesBefore(&n, AT_FDCWD, path, AT_FDCWD, NULL);
  int rc = get_unlink()(path);
  if (rc == 0) NamesAfter(&n, kUnlink, 0);
  return rc;
}
int unlinkat(int fd, const char* path, int flags) {
  struct Names n;
  NamesBefore(&n, fd, path, AT_FDCWD, NULL);
  int rc = get_unlinkat()(fd, path, flags);
  if (rc == 0 && !(flags & AT_REMOVEDIR)) NamesAfter(&n, kUnlink, 0);
  return rc;
}
int remove(const char* path) {
  struct Names n;
  NamesBefore(&n, AT_FDCWD, path, AT_FDCWD, NULL);
  int rc = get_remove()(path);
  if (rc == 0) NamesAfter(&n, kUnlink, 0);
  return rc;
}

// ---------------------------------------------------------------------------------------
// Mappings: a shared writable mapping of a recorded file would write past the recorder.

static void Mapped(int fd, int prot, int flags) {
  if (fd < 0 || !Enabled()) return;
  int saved = errno;
  pthread_mutex_lock(&mu);
  if (Lookup(fd)) {
    Append(kMmap, 0, fd, 0, (int64_t)(unsigned)prot | ((int64_t)(unsigned)flags << 32), NULL,
           NULL, NULL, NULL, 0, 0);
  }
  pthread_mutex_unlock(&mu);
  errno = saved;
}
void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  void* p = get_mmap()(addr, len, prot, flags, fd, off);
  if (p != MAP_FAILED) Mapped(fd, prot, flags);
  return p;
}
void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  void* p = get_mmap64()(addr, len, prot, flags, fd, off);
  if (p != MAP_FAILED) Mapped(fd, prot, flags);
  return p;
}
