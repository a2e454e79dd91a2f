// WalIndexHeader: a read-only view of the header of a SQLite database's WAL index (the
// "-shm" file next to the database), which every connection of every process rewrites when
// it commits a transaction and when the WAL restarts. Two equal headers read at two moments
// mean that nothing was committed in between, which SqliteStore::ChangeStamp uses to skip a
// read transaction (two fcntl locks and a mutex) per cached lookup.
//
// The layout is SQLite's documented file format (https://www.sqlite.org/walformat.html,
// "The WAL-Index Header"): two copies of a 48-byte header at offsets 0 and 48, written by a
// committer second copy first, and read by SQLite itself first copy first, without a lock;
// copies that differ mean a write in progress. This view reads them the same way.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>

#include "store/sqlite_db.h"

namespace tr {

class WalIndexHeader {
 public:
  using Bytes = std::array<unsigned char, 48>;

  // The view of the WAL index `db` has mapped (SqliteDb::WalIndex), which stays valid while
  // `db` is open; nullptr when it has none (not in WAL mode, or a format this view does not
  // know). Never a mapping of its own: opening and closing a descriptor of the -shm file
  // would drop every POSIX lock the process holds on it, SQLite's included, and another
  // process could then take the file for new and truncate it under the mapped readers.
  static std::unique_ptr<WalIndexHeader> Of(SqliteDb& db);

  // The header as of now: nullopt while a committer is rewriting it, or while it is not
  // initialized.
  std::optional<Bytes> Read() const;

 private:
  explicit WalIndexHeader(const volatile unsigned char* map) : map_(map) {}
  const volatile unsigned char* map_;  // the first region of the WAL index, SQLite's mapping
};

}  // namespace tr
