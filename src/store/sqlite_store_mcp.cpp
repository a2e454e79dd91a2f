// SqliteStore: MCP sessions, and the discovered authorization of remote MCP servers.
#include "store/sqlite_store.h"

namespace tr {

namespace {

constexpr char kDeleteExpiredSessions[] = "DELETE FROM mcp_sessions WHERE expires_at <= ?1";
constexpr char kInsertSession[] =
    "INSERT INTO mcp_sessions (session_hash, workspace_id, protocol_version, url_elicitation, "
    "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr char kSelectSession[] =
    "SELECT session_hash, workspace_id, protocol_version, url_elicitation, created_at, "
    "expires_at FROM mcp_sessions WHERE session_hash = ?1";
constexpr char kDeleteSession[] = "DELETE FROM mcp_sessions WHERE session_hash = ?1";
constexpr char kSelectOAuthClient[] =
    "SELECT sealed_key_id, sealed, updated_at FROM mcp_oauth_clients "
    "WHERE customer_integration_id = ?1";
constexpr char kInsertOAuthClient[] =
    "INSERT INTO mcp_oauth_clients (customer_integration_id, sealed_key_id, sealed, updated_at) "
    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (customer_integration_id) DO NOTHING";
constexpr char kReplaceOAuthClient[] =
    "UPDATE mcp_oauth_clients SET sealed_key_id = ?2, sealed = ?3, updated_at = ?4 "
    "WHERE customer_integration_id = ?1 AND updated_at = ?5";

}  // namespace

Status SqliteStore::CreateMcpSession(const McpSession& session, int64_t now) {
  return Write([&](SqliteDb& db) -> Status {
    db.Prepare(kDeleteExpiredSessions)->Bind(1, now).Run();
    db.Prepare(kInsertSession)
        ->Bind(1, session.session_hash)
        .Bind(2, session.workspace_id)
        .Bind(3, session.protocol_version)
        .Bind(4, int64_t{session.url_elicitation ? 1 : 0})
        .Bind(5, session.created_at)
        .Bind(6, session.expires_at)
        .Run();
    return Ok{};
  });
}

Result<std::optional<McpSession>> SqliteStore::FindMcpSession(const std::string& session_hash) {
  return Read<std::optional<McpSession>>([&](SqliteDb& db) -> std::optional<McpSession> {
    auto s = db.Prepare(kSelectSession);
    s->Bind(1, session_hash);
    if (!s->Step()) return std::nullopt;
    return McpSession{s->Text(0), s->Text(1), s->Text(2), s->Int(3) != 0, s->Int(4), s->Int(5)};
  });
}

Result<bool> SqliteStore::DeleteMcpSession(const std::string& session_hash) {
  bool deleted = false;
  Status status = Write([&](SqliteDb& db) -> Status {
    deleted = db.Prepare(kDeleteSession)->Bind(1, session_hash).Run() > 0;
    return Ok{};
  });
  if (!status) return status.error();
  return deleted;
}

Result<std::optional<McpOAuthClient>> SqliteStore::FindMcpOAuthClient(
    const std::string& customer_integration_id) {
  return Read<std::optional<McpOAuthClient>>([&](SqliteDb& db) -> std::optional<McpOAuthClient> {
    auto s = db.Prepare(kSelectOAuthClient);
    s->Bind(1, customer_integration_id);
    if (!s->Step()) return std::nullopt;
    return McpOAuthClient{customer_integration_id, SealedSecret{s->Text(0), s->Blob(1)}, s->Int(2)};
  });
}

Result<bool> SqliteStore::PutMcpOAuthClient(const McpOAuthClient& row,
                                            std::optional<int64_t> replaces) {
  bool written = false;
  Status status = Write([&](SqliteDb& db) -> Status {
    auto s = db.Prepare(replaces ? kReplaceOAuthClient : kInsertOAuthClient);
    s->Bind(1, row.customer_integration_id)
        .Bind(2, row.sealed.key_id)
        .BindBlob(3, row.sealed.blob)
        .Bind(4, row.updated_at);
    if (replaces) s->Bind(5, *replaces);
    written = s->Run() > 0;
    return Ok{};
  });
  if (!status) return status.error();
  return written;
}

}  // namespace tr
