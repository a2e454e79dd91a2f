#include "core/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace tr {

RateLimiter::RateLimiter(const Clock& clock, double rate_per_second, double burst)
    : clock_(clock), rate_(rate_per_second), burst_(std::max(burst, 1.0)) {}

RateLimiter::Bucket& RateLimiter::Refill(const std::string& key, int64_t now) {
  if (++acquisitions_ % kSweepEvery == 0) {
    // A bucket that has refilled completely carries no state worth keeping.
    const int64_t full_after = static_cast<int64_t>(burst_ / rate_ * 1000) + 1;
    std::erase_if(buckets_, [&](const auto& entry) { return now - entry.second.updated_at > full_after; });
  }
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + static_cast<double>(now - b.updated_at) * rate_ / 1000.0);
  b.updated_at = now;
  return b;
}

int RateLimiter::WaitSeconds(double tokens) const {
  return std::max(1, static_cast<int>(std::ceil((1.0 - tokens) / rate_)));
}

int RateLimiter::Acquire(const std::string& key) {
  if (rate_ <= 0) return 0;
  std::lock_guard lock(mu_);
  Bucket& b = Refill(key, clock_.NowMillis());
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  return WaitSeconds(b.tokens);
}

int RateLimiter::Peek(const std::string& key) {
  if (rate_ <= 0) return 0;
  std::lock_guard lock(mu_);
  Bucket& b = Refill(key, clock_.NowMillis());
  return b.tokens >= 1.0 ? 0 : WaitSeconds(b.tokens);
}

}  // namespace tr
