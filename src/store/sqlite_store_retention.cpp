// SqliteStore: bounded storage, the retention pass's deletes and the incremental vacuum.
#include "store/sqlite_store.h"

#include <string>

namespace tr {

namespace {

constexpr char kPurgeSessions[] =
    "DELETE FROM connect_sessions WHERE token_hash IN (SELECT token_hash FROM connect_sessions "
    "WHERE expires_at < ?1 LIMIT ?2)";
// The index integration_users_never_connected holds exactly the users this may delete.
constexpr char kPurgeUsers[] =
    "DELETE FROM integration_users WHERE (customer_integration_id, user_id) IN ("
    "SELECT u.customer_integration_id, u.user_id FROM integration_users u "
    "INDEXED BY integration_users_never_connected "
    "WHERE u.active = 0 AND u.credentials IS NULL AND u.created_at < ?1 AND NOT EXISTS ("
    "SELECT 1 FROM connect_sessions s WHERE s.customer_integration_id = u.customer_integration_id "
    "AND s.user_id = u.user_id) LIMIT ?2)";
constexpr char kPurgeEvents[] =
    "DELETE FROM webhook_outbox WHERE event_id IN (SELECT event_id FROM webhook_outbox "
    "INDEXED BY webhook_outbox_finished "
    "WHERE created_at < ?1 AND (delivered_at IS NOT NULL OR next_attempt_at IS NULL) LIMIT ?2)";
constexpr char kFreePages[] = "PRAGMA freelist_count";

}  // namespace

Result<Store::Purged> SqliteStore::PurgeFinished(int64_t before, int limit) {
  Purged purged;
  Status status = Write([&](SqliteDb& db) -> Status {
    purged.sessions = db.Prepare(kPurgeSessions)->Bind(1, before).Bind(2, int64_t{limit}).Run();
    purged.users = db.Prepare(kPurgeUsers)->Bind(1, before).Bind(2, int64_t{limit}).Run();
    purged.events = db.Prepare(kPurgeEvents)->Bind(1, before).Bind(2, int64_t{limit}).Run();
    return Ok{};
  });
  if (!status) return status.error();
  return purged;
}

Result<int64_t> SqliteStore::Compact(int pages) {
  // A database made before auto_vacuum=INCREMENTAL was set (OpenConnections) keeps its size:
  // its free pages are reused by later writes, and freelist_count says how many there are.
  int64_t left = 0;
  Status status = Write([&](SqliteDb& db) -> Status {
    const std::string vacuum = "PRAGMA incremental_vacuum(" + std::to_string(pages) + ")";
    db.Exec(vacuum.c_str());
    auto count = db.Prepare(kFreePages);
    if (count->Step()) left = count->Int(0);
    return Ok{};
  });
  if (!status) return status.error();
  return incremental_vacuum_ ? left : int64_t{0};
}

}  // namespace tr
