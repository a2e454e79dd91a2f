// SqliteStore: webhooks and their outbox.
#include "store/sqlite_store.h"

namespace tr {

namespace {

constexpr char kUpsertWebhook[] =
    "INSERT INTO webhooks (workspace_id, url, secret_key_id, secret, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (workspace_id) DO UPDATE SET url = excluded.url, "
    "secret_key_id = excluded.secret_key_id, secret = excluded.secret, "
    "updated_at = excluded.updated_at";
constexpr char kSelectWebhook[] =
    "SELECT workspace_id, url, secret_key_id, secret FROM webhooks WHERE workspace_id = ?1";
constexpr char kEnqueueEvent[] =
    "INSERT INTO webhook_outbox (event_id, workspace_id, type, payload, created_at, "
    "next_attempt_at) SELECT ?1, ?2, ?3, ?4, ?5, ?5 "
    "WHERE EXISTS (SELECT 1 FROM webhooks WHERE workspace_id = ?2)";
constexpr char kClaimEvents[] =
    "UPDATE webhook_outbox SET next_attempt_at = ?2 WHERE event_id IN ("
    "SELECT event_id FROM webhook_outbox WHERE delivered_at IS NULL AND "
    "next_attempt_at IS NOT NULL AND next_attempt_at <= ?1 ORDER BY next_attempt_at LIMIT ?3) "
    "RETURNING event_id, workspace_id, type, payload, attempts, created_at";
constexpr char kMarkDelivered[] =
    "UPDATE webhook_outbox SET delivered_at = ?2, attempts = attempts + 1 WHERE event_id = ?1";
constexpr char kMarkFailed[] =
    "UPDATE webhook_outbox SET attempts = ?2, next_attempt_at = ?3 WHERE event_id = ?1";

constexpr char kAnyDueEvent[] =
    "SELECT 1 FROM webhook_outbox WHERE delivered_at IS NULL AND next_attempt_at IS NOT NULL "
    "AND next_attempt_at <= ?1 LIMIT 1";

}  // namespace

Result<bool> SqliteStore::HasDueEvents(int64_t now) {
  return Read<bool>([&](SqliteDb& db) {
    auto s = db.Prepare(kAnyDueEvent);
    s->Bind(1, now);
    return s->Step();
  });
}

Status SqliteStore::SetWebhook(const Webhook& webhook, int64_t now) {
  return Write([&](SqliteDb& db) -> Status {
    db.Prepare(kUpsertWebhook)
        ->Bind(1, webhook.workspace_id)
        .Bind(2, webhook.url)
        .Bind(3, webhook.secret.key_id)
        .BindBlob(4, webhook.secret.blob)
        .Bind(5, now)
        .Run();
    return Ok{};
  });
}

Result<std::optional<Webhook>> SqliteStore::FindWebhook(const std::string& workspace_id) {
  return Read<std::optional<Webhook>>([&](SqliteDb& db) -> std::optional<Webhook> {
    auto s = db.Prepare(kSelectWebhook);
    s->Bind(1, workspace_id);
    if (!s->Step()) return std::nullopt;
    return Webhook{s->Text(0), s->Text(1), SealedSecret{s->Text(2), s->Blob(3)}};
  });
}

void SqliteStore::InsertEvent(SqliteDb& db, const OutboxEvent& event) {
  db.Prepare(kEnqueueEvent)
      ->Bind(1, event.event_id)
      .Bind(2, event.workspace_id)
      .Bind(3, event.type)
      .Bind(4, event.payload)
      .Bind(5, event.created_at)
      .Run();
}

Status SqliteStore::EnqueueEvent(const OutboxEvent& event) {
  return Write([&](SqliteDb& db) -> Status {
    InsertEvent(db, event);
    return Ok{};
  });
}

Result<std::vector<OutboxEvent>> SqliteStore::ClaimDueEvents(int64_t now, int64_t claim_millis,
                                                             int limit) {
  std::vector<OutboxEvent> events;
  Status status = Write([&](SqliteDb& db) -> Status {
    events.clear();
    auto s = db.Prepare(kClaimEvents);
    s->Bind(1, now).Bind(2, now + claim_millis).Bind(3, int64_t{limit});
    while (s->Step()) {
      OutboxEvent e;
      e.event_id = s->Text(0);
      e.workspace_id = s->Text(1);
      e.type = s->Text(2);
      e.payload = s->Text(3);
      e.attempts = static_cast<int>(s->Int(4));
      e.created_at = s->Int(5);
      events.push_back(std::move(e));
    }
    return Ok{};
  });
  if (!status) return status.error();
  return events;
}

Status SqliteStore::MarkEventDelivered(const std::string& event_id, int64_t now) {
  return Write([&](SqliteDb& db) -> Status {
    db.Prepare(kMarkDelivered)->Bind(1, event_id).Bind(2, now).Run();
    return Ok{};
  });
}

Status SqliteStore::MarkEventFailed(const std::string& event_id, int attempts,
                                    std::optional<int64_t> next_attempt_at) {
  return Write([&](SqliteDb& db) -> Status {
    db.Prepare(kMarkFailed)->Bind(1, event_id).Bind(2, int64_t{attempts}).Bind(3, next_attempt_at).Run();
    return Ok{};
  });
}

}  // namespace tr
