#include "store/sqlite_vfs.h"

#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace tr {

namespace {

// Address space reserved for one file's mapping. A page past the file's end is never handed
// out (touching it would raise SIGBUS); reserving ahead lets the file grow into the mapping
// without a new one, which would have to keep the old one for the pointers still out. Pages
// of a larger database past this are read as usual.
constexpr sqlite3_int64 kReserve = sqlite3_int64{16} << 30;

struct Mapping {
  dev_t dev;
  ino_t ino;
  const unsigned char* base;
  std::mutex size_mu;                   // orders the size checks with their stores
  std::atomic<sqlite3_int64> valid{0};  // bytes of the file it holds, as last seen
  int users = 0;                        // Guarded by mappings_mu
};

std::mutex mappings_mu;
std::vector<Mapping*> mappings;  // Guarded by mappings_mu

// The head of SQLite's unixFile (os_unix.c), the same since SQLite 3.7: the descriptor
// follows the methods, VFS and inode pointers. Attach checks it against the file's name
// before it maps anything.
struct UnixFileHead {
  const sqlite3_io_methods* methods;
  sqlite3_vfs* vfs;
  void* inode;
  int fd;
};

// A WAL file's appends not written yet: one contiguous range of the file.
struct WalWrites {
  sqlite3_int64 offset = 0;
  std::string bytes;
  bool commit_frame = false;   // the last write was the header of a transaction's last frame
  sqlite3_int64 read_at = -1;  // the offset of the read just before, if the last call read
};

// A file of this VFS: ours, then the default VFS's own, in the same allocation.
struct File {
  sqlite3_file base;
  sqlite3_file* real;
  Mapping* mapping;  // a main database file's shared mapping; nullptr: reads go to `real`
  WalWrites* wal;    // a WAL file's pending appends; nullptr: writes go to `real` at once
};

// SQLite writes a WAL frame as two writes, its 24-byte header then the page; the header's
// bytes 4-7 hold the database size after the commit on a transaction's last frame, and 0 on
// the others.
constexpr int kFrameHeaderSize = 24;
// Appends kept before they are written anyway (a large transaction).
constexpr size_t kMaxPendingWal = size_t{1} << 20;
// The unix VFS writes at most 128 KiB - 1 per call (it masks the length with 0x1ffff, and a
// write of exactly 128 KiB would come out empty and fail as SQLITE_FULL).
constexpr size_t kMaxWrite = size_t{120} << 10;

sqlite3_vfs* default_vfs = nullptr;

File* Of(sqlite3_file* file) { return reinterpret_cast<File*>(file); }
sqlite3_file* Real(sqlite3_file* file) { return Of(file)->real; }

sqlite3_int64 FileSize(sqlite3_file* real) {
  sqlite3_int64 size = 0;
  if (real->pMethods->xFileSize(real, &size) != SQLITE_OK) return 0;
  return std::clamp<sqlite3_int64>(size, 0, kReserve);
}

void Refresh(Mapping* mapping, sqlite3_file* real) {
  std::lock_guard lock(mapping->size_mu);
  mapping->valid.store(FileSize(real), std::memory_order_release);
}

Mapping* Attach(sqlite3_file* real, const char* name) {
  if (name == nullptr) return nullptr;
  const int fd = reinterpret_cast<const UnixFileHead*>(real)->fd;
  struct stat by_fd {};
  struct stat by_name {};
  if (fstat(fd, &by_fd) != 0 || stat(name, &by_name) != 0 || !S_ISREG(by_fd.st_mode) ||
      by_fd.st_dev != by_name.st_dev || by_fd.st_ino != by_name.st_ino) {
    return nullptr;
  }
  Mapping* mapping = nullptr;
  {
    std::lock_guard lock(mappings_mu);
    for (Mapping* m : mappings) {
      if (m->dev == by_fd.st_dev && m->ino == by_fd.st_ino) mapping = m;
    }
    if (mapping == nullptr) {
      void* base = mmap(nullptr, kReserve, PROT_READ, MAP_SHARED, fd, 0);
      if (base == MAP_FAILED) return nullptr;
      mapping = new Mapping{by_fd.st_dev, by_fd.st_ino, static_cast<const unsigned char*>(base)};
      mappings.push_back(mapping);
    }
    ++mapping->users;
  }
  Refresh(mapping, real);
  return mapping;
}

// The last connection is closing: SQLite has given back every page it fetched.
void Detach(Mapping* mapping) {
  std::lock_guard lock(mappings_mu);
  if (--mapping->users > 0) return;
  munmap(const_cast<unsigned char*>(mapping->base), kReserve);
  std::erase(mappings, mapping);
  delete mapping;
}

// Writes a WAL file's pending appends. Every other call on the file comes after this, so
// that the file is as SQLite wrote it whenever anything looks at it.
int Flush(sqlite3_file* file) {
  WalWrites* wal = Of(file)->wal;
  if (wal == nullptr || wal->bytes.empty()) return SQLITE_OK;
  int rc = SQLITE_OK;
  for (size_t done = 0; done < wal->bytes.size() && rc == SQLITE_OK; done += kMaxWrite) {
    const size_t n = std::min(kMaxWrite, wal->bytes.size() - done);
    rc = Real(file)->pMethods->xWrite(Real(file), wal->bytes.data() + done, static_cast<int>(n),
                                      wal->offset + static_cast<sqlite3_int64>(done));
  }
  wal->bytes.clear();
  wal->commit_frame = false;
  return rc;
}

int Close(sqlite3_file* file) {
  int flushed = Flush(file);
  delete Of(file)->wal;
  if (Of(file)->mapping != nullptr) Detach(Of(file)->mapping);
  int rc = Real(file)->pMethods->xClose(Real(file));
  return flushed != SQLITE_OK ? flushed : rc;
}
int Read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  if (int rc = Flush(file); rc != SQLITE_OK) return rc;
  if (Of(file)->wal != nullptr) Of(file)->wal->read_at = offset;
  return Real(file)->pMethods->xRead(Real(file), out, amount, offset);
}

// A WAL file's writes are kept while they append to each other, and written together when
// the page of a transaction's last frame arrives: one pwrite per commit instead of two per
// frame. That write is the last of the commit's frames, and SQLite publishes the commit
// (the WAL index's header) only after it returns, so no connection can look for a frame
// still here; and its error, if any, reaches SQLite before it publishes, as a pwrite's would.
//
// One write comes after the last frame: when a transaction larger than the page cache wrote
// pages over their earlier frames, SQLite rewrites the checksums in the headers of the frames
// from there on at the commit, each a read of the frame and then a write of its header at
// the same place. Those headers are written at once; the last of them would otherwise wait
// for the next call on the file, after the syncer's fsync.
int Write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  WalWrites* wal = Of(file)->wal;
  if (wal == nullptr) return Real(file)->pMethods->xWrite(Real(file), data, amount, offset);
  const bool rewrites_header = amount == kFrameHeaderSize && offset == wal->read_at;
  wal->read_at = -1;
  if (rewrites_header) {
    if (int rc = Flush(file); rc != SQLITE_OK) return rc;
    return Real(file)->pMethods->xWrite(Real(file), data, amount, offset);
  }
  const auto* bytes = static_cast<const char*>(data);
  if (wal->bytes.empty() || offset != wal->offset + static_cast<sqlite3_int64>(wal->bytes.size())) {
    if (int rc = Flush(file); rc != SQLITE_OK) return rc;
    wal->offset = offset;
  }
  wal->bytes.append(bytes, static_cast<size_t>(amount));
  bool write_now = wal->bytes.size() >= kMaxPendingWal;
  if (amount == kFrameHeaderSize) {
    wal->commit_frame = (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
  } else {
    write_now = write_now || wal->commit_frame;
    wal->commit_frame = false;
  }
  return write_now ? Flush(file) : SQLITE_OK;
}
int Truncate(sqlite3_file* file, sqlite3_int64 size) {
  if (int rc = Flush(file); rc != SQLITE_OK) return rc;
  return Real(file)->pMethods->xTruncate(Real(file), size);
}
int Sync(sqlite3_file* file, int flags) {
  if (int rc = Flush(file); rc != SQLITE_OK) return rc;
  return Real(file)->pMethods->xSync(Real(file), flags);
}
int Size(sqlite3_file* file, sqlite3_int64* size) {
  if (int rc = Flush(file); rc != SQLITE_OK) return rc;
  return Real(file)->pMethods->xFileSize(Real(file), size);
}
int Lock(sqlite3_file* file, int level) { return Real(file)->pMethods->xLock(Real(file), level); }
int Unlock(sqlite3_file* file, int level) {
  return Real(file)->pMethods->xUnlock(Real(file), level);
}
int CheckReservedLock(sqlite3_file* file, int* out) {
  return Real(file)->pMethods->xCheckReservedLock(Real(file), out);
}
int FileControl(sqlite3_file* file, int op, void* arg) {
  // The default VFS must never map the file itself: its mapping would be a second one.
  if (op == SQLITE_FCNTL_MMAP_SIZE) {
    *static_cast<sqlite3_int64*>(arg) = Of(file)->mapping != nullptr ? kReserve : 0;
    return SQLITE_OK;
  }
  if (int rc = Flush(file); rc != SQLITE_OK) return rc;
  return Real(file)->pMethods->xFileControl(Real(file), op, arg);
}
int SectorSize(sqlite3_file* file) { return Real(file)->pMethods->xSectorSize(Real(file)); }
int DeviceCharacteristics(sqlite3_file* file) {
  return Real(file)->pMethods->xDeviceCharacteristics(Real(file));
}
int ShmMap(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  return Real(file)->pMethods->xShmMap(Real(file), region, size, extend, out);
}
int ShmLock(sqlite3_file* file, int offset, int n, int flags) {
  return Real(file)->pMethods->xShmLock(Real(file), offset, n, flags);
}
void ShmBarrier(sqlite3_file* file) { Real(file)->pMethods->xShmBarrier(Real(file)); }
int ShmUnmap(sqlite3_file* file, int remove) {
  return Real(file)->pMethods->xShmUnmap(Real(file), remove);
}

int Fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  *out = nullptr;
  const Mapping* mapping = Of(file)->mapping;
  if (mapping != nullptr && offset >= 0 &&
      offset + amount <= mapping->valid.load(std::memory_order_acquire)) {
    *out = const_cast<unsigned char*>(mapping->base + offset);
  }
  return SQLITE_OK;
}

int Unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  (void)offset;
  // nullptr: the database changed since this connection last read; the file may have grown
  // (a checkpoint) or shrunk (after a VACUUM).
  if (page == nullptr && Of(file)->mapping != nullptr) Refresh(Of(file)->mapping, Real(file));
  return SQLITE_OK;
}

const sqlite3_io_methods kMethods = {
    .iVersion = 3,
    .xClose = Close,
    .xRead = Read,
    .xWrite = Write,
    .xTruncate = Truncate,
    .xSync = Sync,
    .xFileSize = Size,
    .xLock = Lock,
    .xUnlock = Unlock,
    .xCheckReservedLock = CheckReservedLock,
    .xFileControl = FileControl,
    .xSectorSize = SectorSize,
    .xDeviceCharacteristics = DeviceCharacteristics,
    .xShmMap = ShmMap,
    .xShmLock = ShmLock,
    .xShmBarrier = ShmBarrier,
    .xShmUnmap = ShmUnmap,
    .xFetch = Fetch,
    .xUnfetch = Unfetch,
};

int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  (void)vfs;
  File* ours = Of(file);
  ours->real = reinterpret_cast<sqlite3_file*>(ours + 1);
  ours->mapping = nullptr;
  ours->wal = nullptr;
  int rc = default_vfs->xOpen(default_vfs, name, ours->real, flags, out_flags);
  // kMethods forwards every method of version 3, which the unix VFS gives all its files.
  if (rc == SQLITE_OK && ours->real->pMethods->iVersion < 3) {
    ours->real->pMethods->xClose(ours->real);
    ours->real->pMethods = nullptr;
    rc = SQLITE_CANTOPEN;
  }
  // SQLite calls xClose, even after a failed open, when pMethods is set.
  ours->base.pMethods = ours->real->pMethods != nullptr ? &kMethods : nullptr;
  if (rc == SQLITE_OK && (flags & SQLITE_OPEN_MAIN_DB) != 0) {
    ours->mapping = Attach(ours->real, name);
  }
  if (rc == SQLITE_OK && (flags & SQLITE_OPEN_WAL) != 0) ours->wal = new WalWrites;
  return rc;
}

}  // namespace

const char* TrVfs() {
  static const char* const name = []() -> const char* {
    if (sqlite3_initialize() != SQLITE_OK) return nullptr;
    default_vfs = sqlite3_vfs_find(nullptr);
    // The descriptor is read from the unix VFS's file: no other default is wrapped.
    if (default_vfs == nullptr || std::strcmp(default_vfs->zName, "unix") != 0) return nullptr;
    static sqlite3_vfs vfs = *default_vfs;
    static_assert(sizeof(File) % 8 == 0, "the default VFS's file follows ours, aligned");
    vfs.szOsFile = static_cast<int>(sizeof(File)) + default_vfs->szOsFile;
    vfs.pNext = nullptr;
    vfs.zName = "tr";
    vfs.xOpen = Open;
    if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK) return nullptr;
    return vfs.zName;
  }();
  return name;
}

std::optional<std::string> CheckTrVfs(const std::string& path) {
  const char* vfs = TrVfs();
  if (vfs == nullptr) return "SQLite's default VFS is not \"unix\"";
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, vfs) != SQLITE_OK) {
    sqlite3_close(db);
    return std::nullopt;
  }
  sqlite3_file* file = nullptr;
  std::optional<std::string> problem;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
      file == nullptr || file->pMethods != &kMethods) {
    problem = "the database file was not opened through the VFS";
  } else if (Of(file)->mapping == nullptr) {
    // Attach found another descriptor than the file's where the unix VFS's should be.
    problem = "the unix VFS's file structure is not laid out as this build expects (SQLite " +
              std::string(sqlite3_libversion()) + ")";
  }
  sqlite3_close(db);
  return problem;
}

}  // namespace tr
