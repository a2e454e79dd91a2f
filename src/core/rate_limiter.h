// RateLimiter: a token bucket per key (an API key's hash, a client address), refilled at
// `rate` tokens per second up to `burst`. Thread-safe. A rate of 0 allows everything.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/clock.h"

namespace tr {

class RateLimiter {
 public:
  RateLimiter(const Clock& clock, double rate_per_second, double burst);

  // 0 when the request may go ahead (a token is taken); else the seconds to wait (≥ 1).
  int Acquire(const std::string& key);
  // Like Acquire() but takes nothing: 0 while `key` has a token left, else the wait.
  int Peek(const std::string& key);

 private:
  struct Bucket {
    double tokens;
    int64_t updated_at;
  };
  // Buckets idle this long are full again and dropped, bounding memory.
  static constexpr size_t kSweepEvery = 4096;

  const Clock& clock_;
  const double rate_;
  const double burst_;
  // Refills `key`'s bucket to now; the bucket. REQUIRES: mu_ held.
  Bucket& Refill(const std::string& key, int64_t now);
  int WaitSeconds(double tokens) const;

  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // Guarded by mu_
  size_t acquisitions_ = 0;                          // Guarded by mu_
};

}  // namespace tr
