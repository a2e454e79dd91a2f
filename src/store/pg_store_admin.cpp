// PgStore: the admin listings (`workspace list`, `apikey list`) and the record of API key
// use they show.
#include "store/pg_store.h"

namespace tr {

namespace {

constexpr char kListWorkspaces[] =
    "SELECT workspace_id, name, created_at FROM workspaces "
    "ORDER BY created_at, workspace_id COLLATE \"C\"";
constexpr char kListApiKeys[] =
    "SELECT k.key_id, k.workspace_id, k.created_at, k.revoked_at, u.last_used_at "
    "FROM api_keys k LEFT JOIN api_key_usage u ON u.key_id = k.key_id "
    "WHERE k.workspace_id = $1 ORDER BY k.created_at, k.key_id COLLATE \"C\"";
// No trigger on api_key_usage: a use does not move the change stamp.
constexpr char kRecordApiKeyUse[] =
    "INSERT INTO api_key_usage (key_id, last_used_at) VALUES ($1, $2) ON CONFLICT (key_id) "
    "DO UPDATE SET last_used_at = GREATEST(api_key_usage.last_used_at, excluded.last_used_at)";

}  // namespace

Result<std::vector<Workspace>> PgStore::ListWorkspaces() {
  return Read<std::vector<Workspace>>([&](PgConn& db) {
    std::vector<Workspace> out;
    PgResult r = db.Run(kListWorkspaces, PgParams());
    for (int i = 0; i < r.Rows(); ++i)
      out.push_back(Workspace{r.Text(i, 0), r.Text(i, 1), r.Int(i, 2)});
    return out;
  });
}

Result<std::vector<ApiKeySummary>> PgStore::ListApiKeys(const std::string& workspace_id) {
  return Read<std::vector<ApiKeySummary>>([&](PgConn& db) {
    std::vector<ApiKeySummary> out;
    PgResult r = db.Run(kListApiKeys, PgParams().Add(workspace_id));
    for (int i = 0; i < r.Rows(); ++i) {
      out.push_back(ApiKeySummary{r.Text(i, 0), r.Text(i, 1), r.Int(i, 2), r.OptionalInt(i, 3),
                                  r.OptionalInt(i, 4)});
    }
    return out;
  });
}

Status PgStore::RecordApiKeyUse(const std::string& key_id, int64_t now) {
  return Transact([&](PgConn& db) -> Status {
    db.Run(kRecordApiKeyUse, PgParams().Add(key_id).Add(now));
    return Ok{};
  });
}

}  // namespace tr
