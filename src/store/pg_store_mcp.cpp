// PgStore: MCP sessions, and the discovered authorization of remote MCP servers.
#include "store/pg_store.h"

namespace tr {

namespace {

constexpr char kDeleteExpiredSessions[] = "DELETE FROM mcp_sessions WHERE expires_at <= $1";
constexpr char kInsertSession[] =
    "INSERT INTO mcp_sessions (session_hash, workspace_id, protocol_version, url_elicitation, "
    "created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
constexpr char kSelectSession[] =
    "SELECT session_hash, workspace_id, protocol_version, url_elicitation, created_at, "
    "expires_at FROM mcp_sessions WHERE session_hash = $1";
constexpr char kDeleteSession[] = "DELETE FROM mcp_sessions WHERE session_hash = $1";
constexpr char kSelectOAuthClient[] =
    "SELECT sealed_key_id, sealed, updated_at FROM mcp_oauth_clients "
    "WHERE customer_integration_id = $1";
constexpr char kInsertOAuthClient[] =
    "INSERT INTO mcp_oauth_clients (customer_integration_id, sealed_key_id, sealed, updated_at) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (customer_integration_id) DO NOTHING";
constexpr char kReplaceOAuthClient[] =
    "UPDATE mcp_oauth_clients SET sealed_key_id = $2, sealed = $3, updated_at = $4 "
    "WHERE customer_integration_id = $1 AND updated_at = $5";

}  // namespace

Status PgStore::CreateMcpSession(const McpSession& session, int64_t now) {
  return Transact([&](PgConn& db) -> Status {
    db.Run(kDeleteExpiredSessions, PgParams().Add(now));
    db.Run(kInsertSession, PgParams()
                               .Add(session.session_hash)
                               .Add(session.workspace_id)
                               .Add(session.protocol_version)
                               .Add(int64_t{session.url_elicitation ? 1 : 0})
                               .Add(session.created_at)
                               .Add(session.expires_at));
    return Ok{};
  });
}

Result<std::optional<McpSession>> PgStore::FindMcpSession(const std::string& session_hash) {
  return Read<std::optional<McpSession>>([&](PgConn& db) -> std::optional<McpSession> {
    PgResult r = db.Run(kSelectSession, PgParams().Add(session_hash));
    if (r.Rows() == 0) return std::nullopt;
    return McpSession{r.Text(0, 0),     r.Text(0, 1), r.Text(0, 2),
                      r.Int(0, 3) != 0, r.Int(0, 4),  r.Int(0, 5)};
  });
}

Result<bool> PgStore::DeleteMcpSession(const std::string& session_hash) {
  bool deleted = false;
  Status status = Transact([&](PgConn& db) -> Status {
    deleted = db.Run(kDeleteSession, PgParams().Add(session_hash)).Affected() > 0;
    return Ok{};
  });
  if (!status) return status.error();
  return deleted;
}

Result<std::optional<McpOAuthClient>> PgStore::FindMcpOAuthClient(
    const std::string& customer_integration_id) {
  return Read<std::optional<McpOAuthClient>>([&](PgConn& db) -> std::optional<McpOAuthClient> {
    PgResult r = db.Run(kSelectOAuthClient, PgParams().Add(customer_integration_id));
    if (r.Rows() == 0) return std::nullopt;
    return McpOAuthClient{customer_integration_id, SealedSecret{r.Text(0, 0), r.Bytes(0, 1)},
                          r.Int(0, 2)};
  });
}

Result<bool> PgStore::PutMcpOAuthClient(const McpOAuthClient& row,
                                        std::optional<int64_t> replaces) {
  bool written = false;
  Status status = Transact([&](PgConn& db) -> Status {
    PgParams params;
    params.Add(row.customer_integration_id)
        .Add(row.sealed.key_id)
        .AddBytes(row.sealed.blob)
        .Add(row.updated_at);
    if (replaces) params.Add(*replaces);
    written = db.Run(replaces ? kReplaceOAuthClient : kInsertOAuthClient, params).Affected() > 0;
    return Ok{};
  });
  if (!status) return status.error();
  return written;
}

}  // namespace tr
