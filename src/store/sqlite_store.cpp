#include "store/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <thread>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <spdlog/spdlog.h>

#include "core/clock.h"
#include "store/sqlite_vfs.h"

namespace tr {

namespace {

// Reader connections kept open; more are opened on demand and closed when over this. Above
// the server's concurrent readers (I/O threads + the blocking pool), so that none is
// reopened under load: opening one costs a schema parse and fresh prepared statements.
constexpr size_t kMaxIdleReaders = 128;

// Opening retries an immediate SQLITE_BUSY for this long (the busy timeout of a write), with
// pauses doubling up to kOpenRetryPause.
constexpr auto kOpenRetryFor = std::chrono::seconds(5);
constexpr auto kOpenRetryPause = std::chrono::milliseconds(50);

constexpr char kInsertWorkspace[] =
    "INSERT INTO workspaces (workspace_id, name, created_at) VALUES (?1, ?2, ?3)";
constexpr char kSelectWorkspace[] =
    "SELECT workspace_id, name, created_at FROM workspaces WHERE workspace_id = ?1";
constexpr char kInsertOrigin[] =
    "INSERT OR IGNORE INTO redirect_origins (workspace_id, origin) VALUES (?1, ?2)";
constexpr char kSelectOrigins[] =
    "SELECT origin FROM redirect_origins WHERE workspace_id = ?1 ORDER BY origin";
constexpr char kInsertApiKey[] =
    "INSERT INTO api_keys (key_id, workspace_id, key_hash, created_at) VALUES (?1, ?2, ?3, ?4)";
constexpr char kRevokeApiKey[] =
    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE key_id = ?1";
constexpr char kSelectApiKeyByHash[] =
    "SELECT key_id, workspace_id, key_hash, created_at, revoked_at FROM api_keys "
    "WHERE key_hash = ?1";
constexpr char kUpsertCustomIntegration[] =
    "INSERT INTO custom_integrations (workspace_id, integration_id, definition_json, "
    "created_at, updated_at) VALUES (?1, ?2, ?3, ?5, ?4) "
    "ON CONFLICT (workspace_id, integration_id) DO UPDATE SET "
    "definition_json = excluded.definition_json, updated_at = excluded.updated_at";
constexpr char kSelectCustomIntegration[] =
    "SELECT workspace_id, integration_id, definition_json, created_at, updated_at "
    "FROM custom_integrations WHERE workspace_id = ?1 AND integration_id = ?2";

#define TR_CUSTOMER_INTEGRATION_COLUMNS                                                  \
  "customer_integration_id, workspace_id, integration_id, source, auth_type, active, " \
  "client_id, client_secret_key_id, client_secret, scopes_json, external_id, created_at, " \
  "updated_at"
constexpr char kInsertCustomerIntegration[] =
    "INSERT INTO customer_integrations (" TR_CUSTOMER_INTEGRATION_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
constexpr char kSelectCustomerIntegration[] =
    "SELECT " TR_CUSTOMER_INTEGRATION_COLUMNS
    " FROM customer_integrations WHERE customer_integration_id = ?1";
constexpr char kSelectCustomerIntegrations[] =
    "SELECT " TR_CUSTOMER_INTEGRATION_COLUMNS
    " FROM customer_integrations WHERE workspace_id = ?1 AND (?2 IS NULL OR active = ?2) "
    "ORDER BY created_at, customer_integration_id";
#undef TR_CUSTOMER_INTEGRATION_COLUMNS
constexpr char kSetCustomerIntegrationActive[] =
    "UPDATE customer_integrations SET active = ?2, "
    "updated_at = CASE WHEN active = ?2 THEN updated_at ELSE ?3 END "
    "WHERE customer_integration_id = ?1";

constexpr char kClaimBootstrap[] =
    "INSERT OR IGNORE INTO meta (key, value) VALUES ('bootstrapped', ?1)";

// A failed write or sync of the database's files, as SQLite reports it (ENOSPC is
// SQLITE_FULL); what SqliteStore::Fence stops writes for.
bool IsIoFailure(const SqliteError& e) {
  const int primary = e.code & 0xff;
  return primary == SQLITE_IOERR || primary == SQLITE_FULL;
}

CustomerIntegration ReadCustomerIntegration(const SqliteStatement& s) {
  CustomerIntegration ci;
  ci.customer_integration_id = s.Text(0);
  ci.workspace_id = s.Text(1);
  ci.integration_id = s.Text(2);
  ci.source = s.Text(3) == "custom" ? IntegrationSource::kCustom : IntegrationSource::kCatalog;
  ci.auth_type = ParseAuthType(s.Text(4)).value_or(AuthType::kNone);
  ci.active = s.Int(5) != 0;
  ci.client_id = s.Text(6);
  ci.client_secret = SealedSecret{s.Text(7), s.Blob(8)};
  if (!s.IsNull(9)) {
    std::vector<std::string> scopes;
    boost::json::value v = boost::json::parse(s.Text(9));
    for (const auto& item : v.as_array()) scopes.emplace_back(item.as_string());
    ci.scopes = std::move(scopes);
  }
  ci.external_id = s.Text(10);
  ci.created_at = s.Int(11);
  ci.updated_at = s.Int(12);
  return ci;
}

}  // namespace

Error SqliteStore::ToError(const SqliteError& e) {
  int primary = e.code & 0xff;
  spdlog::error("sqlite error {}: {}", e.code, e.detail);
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_PROTOCOL:
      return Error(Errc::kUnavailable, "Database unavailable");
    case SQLITE_CONSTRAINT:
      return Error(Errc::kConflict, "Already exists");
    default:
      return Error(Errc::kInternal, "Internal server error");
  }
}

SqliteStore::SqliteStore(std::string path, Io io) : path_(std::move(path)), io_(io) {}

void SqliteStore::OpenConnections(Commits commits) {
  // kTr: through our VFS, which writes each commit's WAL frames with one pwrite
  // (store/sqlite_vfs.h).
  writer_db_ = std::make_unique<SqliteDb>(path_, io_ == Io::kTr ? TrVfs() : nullptr);
  SqliteDb& db = *writer_db_;
  // Only takes effect on a new database, before its first page is written (journal_mode=WAL
  // writes it): the retention pass can then give deleted rows' pages back to the file
  // system (Compact). An older database reuses its free pages instead.
  db.Exec("PRAGMA auto_vacuum=INCREMENTAL");
  db.Exec("PRAGMA journal_mode=WAL");
  // FULL for the migrations: they are durable when Open returns. kPlain keeps it: SQLite
  // syncs the WAL in every COMMIT.
  db.Exec("PRAGMA synchronous=FULL");
  db.Exec("PRAGMA foreign_keys=ON");
  ApplySqliteMigrations(db, SystemClock().NowMillis());
  {
    auto mode = db.Prepare("PRAGMA auto_vacuum");
    incremental_vacuum_ = mode->Step() && mode->Int(0) == 2;
  }
  if (io_ == Io::kPlain) return;  // SQLite checkpoints itself; no WAL-index reads
  // From here on a commit only appends to the WAL; the syncer makes it durable.
  if (commits == Commits::kGroup) db.Exec("PRAGMA synchronous=NORMAL");
  db.CountWalPages(&wal_pages_);
  checkpoint_db_ = std::make_unique<SqliteDb>(path_);
  // A connection that has never read has no WAL open, and its checkpoint then copies
  // nothing and still reports success (tests/powerloss saw the WAL only grow): read once.
  checkpoint_db_->Exec("SELECT 1 FROM sqlite_master LIMIT 1");
  // The writer's mapping of the WAL index, valid for as long as the store (the writer lives
  // as long as it).
  wal_index_ = WalIndexHeader::Of(db);
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, Commits commits,
                                                       Io io) {
  // SQLite answers SQLITE_BUSY at once, without waiting in its busy handler, to a connection
  // that opens while the last connection of another process closes (it holds an exclusive lock
  // while it checkpoints and removes the WAL) or recovers a WAL left by a crash. Both take
  // milliseconds, so opening tries again, for as long as a write would wait for a lock.
  if (io == Io::kTr) {
    std::optional<std::string> problem = CheckTrVfs(path);
    const char* forced = std::getenv("TOOLREGISTRY_TEST_VFS_CHECK");
    if (!problem && forced != nullptr && std::string_view(forced) == "fail") {
      problem = "TOOLREGISTRY_TEST_VFS_CHECK=fail";
    }
    if (problem) {
      spdlog::warn(
          "sqlite I/O: the tr VFS's start-up check failed ({}): falling back to plain "
          "SQLite (--sqlite-io=plain)",
          *problem);
      io = Io::kPlain;
    }
  }
  const auto give_up = std::chrono::steady_clock::now() + kOpenRetryFor;
  std::unique_ptr<SqliteStore> store;
  for (auto pause = std::chrono::milliseconds(1);; pause = std::min(pause * 2, kOpenRetryPause)) {
    store.reset(new SqliteStore(path, io));
    try {
      store->OpenConnections(commits);
      break;
    } catch (const SqliteError& e) {
      if ((e.code & 0xff) == SQLITE_BUSY && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(pause);
        continue;
      }
      spdlog::error("cannot open database {}: {}", path, e.detail);
      return Error(Errc::kUnavailable, "cannot open the database " + path + ": " + e.detail);
    } catch (const std::exception& e) {
      spdlog::error("cannot open database {}: {}", path, e.what());
      return Error(Errc::kUnavailable, "cannot open the database " + path);
    }
  }
  spdlog::info("sqlite I/O for {}: {}", path, io == Io::kTr ? "tr" : "plain");
  if (io == Io::kPlain) return store;  // no syncer: every COMMIT syncs
  // The WAL exists once a connection in WAL mode has read the database (the migrations did).
  // This descriptor is only ever fdatasync'ed: the data written through SQLite's own one.
  store->wal_fd_ = ::open((path + "-wal").c_str(), O_RDONLY | O_CLOEXEC);
  if (store->wal_fd_ < 0) {
    std::string reason = std::strerror(errno);
    spdlog::error("cannot open the WAL of {}: {}", path, reason);
    return Error(Errc::kUnavailable, "cannot open the WAL of the database " + path + ": " + reason);
  }
  if (!store->wal_index_) spdlog::warn("no WAL index to watch for {}: every cached lookup reads", path);
  store->syncer_ = std::thread([s = store.get()] { s->SyncLoop(); });
  return store;
}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard lock(sync_mu_);
    stopping_ = true;
  }
  sync_cv_.notify_one();
  if (syncer_.joinable()) syncer_.join();
  if (wal_fd_ >= 0) ::close(wal_fd_);
  // Closing the last connection checkpoints the WAL into the main file.
  idle_readers_.clear();
  stamp_db_.reset();
  checkpoint_db_.reset();
  writer_db_.reset();
}

SqliteStore::Reader SqliteStore::AcquireReader() {
  {
    std::lock_guard lock(readers_mu_);
    if (!idle_readers_.empty()) {
      Reader reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return reader;
    }
  }
  // Reads from the process's one mapping of the file (store/sqlite_vfs.h): any
  // positive mmap_size makes SQLite ask the VFS for pages, and the VFS decides what it maps.
  static constexpr char kAskForMappedPages[] = "PRAGMA mmap_size=1073741824";
  const char* vfs = io_ == Io::kTr ? TrVfs() : nullptr;
  auto db = std::make_unique<SqliteDb>(path_, vfs);
  db->Exec("PRAGMA query_only=1");
  if (vfs != nullptr) db->Exec(kAskForMappedPages);
  return Reader{std::move(db), false, std::nullopt};
}

void SqliteStore::ReleaseReader(Reader reader) {
  std::lock_guard lock(readers_mu_);
  if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(reader));
}

namespace {
// Transaction control as cached prepared statements: parsed once, not per write.
constexpr char kBegin[] = "BEGIN IMMEDIATE";
constexpr char kBeginDeferred[] = "BEGIN";
constexpr char kSavepoint[] = "SAVEPOINT w";
constexpr char kRollbackToSavepoint[] = "ROLLBACK TO w";
constexpr char kReleaseSavepoint[] = "RELEASE w";
constexpr char kCommit[] = "COMMIT";
constexpr char kRollback[] = "ROLLBACK";
}  // namespace

void SqliteStore::BeginRead(Reader& reader) {
  // Read before the snapshot is taken (by the first read after BEGIN): the snapshot then
  // holds at least what this header says was committed.
  std::optional<WalIndexHeader::Bytes> header = wal_index_ ? wal_index_->Read() : std::nullopt;
  if (reader.in_transaction && reader.snapshot && reader.snapshot == header) return;
  if (reader.in_transaction) {
    reader.in_transaction = false;
    reader.db->Prepare(kCommit)->Run();
  }
  reader.db->Prepare(kBeginDeferred)->Run();
  reader.in_transaction = true;
  reader.snapshot = header;
}

void SqliteStore::EndRead(Reader& reader) {
  reader.in_transaction = false;
  reader.db->Prepare(kCommit)->Run();
}

void SqliteStore::EndIdleSnapshots() {
  std::lock_guard lock(readers_mu_);
  std::erase_if(idle_readers_, [](Reader& reader) {
    if (!reader.in_transaction) return false;
    reader.in_transaction = false;
    try {
      reader.db->Prepare(kCommit)->Run();
      return false;
    } catch (const SqliteError& e) {
      spdlog::warn("cannot end a reader's transaction: {}", e.detail);
      return true;  // closed: closing ends it
    }
  });
}

Status SqliteStore::Write(const WriteFn& fn) {
  uint64_t ticket = 0;
  {
    std::lock_guard lock(writer_mu_);
    if (failed_.load()) return Error(Errc::kUnavailable, "Database unavailable");
    SqliteDb& db = *writer_db_;
    if (io_ == Io::kPlain) return WritePlain(db, fn);
    try {
      if (!batch_open_) {
        db.Prepare(kBegin)->Run();
        batch_open_ = true;
      }
      db.Prepare(kSavepoint)->Run();
    } catch (const SqliteError& e) {
      return ToError(e);  // BEGIN waited out another process's write lock, say
    }
    Status status = Ok{};
    try {
      status = fn(db);
    } catch (const SqliteError& e) {
      status = ToError(e);
      // The statement's pages may have gone to the WAL (a spill); the batch goes with them.
      if (IsIoFailure(e)) {
        FailOpenBatch(db, e);
        return status;
      }
    } catch (const std::exception& e) {
      spdlog::error("a write failed: {}", e.what());
      status = Error(Errc::kInternal, "Internal server error");
    }
    try {
      if (!status.ok()) db.Prepare(kRollbackToSavepoint)->Run();
      db.Prepare(kReleaseSavepoint)->Run();
    } catch (const SqliteError& e) {
      // The batch's transaction is in a state nobody can vouch for: it is rolled back whole,
      // and the batch fails (every write in it gets its error from WhenDurable/AwaitDurable).
      FailOpenBatch(db, e);
      return ToError(e);
    }
    if (!status.ok()) {
      if (open_batch_writes_ == 0) {
        // Nothing else in the batch: end it, so no other process waits on its write lock.
        try {
          db.Prepare(kRollback)->Run();
          batch_open_ = false;
        } catch (const SqliteError& e) {
          FailOpenBatch(db, e);
        }
      }
      return status;
    }
    ticket = open_batch_;
    ++open_batch_writes_;
  }
  WakeSyncer();
  return AwaitDurable(ticket);
}

Status SqliteStore::WritePlain(SqliteDb& db, const WriteFn& fn) {
  try {
    db.Prepare(kBegin)->Run();
  } catch (const SqliteError& e) {
    FenceIfIoFailure(e);
    return ToError(e);
  }
  Status status = Ok{};
  try {
    status = fn(db);
    if (status.ok()) db.Prepare(kCommit)->Run();  // synchronous=FULL: synced when it returns
  } catch (const SqliteError& e) {
    FenceIfIoFailure(e);
    status = ToError(e);
  } catch (const std::exception& e) {
    spdlog::error("a write failed: {}", e.what());
    status = Error(Errc::kInternal, "Internal server error");
  }
  if (!status.ok()) {
    try {
      db.Prepare(kRollback)->Run();
    } catch (const SqliteError&) {
      // No transaction was open any more: SQLite ends one itself on an I/O error.
    }
    return status;
  }
  // Committed and on disk: its number is synced at once, for DurabilityScope and WhenDurable.
  const uint64_t ticket = open_batch_++;
  visible_.store(ticket);
  committed_.store(ticket);
  synced_.store(ticket);
  ++fsyncs_;
  return AwaitDurable(ticket);
}

void SqliteStore::FenceIfIoFailure(const SqliteError& e) {
  if (!IsIoFailure(e)) return;
  const char* what = "a write to the database's files failed";
  if (e.code == SQLITE_IOERR_FSYNC || e.code == SQLITE_IOERR_DIR_FSYNC) {
    what = "an fsync of the database's files failed";
  } else if ((e.code & 0xff) == SQLITE_FULL) {
    what = "the disk is full";
  }
  Fence(std::string(what) + " (SQLite: " + e.detail + ", code " + std::to_string(e.code) + ")");
}

void SqliteStore::Fence(const std::string& reason) {
  {
    std::lock_guard lock(fence_mu_);
    if (failed_.load()) return;
    fence_reason_ = reason;
    failed_.store(true);
  }
  spdlog::critical(
      "database writes stopped: {}; what was not on disk is answered 503, every "
      "later write too; restart the server once the disk is fixed (toolregistry_db_"
      "writes_refused=1)",
      reason);
  // The syncer answers whoever waits for a commit (kTr); kPlain has nobody waiting.
  if (io_ == Io::kTr) WakeSyncer();
}

void SqliteStore::WakeSyncer() {
  bool idle;
  {
    std::lock_guard lock(sync_mu_);  // so the syncer cannot miss the notification
    idle = !to_commit_;
    to_commit_ = true;
  }
  // Set already: the syncer has been woken and has not taken the batch yet, so it will take
  // this write with it. Under load most writes find it set and skip the futex call.
  if (idle) sync_cv_.notify_one();
}

void SqliteStore::FailOpenBatch(SqliteDb& db, const SqliteError& e) {
  spdlog::error("the open batch of writes failed ({}): rolled back", e.detail);
  FenceIfIoFailure(e);
  try {
    db.Prepare(kRollback)->Run();
  } catch (const SqliteError&) {
    // No transaction was open any more: SQLite may end one itself on an error.
  }
  batch_open_ = false;
  {
    std::lock_guard lock(sync_mu_);
    failed_batches_.insert(open_batch_);
  }
  // The batch's number passes, so that a later ticket cannot be mistaken for it.
  visible_.store(open_batch_);
  committed_.store(open_batch_);
  ++open_batch_;
  open_batch_writes_ = 0;
  WakeSyncer();  // its waiters are answered by the syncer's next round
}

bool SqliteStore::ReadsOwnWrites() const {
  const DurabilityScope* scope = DurabilityScope::Current();
  return scope != nullptr && scope->ticket() > committed_.load();
}

Status SqliteStore::AfterRead() {
  // Read after the read: a batch takes its number (visible_) before its COMMIT.
  uint64_t seen = visible_.load();
  if (seen <= synced_.load()) return Ok{};
  if (failed_.load() && OnlyRolledBackSince(seen)) return Ok{};
  return AwaitDurable(seen);
}

bool SqliteStore::OnlyRolledBackSince(uint64_t seen) {
  // Fenced, nothing commits any more: the batches after the last synced one are few.
  constexpr uint64_t kMaxLook = 16;
  std::lock_guard lock(sync_mu_);
  const uint64_t synced = synced_.load();
  if (seen - synced > kMaxLook) return false;
  for (uint64_t t = synced + 1; t <= seen; ++t) {
    if (!failed_batches_.contains(t)) return false;
  }
  return true;
}

Status SqliteStore::AfterOwnRead() {
  // On the writer connection: the open batch too, when there is one.
  uint64_t seen = batch_open_ ? open_batch_ : visible_.load();
  return AwaitDurable(seen);
}

bool SqliteStore::IsDurable(uint64_t ticket) const {
  return synced_.load() >= ticket && !failed_batches_.contains(ticket);
}

Status SqliteStore::AwaitDurable(uint64_t ticket) {
  if (DurabilityScope* scope = DurabilityScope::Current()) {
    scope->Require(ticket);
    return Ok{};
  }
  std::unique_lock lock(sync_mu_);
  durable_cv_.wait(lock, [&] { return synced_.load() >= ticket || failed_.load(); });
  if (IsDurable(ticket)) return Ok{};
  return Error(Errc::kUnavailable, "Database unavailable");
}

void SqliteStore::WhenDurable(uint64_t ticket, std::function<void(bool)> done) {
  bool durable;
  {
    std::lock_guard lock(sync_mu_);
    if (synced_.load() < ticket && !failed_.load()) {
      waiters_.push_back({ticket, std::move(done)});
      return;
    }
    durable = IsDurable(ticket);
  }
  done(durable);
}

void SqliteStore::SyncLoop() {
  std::unique_lock lock(sync_mu_);
  for (;;) {
    sync_cv_.wait(lock, [&] { return stopping_ || to_commit_; });
    if (!to_commit_) return;  // stopping, and nothing left to commit
    to_commit_ = false;
    lock.unlock();
    // Fenced (Fence): nothing is committed or synced any more; the round only answers.
    uint64_t batch = 0;
    int error = 0;
    if (!failed_.load()) batch = CommitOpenBatch();
    if (!failed_.load()) {
      // Every batch up to `batch` has written its WAL frames: one fsync covers them all.
      int rc;
      do {
        rc = ::fdatasync(wal_fd_);
      } while (rc != 0 && errno == EINTR);
      error = rc == 0 ? 0 : errno;
      // After a failed fsync the kernel may have dropped the dirty pages: what was committed
      // since the last good one may be gone, and another fsync could not tell. Stop writing.
      if (rc != 0) Fence(std::string("fdatasync of the WAL failed (") + std::strerror(error) + ")");
    }
    lock.lock();
    if (!failed_.load()) {
      synced_.store(batch);
      ++fsyncs_;
    }
    // Answered outside the lock, each with what IsDurable said under it.
    std::vector<std::pair<std::function<void(bool)>, bool>> ready;
    std::erase_if(waiters_, [&](Waiter& w) {
      if (!failed_.load() && w.ticket > synced_.load()) return false;
      ready.emplace_back(std::move(w.done), IsDurable(w.ticket));
      return true;
    });
    durable_cv_.notify_all();
    lock.unlock();
    for (auto& [done, durable] : ready) done(durable);
    if (!failed_.load()) Checkpoint();
    lock.lock();
  }
}

uint64_t SqliteStore::CommitOpenBatch() {
  std::lock_guard lock(writer_mu_);
  const uint64_t batch = open_batch_ - 1;  // the last batch that closed, if none is open
  if (!batch_open_) return batch;
  SqliteDb& db = *writer_db_;
  visible_.store(open_batch_);  // readers may see it from here on
  try {
    db.Prepare(kCommit)->Run();
    committed_.store(open_batch_);
    batch_open_ = false;
    ++open_batch_;
    open_batch_writes_ = 0;
  } catch (const SqliteError& e) {
    FailOpenBatch(db, e);
  }
  return open_batch_ - 1;
}

void SqliteStore::Checkpoint() {
  // SQLite's own threshold for its automatic checkpoint, which commits no longer run.
  constexpr int kCheckpointPages = 1000;
  if (wal_pages_.load(std::memory_order_relaxed) < kCheckpointPages) return;
  wal_pages_.store(0, std::memory_order_relaxed);
  // An idle reader's snapshot would keep the checkpoint from copying the frames after it.
  EndIdleSnapshots();
  try {
    checkpoint_db_->CheckpointPassive();
  } catch (const SqliteError& e) {
    spdlog::warn("checkpoint of the WAL failed: {}", e.detail);
    // A page written to the database file, or its sync, failed: the same fence as the WAL's.
    FenceIfIoFailure(e);
  }
}

Status SqliteStore::CreateWorkspace(const Workspace& ws) {
  return Write([ws](SqliteDb& db) -> Status {
    db.Prepare(kInsertWorkspace)->Bind(1, ws.workspace_id).Bind(2, ws.name).Bind(3, ws.created_at).Run();
    return Ok{};
  });
}

Result<std::optional<Workspace>> SqliteStore::FindWorkspace(const std::string& workspace_id) {
  return Read<std::optional<Workspace>>([&](SqliteDb& db) -> std::optional<Workspace> {
    auto s = db.Prepare(kSelectWorkspace);
    s->Bind(1, workspace_id);
    if (!s->Step()) return std::nullopt;
    return Workspace{s->Text(0), s->Text(1), s->Int(2)};
  });
}

Status SqliteStore::AddRedirectOrigin(const std::string& workspace_id, const std::string& origin) {
  return Write([=](SqliteDb& db) -> Status {
    db.Prepare(kInsertOrigin)->Bind(1, workspace_id).Bind(2, origin).Run();
    return Ok{};
  });
}

Result<std::vector<std::string>> SqliteStore::ListRedirectOrigins(const std::string& workspace_id) {
  return Read<std::vector<std::string>>([&](SqliteDb& db) {
    std::vector<std::string> out;
    auto s = db.Prepare(kSelectOrigins);
    s->Bind(1, workspace_id);
    while (s->Step()) out.push_back(s->Text(0));
    return out;
  });
}

Status SqliteStore::CreateApiKey(const ApiKeyRecord& key) {
  return Write([key](SqliteDb& db) -> Status {
    db.Prepare(kInsertApiKey)
        ->Bind(1, key.key_id)
        .Bind(2, key.workspace_id)
        .Bind(3, key.key_hash)
        .Bind(4, key.created_at)
        .Run();
    return Ok{};
  });
}

Status SqliteStore::RevokeApiKey(const std::string& key_id, int64_t now) {
  return Write([=](SqliteDb& db) -> Status {
    if (db.Prepare(kRevokeApiKey)->Bind(1, key_id).Bind(2, now).Run() == 0) {
      return Error(Errc::kNotFound, "API key not found");
    }
    return Ok{};
  });
}

Result<std::optional<ApiKeyRecord>> SqliteStore::FindApiKeyByHash(const std::string& key_hash) {
  return Read<std::optional<ApiKeyRecord>>([&](SqliteDb& db) -> std::optional<ApiKeyRecord> {
    auto s = db.Prepare(kSelectApiKeyByHash);
    s->Bind(1, key_hash);
    if (!s->Step()) return std::nullopt;
    return ApiKeyRecord{s->Text(0), s->Text(1), s->Text(2), s->Int(3), s->OptionalInt(4)};
  });
}

Status SqliteStore::PutCustomIntegration(const CustomIntegration& ci) {
  // By reference (Write runs it before returning): a definition may be tens of megabytes.
  return Write([&ci](SqliteDb& db) -> Status {
    db.Prepare(kUpsertCustomIntegration)
        ->Bind(1, ci.workspace_id)
        .Bind(2, ci.integration_id)
        .BindUncopied(3, ci.definition_json)
        .Bind(4, ci.updated_at)
        .Bind(5, ci.created_at)
        .Run();
    return Ok{};
  });
}

Result<std::optional<CustomIntegration>> SqliteStore::FindCustomIntegration(
    const std::string& workspace_id, const std::string& integration_id) {
  return Read<std::optional<CustomIntegration>>(
      [&](SqliteDb& db) -> std::optional<CustomIntegration> {
        auto s = db.Prepare(kSelectCustomIntegration);
        s->Bind(1, workspace_id).Bind(2, integration_id);
        if (!s->Step()) return std::nullopt;
        return CustomIntegration{s->Text(0), s->Text(1), s->Text(2), s->Int(3), s->Int(4)};
      });
}

Status SqliteStore::CreateCustomerIntegration(const CustomerIntegration& ci) {
  std::optional<std::string> scopes_json;
  if (ci.scopes) scopes_json = boost::json::serialize(boost::json::value_from(*ci.scopes));
  return Write([ci, scopes_json](SqliteDb& db) -> Status {
    auto s = db.Prepare(kInsertCustomerIntegration);
    s->Bind(1, ci.customer_integration_id)
        .Bind(2, ci.workspace_id)
        .Bind(3, ci.integration_id)
        .Bind(4, ci.source == IntegrationSource::kCustom ? "custom" : "catalog")
        .Bind(5, AuthTypeName(ci.auth_type))
        .Bind(6, int64_t{ci.active})
        .Bind(7, ci.client_id);
    if (ci.client_secret.empty()) {
      s->BindNull(8).BindNull(9);
    } else {
      s->Bind(8, ci.client_secret.key_id).BindBlob(9, ci.client_secret.blob);
    }
    if (scopes_json) {
      s->Bind(10, *scopes_json);
    } else {
      s->BindNull(10);
    }
    s->Bind(11, ci.external_id).Bind(12, ci.created_at).Bind(13, ci.updated_at).Run();
    return Ok{};
  });
}

Result<std::optional<CustomerIntegration>> SqliteStore::FindCustomerIntegration(
    const std::string& customer_integration_id) {
  return Read<std::optional<CustomerIntegration>>(
      [&](SqliteDb& db) -> std::optional<CustomerIntegration> {
        auto s = db.Prepare(kSelectCustomerIntegration);
        s->Bind(1, customer_integration_id);
        if (!s->Step()) return std::nullopt;
        return ReadCustomerIntegration(*s);
      });
}

Status SqliteStore::SetCustomerIntegrationActive(const std::string& customer_integration_id,
                                                 bool active, int64_t now) {
  return Write([=](SqliteDb& db) -> Status {
    auto s = db.Prepare(kSetCustomerIntegrationActive);
    if (s->Bind(1, customer_integration_id).Bind(2, int64_t{active}).Bind(3, now).Run() == 0) {
      return Error(Errc::kNotFound, "Customer integration not found");
    }
    return Ok{};
  });
}

Result<std::vector<CustomerIntegration>> SqliteStore::ListCustomerIntegrations(
    const std::string& workspace_id, std::optional<bool> active) {
  return Read<std::vector<CustomerIntegration>>([&](SqliteDb& db) {
    std::vector<CustomerIntegration> out;
    auto s = db.Prepare(kSelectCustomerIntegrations);
    s->Bind(1, workspace_id);
    if (active) {
      s->Bind(2, int64_t{*active});
    } else {
      s->BindNull(2);
    }
    while (s->Step()) out.push_back(ReadCustomerIntegration(*s));
    return out;
  });
}

Result<bool> SqliteStore::BootstrapOnce(const Workspace& ws, const ApiKeyRecord& key) {
  bool claimed = false;
  Status status = Write([&](SqliteDb& db) -> Status {
    if (db.Prepare(kClaimBootstrap)->Bind(1, ws.workspace_id).Run() == 0) return Ok{};
    db.Prepare(kInsertWorkspace)->Bind(1, ws.workspace_id).Bind(2, ws.name).Bind(3, ws.created_at).Run();
    db.Prepare(kInsertApiKey)
        ->Bind(1, key.key_id)
        .Bind(2, key.workspace_id)
        .Bind(3, key.key_hash)
        .Bind(4, key.created_at)
        .Run();
    claimed = true;
    return Ok{};
  });
  if (!status) return status.error();
  return claimed;
}

constexpr char kSchemaVersion[] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";

std::optional<uint64_t> SqliteStore::ChangeStamp() {
  static constexpr char kConfigVersion[] = "SELECT version FROM config_version";
  // Read before the stamp: the stamp then holds at least what this header says was committed.
  const std::optional<WalIndexHeader::Bytes> header =
      wal_index_ ? wal_index_->Read() : std::nullopt;
  std::optional<uint64_t> stamp;
  if (header) {
    std::lock_guard lock(last_stamp_mu_);
    if (last_stamp_header_ == header) stamp = last_stamp_;
  }
  if (!stamp) {
    std::lock_guard lock(stamp_mu_);
    try {
      if (!stamp_db_) {
        stamp_db_ = std::make_unique<SqliteDb>(path_);
        stamp_db_->Exec("PRAGMA query_only=1");
      }
      auto s = stamp_db_->Prepare(kConfigVersion);
      if (s->Step()) stamp = static_cast<uint64_t>(s->Int(0));
    } catch (const SqliteError& e) {
      spdlog::warn("cannot read the database's configuration version: {}", e.detail);
      stamp_db_.reset();
      return std::nullopt;  // nothing may be cached meanwhile
    }
    if (stamp && header) {
      std::lock_guard last(last_stamp_mu_);
      last_stamp_header_ = header;
      last_stamp_ = *stamp;
    }
  }
  // What a cache keyed by this stamp serves must be on disk, as if read now.
  if (!AfterRead().ok()) return std::nullopt;
  return stamp;
}

Status SqliteStore::Ping() {
  if (failed_.load()) {
    std::lock_guard lock(fence_mu_);
    return Error(Errc::kUnavailable, "Database writes stopped: " + fence_reason_);
  }
  auto version = Read<int64_t>([](SqliteDb& db) {
    auto s = db.Prepare(kSchemaVersion);
    s->Step();
    return s->Int(0);
  });
  if (!version) return version.error();
  if (*version != LatestSqliteMigration()) {
    return Error(Errc::kUnavailable, "Database schema is not at the expected version");
  }
  return Ok{};
}

Store::Stats SqliteStore::GetStats() {
  Stats stats;
  {
    std::lock_guard lock(readers_mu_);
    stats.idle_connections = static_cast<double>(idle_readers_.size());
  }
  {
    std::lock_guard lock(writer_mu_);
    stats.queued_writes = static_cast<double>(open_batch_writes_);
  }
  stats.commits = static_cast<double>(fsyncs_.load());
  stats.writes_refused = failed_.load() ? 1 : 0;
  return stats;
}

}  // namespace tr
