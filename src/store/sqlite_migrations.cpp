// The SQLite schema as numbered migrations. Applied in order at open; never edited once
// released: a change to the schema is a new migration. See docs/data-model.md.

#include "store/sqlite_store.h"

namespace tr {

namespace {

constexpr const char* kMigrations[] = {
    // 1: the core objects of CONTRACT section 1.
    R"sql(
CREATE TABLE workspaces (
  workspace_id TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  created_at   INTEGER NOT NULL
);
CREATE TABLE redirect_origins (
  workspace_id TEXT NOT NULL REFERENCES workspaces(workspace_id),
  origin       TEXT NOT NULL,
  PRIMARY KEY (workspace_id, origin)
);
CREATE TABLE api_keys (
  key_id       TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(workspace_id),
  key_hash     TEXT NOT NULL UNIQUE,
  created_at   INTEGER NOT NULL,
  revoked_at   INTEGER
);
CREATE TABLE custom_integrations (
  workspace_id    TEXT NOT NULL REFERENCES workspaces(workspace_id),
  integration_id  TEXT NOT NULL,
  definition_json TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, integration_id)
);
CREATE TABLE customer_integrations (
  customer_integration_id TEXT PRIMARY KEY,
  workspace_id            TEXT NOT NULL REFERENCES workspaces(workspace_id),
  integration_id          TEXT NOT NULL,
  source                  TEXT NOT NULL CHECK (source IN ('catalog', 'custom')),
  auth_type               TEXT NOT NULL,
  active                  INTEGER NOT NULL,
  client_id               TEXT NOT NULL,
  client_secret_key_id    TEXT,
  client_secret           BLOB,
  scopes_json             TEXT,
  external_id             TEXT NOT NULL,
  created_at              INTEGER NOT NULL,
  updated_at              INTEGER NOT NULL
);
CREATE INDEX customer_integrations_by_workspace
  ON customer_integrations (workspace_id, active, created_at, customer_integration_id);
CREATE TABLE integration_users (
  customer_integration_id TEXT NOT NULL REFERENCES customer_integrations(customer_integration_id),
  user_id                 TEXT NOT NULL,
  active                  INTEGER NOT NULL,
  credentials_key_id      TEXT,
  credentials             BLOB,
  created_at              INTEGER NOT NULL,
  updated_at              INTEGER NOT NULL,
  PRIMARY KEY (customer_integration_id, user_id)
) WITHOUT ROWID;
CREATE TABLE connect_sessions (
  token_hash              TEXT PRIMARY KEY,
  customer_integration_id TEXT NOT NULL,
  user_id                 TEXT NOT NULL,
  redirect_uri            TEXT NOT NULL,
  state_hash              TEXT NOT NULL UNIQUE,
  pkce_key_id             TEXT NOT NULL,
  pkce_verifier           BLOB NOT NULL,
  created_at              INTEGER NOT NULL,
  expires_at              INTEGER NOT NULL,
  used_at                 INTEGER,
  FOREIGN KEY (customer_integration_id, user_id)
    REFERENCES integration_users (customer_integration_id, user_id)
) WITHOUT ROWID;
CREATE INDEX connect_sessions_by_expiry ON connect_sessions (expires_at);
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql",
    // 2: counting form submissions per connect session (brute-force limit).
    R"sql(
ALTER TABLE connect_sessions ADD COLUMN submissions INTEGER NOT NULL DEFAULT 0;
)sql",
    // 3: credentials lifecycle: token expiry for the sweeper, refresh leases, webhooks.
    R"sql(
ALTER TABLE integration_users ADD COLUMN access_expires_at INTEGER;
CREATE INDEX integration_users_by_expiry ON integration_users (access_expires_at)
  WHERE active = 1 AND access_expires_at IS NOT NULL;
CREATE TABLE refresh_leases (
  customer_integration_id TEXT NOT NULL,
  user_id                 TEXT NOT NULL,
  holder                  TEXT NOT NULL,
  expires_at              INTEGER NOT NULL,
  PRIMARY KEY (customer_integration_id, user_id)
) WITHOUT ROWID;
CREATE TABLE webhooks (
  workspace_id  TEXT PRIMARY KEY REFERENCES workspaces(workspace_id),
  url           TEXT NOT NULL,
  secret_key_id TEXT NOT NULL,
  secret        BLOB NOT NULL,
  updated_at    INTEGER NOT NULL
);
CREATE TABLE webhook_outbox (
  event_id        TEXT PRIMARY KEY,
  workspace_id    TEXT NOT NULL,
  type            TEXT NOT NULL,
  payload         TEXT NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL,
  next_attempt_at INTEGER,
  delivered_at    INTEGER
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at)
  WHERE delivered_at IS NULL AND next_attempt_at IS NOT NULL;
)sql",
    // 4: a counter of configuration changes (workspaces, redirect origins, API keys,
    // integrations), bumped by triggers so that every writer, the admin CLI included, moves
    // it: the change stamp the read caches are checked against (core/stamped_cache.h).
    R"sql(
CREATE TABLE config_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 1);
CREATE TRIGGER workspaces_insert_bumps_config AFTER INSERT ON workspaces
  BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER workspaces_update_bumps_config AFTER UPDATE ON workspaces
  BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER workspaces_delete_bumps_config AFTER DELETE ON workspaces
  BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER redirect_origins_insert_bumps_config AFTER INSERT ON redirect_origins
  BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER redirect_origins_update_bumps_config AFTER UPDATE ON redirect_origins
  BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER redirect_origins_delete_bumps_config AFTER DELETE ON redirect_origins
  BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER api_keys_insert_bumps_config AFTER INSERT ON api_keys
  BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER api_keys_update_bumps_config AFTER UPDATE ON api_keys
  BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER api_keys_delete_bumps_config AFTER DELETE ON api_keys
  BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER custom_integrations_insert_bumps_config AFTER INSERT ON custom_integrations
  BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER custom_integrations_update_bumps_config AFTER UPDATE ON custom_integrations
  BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER custom_integrations_delete_bumps_config AFTER DELETE ON custom_integrations
  BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER customer_integrations_insert_bumps_config AFTER INSERT ON customer_integrations
  BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER customer_integrations_update_bumps_config AFTER UPDATE ON customer_integrations
  BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER customer_integrations_delete_bumps_config AFTER DELETE ON customer_integrations
  BEGIN UPDATE config_version SET version = version + 1; END;
)sql",
    // 5: when each API key was last used, for `apikey list`. Apart from api_keys so that
    // recording a use (at most once a minute per key per node) does not move the change
    // stamp of migration 4 and reload every cache.
    R"sql(
CREATE TABLE api_key_usage (
  key_id       TEXT PRIMARY KEY REFERENCES api_keys(key_id),
  last_used_at INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 6: a backoff per user after failed refreshes, so that the sweep skips a failing user
    // until it is due and reaches the others (core/credential_service.h).
    R"sql(
ALTER TABLE integration_users ADD COLUMN refresh_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE integration_users ADD COLUMN next_refresh_at INTEGER;
)sql",
    // 7: bounded storage (core/janitor.h): the indexes that let the retention pass find what
    // it deletes without a scan, and let a user's delete find its sessions (it scanned them all).
    R"sql(
CREATE INDEX connect_sessions_by_user ON connect_sessions (customer_integration_id, user_id);
CREATE INDEX integration_users_never_connected ON integration_users (created_at)
  WHERE active = 0 AND credentials IS NULL;
CREATE INDEX webhook_outbox_finished ON webhook_outbox (created_at)
  WHERE delivered_at IS NOT NULL OR next_attempt_at IS NULL;
)sql",
    // 8: MCP sessions (/v1/mcp), so that every process sharing the database honours one.
    R"sql(
CREATE TABLE mcp_sessions (
  session_hash     TEXT PRIMARY KEY,
  workspace_id     TEXT NOT NULL REFERENCES workspaces(workspace_id),
  protocol_version TEXT NOT NULL,
  url_elicitation  INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  expires_at       INTEGER NOT NULL
);
CREATE INDEX mcp_sessions_expiry ON mcp_sessions (expires_at);
)sql",
    // 9: the discovered authorization of remote MCP servers (core/oauth_clients.h): endpoints
    // and the registered client of each customer integration, sealed.
    R"sql(
CREATE TABLE mcp_oauth_clients (
  customer_integration_id TEXT PRIMARY KEY REFERENCES customer_integrations(customer_integration_id),
  sealed_key_id           TEXT NOT NULL,
  sealed                  BLOB NOT NULL,
  updated_at              INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
};

constexpr char kCreateVersionTable[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
    "applied_at INTEGER NOT NULL)";
constexpr char kCurrentVersion[] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
constexpr char kRecordVersion[] =
    "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)";

}  // namespace

int64_t LatestSqliteMigration() { return static_cast<int64_t>(std::size(kMigrations)); }

void ApplySqliteMigrations(SqliteDb& db, int64_t now_millis) {
  const int64_t latest = static_cast<int64_t>(std::size(kMigrations));
  // Up to date (the common case, e.g. every admin command): a read, no write lock taken.
  try {
    auto stmt = db.Prepare(kCurrentVersion);
    if (stmt->Step() && stmt->Int(0) >= latest) return;
  } catch (const SqliteError&) {
    // No schema_migrations table yet: a new database.
  }
  db.Exec(kCreateVersionTable);
  for (int64_t version = 1; version <= latest; ++version) {
    // IMMEDIATE takes the write lock first, so that processes starting together apply each
    // migration once.
    db.Exec("BEGIN IMMEDIATE");
    try {
      int64_t current = 0;
      {
        auto stmt = db.Prepare(kCurrentVersion);
        stmt->Step();
        current = stmt->Int(0);
      }
      if (current < version) {
        db.Exec(kMigrations[version - 1]);
        db.Prepare(kRecordVersion)->Bind(1, version).Bind(2, now_millis).Run();
      }
      db.Exec("COMMIT");
    } catch (...) {
      db.Exec("ROLLBACK");
      throw;
    }
  }
}

}  // namespace tr
