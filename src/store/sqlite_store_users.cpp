// SqliteStore: integration users, connect sessions, credentials and refresh leases.
#include <sqlite3.h>

#include "store/sqlite_store.h"

namespace tr {

namespace {

constexpr char kSelectUser[] =
    "SELECT customer_integration_id, user_id, active, credentials_key_id, credentials, "
    "created_at, updated_at, access_expires_at, refresh_failures, next_refresh_at "
    "FROM integration_users WHERE customer_integration_id = ?1 AND user_id = ?2";
constexpr char kInsertUserIfMissing[] =
    "INSERT OR IGNORE INTO integration_users (customer_integration_id, user_id, active, "
    "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)";
constexpr char kInsertSession[] =
    "INSERT INTO connect_sessions (token_hash, customer_integration_id, user_id, redirect_uri, "
    "state_hash, pkce_key_id, pkce_verifier, created_at, expires_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

#define TR_SESSION_COLUMNS                                                                  \
  "token_hash, customer_integration_id, user_id, redirect_uri, state_hash, pkce_key_id, "    \
  "pkce_verifier, created_at, expires_at, used_at, submissions"
constexpr char kSelectSessionByToken[] =
    "SELECT " TR_SESSION_COLUMNS " FROM connect_sessions WHERE token_hash = ?1";
constexpr char kSelectSessionByState[] =
    "SELECT " TR_SESSION_COLUMNS " FROM connect_sessions WHERE state_hash = ?1";
#undef TR_SESSION_COLUMNS
constexpr char kCountSubmission[] =
    "UPDATE connect_sessions SET submissions = submissions + 1 "
    "WHERE token_hash = ?1 AND used_at IS NULL RETURNING submissions";
constexpr char kUseSession[] =
    "UPDATE connect_sessions SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL "
    "RETURNING customer_integration_id, user_id";
constexpr char kSessionExists[] = "SELECT 1 FROM connect_sessions WHERE token_hash = ?1";
constexpr char kActivateUser[] =
    "UPDATE integration_users SET active = 1, updated_at = ?3 "
    "WHERE customer_integration_id = ?1 AND user_id = ?2";
constexpr char kSetCredentials[] =
    "UPDATE integration_users SET active = ?6, updated_at = ?3, credentials_key_id = ?4, "
    "credentials = ?5, access_expires_at = ?7, refresh_failures = 0, next_refresh_at = NULL "
    "WHERE customer_integration_id = ?1 AND user_id = ?2";
constexpr char kUpdateCredentials[] =
    "UPDATE integration_users SET updated_at = ?3, credentials_key_id = ?4, credentials = ?5, "
    "access_expires_at = ?6, refresh_failures = 0, next_refresh_at = NULL "
    "WHERE customer_integration_id = ?1 AND user_id = ?2";
constexpr char kRecordRefreshFailure[] =
    "UPDATE integration_users SET refresh_failures = ?3, next_refresh_at = ?4 "
    "WHERE customer_integration_id = ?1 AND user_id = ?2";
constexpr char kDeactivateUser[] =
    "UPDATE integration_users SET active = 0, updated_at = ?3, access_expires_at = NULL "
    "WHERE customer_integration_id = ?1 AND user_id = ?2";
constexpr char kDeleteUserSessions[] =
    "DELETE FROM connect_sessions WHERE customer_integration_id = ?1 AND user_id = ?2";
constexpr char kDeleteUserLease[] =
    "DELETE FROM refresh_leases WHERE customer_integration_id = ?1 AND user_id = ?2";
constexpr char kDeleteUser[] =
    "DELETE FROM integration_users WHERE customer_integration_id = ?1 AND user_id = ?2";
constexpr char kSelectExpiring[] =
    "SELECT customer_integration_id, user_id FROM integration_users "
    "WHERE active = 1 AND access_expires_at IS NOT NULL AND access_expires_at < ?1 "
    "AND (next_refresh_at IS NULL OR next_refresh_at <= ?3) ORDER BY access_expires_at LIMIT ?2";
constexpr char kAcquireLease[] =
    "INSERT INTO refresh_leases (customer_integration_id, user_id, holder, expires_at) "
    "VALUES (?1, ?2, ?3, ?5) ON CONFLICT (customer_integration_id, user_id) DO UPDATE SET "
    "holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE refresh_leases.expires_at <= ?4 OR refresh_leases.holder = excluded.holder";
constexpr char kReleaseLease[] =
    "DELETE FROM refresh_leases WHERE customer_integration_id = ?1 AND user_id = ?2 "
    "AND holder = ?3";
ConnectSession ReadSession(const SqliteStatement& s) {
  ConnectSession session;
  session.token_hash = s.Text(0);
  session.customer_integration_id = s.Text(1);
  session.user_id = s.Text(2);
  session.redirect_uri = s.Text(3);
  session.state_hash = s.Text(4);
  session.pkce_verifier = SealedSecret{s.Text(5), s.Blob(6)};
  session.created_at = s.Int(7);
  session.expires_at = s.Int(8);
  session.used_at = s.OptionalInt(9);
  session.submissions = static_cast<int>(s.Int(10));
  return session;
}

}  // namespace

Result<std::optional<IntegrationUser>> SqliteStore::FindUser(
    const std::string& customer_integration_id, const std::string& user_id) {
  return Read<std::optional<IntegrationUser>>([&](SqliteDb& db) -> std::optional<IntegrationUser> {
    auto s = db.Prepare(kSelectUser);
    s->Bind(1, customer_integration_id).Bind(2, user_id);
    if (!s->Step()) return std::nullopt;
    return IntegrationUser{
        s->Text(0),        s->Text(1), s->Int(2) != 0, SealedSecret{s->Text(3), s->Blob(4)},
        s->OptionalInt(7), s->Int(5),  s->Int(6),      static_cast<int>(s->Int(8)),
        s->OptionalInt(9)};
  });
}

Status SqliteStore::CreateUserAndSession(const IntegrationUser& user,
                                         const ConnectSession& session) {
  return Write([user, session](SqliteDb& db) -> Status {
    db.Prepare(kInsertUserIfMissing)
        ->Bind(1, user.customer_integration_id)
        .Bind(2, user.user_id)
        .Bind(3, int64_t{user.active})
        .Bind(4, user.created_at)
        .Run();
    db.Prepare(kInsertSession)
        ->Bind(1, session.token_hash)
        .Bind(2, session.customer_integration_id)
        .Bind(3, session.user_id)
        .Bind(4, session.redirect_uri)
        .Bind(5, session.state_hash)
        .Bind(6, session.pkce_verifier.key_id)
        .BindBlob(7, session.pkce_verifier.blob)
        .Bind(8, session.created_at)
        .Bind(9, session.expires_at)
        .Run();
    return Ok{};
  });
}

Result<std::optional<ConnectSession>> SqliteStore::FindSessionByToken(
    const std::string& token_hash) {
  return Read<std::optional<ConnectSession>>([&](SqliteDb& db) -> std::optional<ConnectSession> {
    auto s = db.Prepare(kSelectSessionByToken);
    s->Bind(1, token_hash);
    if (!s->Step()) return std::nullopt;
    return ReadSession(*s);
  });
}

Result<std::optional<ConnectSession>> SqliteStore::FindSessionByState(
    const std::string& state_hash) {
  return Read<std::optional<ConnectSession>>([&](SqliteDb& db) -> std::optional<ConnectSession> {
    auto s = db.Prepare(kSelectSessionByState);
    s->Bind(1, state_hash);
    if (!s->Step()) return std::nullopt;
    return ReadSession(*s);
  });
}

Result<int> SqliteStore::CountSubmission(const std::string& token_hash) {
  int count = 0;
  Status status = Write([&](SqliteDb& db) -> Status {
    auto s = db.Prepare(kCountSubmission);
    s->Bind(1, token_hash);
    if (!s->Step()) return Error(Errc::kNotFound, "Connect session not found");
    count = static_cast<int>(s->Int(0));
    s->Run();
    return Ok{};
  });
  if (!status) return status.error();
  return count;
}

Status SqliteStore::FinishSession(const std::string& token_hash, bool success,
                                  const std::optional<SealedSecret>& credentials,
                                  std::optional<int64_t> access_expires_at, int64_t now,
                                  const std::optional<OutboxEvent>& event) {
  return Write([&](SqliteDb& db) -> Status {
    std::string cid, user_id;
    {
      auto s = db.Prepare(kUseSession);
      s->Bind(1, token_hash).Bind(2, now);
      if (!s->Step()) {
        // Deleting a user deletes its sessions: a session gone is a user gone.
        if (!db.Prepare(kSessionExists)->Bind(1, token_hash).Step()) {
          return Error(Errc::kNotFound, "Connect session or its user not found");
        }
        return Error(Errc::kConflict, "Connect session already used");
      }
      cid = s->Text(0);
      user_id = s->Text(1);
      s->Run();
    }
    int changed = 1;
    if (success && credentials) {
      changed = db.Prepare(kSetCredentials)
                    ->Bind(1, cid)
                    .Bind(2, user_id)
                    .Bind(3, now)
                    .Bind(4, credentials->key_id)
                    .BindBlob(5, credentials->blob)
                    .Bind(6, int64_t{1})
                    .Bind(7, access_expires_at)
                    .Run();
    } else if (success) {
      changed = db.Prepare(kActivateUser)->Bind(1, cid).Bind(2, user_id).Bind(3, now).Run();
    }
    // The user row is gone (the foreign key keeps this from happening today; a store without
    // one must not report a user connected that is not there): nothing is written.
    if (changed == 0) return Error(Errc::kNotFound, "User not found");
    if (event) InsertEvent(db, *event);
    return Ok{};
  });
}

Status SqliteStore::UpdateCredentials(const std::string& customer_integration_id,
                                      const std::string& user_id, const SealedSecret& credentials,
                                      std::optional<int64_t> access_expires_at, int64_t now) {
  return Write([&](SqliteDb& db) -> Status {
    int changed = db.Prepare(kUpdateCredentials)
                      ->Bind(1, customer_integration_id)
                      .Bind(2, user_id)
                      .Bind(3, now)
                      .Bind(4, credentials.key_id)
                      .BindBlob(5, credentials.blob)
                      .Bind(6, access_expires_at)
                      .Run();
    if (changed == 0) return Error(Errc::kNotFound, "User not found");
    return Ok{};
  });
}

Status SqliteStore::RecordRefreshFailure(const std::string& customer_integration_id,
                                         const std::string& user_id, int failures,
                                         int64_t next_refresh_at,
                                         const std::optional<OutboxEvent>& event) {
  return Write([&](SqliteDb& db) -> Status {
    int changed = db.Prepare(kRecordRefreshFailure)
                      ->Bind(1, customer_integration_id)
                      .Bind(2, user_id)
                      .Bind(3, int64_t{failures})
                      .Bind(4, next_refresh_at)
                      .Run();
    if (changed == 0) return Error(Errc::kNotFound, "User not found");
    if (event) InsertEvent(db, *event);
    return Ok{};
  });
}

Status SqliteStore::DeactivateUser(const std::string& customer_integration_id,
                                   const std::string& user_id, int64_t now,
                                   const std::vector<OutboxEvent>& events) {
  return Write([&](SqliteDb& db) -> Status {
    if (db.Prepare(kDeactivateUser)->Bind(1, customer_integration_id).Bind(2, user_id).Bind(3, now).Run() == 0) {
      return Error(Errc::kNotFound, "User not found");
    }
    for (const OutboxEvent& event : events) InsertEvent(db, event);
    return Ok{};
  });
}

Status SqliteStore::DeleteUser(const std::string& customer_integration_id,
                               const std::string& user_id, const std::optional<OutboxEvent>& event) {
  return Write([&](SqliteDb& db) -> Status {
    db.Prepare(kDeleteUserSessions)->Bind(1, customer_integration_id).Bind(2, user_id).Run();
    db.Prepare(kDeleteUserLease)->Bind(1, customer_integration_id).Bind(2, user_id).Run();
    if (db.Prepare(kDeleteUser)->Bind(1, customer_integration_id).Bind(2, user_id).Run() == 0) {
      return Error(Errc::kNotFound, "User not found");
    }
    if (event) InsertEvent(db, *event);
    return Ok{};
  });
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteStore::ListUsersExpiringBefore(
    int64_t before, int64_t now, int limit) {
  return Read<std::vector<std::pair<std::string, std::string>>>([&](SqliteDb& db) {
    std::vector<std::pair<std::string, std::string>> out;
    auto s = db.Prepare(kSelectExpiring);
    s->Bind(1, before).Bind(2, int64_t{limit}).Bind(3, now);
    while (s->Step()) out.emplace_back(s->Text(0), s->Text(1));
    return out;
  });
}

Result<bool> SqliteStore::TryAcquireLease(const std::string& customer_integration_id,
                                          const std::string& user_id, const std::string& holder,
                                          int64_t now, int64_t expires_at) {
  bool acquired = false;
  Status status = Write([&](SqliteDb& db) -> Status {
    acquired = db.Prepare(kAcquireLease)
                   ->Bind(1, customer_integration_id)
                   .Bind(2, user_id)
                   .Bind(3, holder)
                   .Bind(4, now)
                   .Bind(5, expires_at)
                   .Run() > 0;
    return Ok{};
  });
  if (!status) return status.error();
  return acquired;
}

Status SqliteStore::ReleaseLease(const std::string& customer_integration_id,
                                 const std::string& user_id, const std::string& holder) {
  return Write([&](SqliteDb& db) -> Status {
    db.Prepare(kReleaseLease)->Bind(1, customer_integration_id).Bind(2, user_id).Bind(3, holder).Run();
    return Ok{};
  });
}

}  // namespace tr
