// PgStore: webhooks and their outbox.
#include "store/pg_store.h"

namespace tr {

namespace {

constexpr char kUpsertWebhook[] =
    "INSERT INTO webhooks (workspace_id, url, secret_key_id, secret, updated_at) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workspace_id) DO UPDATE SET url = excluded.url, "
    "secret_key_id = excluded.secret_key_id, secret = excluded.secret, "
    "updated_at = excluded.updated_at";
constexpr char kSelectWebhook[] =
    "SELECT workspace_id, url, secret_key_id, secret FROM webhooks WHERE workspace_id = $1";
constexpr char kEnqueueEvent[] =
    "INSERT INTO webhook_outbox (event_id, workspace_id, type, payload, created_at, "
    "next_attempt_at) SELECT $1::text, $2::text, $3::text, $4::text, $5::bigint, $5::bigint "
    "WHERE EXISTS (SELECT 1 FROM webhooks WHERE workspace_id = $2::text)";
// SKIP LOCKED: processes claiming at the same time take disjoint events, none waits.
constexpr char kClaimEvents[] =
    "UPDATE webhook_outbox SET next_attempt_at = $2 WHERE event_id IN ("
    "SELECT event_id FROM webhook_outbox WHERE delivered_at IS NULL AND "
    "next_attempt_at IS NOT NULL AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $3 "
    "FOR UPDATE SKIP LOCKED) "
    "RETURNING event_id, workspace_id, type, payload, attempts, created_at";
constexpr char kMarkDelivered[] =
    "UPDATE webhook_outbox SET delivered_at = $2, attempts = attempts + 1 WHERE event_id = $1";
constexpr char kMarkFailed[] =
    "UPDATE webhook_outbox SET attempts = $2, next_attempt_at = $3 WHERE event_id = $1";
constexpr char kAnyDueEvent[] =
    "SELECT 1 FROM webhook_outbox WHERE delivered_at IS NULL AND next_attempt_at IS NOT NULL "
    "AND next_attempt_at <= $1 LIMIT 1";

}  // namespace

Result<bool> PgStore::HasDueEvents(int64_t now) {
  return Read<bool>(
      [&](PgConn& db) { return db.Run(kAnyDueEvent, PgParams().Add(now)).Rows() > 0; });
}

Status PgStore::SetWebhook(const Webhook& webhook, int64_t now) {
  return Transact([&](PgConn& db) -> Status {
    db.Run(kUpsertWebhook, PgParams()
                               .Add(webhook.workspace_id)
                               .Add(webhook.url)
                               .Add(webhook.secret.key_id)
                               .AddBytes(webhook.secret.blob)
                               .Add(now));
    return Ok{};
  });
}

Result<std::optional<Webhook>> PgStore::FindWebhook(const std::string& workspace_id) {
  return Read<std::optional<Webhook>>([&](PgConn& db) -> std::optional<Webhook> {
    PgResult r = db.Run(kSelectWebhook, PgParams().Add(workspace_id));
    if (r.Rows() == 0) return std::nullopt;
    return Webhook{r.Text(0, 0), r.Text(0, 1), SealedSecret{r.Text(0, 2), r.Bytes(0, 3)}};
  });
}

void PgStore::InsertEvent(PgConn& db, const OutboxEvent& event) {
  db.Run(kEnqueueEvent, PgParams()
                            .Add(event.event_id)
                            .Add(event.workspace_id)
                            .Add(event.type)
                            .Add(event.payload)
                            .Add(event.created_at));
}

Status PgStore::EnqueueEvent(const OutboxEvent& event) {
  return Transact([&](PgConn& db) -> Status {
    InsertEvent(db, event);
    return Ok{};
  });
}

Result<std::vector<OutboxEvent>> PgStore::ClaimDueEvents(int64_t now, int64_t claim_millis,
                                                         int limit) {
  std::vector<OutboxEvent> events;
  Status status = Transact([&](PgConn& db) -> Status {
    events.clear();
    PgResult r =
        db.Run(kClaimEvents, PgParams().Add(now).Add(now + claim_millis).Add(int64_t{limit}));
    for (int i = 0; i < r.Rows(); ++i) {
      OutboxEvent e;
      e.event_id = r.Text(i, 0);
      e.workspace_id = r.Text(i, 1);
      e.type = r.Text(i, 2);
      e.payload = r.Text(i, 3);
      e.attempts = static_cast<int>(r.Int(i, 4));
      e.created_at = r.Int(i, 5);
      events.push_back(std::move(e));
    }
    return Ok{};
  });
  if (!status) return status.error();
  return events;
}

Status PgStore::MarkEventDelivered(const std::string& event_id, int64_t now) {
  return Transact([&](PgConn& db) -> Status {
    db.Run(kMarkDelivered, PgParams().Add(event_id).Add(now));
    return Ok{};
  });
}

Status PgStore::MarkEventFailed(const std::string& event_id, int attempts,
                                std::optional<int64_t> next_attempt_at) {
  return Transact([&](PgConn& db) -> Status {
    db.Run(kMarkFailed, PgParams().Add(event_id).Add(int64_t{attempts}).Add(next_attempt_at));
    return Ok{};
  });
}

}  // namespace tr
