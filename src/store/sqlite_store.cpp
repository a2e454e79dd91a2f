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
// Reader connections kept open; more are opened on demand and closed when over this.
constexpr size_t kMaxIdleReaders = 16;

Error ToError(const SqliteError& e) {
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

constexpr char kSelectUser[] =
    "SELECT customer_integration_id, user_id, active, credentials_key_id, credentials, "
    "created_at, updated_at, access_expires_at FROM integration_users "
    "WHERE customer_integration_id = ?1 AND user_id = ?2";
constexpr char kInsertUserIfMissing[] =
    "INSERT OR IGNORE INTO integration_users (customer_integration_id, user_id, active, "
    "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)";
constexpr char kInsertSession[] =
    "INSERT INTO connect_sessions (token_hash, customer_integration_id, user_id, redirect_uri, "
    "state_hash, pkce_key_id, pkce_verifier, created_at, expires_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

#define TR_SESSION_COLUMNS                                                                  \
  "token_hash, customer_integration_id, user_id, redirect_uri, state_hash, pkce_key_id, "    \
  "pkce_verifier, created_at, expires_at, used_at, submissions"
constexpr char kSelectSessionByToken[] =
    "SELECT " TR_SESSION_COLUMNS " FROM connect_sessions WHERE token_hash = ?1";
constexpr char kSelectSessionByState[] =
    "SELECT " TR_SESSION_COLUMNS " FROM connect_sessions WHERE state_hash = ?1";
#undef TR_SESSION_COLUMNS
constexpr char kCountSubmission[] =
    "UPDATE connect_sessions SET submissions = submissions + 1 "
    "WHERE token_hash = ?1 AND used_at IS NULL RETURNING submissions";
constexpr char kUseSession[] =
    "UPDATE connect_sessions SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL "
    "RETURNING customer_integration_id, user_id";
constexpr char kActivateUser[] =
    "UPDATE integration_users SET active = 1, updated_at = ?3 "
    "WHERE customer_integration_id = ?1 AND user_id = ?2";
constexpr char kSetCredentials[] =
    "UPDATE integration_users SET active = ?6, updated_at = ?3, credentials_key_id = ?4, "
    "credentials = ?5, access_expires_at = ?7 WHERE customer_integration_id = ?1 AND user_id = ?2";
constexpr char kUpdateCredentials[] =
    "UPDATE integration_users SET updated_at = ?3, credentials_key_id = ?4, credentials = ?5, "
    "access_expires_at = ?6 WHERE customer_integration_id = ?1 AND user_id = ?2";
constexpr char kDeactivateUser[] =
    "UPDATE integration_users SET active = 0, updated_at = ?3, access_expires_at = NULL "
    "WHERE customer_integration_id = ?1 AND user_id = ?2";
constexpr char kDeleteUserSessions[] =
    "DELETE FROM connect_sessions WHERE customer_integration_id = ?1 AND user_id = ?2";
constexpr char kDeleteUserLease[] =
    "DELETE FROM refresh_leases WHERE customer_integration_id = ?1 AND user_id = ?2";
constexpr char kDeleteUser[] =
    "DELETE FROM integration_users WHERE customer_integration_id = ?1 AND user_id = ?2";
constexpr char kSelectExpiring[] =
    "SELECT customer_integration_id, user_id FROM integration_users "
    "WHERE active = 1 AND access_expires_at IS NOT NULL AND access_expires_at < ?1 "
    "ORDER BY access_expires_at LIMIT ?2";
constexpr char kAcquireLease[] =
    "INSERT INTO refresh_leases (customer_integration_id, user_id, holder, expires_at) "
    "VALUES (?1, ?2, ?3, ?5) ON CONFLICT (customer_integration_id, user_id) DO UPDATE SET "
    "holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE refresh_leases.expires_at <= ?4 OR refresh_leases.holder = excluded.holder";
constexpr char kReleaseLease[] =
    "DELETE FROM refresh_leases WHERE customer_integration_id = ?1 AND user_id = ?2 "
    "AND holder = ?3";
constexpr char kUpsertWebhook[] =
    "INSERT INTO webhooks (workspace_id, url, secret_key_id, secret, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (workspace_id) DO UPDATE SET url = excluded.url, "
    "secret_key_id = excluded.secret_key_id, secret = excluded.secret, "
    "updated_at = excluded.updated_at";
constexpr char kSelectWebhook[] =
    "SELECT workspace_id, url, secret_key_id, secret FROM webhooks WHERE workspace_id = ?1";
constexpr char kEnqueueEvent[] =
    "INSERT INTO webhook_outbox (event_id, workspace_id, type, payload, created_at, "
    "next_attempt_at) SELECT ?1, ?2, ?3, ?4, ?5, ?5 "
    "WHERE EXISTS (SELECT 1 FROM webhooks WHERE workspace_id = ?2)";
constexpr char kClaimEvents[] =
    "UPDATE webhook_outbox SET next_attempt_at = ?2 WHERE event_id IN ("
    "SELECT event_id FROM webhook_outbox WHERE delivered_at IS NULL AND "
    "next_attempt_at IS NOT NULL AND next_attempt_at <= ?1 ORDER BY next_attempt_at LIMIT ?3) "
    "RETURNING event_id, workspace_id, type, payload, attempts, created_at";
constexpr char kMarkDelivered[] =
    "UPDATE webhook_outbox SET delivered_at = ?2, attempts = attempts + 1 WHERE event_id = ?1";
constexpr char kMarkFailed[] =
    "UPDATE webhook_outbox SET attempts = ?2, next_attempt_at = ?3 WHERE event_id = ?1";

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

ConnectSession ReadSession(const SqliteStatement& s) {
  ConnectSession session;
  session.token_hash = s.Text(0);
  session.customer_integration_id = s.Text(1);
  session.user_id = s.Text(2);
  session.redirect_uri = s.Text(3);
  session.state_hash = s.Text(4);
  session.pkce_verifier = SealedSecret{s.Text(5), s.Blob(6)};
  session.created_at = s.Int(7);
  session.expires_at = s.Int(8);
  session.used_at = s.OptionalInt(9);
  session.submissions = static_cast<int>(s.Int(10));
  return session;
}

}  // namespace

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
  writer_db_.reset();
}

template <typename T>
Result<T> SqliteStore::Read(const std::function<T(SqliteDb&)>& fn) {
  std::unique_ptr<SqliteDb> db;
  {
    std::lock_guard lock(readers_mu_);
    if (!idle_readers_.empty()) {
      db = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  try {
    if (!db) {
      db = std::make_unique<SqliteDb>(path_);
      db->Exec("PRAGMA query_only=1");
    }
    T value = fn(*db);
    std::lock_guard lock(readers_mu_);
    if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(db));
    return value;
  } catch (const SqliteError& e) {
    return ToError(e);  // the connection is dropped: it may be in a bad state
  }
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
  SqliteDb& db = *writer_db_;
  std::vector<Status> results;
  results.reserve(batch.size());
  try {
    db.Exec("BEGIN IMMEDIATE");
    for (auto& write : batch) {
      db.Exec("SAVEPOINT w");
      Status status = Ok{};
      try {
        status = write->fn(db);
      } catch (const SqliteError& e) {
        status = ToError(e);
      }
      if (!status.ok()) db.Exec("ROLLBACK TO w");
      db.Exec("RELEASE w");
      results.push_back(std::move(status));
    }
    db.Exec("COMMIT");
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

Result<std::optional<IntegrationUser>> SqliteStore::FindUser(
    const std::string& customer_integration_id, const std::string& user_id) {
  return Read<std::optional<IntegrationUser>>([&](SqliteDb& db) -> std::optional<IntegrationUser> {
    auto s = db.Prepare(kSelectUser);
    s->Bind(1, customer_integration_id).Bind(2, user_id);
    if (!s->Step()) return std::nullopt;
    return IntegrationUser{s->Text(0),  s->Text(1), s->Int(2) != 0,
                           SealedSecret{s->Text(3), s->Blob(4)}, s->OptionalInt(7),
                           s->Int(5),   s->Int(6)};
  });
}

Status SqliteStore::CreateUserAndSession(const IntegrationUser& user,
                                         const ConnectSession& session) {
  return Write([user, session](SqliteDb& db) -> Status {
    db.Prepare(kInsertUserIfMissing)
        ->Bind(1, user.customer_integration_id)
        .Bind(2, user.user_id)
        .Bind(3, int64_t{user.active})
        .Bind(4, user.created_at)
        .Run();
    db.Prepare(kInsertSession)
        ->Bind(1, session.token_hash)
        .Bind(2, session.customer_integration_id)
        .Bind(3, session.user_id)
        .Bind(4, session.redirect_uri)
        .Bind(5, session.state_hash)
        .Bind(6, session.pkce_verifier.key_id)
        .BindBlob(7, session.pkce_verifier.blob)
        .Bind(8, session.created_at)
        .Bind(9, session.expires_at)
        .Run();
    return Ok{};
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

Result<std::optional<ConnectSession>> SqliteStore::FindSessionByToken(
    const std::string& token_hash) {
  return Read<std::optional<ConnectSession>>([&](SqliteDb& db) -> std::optional<ConnectSession> {
    auto s = db.Prepare(kSelectSessionByToken);
    s->Bind(1, token_hash);
    if (!s->Step()) return std::nullopt;
    return ReadSession(*s);
  });
}

Result<std::optional<ConnectSession>> SqliteStore::FindSessionByState(
    const std::string& state_hash) {
  return Read<std::optional<ConnectSession>>([&](SqliteDb& db) -> std::optional<ConnectSession> {
    auto s = db.Prepare(kSelectSessionByState);
    s->Bind(1, state_hash);
    if (!s->Step()) return std::nullopt;
    return ReadSession(*s);
  });
}

Result<int> SqliteStore::CountSubmission(const std::string& token_hash) {
  int count = 0;
  Status status = Write([&](SqliteDb& db) -> Status {
    auto s = db.Prepare(kCountSubmission);
    s->Bind(1, token_hash);
    if (!s->Step()) return Error(Errc::kNotFound, "Connect session not found");
    count = static_cast<int>(s->Int(0));
    s->Run();
    return Ok{};
  });
  if (!status) return status.error();
  return count;
}

Status SqliteStore::FinishSession(const std::string& token_hash, bool success,
                                  const std::optional<SealedSecret>& credentials,
                                  std::optional<int64_t> access_expires_at, int64_t now,
                                  const std::optional<OutboxEvent>& event) {
  return Write([&](SqliteDb& db) -> Status {
    std::string cid, user_id;
    {
      auto s = db.Prepare(kUseSession);
      s->Bind(1, token_hash).Bind(2, now);
      if (!s->Step()) return Error(Errc::kConflict, "Connect session already used");
      cid = s->Text(0);
      user_id = s->Text(1);
      s->Run();
    }
    if (success && credentials) {
      db.Prepare(kSetCredentials)
          ->Bind(1, cid)
          .Bind(2, user_id)
          .Bind(3, now)
          .Bind(4, credentials->key_id)
          .BindBlob(5, credentials->blob)
          .Bind(6, int64_t{1})
          .Bind(7, access_expires_at)
          .Run();
    } else if (success) {
      db.Prepare(kActivateUser)->Bind(1, cid).Bind(2, user_id).Bind(3, now).Run();
    }
    if (event) InsertEvent(db, *event);
    return Ok{};
  });
}

Status SqliteStore::UpdateCredentials(const std::string& customer_integration_id,
                                      const std::string& user_id, const SealedSecret& credentials,
                                      std::optional<int64_t> access_expires_at, int64_t now) {
  return Write([&](SqliteDb& db) -> Status {
    int changed = db.Prepare(kUpdateCredentials)
                      ->Bind(1, customer_integration_id)
                      .Bind(2, user_id)
                      .Bind(3, now)
                      .Bind(4, credentials.key_id)
                      .BindBlob(5, credentials.blob)
                      .Bind(6, access_expires_at)
                      .Run();
    if (changed == 0) return Error(Errc::kNotFound, "User not found");
    return Ok{};
  });
}

Status SqliteStore::DeactivateUser(const std::string& customer_integration_id,
                                   const std::string& user_id, int64_t now,
                                   const std::vector<OutboxEvent>& events) {
  return Write([&](SqliteDb& db) -> Status {
    if (db.Prepare(kDeactivateUser)->Bind(1, customer_integration_id).Bind(2, user_id).Bind(3, now).Run() == 0) {
      return Error(Errc::kNotFound, "User not found");
    }
    for (const OutboxEvent& event : events) InsertEvent(db, event);
    return Ok{};
  });
}

Status SqliteStore::DeleteUser(const std::string& customer_integration_id,
                               const std::string& user_id, const std::optional<OutboxEvent>& event) {
  return Write([&](SqliteDb& db) -> Status {
    db.Prepare(kDeleteUserSessions)->Bind(1, customer_integration_id).Bind(2, user_id).Run();
    db.Prepare(kDeleteUserLease)->Bind(1, customer_integration_id).Bind(2, user_id).Run();
    if (db.Prepare(kDeleteUser)->Bind(1, customer_integration_id).Bind(2, user_id).Run() == 0) {
      return Error(Errc::kNotFound, "User not found");
    }
    if (event) InsertEvent(db, *event);
    return Ok{};
  });
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteStore::ListUsersExpiringBefore(
    int64_t before, int limit) {
  return Read<std::vector<std::pair<std::string, std::string>>>([&](SqliteDb& db) {
    std::vector<std::pair<std::string, std::string>> out;
    auto s = db.Prepare(kSelectExpiring);
    s->Bind(1, before).Bind(2, int64_t{limit});
    while (s->Step()) out.emplace_back(s->Text(0), s->Text(1));
    return out;
  });
}

Result<bool> SqliteStore::TryAcquireLease(const std::string& customer_integration_id,
                                          const std::string& user_id, const std::string& holder,
                                          int64_t now, int64_t expires_at) {
  bool acquired = false;
  Status status = Write([&](SqliteDb& db) -> Status {
    acquired = db.Prepare(kAcquireLease)
                   ->Bind(1, customer_integration_id)
                   .Bind(2, user_id)
                   .Bind(3, holder)
                   .Bind(4, now)
                   .Bind(5, expires_at)
                   .Run() > 0;
    return Ok{};
  });
  if (!status) return status.error();
  return acquired;
}

Status SqliteStore::ReleaseLease(const std::string& customer_integration_id,
                                 const std::string& user_id, const std::string& holder) {
  return Write([&](SqliteDb& db) -> Status {
    db.Prepare(kReleaseLease)->Bind(1, customer_integration_id).Bind(2, user_id).Bind(3, holder).Run();
    return Ok{};
  });
}

Status SqliteStore::SetWebhook(const Webhook& webhook, int64_t now) {
  return Write([&](SqliteDb& db) -> Status {
    db.Prepare(kUpsertWebhook)
        ->Bind(1, webhook.workspace_id)
        .Bind(2, webhook.url)
        .Bind(3, webhook.secret.key_id)
        .BindBlob(4, webhook.secret.blob)
        .Bind(5, now)
        .Run();
    return Ok{};
  });
}

Result<std::optional<Webhook>> SqliteStore::FindWebhook(const std::string& workspace_id) {
  return Read<std::optional<Webhook>>([&](SqliteDb& db) -> std::optional<Webhook> {
    auto s = db.Prepare(kSelectWebhook);
    s->Bind(1, workspace_id);
    if (!s->Step()) return std::nullopt;
    return Webhook{s->Text(0), s->Text(1), SealedSecret{s->Text(2), s->Blob(3)}};
  });
}

void SqliteStore::InsertEvent(SqliteDb& db, const OutboxEvent& event) {
  db.Prepare(kEnqueueEvent)
      ->Bind(1, event.event_id)
      .Bind(2, event.workspace_id)
      .Bind(3, event.type)
      .Bind(4, event.payload)
      .Bind(5, event.created_at)
      .Run();
}

Status SqliteStore::EnqueueEvent(const OutboxEvent& event) {
  return Write([&](SqliteDb& db) -> Status {
    InsertEvent(db, event);
    return Ok{};
  });
}

Result<std::vector<OutboxEvent>> SqliteStore::ClaimDueEvents(int64_t now, int64_t claim_millis,
                                                             int limit) {
  std::vector<OutboxEvent> events;
  Status status = Write([&](SqliteDb& db) -> Status {
    events.clear();
    auto s = db.Prepare(kClaimEvents);
    s->Bind(1, now).Bind(2, now + claim_millis).Bind(3, int64_t{limit});
    while (s->Step()) {
      OutboxEvent e;
      e.event_id = s->Text(0);
      e.workspace_id = s->Text(1);
      e.type = s->Text(2);
      e.payload = s->Text(3);
      e.attempts = static_cast<int>(s->Int(4));
      e.created_at = s->Int(5);
      events.push_back(std::move(e));
    }
    return Ok{};
  });
  if (!status) return status.error();
  return events;
}

Status SqliteStore::MarkEventDelivered(const std::string& event_id, int64_t now) {
  return Write([&](SqliteDb& db) -> Status {
    db.Prepare(kMarkDelivered)->Bind(1, event_id).Bind(2, now).Run();
    return Ok{};
  });
}

Status SqliteStore::MarkEventFailed(const std::string& event_id, int attempts,
                                    std::optional<int64_t> next_attempt_at) {
  return Write([&](SqliteDb& db) -> Status {
    db.Prepare(kMarkFailed)->Bind(1, event_id).Bind(2, int64_t{attempts}).Bind(3, next_attempt_at).Run();
    return Ok{};
  });
}

}  // namespace tr
