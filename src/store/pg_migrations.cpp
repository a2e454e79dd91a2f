// The PostgreSQL schema as numbered migrations: the same logical schema as SQLite's
// (store/sqlite_migrations.cpp) with PostgreSQL types: BIGINT milliseconds, BYTEA sealed
// values, TEXT, and the 0/1 flags kept as INTEGER so that export/import copies values
// unchanged. Never edited once released: a change to the schema is a new migration.
// See docs/data-model.md.

#include "store/pg_store.h"

namespace tr {

namespace {

constexpr const char* kMigrations[] = {
    // 1: the schema of SQLite migrations 1-3.
    R"sql(
CREATE TABLE workspaces (
  workspace_id TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  created_at   BIGINT NOT NULL
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
  created_at   BIGINT NOT NULL,
  revoked_at   BIGINT
);
CREATE TABLE custom_integrations (
  workspace_id    TEXT NOT NULL REFERENCES workspaces(workspace_id),
  integration_id  TEXT NOT NULL,
  definition_json TEXT NOT NULL,
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
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
  client_secret           BYTEA,
  scopes_json             TEXT,
  external_id             TEXT NOT NULL,
  created_at              BIGINT NOT NULL,
  updated_at              BIGINT NOT NULL
);
CREATE INDEX customer_integrations_by_workspace
  ON customer_integrations (workspace_id, active, created_at, customer_integration_id);
CREATE TABLE integration_users (
  customer_integration_id TEXT NOT NULL REFERENCES customer_integrations(customer_integration_id),
  user_id                 TEXT NOT NULL,
  active                  INTEGER NOT NULL,
  credentials_key_id      TEXT,
  credentials             BYTEA,
  created_at              BIGINT NOT NULL,
  updated_at              BIGINT NOT NULL,
  access_expires_at       BIGINT,
  PRIMARY KEY (customer_integration_id, user_id)
);
CREATE INDEX integration_users_by_expiry ON integration_users (access_expires_at)
  WHERE active = 1 AND access_expires_at IS NOT NULL;
CREATE TABLE connect_sessions (
  token_hash              TEXT PRIMARY KEY,
  customer_integration_id TEXT NOT NULL,
  user_id                 TEXT NOT NULL,
  redirect_uri            TEXT NOT NULL,
  state_hash              TEXT NOT NULL UNIQUE,
  pkce_key_id             TEXT NOT NULL,
  pkce_verifier           BYTEA NOT NULL,
  created_at              BIGINT NOT NULL,
  expires_at              BIGINT NOT NULL,
  used_at                 BIGINT,
  submissions             INTEGER NOT NULL DEFAULT 0,
  FOREIGN KEY (customer_integration_id, user_id)
    REFERENCES integration_users (customer_integration_id, user_id)
);
CREATE INDEX connect_sessions_by_expiry ON connect_sessions (expires_at);
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE refresh_leases (
  customer_integration_id TEXT NOT NULL,
  user_id                 TEXT NOT NULL,
  holder                  TEXT NOT NULL,
  expires_at              BIGINT NOT NULL,
  PRIMARY KEY (customer_integration_id, user_id)
);
CREATE TABLE webhooks (
  workspace_id  TEXT PRIMARY KEY REFERENCES workspaces(workspace_id),
  url           TEXT NOT NULL,
  secret_key_id TEXT NOT NULL,
  secret        BYTEA NOT NULL,
  updated_at    BIGINT NOT NULL
);
CREATE TABLE webhook_outbox (
  event_id        TEXT PRIMARY KEY,
  workspace_id    TEXT NOT NULL,
  type            TEXT NOT NULL,
  payload         TEXT NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  created_at      BIGINT NOT NULL,
  next_attempt_at BIGINT,
  delivered_at    BIGINT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at)
  WHERE delivered_at IS NULL AND next_attempt_at IS NOT NULL;
)sql",
    // 2: a counter of configuration changes (workspaces, redirect origins, API keys,
    // integrations), as SQLite's migration 4, bumped by a trigger on every statement that
    // writes one of those tables, so that every writer (another node, an admin command)
    // moves it in the same transaction: the change stamp the read caches are checked
    // against (PgStore::ChangeStamp). A statement-level trigger also fires when no row
    // changed: a needless bump only costs the caches a reload.
    R"sql(
CREATE TABLE config_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version BIGINT NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 1);
CREATE FUNCTION bump_config_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE config_version SET version = version + 1 WHERE id = 1;
  RETURN NULL;
END
$$;
CREATE TRIGGER workspaces_bump_config AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON workspaces FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER redirect_origins_bump_config AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON redirect_origins FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER api_keys_bump_config AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER custom_integrations_bump_config AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON custom_integrations FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER customer_integrations_bump_config AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON customer_integrations FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
)sql",
    // 3: when each API key was last used, as SQLite's migration 5 (no trigger: recording a
    // use does not move the change stamp).
    R"sql(
CREATE TABLE api_key_usage (
  key_id       TEXT PRIMARY KEY REFERENCES api_keys(key_id),
  last_used_at BIGINT NOT NULL
);
)sql",
    // 4: a backoff per user after failed refreshes, as SQLite's migration 6.
    R"sql(
ALTER TABLE integration_users ADD COLUMN refresh_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE integration_users ADD COLUMN next_refresh_at BIGINT;
)sql",
    // 5: bounded storage, as SQLite's migration 7: the retention pass's indexes, and the one
    // a user's delete needs to find its sessions.
    R"sql(
CREATE INDEX connect_sessions_by_user ON connect_sessions (customer_integration_id, user_id);
CREATE INDEX integration_users_never_connected ON integration_users (created_at)
  WHERE active = 0 AND credentials IS NULL;
CREATE INDEX webhook_outbox_finished ON webhook_outbox (created_at)
  WHERE delivered_at IS NOT NULL OR next_attempt_at IS NULL;
)sql",
    // 6: MCP sessions (/v1/mcp), so that every node honours one.
    R"sql(
CREATE TABLE mcp_sessions (
  session_hash     TEXT PRIMARY KEY,
  workspace_id     TEXT NOT NULL REFERENCES workspaces(workspace_id),
  protocol_version TEXT NOT NULL,
  url_elicitation  INTEGER NOT NULL,
  created_at       BIGINT NOT NULL,
  expires_at       BIGINT NOT NULL
);
CREATE INDEX mcp_sessions_expiry ON mcp_sessions (expires_at);
)sql",
    // 7: the discovered authorization of remote MCP servers, as SQLite's migration 9.
    R"sql(
CREATE TABLE mcp_oauth_clients (
  customer_integration_id TEXT PRIMARY KEY REFERENCES customer_integrations(customer_integration_id),
  sealed_key_id           TEXT NOT NULL,
  sealed                  BYTEA NOT NULL,
  updated_at              BIGINT NOT NULL
);
)sql",
};

// Any constant shared by every toolregistry node: the key of the migrations' advisory lock.
constexpr char kLockMigrations[] = "SELECT pg_advisory_xact_lock(7402198511)";
constexpr char kCreateVersionTable[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
    "applied_at BIGINT NOT NULL)";
constexpr char kCurrentVersion[] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
constexpr char kHasVersionTable[] = "SELECT to_regclass('schema_migrations') IS NOT NULL";
constexpr char kRecordVersion[] =
    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1::bigint, $2::bigint)";

}  // namespace

int64_t LatestPgMigration() { return static_cast<int64_t>(std::size(kMigrations)); }

void ApplyPgMigrations(PgConn& db, int64_t now_millis) {
  const int64_t latest = LatestPgMigration();
  // Up to date (the common case, e.g. every admin command): a read, no lock taken.
  if (db.Run(kHasVersionTable).Text(0, 0) == "t" && db.Run(kCurrentVersion).Int(0, 0) >= latest) {
    return;
  }
  db.Exec("BEGIN");
  try {
    db.Run(kLockMigrations);
    db.Exec(kCreateVersionTable);
    for (int64_t version = db.Run(kCurrentVersion).Int(0, 0) + 1; version <= latest; ++version) {
      db.Exec(kMigrations[version - 1]);
      db.Run(kRecordVersion, PgParams().Add(version).Add(now_millis));
    }
    db.Exec("COMMIT");
  } catch (...) {
    try {
      db.Exec("ROLLBACK");
    } catch (const PgError&) {
      // The connection is gone: the server rolled the transaction back.
    }
    throw;
  }
}

}  // namespace tr
