// PgStore: bounded storage, the retention pass's deletes (PostgreSQL's autovacuum gives the
// space back; Compact is the default no-op).
#include "store/pg_store.h"

namespace tr {

namespace {

constexpr char kPurgeSessions[] =
    "DELETE FROM connect_sessions WHERE token_hash IN (SELECT token_hash FROM connect_sessions "
    "WHERE expires_at < $1 LIMIT $2)";
// A user that another transaction is giving a new session meanwhile is skipped (SKIP LOCKED
// on the row its foreign key check locks) and looked at again in a later pass.
constexpr char kPurgeUsers[] =
    "DELETE FROM integration_users WHERE (customer_integration_id, user_id) IN ("
    "SELECT u.customer_integration_id, u.user_id FROM integration_users u "
    "WHERE u.active = 0 AND u.credentials IS NULL AND u.created_at < $1 AND NOT EXISTS ("
    "SELECT 1 FROM connect_sessions s WHERE s.customer_integration_id = u.customer_integration_id "
    "AND s.user_id = u.user_id) LIMIT $2 FOR UPDATE SKIP LOCKED)";
constexpr char kPurgeEvents[] =
    "DELETE FROM webhook_outbox WHERE event_id IN (SELECT event_id FROM webhook_outbox "
    "WHERE created_at < $1 AND (delivered_at IS NOT NULL OR next_attempt_at IS NULL) LIMIT $2)";

}  // namespace

Result<Store::Purged> PgStore::PurgeFinished(int64_t before, int limit) {
  Purged purged;
  Status status = Transact([&](PgConn& db) -> Status {
    PgParams params;
    params.Add(before).Add(int64_t{limit});
    purged.sessions = db.Run(kPurgeSessions, params).Affected();
    purged.users = db.Run(kPurgeUsers, params).Affected();
    purged.events = db.Run(kPurgeEvents, params).Affected();
    return Ok{};
  });
  if (!status) return status.error();
  return purged;
}

}  // namespace tr
