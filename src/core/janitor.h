// Janitor: bounded storage. Deletes what has been finished for longer than the retention
// period (expired connect sessions, users that never connected and have no session left,
// delivered or abandoned webhook events), then gives the freed pages back to the file
// system (Store::PurgeFinished, Store::Compact). Each batch is its own short transaction
// and the pass yields between batches, so requests are never held behind a long delete.
// A deleted user leaves nothing behind by Store::DeleteUser itself; this handles the rest.
#pragma once

#include <cstdint>
#include <functional>

#include "core/clock.h"
#include "store/store.h"

namespace tr {

struct JanitorOptions {
  int64_t retention_millis = int64_t{7} * 24 * 3600 * 1000;  // --retention
  int batch_rows = 500;     // rows of each kind per transaction
  int compact_pages = 256;  // pages an incremental vacuum step gives back (1 MiB at 4 KiB)
};

class Janitor {
 public:
  Janitor(Store& store, const Clock& clock, JanitorOptions options);

  struct PassResult {
    int64_t sessions = 0, users = 0, events = 0;
    int64_t free_pages_left = 0;
    bool ok = true;  // false: the store failed; the next pass tries again
  };
  // One pass: batches until nothing is left that is older than the retention, then compacts.
  // `between_batches` runs after each transaction (the server's loop passes a short pause
  // that returns false when it is stopping, which ends the pass early).
  PassResult RunOnce(const std::function<bool()>& between_batches = [] { return true; });

 private:
  Store& store_;
  const Clock& clock_;
  JanitorOptions options_;
  int64_t free_pages_left_ = 0;  // after the last pass's compaction; RunOnce is not concurrent
};

}  // namespace tr
