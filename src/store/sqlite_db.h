// Thin RAII wrappers over one SQLite connection and its prepared statements.
// A SqliteDb is used by one thread at a time (SQLite's multi-thread mode); the store hands
// connections out so that this holds.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace tr {

// Thrown for SQLite failures inside the store; never leaves the store (it maps them to
// Errc::kUnavailable / kInternal and logs the detail).
struct SqliteError {
  int code;
  std::string detail;
};

class SqliteStatement {
 public:
  explicit SqliteStatement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  // Binds by 1-based index. Returns *this so binds chain.
  SqliteStatement& Bind(int index, std::string_view text);
  // Without SQLite's copy of `text`, for values of many megabytes. REQUIRES: `text` outlives
  // the statement's run (a binding left after it is cleared before the statement is reused).
  SqliteStatement& BindUncopied(int index, std::string_view text);
  SqliteStatement& BindBlob(int index, std::string_view bytes);
  SqliteStatement& Bind(int index, int64_t value);
  SqliteStatement& BindNull(int index);
  SqliteStatement& Bind(int index, const std::optional<int64_t>& value);

  // True when a row is available; false when done. Throws SqliteError on failure.
  bool Step();
  // Runs a statement that returns no rows; the number of rows it changed.
  int Run();
  // Clears bindings and rewinds for reuse. Called automatically by SqliteDb::Prepare.
  void Reset();

  std::string Text(int column) const;
  std::string Blob(int column) const;
  int64_t Int(int column) const;
  bool IsNull(int column) const;
  std::optional<int64_t> OptionalInt(int column) const;

 private:
  sqlite3_stmt* stmt_;
};

// A prepared statement on loan from SqliteDb's cache. Resets it when it goes out of scope,
// so that no statement keeps a read snapshot open between uses (snapshots are kept only on
// purpose, by SqliteStore's readers, in an explicit transaction).
class StatementRef {
 public:
  explicit StatementRef(SqliteStatement* stmt) : stmt_(stmt) {}
  StatementRef(StatementRef&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  StatementRef& operator=(StatementRef&&) = delete;
  ~StatementRef() {
    if (stmt_) stmt_->Reset();
  }
  SqliteStatement* operator->() const { return stmt_; }
  SqliteStatement& operator*() const { return *stmt_; }

 private:
  SqliteStatement* stmt_;
};

class SqliteDb {
 public:
  // Opens (creating if needed) the file at `path`, through the VFS named `vfs` (nullptr:
  // SQLite's default). Throws SqliteError.
  explicit SqliteDb(const std::string& path, const char* vfs = nullptr);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  void Exec(const char* sql);
  // A cached prepared statement for `sql`, ready to bind. `sql` must be a string with
  // static storage (a named constant): the cache is keyed by its address.
  StatementRef Prepare(const char* sql);
  int Changes() const;

  // Turns SQLite's automatic checkpoint off for this connection: after each of its commits,
  // `*wal_pages` is set to the number of pages in the WAL instead, for whoever checkpoints.
  void CountWalPages(std::atomic<int>* wal_pages);
  // The first region of the database's WAL index (the -shm file) as this connection has it
  // mapped, through SQLite's own VFS; valid while the connection is open. nullptr when it
  // has none (not in WAL mode, or a VFS without shared memory). Throws SqliteError.
  const volatile void* WalIndex();
  // A passive checkpoint: copies what it can from the WAL into the database without waiting
  // for readers or writers. Throws SqliteError.
  void CheckpointPassive();

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, std::unique_ptr<SqliteStatement>> statements_;
};

}  // namespace tr
