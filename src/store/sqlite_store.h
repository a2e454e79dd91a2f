// SqliteStore: the Store on an embedded SQLite file in WAL mode.
//
// Reads run on a pool of reader connections (WAL lets them proceed beside the writer).
// A write runs on the calling thread, on the one writer connection (a mutex), in a savepoint
// of the open batch: a transaction that collects writes until the syncer thread commits it
// (synchronous=NORMAL: appended to the WAL, not synced) and fsyncs the WAL, while the next
// batch fills (group commit). The syncer also runs the checkpoints. Outside a
// DurabilityScope, a write returns, and a read that may have seen a batch not yet on disk
// returns, only once that batch is on disk; inside one, the scope's owner waits
// (store/store.h), and the scope's reads after its writes use the writer connection, so they
// see them. Migrations are applied when the store opens.
// Thread-safe; see store/store.h. docs/decisions.md, "Group commit", says why.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite_db.h"
#include "store/store.h"
#include "store/wal_index.h"

namespace tr {

class SqliteStore final : public Store {
 public:
  // How a commit reaches the disk. kGroup (the server): the syncer commits the open batch
  // without fsync and then fsyncs the WAL, so a commit is visible to other connections a
  // moment before it is on disk; this store's own answers wait for that (store/store.h), but
  // another process reading the file could not know. kSynchronous (admin commands, which run
  // beside a server): each COMMIT is on disk before any connection sees it.
  enum class Commits { kGroup, kSynchronous };
  // How the store does its I/O (`serve --sqlite-io`; docs/decisions.md, "Plain SQLite I/O").
  // kTr: our VFS (store/sqlite_vfs.h), the syncer's group commit (`commits`), readers that
  // reuse their snapshot while the WAL-index header stays the same. kPlain: SQLite as it
  // comes: its "unix" VFS, each write its own transaction committed with synchronous=FULL
  // on the calling thread (SQLite syncs the WAL before COMMIT returns), SQLite's automatic
  // checkpoint, a read transaction per read; `commits` is moot. The measure and the fallback
  // of the other.
  enum class Io { kTr, kPlain };
  // Opens or creates the database at `path` and applies pending migrations. kTr falls back
  // to kPlain, with a warning, when the VFS's start-up check fails (CheckTrVfs), or when the
  // environment variable TOOLREGISTRY_TEST_VFS_CHECK=fail says so (the tests' way to take
  // that path).
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                   Commits commits = Commits::kGroup,
                                                   Io io = Io::kTr);
  Io io() const { return io_; }
  ~SqliteStore() override;  // syncs what is committed, then closes every connection

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
  Result<int64_t> Compact(int pages) override;
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
  // The config_version row (migration 4), which triggers bump on every change of a
  // workspace, redirect origin, API key or integration, by any connection or process. Read
  // on a connection of its own, so that it never waits for a reader.
  std::optional<uint64_t> ChangeStamp() override;
  Status Ping() override;
  void WhenDurable(uint64_t ticket, std::function<void(bool)> done) override;
  Stats GetStats() override;
  Status ExportRows(const std::function<void(const DumpRow&)>& sink) override;
  Status ImportRows(const std::vector<DumpRow>& rows) override;

 private:
  using WriteFn = std::function<Status(SqliteDb&)>;

  SqliteStore(std::string path, Io io);
  // Runs `fn` on a reader connection, in one read transaction (one snapshot for all its
  // statements). SqliteError becomes kUnavailable/kInternal.
  template <typename T, typename Fn>
  Result<T> Read(Fn&& fn) {
    try {
      if (ReadsOwnWrites()) {
        // This thread's scope wrote to the open batch, which no reader sees yet.
        std::lock_guard lock(writer_mu_);
        T value = fn(*writer_db_);
        if (Status seen = AfterOwnRead(); !seen.ok()) return seen.error();
        return value;
      }
      Reader reader = AcquireReader();
      BeginRead(reader);
      T value = fn(*reader.db);
      if (io_ == Io::kPlain) EndRead(reader);
      ReleaseReader(std::move(reader));
      if (Status seen = AfterRead(); !seen.ok()) return seen.error();
      return value;
    } catch (const SqliteError& e) {
      // A reader connection is dropped (it may be in a bad state); the writer's open batch
      // is unaffected by a failed read.
      return ToError(e);
    }
  }
  // Opens the writer and checkpoint connections and migrates; throws SqliteError.
  void OpenConnections(Commits commits);
  // A reader connection; Read runs each function in a read transaction on one, which stays
  // open after it. `snapshot` is the WAL-index header read before that transaction began.
  // While the header stays the same nothing has been committed, so the transaction's
  // snapshot is still the latest one and the next Read may run in it: no transaction to
  // begin and end (locks on the WAL index, a stat of the file) per read.
  struct Reader {
    std::unique_ptr<SqliteDb> db;
    bool in_transaction = false;
    std::optional<WalIndexHeader::Bytes> snapshot;  // nullopt: not to be reused
  };
  Reader AcquireReader();
  void ReleaseReader(Reader reader);
  // Keeps the reader's read transaction if its snapshot is still the latest; else ends it
  // and begins a new one, with the header read before it.
  void BeginRead(Reader& reader);
  // Ends the reader's read transaction (Io::kPlain: one per read).
  static void EndRead(Reader& reader);
  // Ends the read transactions of idle readers, so that none holds back a checkpoint.
  void EndIdleSnapshots();
  // Logs the detail; the Error carries only a public message.
  static Error ToError(const SqliteError& e);
  // Runs `fn` in a savepoint of the open batch (a transaction on the writer connection,
  // begun if none is open); then waits until the syncer has committed the batch and it is on
  // disk, or notes the batch in the thread's DurabilityScope.
  Status Write(const WriteFn& fn);
  // Io::kPlain: runs `fn` in a transaction of its own, committed (and synced by SQLite)
  // before it returns. Needs writer_mu_.
  Status WritePlain(SqliteDb& db, const WriteFn& fn);
  // A failed write or sync of the database's files (SQLITE_IOERR, SQLITE_FULL, or the
  // syncer's fdatasync): from now on every write is refused (kUnavailable), /readyz says why
  // (Ping), and every commit not known to be on disk is answered as failed. Nothing is
  // retried: after a failed fsync the kernel may have dropped the dirty pages and marked them
  // clean, so a later fsync that succeeds proves nothing (docs/decisions.md, "A failed fsync
  // stops writes"). Other failures (a constraint, SQLITE_BUSY) are not I/O: no fence.
  void FenceIfIoFailure(const SqliteError& e);
  void Fence(const std::string& reason);
  // Tells the syncer the open batch has a write to commit.
  void WakeSyncer();
  // The syncer: commits the open batch, if any; returns the number of the last batch closed.
  uint64_t CommitOpenBatch();
  // Rolls the open batch back and marks it failed. Needs writer_mu_.
  void FailOpenBatch(SqliteDb& db, const SqliteError& e);
  // True when this thread's DurabilityScope wrote to a batch not committed yet: its reads then
  // go to the writer connection, so that a request reads what it wrote.
  bool ReadsOwnWrites() const;
  // A read has returned: a batch it may have seen that is not on disk yet, it waits for, or
  // notes. AfterOwnRead: the same for a read on the writer connection (needs writer_mu_).
  Status AfterRead();
  // Fenced: true when every batch after the last synced one up to `seen` was rolled back, so
  // that a read saw nothing that is not on disk, and may be answered. After a failed fsync
  // the batch it was for is committed and visible to every reader, and not known to be on
  // disk: reads then fail too (kTr only; under kPlain a commit whose sync failed is never
  // published).
  bool OnlyRolledBackSince(uint64_t seen);
  Status AfterOwnRead();
  // Waits until batch `ticket` is on disk, or notes it in the thread's DurabilityScope.
  Status AwaitDurable(uint64_t ticket);
  bool IsDurable(uint64_t ticket) const;  // needs sync_mu_
  void SyncLoop();
  void Checkpoint();
  static void InsertEvent(SqliteDb& db, const OutboxEvent& event);

  std::string path_;
  Io io_;

  std::mutex writer_mu_;
  std::unique_ptr<SqliteDb> writer_db_;  // Guarded by writer_mu_
  // Writes go into batches numbered 1, 2, ...: the open one (a transaction on the writer
  // connection) collects them until the syncer commits it, then fsyncs the WAL for it.
  bool batch_open_ = false;      // Guarded by writer_mu_
  uint64_t open_batch_ = 1;      // Guarded by writer_mu_: the number of the batch to fill
  int open_batch_writes_ = 0;    // Guarded by writer_mu_
  // The last batch readers may see (set before its COMMIT), the last one committed (after),
  // the last one on disk.
  std::atomic<uint64_t> visible_{0};
  std::atomic<uint64_t> committed_{0};
  std::atomic<uint64_t> synced_{0};
  std::atomic<bool> failed_{false};  // a write or an fsync failed: nothing more is written
  std::mutex fence_mu_;
  std::string fence_reason_;         // Guarded by fence_mu_: why failed_ was set, for /readyz
  std::atomic<int> wal_pages_{0};    // pages in the WAL after the last commit

  std::mutex readers_mu_;
  std::vector<Reader> idle_readers_;  // Guarded by readers_mu_

  std::mutex sync_mu_;
  std::condition_variable sync_cv_;     // the syncer: a commit to sync, or stopping_
  std::condition_variable durable_cv_;  // callers waiting in AwaitDurable
  struct Waiter {
    uint64_t ticket;
    std::function<void(bool)> done;
  };
  bool incremental_vacuum_ = false;  // the database has auto_vacuum=INCREMENTAL; set at open
  std::vector<Waiter> waiters_;        // Guarded by sync_mu_ (WhenDurable)
  std::set<uint64_t> failed_batches_;  // Guarded by sync_mu_: rolled back, not on disk
  bool to_commit_ = false;             // Guarded by sync_mu_: a write is in the open batch
  bool stopping_ = false;              // Guarded by sync_mu_
  int wal_fd_ = -1;              // the WAL file, for fdatasync; used by the syncer only
  std::unique_ptr<SqliteDb> checkpoint_db_;  // used by the syncer only
  std::atomic<uint64_t> fsyncs_{0};
  std::thread syncer_;

  std::mutex stamp_mu_;
  std::unique_ptr<SqliteDb> stamp_db_;  // Guarded by stamp_mu_; opened on first use
  // The last stamp read, with the WAL-index header read just before it: while the header is
  // the same, nothing has been committed since, and the stamp still holds.
  std::unique_ptr<WalIndexHeader> wal_index_;  // nullptr: every ChangeStamp reads
  std::mutex last_stamp_mu_;
  std::optional<WalIndexHeader::Bytes> last_stamp_header_;  // Guarded by last_stamp_mu_
  uint64_t last_stamp_ = 0;                                 // Guarded by last_stamp_mu_
};

// Applies every migration newer than the database's version, each in its own transaction.
void ApplySqliteMigrations(SqliteDb& db, int64_t now_millis);
// The schema version this binary's migrations reach.
int64_t LatestSqliteMigration();

}  // namespace tr
