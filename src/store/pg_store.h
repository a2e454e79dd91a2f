// PgStore: the Store on a PostgreSQL server (libpq), for several nodes sharing one database.
//
// A bounded pool of connections, each with its prepared statements. A read is one statement
// on a pooled connection; a write is one transaction (BEGIN … COMMIT) with
// synchronous_commit on, so a returned success is durable. A connection that failed is
// dropped and a fresh one is opened on demand, so the pool recovers by itself when the
// server comes back. Leases and the outbox claim are single statements that lock the rows
// they take (ON CONFLICT … WHERE, FOR UPDATE SKIP LOCKED): safe across processes.
// Thread-safe; see store/store.h.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/pg_conn.h"
#include "store/store.h"

namespace tr {

class PgStore final : public Store {
 public:
  // Connects to `url` (postgresql://… or postgres://…) and applies pending migrations
  // under an advisory lock, so that several nodes may start at once. kUnavailable when
  // the server cannot be reached.
  static Result<std::unique_ptr<PgStore>> Open(const std::string& url);
  ~PgStore() override;  // closes every pooled connection

  Status CreateWorkspace(const Workspace& ws) override;
  Result<std::optional<Workspace>> FindWorkspace(const std::string& workspace_id) override;
  Status AddRedirectOrigin(const std::string& workspace_id, const std::string& origin) override;
  Result<std::vector<std::string>> ListRedirectOrigins(const std::string& workspace_id) override;
  Status CreateApiKey(const ApiKeyRecord& key) override;
  Status RevokeApiKey(const std::string& key_id, int64_t now) override;
  Result<std::optional<ApiKeyRecord>> FindApiKeyByHash(const std::string& key_hash) override;
  Result<std::vector<Workspace>> ListWorkspaces() override;
  Result<std::vector<ApiKeySummary>> ListApiKeys(const std::string& workspace_id) override;
  Status RecordApiKeyUse(const std::string& key_id, int64_t now) override;
  Status PutCustomIntegration(const CustomIntegration& ci) override;
  Result<std::optional<CustomIntegration>> FindCustomIntegration(
      const std::string& workspace_id, const std::string& integration_id) override;
  Status CreateCustomerIntegration(const CustomerIntegration& ci) override;
  Result<std::optional<CustomerIntegration>> FindCustomerIntegration(
      const std::string& customer_integration_id) override;
  Status SetCustomerIntegrationActive(const std::string& customer_integration_id, bool active,
                                      int64_t now) override;
  Result<std::vector<CustomerIntegration>> ListCustomerIntegrations(
      const std::string& workspace_id, std::optional<bool> active) override;
  Result<std::optional<IntegrationUser>> FindUser(const std::string& customer_integration_id,
                                                  const std::string& user_id) override;
  Status CreateUserAndSession(const IntegrationUser& user, const ConnectSession& session) override;
  Result<bool> BootstrapOnce(const Workspace& ws, const ApiKeyRecord& key) override;
  Result<Purged> PurgeFinished(int64_t before, int limit) override;
  Result<std::optional<ConnectSession>> FindSessionByToken(const std::string& token_hash) override;
  Result<std::optional<ConnectSession>> FindSessionByState(const std::string& state_hash) override;
  Result<int> CountSubmission(const std::string& token_hash) override;
  Status FinishSession(const std::string& token_hash, bool success,
                       const std::optional<SealedSecret>& credentials,
                       std::optional<int64_t> access_expires_at, int64_t now,
                       const std::optional<OutboxEvent>& event) override;
  Status UpdateCredentials(const std::string& customer_integration_id, const std::string& user_id,
                           const SealedSecret& credentials,
                           std::optional<int64_t> access_expires_at, int64_t now) override;
  Status DeactivateUser(const std::string& customer_integration_id, const std::string& user_id,
                        int64_t now, const std::vector<OutboxEvent>& events) override;
  Status DeleteUser(const std::string& customer_integration_id, const std::string& user_id,
                    const std::optional<OutboxEvent>& event) override;
  Status RecordRefreshFailure(const std::string& customer_integration_id,
                              const std::string& user_id, int failures, int64_t next_refresh_at,
                              const std::optional<OutboxEvent>& event) override;
  Result<std::vector<std::pair<std::string, std::string>>> ListUsersExpiringBefore(
      int64_t before, int64_t now, int limit) override;
  Result<bool> TryAcquireLease(const std::string& customer_integration_id,
                               const std::string& user_id, const std::string& holder, int64_t now,
                               int64_t expires_at) override;
  Status ReleaseLease(const std::string& customer_integration_id, const std::string& user_id,
                      const std::string& holder) override;
  Status CreateMcpSession(const McpSession& session, int64_t now) override;
  Result<std::optional<McpSession>> FindMcpSession(const std::string& session_hash) override;
  Result<bool> DeleteMcpSession(const std::string& session_hash) override;
  Result<std::optional<McpOAuthClient>> FindMcpOAuthClient(
      const std::string& customer_integration_id) override;
  Result<bool> PutMcpOAuthClient(const McpOAuthClient& row,
                                 std::optional<int64_t> replaces) override;
  Status SetWebhook(const Webhook& webhook, int64_t now) override;
  Result<std::optional<Webhook>> FindWebhook(const std::string& workspace_id) override;
  Status EnqueueEvent(const OutboxEvent& event) override;
  Result<bool> HasDueEvents(int64_t now) override;
  Result<std::vector<OutboxEvent>> ClaimDueEvents(int64_t now, int64_t claim_millis,
                                                  int limit) override;
  Status MarkEventDelivered(const std::string& event_id, int64_t now) override;
  Status MarkEventFailed(const std::string& event_id, int attempts,
                         std::optional<int64_t> next_attempt_at) override;
  Result<std::vector<SealedRow>> ListSealedNotUnder(const std::string& key_id, int limit) override;
  Result<bool> ReplaceSealed(const SealedRow& row, const SealedSecret& fresh) override;
  // Changes when the config_version row (bumped by triggers, migration 2) changes, as a
  // thread of this store sees by reading it every 100 ms, and at once on this process's own
  // configuration writes (TransactConfig). nullopt while that thread has not read the row within the last 500 ms: no
  // cached value is used for longer than that after another node or an admin command
  // changed it (pg_store_stamp.cpp). The thread starts on the first call, so admin commands,
  // which use no caches, never start it.
  std::optional<uint64_t> ChangeStamp() override;
  Status Ping() override;
  Stats GetStats() override;
  Status ExportRows(const std::function<void(const DumpRow&)>& sink) override;
  Status ImportRows(const std::vector<DumpRow>& rows) override;

 private:
  using TxFn = std::function<Status(PgConn&)>;
  struct Pooled {
    std::unique_ptr<PgConn> conn;
    bool reused = false;  // from the pool (may have gone stale) rather than just opened
  };

  explicit PgStore(std::string url) : url_(std::move(url)) {}
  // The change stamp's thread (pg_store_stamp.cpp): reads config_version until stopped.
  void WatchConfig();
  void StopWatching();
  // A connection from the pool, or a new one while under the bound; waits a bounded time
  // when every connection is busy. Throws PgError.
  Pooled Acquire();
  // Returns an idle connection to the pool; drops a broken one or one left in a transaction.
  void Release(std::unique_ptr<PgConn> conn);
  // Runs `fn` (one or more reads) on a pooled connection; retried once on a fresh
  // connection when a stale pooled one turns out to be dead (closed, not silent: a server
  // that stopped answering is not waited for twice).
  template <typename T, typename Fn>
  Result<T> Read(Fn&& fn) {
    for (int attempt = 0;; ++attempt) {
      Pooled pooled;
      try {
        pooled = Acquire();
        T value = fn(*pooled.conn);
        Release(std::move(pooled.conn));
        return value;
      } catch (const PgError& e) {
        if (pooled.conn) Release(std::move(pooled.conn));
        if (e.connection_lost && !e.timed_out && pooled.reused && attempt == 0) continue;
        return ToError(e);
      }
    }
  }
  // Runs `fn` in one transaction: committed when it returns Ok, rolled back otherwise.
  Status Transact(const TxFn& fn);
  // Transact for a write that may change what ChangeStamp covers: moves the stamp.
  Status TransactConfig(const TxFn& fn);
  // Logs the detail; the Error carries only a public message.
  static Error ToError(const PgError& e);
  static void InsertEvent(PgConn& db, const OutboxEvent& event);

  // Group commit for CreateUserAndSession (pg_store_users.cpp), the write of the connect
  // flow's hot path. Each caller queues its row; while fewer than kCreateWriters are
  // writing, a waiting caller becomes one and writes every queued row (up to
  // kMaxCreateBatch) in one statement, then hands each caller its outcome. So under load
  // one transaction and one WAL flush carry many creations.
  struct PendingCreate {
    const IntegrationUser* user;
    const ConnectSession* session;
    std::optional<Status> outcome;  // set by the writer that took the row
  };
  static constexpr size_t kCreateColumns = 13;
  static constexpr int kCreateWriters = 2;
  static constexpr size_t kMaxCreateBatch = 128;
  // One outcome per row. Never throws.
  std::vector<Status> WriteCreates(const std::vector<PendingCreate*>& batch);
  Status WriteCreatesTogether(const std::vector<PendingCreate*>& batch);

  const std::string url_;
  std::mutex mu_;
  std::condition_variable released_;
  std::vector<std::unique_ptr<PgConn>> idle_;  // Guarded by mu_
  size_t open_ = 0;                            // Guarded by mu_: idle + in use
  size_t waiting_ = 0;                         // Guarded by mu_
  std::atomic<uint64_t> commits_{0};

  std::mutex create_mu_;
  std::condition_variable create_done_;
  std::vector<PendingCreate*> create_queue_;  // Guarded by create_mu_: rows not taken yet
  int create_writers_ = 0;                    // Guarded by create_mu_

  // The change stamp. generation_ moves on every change seen; confirmed_at_ is when (steady
  // clock, nanoseconds) the last read of config_version that succeeded began.
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> confirmed_at_{std::numeric_limits<int64_t>::min() / 2};  // never
  std::once_flag watch_started_;
  std::thread watcher_;
  std::mutex watch_mu_;
  std::condition_variable watch_wake_;
  bool watch_stopping_ = false;  // Guarded by watch_mu_
};

// Applies every migration newer than the database's version, all in one transaction that
// holds an advisory lock (several nodes starting together apply each migration once).
void ApplyPgMigrations(PgConn& db, int64_t now_millis);
// The schema version this binary's migrations reach.
int64_t LatestPgMigration();

}  // namespace tr
