// PgStore's change stamp: what the read caches (core/stamped_cache.h) check their entries
// against. On SQLite every process sees a commit in the shared WAL index at once; on
// PostgreSQL another node's commit is only seen by asking the server. A thread of the store
// asks every kPollInterval; caches are used only while its last answer is recent.
//
// Why a stamp read this way is safe: a cached entry is keyed by the stamp read before its
// value was read. A change committed by another process at time t is seen by the first
// read of config_version that begins after t, which moves the stamp, so an entry filled
// before t is not used once that read has answered. If reads stop answering (the server is
// slow or gone), ChangeStamp turns nullopt kStampMaxAge after the last one that answered
// began, and every request goes to the database. Either way no entry outlives a change by
// more than kStampMaxAge. This process's own configuration writes move the stamp before
// they return (PgStore::TransactConfig).
#include <chrono>

#include <spdlog/spdlog.h>

#include "store/pg_store.h"

namespace tr {

namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(100);
constexpr auto kStampMaxAge = std::chrono::milliseconds(500);

constexpr char kSelectConfigVersion[] = "SELECT version FROM config_version WHERE id = 1";

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::optional<uint64_t> PgStore::ChangeStamp() {
  std::call_once(watch_started_, [this] { watcher_ = std::thread([this] { WatchConfig(); }); });
  const int64_t confirmed = confirmed_at_.load(std::memory_order_acquire);
  if (SteadyNanos() - confirmed > std::chrono::nanoseconds(kStampMaxAge).count()) {
    return std::nullopt;
  }
  return generation_.load(std::memory_order_acquire);
}

void PgStore::WatchConfig() {
  std::unique_ptr<PgConn> db;
  std::optional<int64_t> seen;
  bool failing = false;
  std::unique_lock lock(watch_mu_);
  while (!watch_stopping_) {
    lock.unlock();
    const int64_t began = SteadyNanos();
    try {
      if (!db) db = std::make_unique<PgConn>(url_);
      const int64_t version = db->Run(kSelectConfigVersion).Int(0, 0);
      if (version != seen) {
        seen = version;
        generation_.fetch_add(1);
      }
      confirmed_at_.store(began, std::memory_order_release);
      if (failing) spdlog::info("change stamp: reading config_version again");
      failing = false;
    } catch (const PgError& e) {
      db.reset();
      if (!failing) {
        spdlog::warn("change stamp: cannot read config_version ({}); caches are off",
                     e.sqlstate.empty() ? "no answer" : e.sqlstate);
      }
      failing = true;
    }
    lock.lock();
    watch_wake_.wait_for(lock, kPollInterval, [this] { return watch_stopping_; });
  }
}

void PgStore::StopWatching() {
  {
    std::lock_guard lock(watch_mu_);
    watch_stopping_ = true;
  }
  watch_wake_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

}  // namespace tr
