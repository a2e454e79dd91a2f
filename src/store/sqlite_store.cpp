#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <spdlog/spdlog.h>

#include "core/clock.h"

namespace tr {

namespace {

// Upper bound on writes per group commit; keeps one transaction's latency bounded.
constexpr size_t kMaxBatch = 512;
// Reader connections kept open; more are opened on demand and closed when over this. Above
// the server's concurrent readers (I/O threads + the blocking pool), so that none is
// reopened under load: opening one costs a schema parse and fresh prepared statements.
constexpr size_t kMaxIdleReaders = 128;

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

SqliteStore::SqliteStore(std::string path) : path_(std::move(path)) {}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  std::unique_ptr<SqliteStore> store(new SqliteStore(path));
  try {
    store->writer_db_ = std::make_unique<SqliteDb>(path);
    SqliteDb& db = *store->writer_db_;
    db.Exec("PRAGMA journal_mode=WAL");
    db.Exec("PRAGMA synchronous=FULL");
    db.Exec("PRAGMA foreign_keys=ON");
    ApplySqliteMigrations(db, SystemClock().NowMillis());
  } catch (const SqliteError& e) {
    spdlog::error("cannot open database {}: {}", path, e.detail);
    return Error(Errc::kUnavailable, "cannot open the database " + path + ": " + e.detail);
  } catch (const std::exception& e) {
    spdlog::error("cannot open database {}: {}", path, e.what());
    return Error(Errc::kUnavailable, "cannot open the database " + path);
  }
  store->writer_ = std::thread([s = store.get()] { s->WriterLoop(); });
  return store;
}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  // Closing the last connection checkpoints the WAL into the main file.
  idle_readers_.clear();
  stamp_db_.reset();
  writer_db_.reset();
}

std::unique_ptr<SqliteDb> SqliteStore::AcquireReader() {
  {
    std::lock_guard lock(readers_mu_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<SqliteDb> db = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return db;
    }
  }
  auto db = std::make_unique<SqliteDb>(path_);
  db->Exec("PRAGMA query_only=1");
  return db;
}

void SqliteStore::ReleaseReader(std::unique_ptr<SqliteDb> db) {
  std::lock_guard lock(readers_mu_);
  if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(db));
}

Status SqliteStore::Write(WriteFn fn) {
  auto pending = std::make_unique<PendingWrite>();
  pending->fn = std::move(fn);
  std::future<Status> done = pending->done.get_future();
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) return Error(Errc::kUnavailable, "Database unavailable");
    queue_.push_back(std::move(pending));
  }
  queue_cv_.notify_one();
  return done.get();
}

void SqliteStore::WriterLoop() {
  std::vector<std::unique_ptr<PendingWrite>> batch;
  for (;;) {
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and every queued write is done
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitBatch(batch);
    batch.clear();
  }
}

void SqliteStore::CommitBatch(std::vector<std::unique_ptr<PendingWrite>>& batch) {
  // Transaction control as cached prepared statements: parsed once, not per batch.
  static constexpr char kBegin[] = "BEGIN IMMEDIATE";
  static constexpr char kSavepoint[] = "SAVEPOINT w";
  static constexpr char kRollbackToSavepoint[] = "ROLLBACK TO w";
  static constexpr char kReleaseSavepoint[] = "RELEASE w";
  static constexpr char kCommit[] = "COMMIT";
  SqliteDb& db = *writer_db_;
  std::vector<Status> results;
  results.reserve(batch.size());
  try {
    db.Prepare(kBegin)->Run();
    for (auto& write : batch) {
      db.Prepare(kSavepoint)->Run();
      Status status = Ok{};
      try {
        status = write->fn(db);
      } catch (const SqliteError& e) {
        status = ToError(e);
      } catch (const std::exception& e) {
        spdlog::error("a write failed: {}", e.what());
        status = Error(Errc::kInternal, "Internal server error");
      }
      if (!status.ok()) db.Prepare(kRollbackToSavepoint)->Run();
      db.Prepare(kReleaseSavepoint)->Run();
      results.push_back(std::move(status));
    }
    db.Prepare(kCommit)->Run();
    ++commits_;
  } catch (const SqliteError& e) {
    Error error = ToError(e);
    try {
      db.Exec("ROLLBACK");
    } catch (const SqliteError&) {
      // No transaction was open (BEGIN failed): nothing to undo.
    }
    for (auto& write : batch) write->done.set_value(error);
    return;
  }
  for (size_t i = 0; i < batch.size(); ++i) batch[i]->done.set_value(std::move(results[i]));
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
  return Write([ci](SqliteDb& db) -> Status {
    db.Prepare(kUpsertCustomIntegration)
        ->Bind(1, ci.workspace_id)
        .Bind(2, ci.integration_id)
        .Bind(3, ci.definition_json)
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
  std::lock_guard lock(stamp_mu_);
  try {
    if (!stamp_db_) {
      stamp_db_ = std::make_unique<SqliteDb>(path_);
      stamp_db_->Exec("PRAGMA query_only=1");
    }
    auto s = stamp_db_->Prepare(kConfigVersion);
    if (!s->Step()) return std::nullopt;
    return static_cast<uint64_t>(s->Int(0));
  } catch (const SqliteError& e) {
    spdlog::warn("cannot read the database's configuration version: {}", e.detail);
    stamp_db_.reset();
    return std::nullopt;  // nothing may be cached meanwhile
  }
}

Status SqliteStore::Ping() {
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
    std::lock_guard lock(queue_mu_);
    stats.queued_writes = static_cast<double>(queue_.size());
  }
  stats.commits = static_cast<double>(commits_.load());
  return stats;
}

}  // namespace tr
