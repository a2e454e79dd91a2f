// Time source for the domain. SystemClock reads the wall clock; FakeClock is set by tests.
// Times are milliseconds since the Unix epoch (UTC). Thread-safe: Now() may be called from
// any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace tr {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMillis() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_millis) : now_(start_millis) {}
  int64_t NowMillis() const override { return now_.load(); }
  void Advance(int64_t millis) { now_ += millis; }
  void Set(int64_t millis) { now_ = millis; }

 private:
  std::atomic<int64_t> now_;
};

// A UTC calendar date and time of day.
struct CivilTime {
  int64_t year, month, day, hour, minute, second;
};
// The UTC calendar time of a Unix time in seconds (proleptic Gregorian; any int64).
CivilTime UtcCivilTime(int64_t unix_seconds);

// RFC 3339 UTC with milliseconds and 'Z', e.g. "2025-09-06T23:45:16.580Z".
std::string FormatTimestamp(int64_t unix_millis);

}  // namespace tr
