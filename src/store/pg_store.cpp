#include "store/pg_store.h"

#include <chrono>

#include <spdlog/spdlog.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include "core/clock.h"

namespace tr {

namespace {

// Connections per process. PostgreSQL's default max_connections is 100: a few nodes, the
// admin commands and pg_dump fit under it. Above the server's concurrent database users
// (I/O threads + the blocking pool) it would only add idle backends.
constexpr size_t kMaxConnections = 12;
// How long a caller waits for a busy pool before the request fails as unavailable.
constexpr auto kAcquireWait = std::chrono::seconds(5);

constexpr char kBegin[] = "BEGIN";
constexpr char kCommit[] = "COMMIT";
constexpr char kRollback[] = "ROLLBACK";

constexpr char kInsertWorkspace[] =
    "INSERT INTO workspaces (workspace_id, name, created_at) VALUES ($1, $2, $3)";
constexpr char kSelectWorkspace[] =
    "SELECT workspace_id, name, created_at FROM workspaces WHERE workspace_id = $1";
constexpr char kInsertOrigin[] =
    "INSERT INTO redirect_origins (workspace_id, origin) VALUES ($1, $2) ON CONFLICT DO NOTHING";
constexpr char kSelectOrigins[] =
    "SELECT origin FROM redirect_origins WHERE workspace_id = $1 ORDER BY origin COLLATE \"C\"";
constexpr char kInsertApiKey[] =
    "INSERT INTO api_keys (key_id, workspace_id, key_hash, created_at) VALUES ($1, $2, $3, $4)";
constexpr char kRevokeApiKey[] =
    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE key_id = $1";
constexpr char kSelectApiKeyByHash[] =
    "SELECT key_id, workspace_id, key_hash, created_at, revoked_at FROM api_keys "
    "WHERE key_hash = $1";
constexpr char kUpsertCustomIntegration[] =
    "INSERT INTO custom_integrations (workspace_id, integration_id, definition_json, "
    "created_at, updated_at) VALUES ($1, $2, $3, $5, $4) "
    "ON CONFLICT (workspace_id, integration_id) DO UPDATE SET "
    "definition_json = excluded.definition_json, updated_at = excluded.updated_at";
constexpr char kSelectCustomIntegration[] =
    "SELECT workspace_id, integration_id, definition_json, created_at, updated_at "
    "FROM custom_integrations WHERE workspace_id = $1 AND integration_id = $2";

#define TR_CUSTOMER_INTEGRATION_COLUMNS                                                    \
  "customer_integration_id, workspace_id, integration_id, source, auth_type, active, "     \
  "client_id, client_secret_key_id, client_secret, scopes_json, external_id, created_at, " \
  "updated_at"
constexpr char kInsertCustomerIntegration[] =
    "INSERT INTO customer_integrations (" TR_CUSTOMER_INTEGRATION_COLUMNS
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
constexpr char kSelectCustomerIntegration[] =
    "SELECT " TR_CUSTOMER_INTEGRATION_COLUMNS
    " FROM customer_integrations WHERE customer_integration_id = $1";
constexpr char kSelectCustomerIntegrations[] =
    "SELECT " TR_CUSTOMER_INTEGRATION_COLUMNS
    " FROM customer_integrations WHERE workspace_id = $1 "
    "AND ($2::integer IS NULL OR active = $2::integer) "
    "ORDER BY created_at, customer_integration_id COLLATE \"C\"";
#undef TR_CUSTOMER_INTEGRATION_COLUMNS
constexpr char kSetCustomerIntegrationActive[] =
    "UPDATE customer_integrations SET active = $2::integer, "
    "updated_at = CASE WHEN active = $2::integer THEN updated_at ELSE $3::bigint END "
    "WHERE customer_integration_id = $1";

constexpr char kClaimBootstrap[] =
    "INSERT INTO meta (key, value) VALUES ('bootstrapped', $1) ON CONFLICT DO NOTHING";
constexpr char kSchemaVersion[] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";

CustomerIntegration ReadCustomerIntegration(const PgResult& r, int row) {
  CustomerIntegration ci;
  ci.customer_integration_id = r.Text(row, 0);
  ci.workspace_id = r.Text(row, 1);
  ci.integration_id = r.Text(row, 2);
  ci.source = r.Text(row, 3) == "custom" ? IntegrationSource::kCustom : IntegrationSource::kCatalog;
  ci.auth_type = ParseAuthType(r.Text(row, 4)).value_or(AuthType::kNone);
  ci.active = r.Int(row, 5) != 0;
  ci.client_id = r.Text(row, 6);
  if (!r.IsNull(row, 8)) ci.client_secret = SealedSecret{r.Text(row, 7), r.Bytes(row, 8)};
  if (!r.IsNull(row, 9)) {
    std::vector<std::string> scopes;
    boost::json::value v = boost::json::parse(r.Text(row, 9));
    for (const auto& item : v.as_array()) scopes.emplace_back(item.as_string());
    ci.scopes = std::move(scopes);
  }
  ci.external_id = r.Text(row, 10);
  ci.created_at = r.Int(row, 11);
  ci.updated_at = r.Int(row, 12);
  return ci;
}

}  // namespace

Error PgStore::ToError(const PgError& e) {
  spdlog::error("postgresql error {}: {}", e.sqlstate.empty() ? "(no answer)" : e.sqlstate,
                e.detail);
  const std::string& state = e.sqlstate;
  // No server answer, connection exceptions (08), resources (53), operator intervention
  // such as a shutdown or a statement timeout (57), serialization/deadlock (40), a lock
  // timeout (55P03): the database is not available right now.
  if (state.empty() || state.starts_with("08") || state.starts_with("53") ||
      state.starts_with("57") || state.starts_with("40") || state == "55P03") {
    return Error(Errc::kUnavailable, "Database unavailable");
  }
  if (state.starts_with("23")) return Error(Errc::kConflict, "Already exists");
  return Error(Errc::kInternal, "Internal server error");
}

Result<std::unique_ptr<PgStore>> PgStore::Open(const std::string& url) {
  std::unique_ptr<PgStore> store(new PgStore(url));
  try {
    auto db = std::make_unique<PgConn>(url);
    ApplyPgMigrations(*db, SystemClock().NowMillis());
    std::lock_guard lock(store->mu_);
    store->idle_.push_back(std::move(db));
    store->open_ = 1;
  } catch (const PgError& e) {
    // The URL may hold a password: name only the failure.
    spdlog::error("cannot open the PostgreSQL database: {}", e.detail);
    return Error(Errc::kUnavailable, "cannot open the PostgreSQL database: " + e.detail);
  }
  return store;
}

PgStore::~PgStore() { StopWatching(); }

PgStore::Pooled PgStore::Acquire() {
  std::unique_lock lock(mu_);
  ++waiting_;
  bool ready = released_.wait_for(lock, kAcquireWait,
                                  [&] { return !idle_.empty() || open_ < kMaxConnections; });
  --waiting_;
  if (!ready) throw PgError{"", "every pooled connection stayed busy", false};
  if (!idle_.empty()) {
    Pooled pooled{std::move(idle_.back()), true};
    idle_.pop_back();
    return pooled;
  }
  ++open_;
  lock.unlock();
  try {
    return Pooled{std::make_unique<PgConn>(url_), false};
  } catch (...) {
    lock.lock();
    --open_;
    lock.unlock();
    released_.notify_one();
    throw;
  }
}

void PgStore::Release(std::unique_ptr<PgConn> conn) {
  {
    std::lock_guard lock(mu_);
    if (conn->Idle()) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;
    }
  }
  released_.notify_one();
}

Status PgStore::Transact(const TxFn& fn) {
  for (int attempt = 0;; ++attempt) {
    Pooled pooled;
    bool begun = false;
    try {
      pooled = Acquire();
      PgConn& db = *pooled.conn;
      db.Run(kBegin);
      begun = true;
      Status status = Ok{};
      try {
        status = fn(db);
      } catch (const std::exception& e) {
        spdlog::error("a write failed: {}", e.what());
        status = Error(Errc::kInternal, "Internal server error");
      }
      db.Run(status.ok() ? kCommit : kRollback);
      if (status.ok()) ++commits_;
      Release(std::move(pooled.conn));
      return status;
    } catch (const PgError& e) {
      if (pooled.conn) {
        if (begun && pooled.conn->Healthy()) {
          try {
            pooled.conn->Run(kRollback);
          } catch (const PgError&) {
            // Dropped below as unhealthy.
          }
        }
        Release(std::move(pooled.conn));
      }
      // A stale pooled connection (the server restarted): nothing was sent, try a fresh one.
      if (!begun && e.connection_lost && !e.timed_out && pooled.reused && attempt == 0) continue;
      return ToError(e);
    }
  }
}

Status PgStore::TransactConfig(const TxFn& fn) {
  Status status = Transact(fn);
  // Whatever the outcome (a COMMIT whose answer was lost may have committed), caches filled
  // before this write are not used after it returns.
  generation_.fetch_add(1);
  return status;
}

Status PgStore::CreateWorkspace(const Workspace& ws) {
  return TransactConfig([&](PgConn& db) -> Status {
    db.Run(kInsertWorkspace, PgParams().Add(ws.workspace_id).Add(ws.name).Add(ws.created_at));
    return Ok{};
  });
}

Result<std::optional<Workspace>> PgStore::FindWorkspace(const std::string& workspace_id) {
  return Read<std::optional<Workspace>>([&](PgConn& db) -> std::optional<Workspace> {
    PgResult r = db.Run(kSelectWorkspace, PgParams().Add(workspace_id));
    if (r.Rows() == 0) return std::nullopt;
    return Workspace{r.Text(0, 0), r.Text(0, 1), r.Int(0, 2)};
  });
}

Status PgStore::AddRedirectOrigin(const std::string& workspace_id, const std::string& origin) {
  return TransactConfig([&](PgConn& db) -> Status {
    db.Run(kInsertOrigin, PgParams().Add(workspace_id).Add(origin));
    return Ok{};
  });
}

Result<std::vector<std::string>> PgStore::ListRedirectOrigins(const std::string& workspace_id) {
  return Read<std::vector<std::string>>([&](PgConn& db) {
    std::vector<std::string> out;
    PgResult r = db.Run(kSelectOrigins, PgParams().Add(workspace_id));
    for (int i = 0; i < r.Rows(); ++i) out.push_back(r.Text(i, 0));
    return out;
  });
}

Status PgStore::CreateApiKey(const ApiKeyRecord& key) {
  return TransactConfig([&](PgConn& db) -> Status {
    db.Run(kInsertApiKey,
           PgParams().Add(key.key_id).Add(key.workspace_id).Add(key.key_hash).Add(key.created_at));
    return Ok{};
  });
}

Status PgStore::RevokeApiKey(const std::string& key_id, int64_t now) {
  return TransactConfig([&](PgConn& db) -> Status {
    if (db.Run(kRevokeApiKey, PgParams().Add(key_id).Add(now)).Affected() == 0) {
      return Error(Errc::kNotFound, "API key not found");
    }
    return Ok{};
  });
}

Result<std::optional<ApiKeyRecord>> PgStore::FindApiKeyByHash(const std::string& key_hash) {
  return Read<std::optional<ApiKeyRecord>>([&](PgConn& db) -> std::optional<ApiKeyRecord> {
    PgResult r = db.Run(kSelectApiKeyByHash, PgParams().Add(key_hash));
    if (r.Rows() == 0) return std::nullopt;
    return ApiKeyRecord{r.Text(0, 0), r.Text(0, 1), r.Text(0, 2), r.Int(0, 3), r.OptionalInt(0, 4)};
  });
}

Status PgStore::PutCustomIntegration(const CustomIntegration& ci) {
  return TransactConfig([&](PgConn& db) -> Status {
    db.Run(kUpsertCustomIntegration, PgParams()
                                         .Add(ci.workspace_id)
                                         .Add(ci.integration_id)
                                         .Add(ci.definition_json)
                                         .Add(ci.updated_at)
                                         .Add(ci.created_at));
    return Ok{};
  });
}

Result<std::optional<CustomIntegration>> PgStore::FindCustomIntegration(
    const std::string& workspace_id, const std::string& integration_id) {
  return Read<std::optional<CustomIntegration>>([&](PgConn& db)
                                                    -> std::optional<CustomIntegration> {
    PgResult r = db.Run(kSelectCustomIntegration, PgParams().Add(workspace_id).Add(integration_id));
    if (r.Rows() == 0) return std::nullopt;
    return CustomIntegration{r.Text(0, 0), r.Text(0, 1), r.Text(0, 2), r.Int(0, 3), r.Int(0, 4)};
  });
}

Status PgStore::CreateCustomerIntegration(const CustomerIntegration& ci) {
  PgParams params;
  params.Add(ci.customer_integration_id)
      .Add(ci.workspace_id)
      .Add(ci.integration_id)
      .Add(ci.source == IntegrationSource::kCustom ? "custom" : "catalog")
      .Add(AuthTypeName(ci.auth_type))
      .Add(int64_t{ci.active})
      .Add(ci.client_id);
  if (ci.client_secret.empty()) {
    params.AddNull().AddNull();
  } else {
    params.Add(ci.client_secret.key_id).AddBytes(ci.client_secret.blob);
  }
  if (ci.scopes) {
    params.Add(boost::json::serialize(boost::json::value_from(*ci.scopes)));
  } else {
    params.AddNull();
  }
  params.Add(ci.external_id).Add(ci.created_at).Add(ci.updated_at);
  return TransactConfig([&](PgConn& db) -> Status {
    db.Run(kInsertCustomerIntegration, params);
    return Ok{};
  });
}

Result<std::optional<CustomerIntegration>> PgStore::FindCustomerIntegration(
    const std::string& customer_integration_id) {
  return Read<std::optional<CustomerIntegration>>(
      [&](PgConn& db) -> std::optional<CustomerIntegration> {
        PgResult r = db.Run(kSelectCustomerIntegration, PgParams().Add(customer_integration_id));
        if (r.Rows() == 0) return std::nullopt;
        return ReadCustomerIntegration(r, 0);
      });
}

Status PgStore::SetCustomerIntegrationActive(const std::string& customer_integration_id,
                                             bool active, int64_t now) {
  return TransactConfig([&](PgConn& db) -> Status {
    PgParams params;
    params.Add(customer_integration_id).Add(int64_t{active}).Add(now);
    if (db.Run(kSetCustomerIntegrationActive, params).Affected() == 0) {
      return Error(Errc::kNotFound, "Customer integration not found");
    }
    return Ok{};
  });
}

Result<std::vector<CustomerIntegration>> PgStore::ListCustomerIntegrations(
    const std::string& workspace_id, std::optional<bool> active) {
  return Read<std::vector<CustomerIntegration>>([&](PgConn& db) {
    std::vector<CustomerIntegration> out;
    PgParams params;
    params.Add(workspace_id);
    if (active) {
      params.Add(int64_t{*active});
    } else {
      params.AddNull();
    }
    PgResult r = db.Run(kSelectCustomerIntegrations, params);
    for (int i = 0; i < r.Rows(); ++i) out.push_back(ReadCustomerIntegration(r, i));
    return out;
  });
}

Result<bool> PgStore::BootstrapOnce(const Workspace& ws, const ApiKeyRecord& key) {
  bool claimed = false;
  Status status = TransactConfig([&](PgConn& db) -> Status {
    claimed = false;
    if (db.Run(kClaimBootstrap, PgParams().Add(ws.workspace_id)).Affected() == 0) return Ok{};
    db.Run(kInsertWorkspace, PgParams().Add(ws.workspace_id).Add(ws.name).Add(ws.created_at));
    db.Run(kInsertApiKey,
           PgParams().Add(key.key_id).Add(key.workspace_id).Add(key.key_hash).Add(key.created_at));
    claimed = true;
    return Ok{};
  });
  if (!status) return status.error();
  return claimed;
}

Status PgStore::Ping() {
  auto version = Read<int64_t>([](PgConn& db) { return db.Run(kSchemaVersion).Int(0, 0); });
  if (!version) return version.error();
  if (*version != LatestPgMigration()) {
    return Error(Errc::kUnavailable, "Database schema is not at the expected version");
  }
  return Ok{};
}

Store::Stats PgStore::GetStats() {
  Stats stats;
  std::lock_guard lock(mu_);
  stats.idle_connections = static_cast<double>(idle_.size());
  stats.queued_writes = static_cast<double>(waiting_);  // callers waiting for a connection
  stats.commits = static_cast<double>(commits_.load());
  return stats;
}

}  // namespace tr
