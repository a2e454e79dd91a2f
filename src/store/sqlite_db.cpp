#include "store/sqlite_db.h"

#include <sqlite3.h>

namespace tr {

namespace {

// How long a statement waits for another process's write lock before failing.
constexpr int kBusyTimeoutMillis = 5000;

[[noreturn]] void Throw(sqlite3* db, int code) {
  throw SqliteError{code, db ? sqlite3_errmsg(db) : sqlite3_errstr(code)};
}

// Process-wide settings, before SQLite initializes (its first sqlite3_open). Memory
// statistics off: with them on, every allocation SQLite makes takes one global mutex, which
// the I/O threads then contend for on every read.
void ConfigureSqliteOnce() {
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
}

}  // namespace

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

SqliteStatement& SqliteStatement::Bind(int index, std::string_view text) {
  int rc = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                             SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) Throw(sqlite3_db_handle(stmt_), rc);
  return *this;
}

SqliteStatement& SqliteStatement::BindUncopied(int index, std::string_view text) {
  int rc =
      sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  if (rc != SQLITE_OK) Throw(sqlite3_db_handle(stmt_), rc);
  return *this;
}

SqliteStatement& SqliteStatement::BindBlob(int index, std::string_view bytes) {
  int rc = sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()),
                             SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) Throw(sqlite3_db_handle(stmt_), rc);
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) Throw(sqlite3_db_handle(stmt_), rc);
  return *this;
}

SqliteStatement& SqliteStatement::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) Throw(sqlite3_db_handle(stmt_), rc);
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, const std::optional<int64_t>& value) {
  return value ? Bind(index, *value) : BindNull(index);
}

bool SqliteStatement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Throw(sqlite3_db_handle(stmt_), rc);
}

int SqliteStatement::Run() {
  while (Step()) {
  }
  return sqlite3_changes(sqlite3_db_handle(stmt_));
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string SqliteStatement::Text(int column) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  return p ? std::string(p, sqlite3_column_bytes(stmt_, column)) : std::string();
}

std::string SqliteStatement::Blob(int column) const {
  auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  return p ? std::string(p, sqlite3_column_bytes(stmt_, column)) : std::string();
}

int64_t SqliteStatement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

bool SqliteStatement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::optional<int64_t> SqliteStatement::OptionalInt(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Int(column);
}

SqliteDb::SqliteDb(const std::string& path, const char* vfs) {
  ConfigureSqliteOnce();
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, vfs);
  if (rc != SQLITE_OK) {
    std::string detail = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw SqliteError{rc, detail};
  }
  sqlite3_busy_timeout(db_, kBusyTimeoutMillis);
  sqlite3_extended_result_codes(db_, 1);
}

SqliteDb::~SqliteDb() {
  statements_.clear();
  sqlite3_close(db_);
}

void SqliteDb::Exec(const char* sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string detail = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw SqliteError{rc, detail};
  }
}

StatementRef SqliteDb::Prepare(const char* sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return StatementRef(it->second.get());
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) Throw(db_, rc);
  auto& slot = statements_[sql];
  slot = std::make_unique<SqliteStatement>(stmt);
  return StatementRef(slot.get());
}

int SqliteDb::Changes() const { return sqlite3_changes(db_); }

void SqliteDb::CountWalPages(std::atomic<int>* wal_pages) {
  // Replaces the hook sqlite3_wal_autocheckpoint installs, so no commit checkpoints.
  sqlite3_wal_hook(
      db_,
      [](void* arg, sqlite3*, const char*, int pages) {
        static_cast<std::atomic<int>*>(arg)->store(pages, std::memory_order_relaxed);
        return SQLITE_OK;
      },
      wal_pages);
}

const volatile void* SqliteDb::WalIndex() {
  // SQLite's region size for the WAL index; a mapping request must use the same.
  constexpr int kWalIndexRegionBytes = 32768;
  // Only a connection in WAL mode: asked on any other, the VFS would attach a WAL index to
  // it that nothing ever detaches. Reading the mode also attaches this one to the index.
  static constexpr char kJournalMode[] = "PRAGMA journal_mode";
  {
    auto mode = Prepare(kJournalMode);
    if (!mode->Step() || mode->Text(0) != "wal") return nullptr;
  }
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
      file == nullptr || file->pMethods == nullptr || file->pMethods->iVersion < 2 ||
      file->pMethods->xShmMap == nullptr) {
    return nullptr;
  }
  void volatile* region = nullptr;
  // Not extending: a database that has no WAL index yet gets none.
  if (file->pMethods->xShmMap(file, 0, kWalIndexRegionBytes, 0, &region) != SQLITE_OK) {
    return nullptr;
  }
  return region;
}

void SqliteDb::CheckpointPassive() {
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  if (rc != SQLITE_OK) Throw(db_, rc);
}

}  // namespace tr
