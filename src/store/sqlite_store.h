// SqliteStore: the Store on an embedded SQLite file in WAL mode.
//
// Reads run on a pool of reader connections (WAL lets them proceed beside the writer).
// Writes go to one writer thread that takes every write waiting at that moment, runs each
// inside its own savepoint of one transaction, and commits them with one fsync
// (synchronous=FULL): group commit. A write method returns only after its batch is on disk.
// Migrations are applied when the store opens. Thread-safe; see store/store.h.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite_db.h"
#include "store/store.h"

namespace tr {

class SqliteStore final : public Store {
 public:
  // Opens or creates the database at `path` and applies pending migrations.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  ~SqliteStore() override;  // finishes queued writes, then closes every connection

  Status CreateWorkspace(const Workspace& ws) override;
  Result<std::optional<Workspace>> FindWorkspace(const std::string& workspace_id) override;
  Status AddRedirectOrigin(const std::string& workspace_id, const std::string& origin) override;
  Result<std::vector<std::string>> ListRedirectOrigins(const std::string& workspace_id) override;
  Status CreateApiKey(const ApiKeyRecord& key) override;
  Status RevokeApiKey(const std::string& key_id, int64_t now) override;
  Result<std::optional<ApiKeyRecord>> FindApiKeyByHash(const std::string& key_hash) override;
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
  Result<std::optional<ConnectSession>> FindSessionByToken(const std::string& token_hash) override;
  Result<std::optional<ConnectSession>> FindSessionByState(const std::string& state_hash) override;
  Result<int> CountSubmission(const std::string& token_hash) override;
  Status FinishSession(const std::string& token_hash, bool success,
                       const std::optional<SealedSecret>& credentials,
                       std::optional<int64_t> access_expires_at, int64_t now,
                       const std::optional<OutboxEvent>& event) override;
  Status UpdateCredentials(const std::string& customer_integration_id, const std::string& user_id,
                           const SealedSecret& credentials, std::optional<int64_t> access_expires_at,
                           int64_t now) override;
  Status DeactivateUser(const std::string& customer_integration_id, const std::string& user_id,
                        int64_t now, const std::vector<OutboxEvent>& events) override;
  Status DeleteUser(const std::string& customer_integration_id, const std::string& user_id,
                    const std::optional<OutboxEvent>& event) override;
  Result<std::vector<std::pair<std::string, std::string>>> ListUsersExpiringBefore(
      int64_t before, int limit) override;
  Result<bool> TryAcquireLease(const std::string& customer_integration_id,
                               const std::string& user_id, const std::string& holder, int64_t now,
                               int64_t expires_at) override;
  Status ReleaseLease(const std::string& customer_integration_id, const std::string& user_id,
                      const std::string& holder) override;
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
  // The config_version row (migration 4), which triggers bump on every change of a
  // workspace, redirect origin, API key or integration, by any connection or process. Read
  // on a connection of its own, so that it never waits for a reader.
  std::optional<uint64_t> ChangeStamp() override;
  Status Ping() override;
  Stats GetStats() override;
  Status ExportRows(const std::function<void(const DumpRow&)>& sink) override;
  Status ImportRows(const std::vector<DumpRow>& rows) override;

 private:
  using WriteFn = std::function<Status(SqliteDb&)>;
  struct PendingWrite {
    WriteFn fn;
    std::promise<Status> done;
  };

  explicit SqliteStore(std::string path);
  // Runs `fn` on a reader connection. SqliteError becomes kUnavailable/kInternal.
  template <typename T, typename Fn>
  Result<T> Read(Fn&& fn) {
    try {
      std::unique_ptr<SqliteDb> db = AcquireReader();
      T value = fn(*db);
      ReleaseReader(std::move(db));
      return value;
    } catch (const SqliteError& e) {
      return ToError(e);  // the connection is dropped: it may be in a bad state
    }
  }
  std::unique_ptr<SqliteDb> AcquireReader();
  void ReleaseReader(std::unique_ptr<SqliteDb> db);
  // Logs the detail; the Error carries only a public message.
  static Error ToError(const SqliteError& e);
  // Queues `fn` for the writer and waits until its batch committed.
  Status Write(WriteFn fn);
  void WriterLoop();
  static void InsertEvent(SqliteDb& db, const OutboxEvent& event);
  void CommitBatch(std::vector<std::unique_ptr<PendingWrite>>& batch);

  std::string path_;
  std::unique_ptr<SqliteDb> writer_db_;  // used only by writer_ (and by Open before it starts)

  std::mutex readers_mu_;
  std::vector<std::unique_ptr<SqliteDb>> idle_readers_;  // Guarded by readers_mu_

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::unique_ptr<PendingWrite>> queue_;  // Guarded by queue_mu_
  bool stopping_ = false;                            // Guarded by queue_mu_
  std::atomic<uint64_t> commits_{0};
  std::thread writer_;

  std::mutex stamp_mu_;
  std::unique_ptr<SqliteDb> stamp_db_;  // Guarded by stamp_mu_; opened on first use
};

// Applies every migration newer than the database's version, each in its own transaction.
void ApplySqliteMigrations(SqliteDb& db, int64_t now_millis);
// The schema version this binary's migrations reach.
int64_t LatestSqliteMigration();

}  // namespace tr
