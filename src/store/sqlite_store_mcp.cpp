// SqliteStore: MCP sessions.
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

}  // namespace tr
