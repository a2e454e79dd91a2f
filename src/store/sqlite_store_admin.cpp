// SqliteStore: the admin listings (`workspace list`, `apikey list`) and the record of API
// key use they show.
#include "store/sqlite_store.h"

namespace tr {

namespace {

constexpr char kListWorkspaces[] =
    "SELECT workspace_id, name, created_at FROM workspaces ORDER BY created_at, workspace_id";
constexpr char kListApiKeys[] =
    "SELECT k.key_id, k.workspace_id, k.created_at, k.revoked_at, u.last_used_at "
    "FROM api_keys k LEFT JOIN api_key_usage u ON u.key_id = k.key_id "
    "WHERE k.workspace_id = ?1 ORDER BY k.created_at, k.key_id";
constexpr char kRecordApiKeyUse[] =
    "INSERT INTO api_key_usage (key_id, last_used_at) VALUES (?1, ?2) "
    "ON CONFLICT (key_id) DO UPDATE SET last_used_at = MAX(last_used_at, excluded.last_used_at)";

}  // namespace

Result<std::vector<Workspace>> SqliteStore::ListWorkspaces() {
  return Read<std::vector<Workspace>>([&](SqliteDb& db) {
    std::vector<Workspace> out;
    auto s = db.Prepare(kListWorkspaces);
    while (s->Step()) out.push_back(Workspace{s->Text(0), s->Text(1), s->Int(2)});
    return out;
  });
}

Result<std::vector<ApiKeySummary>> SqliteStore::ListApiKeys(const std::string& workspace_id) {
  return Read<std::vector<ApiKeySummary>>([&](SqliteDb& db) {
    std::vector<ApiKeySummary> out;
    auto s = db.Prepare(kListApiKeys);
    s->Bind(1, workspace_id);
    while (s->Step()) {
      out.push_back(
          ApiKeySummary{s->Text(0), s->Text(1), s->Int(2), s->OptionalInt(3), s->OptionalInt(4)});
    }
    return out;
  });
}

Status SqliteStore::RecordApiKeyUse(const std::string& key_id, int64_t now) {
  return Write([&](SqliteDb& db) -> Status {
    db.Prepare(kRecordApiKeyUse)->Bind(1, key_id).Bind(2, now).Run();
    return Ok{};
  });
}

}  // namespace tr
