// StampedCache: values read from the store, each kept with the store's change stamp
// (Store::ChangeStamp) read *before* the value was read. An entry is used only while the
// stamp is still the same, that is while no workspace, key or integration has changed
// since: the cache never answers with anything older than the database, in this process
// or after another process (the admin CLI, another node on the same SQLite file) changed
// it. What it saves is the query and the work built on it (parsing, JSON) for nearly every
// read of an API key, a customer integration or a workspace's integration list.
//
// Bounded: when full it starts over. Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/result.h"

namespace tr {

template <class V>
class StampedCache {
 public:
  explicit StampedCache(size_t capacity = 4096) : capacity_(capacity) {}

  // The value for `key` when it was filled at `stamp`.
  std::optional<V> Find(const std::string& key, uint64_t stamp) const {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.first != stamp) return std::nullopt;
    return it->second.second;
  }

  // Keeps `value`, read after the stamp `stamp` was read.
  void Put(const std::string& key, V value, uint64_t stamp) {
    std::lock_guard lock(mu_);
    if (entries_.size() >= capacity_ && !entries_.contains(key)) entries_.clear();
    entries_.insert_or_assign(key, std::pair<uint64_t, V>(stamp, std::move(value)));
  }

  // The value for `key`: cached while `stamp` holds, else `load()` (a store lookup giving
  // Result<std::optional<V>>), kept when found. `stamp` is read by the caller before this
  // call, hence before `load` runs; nullopt (the store cannot tell) always loads.
  template <class Load>
  Result<std::optional<V>> GetOrLoad(const std::string& key, std::optional<uint64_t> stamp,
                                     Load&& load) {
    if (stamp) {
      if (std::optional<V> hit = Find(key, *stamp)) return hit;
    }
    Result<std::optional<V>> loaded = load();
    if (loaded && loaded->has_value() && stamp) Put(key, **loaded, *stamp);
    return loaded;
  }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::pair<uint64_t, V>> entries_;  // Guarded by mu_
};

}  // namespace tr
