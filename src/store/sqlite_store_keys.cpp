// SqliteStore: the sealed columns, for master-key rotation.
#include "store/sqlite_store.h"

namespace tr {

namespace {

// One entry per sealed column: how to find values under another key, and how to replace one.
struct SealedColumn {
  SealedKind kind;
  const char* select;   // ?1 = key id to skip, ?2 = limit; returns id1, id2, key_id, blob
  const char* replace;  // ?1 id1, ?2 id2, ?3 old key id, ?4 old blob, ?5 new key id, ?6 new blob
};

constexpr char kSelectClientSecrets[] =
    "SELECT customer_integration_id, '', client_secret_key_id, client_secret "
    "FROM customer_integrations WHERE client_secret IS NOT NULL AND client_secret_key_id <> ?1 "
    "LIMIT ?2";
constexpr char kReplaceClientSecret[] =
    "UPDATE customer_integrations SET client_secret_key_id = ?5, client_secret = ?6 "
    "WHERE customer_integration_id = ?1 AND ?2 = '' AND client_secret_key_id = ?3 "
    "AND client_secret = ?4";
constexpr char kSelectCredentials[] =
    "SELECT customer_integration_id, user_id, credentials_key_id, credentials "
    "FROM integration_users WHERE credentials IS NOT NULL AND credentials_key_id <> ?1 LIMIT ?2";
constexpr char kReplaceCredentials[] =
    "UPDATE integration_users SET credentials_key_id = ?5, credentials = ?6 "
    "WHERE customer_integration_id = ?1 AND user_id = ?2 AND credentials_key_id = ?3 "
    "AND credentials = ?4";
constexpr char kSelectVerifiers[] =
    "SELECT token_hash, '', pkce_key_id, pkce_verifier FROM connect_sessions "
    "WHERE pkce_key_id <> ?1 LIMIT ?2";
constexpr char kReplaceVerifier[] =
    "UPDATE connect_sessions SET pkce_key_id = ?5, pkce_verifier = ?6 "
    "WHERE token_hash = ?1 AND ?2 = '' AND pkce_key_id = ?3 AND pkce_verifier = ?4";
constexpr char kSelectWebhookSecrets[] =
    "SELECT workspace_id, '', secret_key_id, secret FROM webhooks WHERE secret_key_id <> ?1 "
    "LIMIT ?2";
constexpr char kReplaceWebhookSecret[] =
    "UPDATE webhooks SET secret_key_id = ?5, secret = ?6 "
    "WHERE workspace_id = ?1 AND ?2 = '' AND secret_key_id = ?3 AND secret = ?4";

constexpr char kSelectMcpOAuthClients[] =
    "SELECT customer_integration_id, '', sealed_key_id, sealed FROM mcp_oauth_clients "
    "WHERE sealed_key_id <> ?1 LIMIT ?2";
constexpr char kReplaceMcpOAuthClient[] =
    "UPDATE mcp_oauth_clients SET sealed_key_id = ?5, sealed = ?6 "
    "WHERE customer_integration_id = ?1 AND ?2 = '' AND sealed_key_id = ?3 AND sealed = ?4";

constexpr SealedColumn kColumns[] = {
    {SealedKind::kClientSecret, kSelectClientSecrets, kReplaceClientSecret},
    {SealedKind::kCredentials, kSelectCredentials, kReplaceCredentials},
    {SealedKind::kPkceVerifier, kSelectVerifiers, kReplaceVerifier},
    {SealedKind::kWebhookSecret, kSelectWebhookSecrets, kReplaceWebhookSecret},
    {SealedKind::kMcpOAuthClient, kSelectMcpOAuthClients, kReplaceMcpOAuthClient},
};

}  // namespace

Result<std::vector<SealedRow>> SqliteStore::ListSealedNotUnder(const std::string& key_id,
                                                               int limit) {
  return Read<std::vector<SealedRow>>([&](SqliteDb& db) {
    std::vector<SealedRow> rows;
    for (const SealedColumn& column : kColumns) {
      if (static_cast<int>(rows.size()) >= limit) break;
      auto s = db.Prepare(column.select);
      s->Bind(1, key_id).Bind(2, int64_t{limit - static_cast<int>(rows.size())});
      while (s->Step()) {
        rows.push_back(SealedRow{column.kind, s->Text(0), s->Text(1),
                                 SealedSecret{s->Text(2), s->Blob(3)}});
      }
    }
    return rows;
  });
}

Result<bool> SqliteStore::ReplaceSealed(const SealedRow& row, const SealedSecret& fresh) {
  bool replaced = false;
  Status status = Write([&](SqliteDb& db) -> Status {
    for (const SealedColumn& column : kColumns) {
      if (column.kind != row.kind) continue;
      replaced = db.Prepare(column.replace)
                     ->Bind(1, row.id1)
                     .Bind(2, row.id2)
                     .Bind(3, row.secret.key_id)
                     .BindBlob(4, row.secret.blob)
                     .Bind(5, fresh.key_id)
                     .BindBlob(6, fresh.blob)
                     .Run() > 0;
    }
    return Ok{};
  });
  if (!status) return status.error();
  return replaced;
}

}  // namespace tr
