// Store: the persistence seam. Every SQL statement of the service lives behind this
// interface; the domain sees only these operations and the values of core/model.h.
// Implementations: SqliteStore (embedded default) and PgStore (PostgreSQL, several nodes).
//
// Thread contract: every method may be called from any thread concurrently. Methods block
// until their work is done; a successful write has been durably committed (fsync) when the
// method returns, and a read returns only what is on disk, except inside a DurabilityScope
// (below). Failures to reach the database are Errc::kUnavailable; anything else unexpected
// is Errc::kInternal (details logged by the implementation, never returned).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/result.h"
#include "store/dump.h"

namespace tr {

// Deferred durability. A store may make a commit visible before it is on disk: SqliteStore
// commits without fsync and a syncer thread then makes every commit made meanwhile durable
// with one fsync (group commit). Outside a scope, a store method still waits for that. Inside
// one, on the thread that opened it, methods return as soon as their work is committed and
// note here the commit that must reach the disk first; the owner of the scope lets nothing it
// learned leave the process (an answer, an outbound call, an event) before
// Store::WhenDurable(ticket()) says so. Scopes nest; the innermost one collects.
//
// Inside a scope, what a thread wrote may not be committed yet when the call returns: other
// threads' reads do not see it until the store commits it (the scope's own reads do). Work
// whose result another thread picks up through memory (a promise, a shared map) rather than
// through the store runs under a DurabilityScope::Suspend, where store calls wait as outside
// any scope, so that what it wrote is committed and on disk when the other thread looks.
class DurabilityScope {
 public:
  DurabilityScope() : outer_(current_) { current_ = this; }
  ~DurabilityScope() { current_ = outer_; }
  DurabilityScope(const DurabilityScope&) = delete;
  DurabilityScope& operator=(const DurabilityScope&) = delete;

  // No scope on this thread while it lives.
  class Suspend {
   public:
    Suspend() : saved_(current_) { current_ = nullptr; }
    ~Suspend() { current_ = saved_; }
    Suspend(const Suspend&) = delete;
    Suspend& operator=(const Suspend&) = delete;

   private:
    DurabilityScope* saved_;
  };

  // The scope open on this thread, or nullptr.
  static DurabilityScope* Current() { return current_; }
  // Commit `ticket` must be on disk before what this scope learned goes out.
  void Require(uint64_t ticket) { ticket_ = std::max(ticket_, ticket); }
  // 0: nothing to wait for.
  uint64_t ticket() const { return ticket_; }

 private:
  static inline thread_local DurabilityScope* current_ = nullptr;
  DurabilityScope* outer_;
  uint64_t ticket_ = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Workspaces and their settings.
  virtual Status CreateWorkspace(const Workspace& ws) = 0;
  virtual Result<std::optional<Workspace>> FindWorkspace(const std::string& workspace_id) = 0;
  virtual Status AddRedirectOrigin(const std::string& workspace_id, const std::string& origin) = 0;
  virtual Result<std::vector<std::string>> ListRedirectOrigins(
      const std::string& workspace_id) = 0;

  // API keys.
  virtual Status CreateApiKey(const ApiKeyRecord& key) = 0;
  // Sets revoked_at unless already revoked. kNotFound when there is no such key.
  virtual Status RevokeApiKey(const std::string& key_id, int64_t now) = 0;
  virtual Result<std::optional<ApiKeyRecord>> FindApiKeyByHash(const std::string& key_hash) = 0;

  // Admin listings: every workspace, and a workspace's API keys (revoked ones too), oldest
  // first (created_at, then id).
  virtual Result<std::vector<Workspace>> ListWorkspaces() = 0;
  virtual Result<std::vector<ApiKeySummary>> ListApiKeys(const std::string& workspace_id) = 0;
  // Records that `key_id` was used at `now` (a later time recorded before is kept). Does
  // not move ChangeStamp: callers throttle it, and it must not reload the caches.
  virtual Status RecordApiKeyUse(const std::string& key_id, int64_t now) = 0;

  // Custom integrations. Put replaces an existing definition with the same id.
  virtual Status PutCustomIntegration(const CustomIntegration& ci) = 0;
  virtual Result<std::optional<CustomIntegration>> FindCustomIntegration(
      const std::string& workspace_id, const std::string& integration_id) = 0;

  // Customer integrations.
  virtual Status CreateCustomerIntegration(const CustomerIntegration& ci) = 0;
  virtual Result<std::optional<CustomerIntegration>> FindCustomerIntegration(
      const std::string& customer_integration_id) = 0;
  // kNotFound when there is no such customer integration.
  virtual Status SetCustomerIntegrationActive(const std::string& customer_integration_id,
                                              bool active, int64_t now) = 0;
  // Oldest first (created_at, then id). `active` nullopt: all.
  virtual Result<std::vector<CustomerIntegration>> ListCustomerIntegrations(
      const std::string& workspace_id, std::optional<bool> active) = 0;

  // Integration users and connect sessions.
  virtual Result<std::optional<IntegrationUser>> FindUser(
      const std::string& customer_integration_id, const std::string& user_id) = 0;
  // In one transaction: inserts `user` unless (cid, userId) exists (then leaves it as it is),
  // and inserts `session`.
  virtual Status CreateUserAndSession(const IntegrationUser& user,
                                      const ConnectSession& session) = 0;

  // Connect sessions, by the hash of their token or of their OAuth state.
  virtual Result<std::optional<ConnectSession>> FindSessionByToken(
      const std::string& token_hash) = 0;
  virtual Result<std::optional<ConnectSession>> FindSessionByState(
      const std::string& state_hash) = 0;
  // Counts one form submission for an unused session; the count including this one.
  // kNotFound when the session is unknown or already used.
  virtual Result<int> CountSubmission(const std::string& token_hash) = 0;
  // Ends a session, once: marks it used and, when `success`, makes its user active with
  // `credentials` (kept as they were when nullopt), all in one transaction. kConflict
  // when the session was already used; kNotFound when the session or its user is gone
  // (the user was deleted meanwhile), and then nothing is written, `event` included. A
  // failure leaves the user untouched.
  // `event`, when given, is put in the webhook outbox in the same transaction (if the
  // workspace has a webhook). `access_expires_at` is stored beside the credentials.
  virtual Status FinishSession(const std::string& token_hash, bool success,
                               const std::optional<SealedSecret>& credentials,
                               std::optional<int64_t> access_expires_at, int64_t now,
                               const std::optional<OutboxEvent>& event) = 0;

  // Credentials lifecycle. kNotFound when the user does not exist.
  virtual Status UpdateCredentials(const std::string& customer_integration_id,
                                   const std::string& user_id, const SealedSecret& credentials,
                                   std::optional<int64_t> access_expires_at, int64_t now) = 0;
  // Marks the user inactive (credentials kept for audit, unusable) with its events.
  virtual Status DeactivateUser(const std::string& customer_integration_id,
                                const std::string& user_id, int64_t now,
                                const std::vector<OutboxEvent>& events) = 0;
  // Deletes the user, its sessions and lease. kNotFound when absent.
  virtual Status DeleteUser(const std::string& customer_integration_id, const std::string& user_id,
                            const std::optional<OutboxEvent>& event) = 0;
  // UpdateCredentials and a successful FinishSession also end a refresh failure streak.
  // Records a failed refresh: the user's streak is now `failures` long and the sweep leaves
  // it alone until `next_refresh_at`; `event`, when given, goes in the outbox in the same
  // transaction. kNotFound when the user does not exist.
  virtual Status RecordRefreshFailure(const std::string& customer_integration_id,
                                      const std::string& user_id, int failures,
                                      int64_t next_refresh_at,
                                      const std::optional<OutboxEvent>& event) = 0;
  // Active OAuth users whose access token expires before `before`, soonest first, at most
  // `limit`, leaving out those backing off after failed refreshes (next_refresh_at > `now`).
  virtual Result<std::vector<std::pair<std::string, std::string>>> ListUsersExpiringBefore(
      int64_t before, int64_t now, int limit) = 0;

  // A lease that lets one process at a time refresh a user's tokens. True when `holder`
  // now holds it (it was free, expired, or already `holder`'s) until `expires_at`.
  virtual Result<bool> TryAcquireLease(const std::string& customer_integration_id,
                                       const std::string& user_id, const std::string& holder,
                                       int64_t now, int64_t expires_at) = 0;
  virtual Status ReleaseLease(const std::string& customer_integration_id,
                              const std::string& user_id, const std::string& holder) = 0;

  // Webhooks and their outbox.
  virtual Status SetWebhook(const Webhook& webhook, int64_t now) = 0;
  virtual Result<std::optional<Webhook>> FindWebhook(const std::string& workspace_id) = 0;
  // Adds `event` to the outbox when its workspace has a webhook; otherwise does nothing.
  virtual Status EnqueueEvent(const OutboxEvent& event) = 0;
  // Whether any undelivered event is due at `now` (a read: cheap to poll).
  virtual Result<bool> HasDueEvents(int64_t now) = 0;
  // Claims up to `limit` undelivered events due at `now`, hiding them from other claimers
  // until `now + claim_millis`.
  virtual Result<std::vector<OutboxEvent>> ClaimDueEvents(int64_t now, int64_t claim_millis,
                                                          int limit) = 0;
  virtual Status MarkEventDelivered(const std::string& event_id, int64_t now) = 0;
  // Records a failed attempt; the event is tried again at `next_attempt_at`, or never when
  // nullopt (given up).
  virtual Status MarkEventFailed(const std::string& event_id, int attempts,
                                 std::optional<int64_t> next_attempt_at) = 0;

  // MCP sessions. Create also removes sessions expired at `now`; Find returns expired ones
  // too (the caller checks expires_at); Delete is true when a session was removed.
  virtual Status CreateMcpSession(const McpSession& session, int64_t now) = 0;
  virtual Result<std::optional<McpSession>> FindMcpSession(const std::string& session_hash) = 0;
  virtual Result<bool> DeleteMcpSession(const std::string& session_hash) = 0;

  // The discovered authorization of an MCP server's customer integration. Put writes `row`
  // when there is none yet (`replaces` nullopt), or over the row whose updated_at is
  // `*replaces` (compare-and-set); true when written, false when another writer came first.
  virtual Result<std::optional<McpOAuthClient>> FindMcpOAuthClient(
      const std::string& customer_integration_id) = 0;
  virtual Result<bool> PutMcpOAuthClient(const McpOAuthClient& row,
                                         std::optional<int64_t> replaces) = 0;

  // Key rotation: up to `limit` sealed values whose key id is not `key_id`.
  virtual Result<std::vector<SealedRow>> ListSealedNotUnder(const std::string& key_id,
                                                            int limit) = 0;
  // Replaces a sealed value with `fresh` if it still holds `row.secret` (compare-and-set,
  // so a value rewritten meanwhile is left alone). True when replaced.
  virtual Result<bool> ReplaceSealed(const SealedRow& row, const SealedSecret& fresh) = 0;

  // A value that changes whenever a workspace, redirect origin, API key, custom or customer
  // integration changes, by this process or another one sharing the database (users and
  // sessions do not move it); nullopt when the store cannot tell. Caches of those objects
  // key their entries with the stamp read before they read the database, and use an entry
  // only while the stamp is unchanged, so they never serve anything older than the database.
  virtual std::optional<uint64_t> ChangeStamp() { return std::nullopt; }

  // Calls `done(true)` once every commit up to `ticket` (from DurabilityScope) is on disk,
  // or `done(false)` if it may never be (a failed fsync: the store then refuses writes). It
  // may run `done` at once on this thread, or later on a thread of the store's; `done` must
  // not block. A store whose commits are durable when they return calls it at once.
  virtual void WhenDurable(uint64_t ticket, std::function<void(bool)> done) {
    (void)ticket;
    done(true);
  }

  // Health: the database answers and its schema is at the version this binary expects.
  virtual Status Ping() = 0;
  struct Stats {
    double idle_connections = 0;   // open reader connections not in use
    // SQLite: commits not on disk yet; PostgreSQL: callers waiting for a connection.
    double queued_writes = 0;
    double commits = 0;  // SQLite: fsyncs of the WAL (group commits) so far; PostgreSQL: commits
    // 1 when writes are refused after a failed write or sync of the database (SQLite).
    double writes_refused = 0;
  };
  virtual Stats GetStats() = 0;

  // Export and import (`toolregistry export` / `import`): every row of every table of
  // store/dump.h, sealed values byte for byte. ExportRows calls `sink` for each row, table by
  // table, from one consistent snapshot.
  virtual Status ExportRows(const std::function<void(const DumpRow&)>& sink) = 0;
  // Inserts `rows` in one transaction; kConflict (and nothing inserted) when the database
  // holds any row already.
  virtual Status ImportRows(const std::vector<DumpRow>& rows) = 0;

  // Bounded storage (core/janitor.h). In one transaction, deletes up to `limit` rows of each
  // kind that finished before `before`: connect sessions that expired, then users that never
  // connected (inactive, no credentials, created before `before`) with no session left, then
  // webhook events created before `before` that were delivered or given up. Returns how many
  // rows it deleted: fewer than `limit` of every kind means nothing is left for now.
  struct Purged {
    int sessions = 0;
    int users = 0;
    int events = 0;
  };
  virtual Result<Purged> PurgeFinished(int64_t before, int limit) = 0;
  // Gives up to `pages` pages of deleted rows back to the file system where the engine
  // leaves that to its user (SQLite: an incremental vacuum, in its own short transaction).
  // Returns how many free pages are left to give back; 0 when there is nothing to do.
  virtual Result<int64_t> Compact(int /*pages*/) { return int64_t{0}; }

  // Start-up: claims the one-time bootstrap. True exactly once per database: when it
  // returns true, `ws` and `key` have been created in the same transaction.
  virtual Result<bool> BootstrapOnce(const Workspace& ws, const ApiKeyRecord& key) = 0;
};

}  // namespace tr
