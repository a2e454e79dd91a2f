#include "store/wal_index.h"

#include <atomic>
#include <cstdint>
#include <cstring>

namespace tr {

namespace {

constexpr size_t kHeaderBytes = 48;
constexpr uint32_t kWalIndexVersion = 3007000;  // iVersion of every WAL index since 3.7.0
constexpr size_t kIsInitOffset = 12;            // u8 isInit: the header holds a valid snapshot

// One copy of the header, a word at a time: a committer may write it meanwhile (another
// connection, or another process through its own mapping), so no word is torn.
WalIndexHeader::Bytes CopyHeader(const volatile unsigned char* from) {
  WalIndexHeader::Bytes out;
  for (size_t i = 0; i < kHeaderBytes; i += sizeof(uint32_t)) {
    uint32_t word = __atomic_load_n(reinterpret_cast<const volatile uint32_t*>(from + i),
                                    __ATOMIC_RELAXED);
    std::memcpy(out.data() + i, &word, sizeof word);
  }
  return out;
}

}  // namespace

std::unique_ptr<WalIndexHeader> WalIndexHeader::Of(SqliteDb& db) {
  const volatile void* map = db.WalIndex();
  if (map == nullptr) return nullptr;
  std::unique_ptr<WalIndexHeader> view(
      new WalIndexHeader(static_cast<const volatile unsigned char*>(map)));
  Bytes header = CopyHeader(view->map_);
  uint32_t version;
  std::memcpy(&version, header.data(), sizeof version);
  if (version != kWalIndexVersion) return nullptr;  // ChangeStamp then reads every time
  return view;
}

std::optional<WalIndexHeader::Bytes> WalIndexHeader::Read() const {
  // SQLite's own order: the first copy, a barrier, the second. A committer writes the second
  // copy first, so equal copies are a header no commit was half-way through.
  Bytes first = CopyHeader(map_);
  std::atomic_thread_fence(std::memory_order_acquire);
  Bytes second = CopyHeader(map_ + kHeaderBytes);
  std::atomic_thread_fence(std::memory_order_acquire);
  // The format was checked once, in Of: SQLite never rewrites a live index in another one.
  if (first != second || first[kIsInitOffset] == 0) return std::nullopt;
  return first;
}

}  // namespace tr
