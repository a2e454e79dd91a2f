#include "core/janitor.h"

#include <spdlog/spdlog.h>

namespace tr {

Janitor::Janitor(Store& store, const Clock& clock, JanitorOptions options)
    : store_(store), clock_(clock), options_(options) {}

Janitor::PassResult Janitor::RunOnce(const std::function<bool()>& between_batches) {
  PassResult pass;
  // One cut-off for the whole pass: what finishes meanwhile waits for the next one.
  const int64_t before = clock_.NowMillis() - options_.retention_millis;
  for (;;) {
    Result<Store::Purged> purged = store_.PurgeFinished(before, options_.batch_rows);
    if (!purged) {
      pass.ok = false;
      return pass;
    }
    pass.sessions += purged->sessions;
    pass.users += purged->users;
    pass.events += purged->events;
    const bool more = purged->sessions == options_.batch_rows ||
                      purged->users == options_.batch_rows || purged->events == options_.batch_rows;
    if (!more) break;
    if (!between_batches()) return pass;
  }
  // Nothing deleted and nothing left over from the last pass: no write at all.
  if (pass.sessions + pass.users + pass.events == 0 && free_pages_left_ == 0) return pass;
  for (;;) {
    Result<int64_t> left = store_.Compact(options_.compact_pages);
    if (!left) {
      pass.ok = false;
      break;
    }
    pass.free_pages_left = free_pages_left_ = *left;
    if (*left == 0 || !between_batches()) break;
  }
  if (pass.sessions + pass.users + pass.events > 0) {
    spdlog::info("retention: deleted {} connect sessions, {} never-connected users, {} webhook "
                 "events",
                 pass.sessions, pass.users, pass.events);
  }
  return pass;
}

}  // namespace tr
