#include "store/wal_index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>

namespace tr {

namespace {

constexpr size_t kMapBytes = 4096;
constexpr size_t kHeaderBytes = 48;
constexpr uint32_t kWalIndexVersion = 3007000;  // iVersion of every WAL index since 3.7.0
constexpr size_t kIsInitOffset = 12;            // u8 isInit: the header holds a valid snapshot

// One copy of the header, a word at a time: the committer may write it meanwhile (another
// process, through its own mapping), so no word is read twice or torn.
WalIndexHeader::Bytes CopyHeader(const unsigned char* from) {
  WalIndexHeader::Bytes out;
  for (size_t i = 0; i < kHeaderBytes; i += sizeof(uint32_t)) {
    uint32_t word = __atomic_load_n(reinterpret_cast<const uint32_t*>(from + i), __ATOMIC_RELAXED);
    std::memcpy(out.data() + i, &word, sizeof word);
  }
  return out;
}

}  // namespace

std::unique_ptr<WalIndexHeader> WalIndexHeader::Open(const std::string& db_path) {
  const std::string path = db_path + "-shm";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st {};
  void* map = MAP_FAILED;
  if (::fstat(fd, &st) == 0 && st.st_size >= static_cast<off_t>(kMapBytes)) {
    map = ::mmap(nullptr, kMapBytes, PROT_READ, MAP_SHARED, fd, 0);
  }
  ::close(fd);  // the mapping keeps the file
  if (map == MAP_FAILED) return nullptr;
  std::unique_ptr<WalIndexHeader> view(new WalIndexHeader(static_cast<const unsigned char*>(map)));
  // Not a format this view knows: no view, and ChangeStamp reads every time.
  uint32_t version;
  std::memcpy(&version, view->map_, sizeof version);
  if (version != kWalIndexVersion) return nullptr;
  return view;
}

WalIndexHeader::~WalIndexHeader() {
  ::munmap(const_cast<unsigned char*>(map_), kMapBytes);
}

std::optional<WalIndexHeader::Bytes> WalIndexHeader::Read() const {
  // SQLite's own order: the first copy, a barrier, the second. A committer writes the second
  // copy first, so equal copies are a header no commit was half-way through.
  Bytes first = CopyHeader(map_);
  std::atomic_thread_fence(std::memory_order_acquire);
  Bytes second = CopyHeader(map_ + kHeaderBytes);
  std::atomic_thread_fence(std::memory_order_acquire);
  if (first != second || first[kIsInitOffset] == 0) return std::nullopt;
  uint32_t version;
  std::memcpy(&version, first.data(), sizeof version);
  if (version != kWalIndexVersion) return std::nullopt;
  return first;
}

}  // namespace tr
