// PgStore: integration users, connect sessions, credentials and refresh leases.
#include "store/pg_store.h"

#include <array>

#include <spdlog/spdlog.h>

#include "crypto/crypto.h"

namespace tr {

namespace {

constexpr char kSelectUser[] =
    "SELECT customer_integration_id, user_id, active, credentials_key_id, credentials, "
    "created_at, updated_at, access_expires_at, refresh_failures, next_refresh_at "
    "FROM integration_users WHERE customer_integration_id = $1 AND user_id = $2";
// CreateUserAndSession's rows, many at a time: thirteen arrays of the same length, one
// element per row (the columns of WriteCreatesTogether). The users come first, in a
// data-modifying WITH, so that the sessions' foreign key finds them: the check runs at the
// end of the statement.
constexpr char kInsertUsersAndSessions[] =
    "WITH new_users AS ("
    " INSERT INTO integration_users (customer_integration_id, user_id, active, created_at, "
    "updated_at)"
    " SELECT cid, uid, active, created_at, created_at"
    " FROM unnest($1::text[], $2::text[], $3::integer[], $4::bigint[])"
    " AS u(cid, uid, active, created_at)"
    " ON CONFLICT DO NOTHING) "
    "INSERT INTO connect_sessions (token_hash, customer_integration_id, user_id, redirect_uri, "
    "state_hash, pkce_key_id, pkce_verifier, created_at, expires_at) "
    "SELECT token_hash, cid, uid, redirect_uri, state_hash, key_id, decode(verifier, 'hex'), "
    "created_at, expires_at "
    "FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], "
    "$11::text[], $12::bigint[], $13::bigint[]) "
    "AS s(token_hash, cid, uid, redirect_uri, state_hash, key_id, verifier, created_at, "
    "expires_at)";

#define TR_SESSION_COLUMNS                                                                \
  "token_hash, customer_integration_id, user_id, redirect_uri, state_hash, pkce_key_id, " \
  "pkce_verifier, created_at, expires_at, used_at, submissions"
constexpr char kSelectSessionByToken[] =
    "SELECT " TR_SESSION_COLUMNS " FROM connect_sessions WHERE token_hash = $1";
constexpr char kSelectSessionByState[] =
    "SELECT " TR_SESSION_COLUMNS " FROM connect_sessions WHERE state_hash = $1";
#undef TR_SESSION_COLUMNS
constexpr char kCountSubmission[] =
    "UPDATE connect_sessions SET submissions = submissions + 1 "
    "WHERE token_hash = $1 AND used_at IS NULL RETURNING submissions";
constexpr char kUseSession[] =
    "UPDATE connect_sessions SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL "
    "RETURNING customer_integration_id, user_id";
constexpr char kSessionExists[] = "SELECT 1 FROM connect_sessions WHERE token_hash = $1";
constexpr char kActivateUser[] =
    "UPDATE integration_users SET active = 1, updated_at = $3 "
    "WHERE customer_integration_id = $1 AND user_id = $2";
constexpr char kSetCredentials[] =
    "UPDATE integration_users SET active = 1, updated_at = $3, credentials_key_id = $4, "
    "credentials = $5, access_expires_at = $6, refresh_failures = 0, next_refresh_at = NULL "
    "WHERE customer_integration_id = $1 AND user_id = $2";
constexpr char kUpdateCredentials[] =
    "UPDATE integration_users SET updated_at = $3, credentials_key_id = $4, credentials = $5, "
    "access_expires_at = $6, refresh_failures = 0, next_refresh_at = NULL "
    "WHERE customer_integration_id = $1 AND user_id = $2";
constexpr char kRecordRefreshFailure[] =
    "UPDATE integration_users SET refresh_failures = $3, next_refresh_at = $4 "
    "WHERE customer_integration_id = $1 AND user_id = $2";
constexpr char kDeactivateUser[] =
    "UPDATE integration_users SET active = 0, updated_at = $3, access_expires_at = NULL "
    "WHERE customer_integration_id = $1 AND user_id = $2";
constexpr char kDeleteUserSessions[] =
    "DELETE FROM connect_sessions WHERE customer_integration_id = $1 AND user_id = $2";
constexpr char kDeleteUserLease[] =
    "DELETE FROM refresh_leases WHERE customer_integration_id = $1 AND user_id = $2";
constexpr char kDeleteUser[] =
    "DELETE FROM integration_users WHERE customer_integration_id = $1 AND user_id = $2";
constexpr char kSelectExpiring[] =
    "SELECT customer_integration_id, user_id FROM integration_users "
    "WHERE active = 1 AND access_expires_at IS NOT NULL AND access_expires_at < $1 "
    "AND (next_refresh_at IS NULL OR next_refresh_at <= $3) ORDER BY access_expires_at LIMIT $2";
// ON CONFLICT … DO UPDATE locks the existing row: of several processes racing for a free
// or expired lease, exactly one changes it.
constexpr char kAcquireLease[] =
    "INSERT INTO refresh_leases (customer_integration_id, user_id, holder, expires_at) "
    "VALUES ($1, $2, $3, $5) ON CONFLICT (customer_integration_id, user_id) DO UPDATE SET "
    "holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE refresh_leases.expires_at <= $4 OR refresh_leases.holder = excluded.holder";
constexpr char kReleaseLease[] =
    "DELETE FROM refresh_leases WHERE customer_integration_id = $1 AND user_id = $2 "
    "AND holder = $3";

ConnectSession ReadSession(const PgResult& r) {
  ConnectSession session;
  session.token_hash = r.Text(0, 0);
  session.customer_integration_id = r.Text(0, 1);
  session.user_id = r.Text(0, 2);
  session.redirect_uri = r.Text(0, 3);
  session.state_hash = r.Text(0, 4);
  session.pkce_verifier = SealedSecret{r.Text(0, 5), r.Bytes(0, 6)};
  session.created_at = r.Int(0, 7);
  session.expires_at = r.Int(0, 8);
  session.used_at = r.OptionalInt(0, 9);
  session.submissions = static_cast<int>(r.Int(0, 10));
  return session;
}

}  // namespace

Result<std::optional<IntegrationUser>> PgStore::FindUser(const std::string& customer_integration_id,
                                                         const std::string& user_id) {
  return Read<std::optional<IntegrationUser>>([&](PgConn& db) -> std::optional<IntegrationUser> {
    PgResult r = db.Run(kSelectUser, PgParams().Add(customer_integration_id).Add(user_id));
    if (r.Rows() == 0) return std::nullopt;
    SealedSecret credentials;
    if (!r.IsNull(0, 4)) credentials = SealedSecret{r.Text(0, 3), r.Bytes(0, 4)};
    return IntegrationUser{
        r.Text(0, 0),        r.Text(0, 1), r.Int(0, 2) != 0, credentials,
        r.OptionalInt(0, 7), r.Int(0, 5),  r.Int(0, 6),      static_cast<int>(r.Int(0, 8)),
        r.OptionalInt(0, 9)};
  });
}

Status PgStore::CreateUserAndSession(const IntegrationUser& user, const ConnectSession& session) {
  PendingCreate mine{&user, &session, std::nullopt};
  std::unique_lock lock(create_mu_);
  create_queue_.push_back(&mine);
  while (!mine.outcome) {
    if (create_queue_.empty() || create_writers_ == kCreateWriters) {
      create_done_.wait(lock);
      continue;
    }
    // This caller writes what is queued: its own row, unless another writer took it.
    const size_t n = std::min(create_queue_.size(), kMaxCreateBatch);
    std::vector<PendingCreate*> batch(create_queue_.begin(), create_queue_.begin() + n);
    create_queue_.erase(create_queue_.begin(), create_queue_.begin() + n);
    ++create_writers_;
    lock.unlock();
    std::vector<Status> outcomes = WriteCreates(batch);
    lock.lock();
    --create_writers_;
    for (size_t i = 0; i < n; ++i) batch[i]->outcome = std::move(outcomes[i]);
    create_done_.notify_all();
  }
  return std::move(*mine.outcome);
}

std::vector<Status> PgStore::WriteCreates(const std::vector<PendingCreate*>& batch) try {
  Status together = WriteCreatesTogether(batch);
  if (together.ok() || batch.size() == 1 || together.error().code == Errc::kUnavailable) {
    return std::vector<Status>(batch.size(), together);
  }
  // A row failed (say, its customer integration is gone): each row alone, so that the
  // failure reaches only its own caller.
  std::vector<Status> outcomes;
  outcomes.reserve(batch.size());
  for (PendingCreate* pending : batch) outcomes.push_back(WriteCreatesTogether({pending}));
  return outcomes;
} catch (const std::exception& e) {  // out of memory: the waiting callers must still hear
  spdlog::error("a write failed: {}", e.what());
  return std::vector<Status>(batch.size(), Error(Errc::kInternal, "Internal server error"));
}

Status PgStore::WriteCreatesTogether(const std::vector<PendingCreate*>& batch) {
  std::array<std::vector<std::string>, kCreateColumns> columns;
  for (const PendingCreate* pending : batch) {
    const IntegrationUser& u = *pending->user;
    const ConnectSession& s = *pending->session;
    std::string row[kCreateColumns] = {u.customer_integration_id,
                                       u.user_id,
                                       std::to_string(int{u.active}),
                                       std::to_string(u.created_at),
                                       s.token_hash,
                                       s.customer_integration_id,
                                       s.user_id,
                                       s.redirect_uri,
                                       s.state_hash,
                                       s.pkce_verifier.key_id,
                                       crypto::HexEncode(s.pkce_verifier.blob),
                                       std::to_string(s.created_at),
                                       std::to_string(s.expires_at)};
    for (size_t i = 0; i < kCreateColumns; ++i) columns[i].push_back(std::move(row[i]));
  }
  PgParams params;
  for (const std::vector<std::string>& column : columns) params.AddArray(column);
  return Transact([&](PgConn& db) -> Status {
    db.Run(kInsertUsersAndSessions, params);
    return Ok{};
  });
}

Result<std::optional<ConnectSession>> PgStore::FindSessionByToken(const std::string& token_hash) {
  return Read<std::optional<ConnectSession>>([&](PgConn& db) -> std::optional<ConnectSession> {
    PgResult r = db.Run(kSelectSessionByToken, PgParams().Add(token_hash));
    if (r.Rows() == 0) return std::nullopt;
    return ReadSession(r);
  });
}

Result<std::optional<ConnectSession>> PgStore::FindSessionByState(const std::string& state_hash) {
  return Read<std::optional<ConnectSession>>([&](PgConn& db) -> std::optional<ConnectSession> {
    PgResult r = db.Run(kSelectSessionByState, PgParams().Add(state_hash));
    if (r.Rows() == 0) return std::nullopt;
    return ReadSession(r);
  });
}

Result<int> PgStore::CountSubmission(const std::string& token_hash) {
  int count = 0;
  Status status = Transact([&](PgConn& db) -> Status {
    PgResult r = db.Run(kCountSubmission, PgParams().Add(token_hash));
    if (r.Rows() == 0) return Error(Errc::kNotFound, "Connect session not found");
    count = static_cast<int>(r.Int(0, 0));
    return Ok{};
  });
  if (!status) return status.error();
  return count;
}

Status PgStore::FinishSession(const std::string& token_hash, bool success,
                              const std::optional<SealedSecret>& credentials,
                              std::optional<int64_t> access_expires_at, int64_t now,
                              const std::optional<OutboxEvent>& event) {
  return Transact([&](PgConn& db) -> Status {
    PgResult used = db.Run(kUseSession, PgParams().Add(token_hash).Add(now));
    if (used.Rows() == 0) {
      // Deleting a user deletes its sessions: a session gone is a user gone.
      if (db.Run(kSessionExists, PgParams().Add(token_hash)).Rows() == 0) {
        return Error(Errc::kNotFound, "Connect session or its user not found");
      }
      return Error(Errc::kConflict, "Connect session already used");
    }
    std::string cid = used.Text(0, 0), user_id = used.Text(0, 1);
    int64_t changed = 1;
    if (success && credentials) {
      changed = db.Run(kSetCredentials, PgParams()
                                            .Add(cid)
                                            .Add(user_id)
                                            .Add(now)
                                            .Add(credentials->key_id)
                                            .AddBytes(credentials->blob)
                                            .Add(access_expires_at))
                    .Affected();
    } else if (success) {
      changed = db.Run(kActivateUser, PgParams().Add(cid).Add(user_id).Add(now)).Affected();
    }
    // The user row is gone (the foreign key keeps this from happening today; a store without
    // one must not report a user connected that is not there): nothing is written.
    if (changed == 0) return Error(Errc::kNotFound, "User not found");
    if (event) InsertEvent(db, *event);
    return Ok{};
  });
}

Status PgStore::UpdateCredentials(const std::string& customer_integration_id,
                                  const std::string& user_id, const SealedSecret& credentials,
                                  std::optional<int64_t> access_expires_at, int64_t now) {
  return Transact([&](PgConn& db) -> Status {
    PgParams params;
    params.Add(customer_integration_id)
        .Add(user_id)
        .Add(now)
        .Add(credentials.key_id)
        .AddBytes(credentials.blob)
        .Add(access_expires_at);
    if (db.Run(kUpdateCredentials, params).Affected() == 0) {
      return Error(Errc::kNotFound, "User not found");
    }
    return Ok{};
  });
}

Status PgStore::DeactivateUser(const std::string& customer_integration_id,
                               const std::string& user_id, int64_t now,
                               const std::vector<OutboxEvent>& events) {
  return Transact([&](PgConn& db) -> Status {
    PgParams params;
    params.Add(customer_integration_id).Add(user_id).Add(now);
    if (db.Run(kDeactivateUser, params).Affected() == 0) {
      return Error(Errc::kNotFound, "User not found");
    }
    for (const OutboxEvent& event : events) InsertEvent(db, event);
    return Ok{};
  });
}

Status PgStore::RecordRefreshFailure(const std::string& customer_integration_id,
                                     const std::string& user_id, int failures,
                                     int64_t next_refresh_at,
                                     const std::optional<OutboxEvent>& event) {
  return Transact([&](PgConn& db) -> Status {
    PgParams params;
    params.Add(customer_integration_id).Add(user_id).Add(int64_t{failures}).Add(next_refresh_at);
    if (db.Run(kRecordRefreshFailure, params).Affected() == 0) {
      return Error(Errc::kNotFound, "User not found");
    }
    if (event) InsertEvent(db, *event);
    return Ok{};
  });
}

Status PgStore::DeleteUser(const std::string& customer_integration_id, const std::string& user_id,
                           const std::optional<OutboxEvent>& event) {
  return Transact([&](PgConn& db) -> Status {
    PgParams key;
    key.Add(customer_integration_id).Add(user_id);
    db.Run(kDeleteUserSessions, key);
    db.Run(kDeleteUserLease, key);
    if (db.Run(kDeleteUser, key).Affected() == 0) return Error(Errc::kNotFound, "User not found");
    if (event) InsertEvent(db, *event);
    return Ok{};
  });
}

Result<std::vector<std::pair<std::string, std::string>>> PgStore::ListUsersExpiringBefore(
    int64_t before, int64_t now, int limit) {
  return Read<std::vector<std::pair<std::string, std::string>>>([&](PgConn& db) {
    std::vector<std::pair<std::string, std::string>> out;
    PgResult r = db.Run(kSelectExpiring, PgParams().Add(before).Add(int64_t{limit}).Add(now));
    for (int i = 0; i < r.Rows(); ++i) out.emplace_back(r.Text(i, 0), r.Text(i, 1));
    return out;
  });
}

Result<bool> PgStore::TryAcquireLease(const std::string& customer_integration_id,
                                      const std::string& user_id, const std::string& holder,
                                      int64_t now, int64_t expires_at) {
  bool acquired = false;
  Status status = Transact([&](PgConn& db) -> Status {
    PgParams params;
    params.Add(customer_integration_id).Add(user_id).Add(holder).Add(now).Add(expires_at);
    acquired = db.Run(kAcquireLease, params).Affected() > 0;
    return Ok{};
  });
  if (!status) return status.error();
  return acquired;
}

Status PgStore::ReleaseLease(const std::string& customer_integration_id, const std::string& user_id,
                             const std::string& holder) {
  return Transact([&](PgConn& db) -> Status {
    db.Run(kReleaseLease, PgParams().Add(customer_integration_id).Add(user_id).Add(holder));
    return Ok{};
  });
}

}  // namespace tr
