// Tests for RateLimiter (core/rate_limiter.h) on a fake clock.
#include "core/rate_limiter.h"

#include <gtest/gtest.h>

namespace tr {
namespace {

TEST(RateLimiterTest, BurstThenRefillAtTheRate) {
  FakeClock clock(1'000'000);
  RateLimiter limiter(clock, /*rate_per_second=*/2, /*burst=*/3);
  EXPECT_EQ(limiter.Acquire("k"), 0);
  EXPECT_EQ(limiter.Acquire("k"), 0);
  EXPECT_EQ(limiter.Acquire("k"), 0);
  EXPECT_GE(limiter.Acquire("k"), 1);  // the burst is spent
  clock.Advance(500);                   // one token back at 2 per second
  EXPECT_EQ(limiter.Acquire("k"), 0);
  EXPECT_GE(limiter.Acquire("k"), 1);
  clock.Advance(10'000);                // refills up to the burst, not beyond
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Acquire("k"), 0);
  EXPECT_GE(limiter.Acquire("k"), 1);
}

TEST(RateLimiterTest, KeysAreIndependent) {
  FakeClock clock(0);
  RateLimiter limiter(clock, 1, 1);
  EXPECT_EQ(limiter.Acquire("a"), 0);
  EXPECT_GE(limiter.Acquire("a"), 1);
  EXPECT_EQ(limiter.Acquire("b"), 0);
}

TEST(RateLimiterTest, RetryAfterCoversTheWait) {
  FakeClock clock(0);
  RateLimiter limiter(clock, 0.25, 1);  // one request every 4 seconds
  EXPECT_EQ(limiter.Acquire("k"), 0);
  EXPECT_EQ(limiter.Acquire("k"), 4);
}

TEST(RateLimiterTest, ZeroRateMeansNoLimit) {
  FakeClock clock(0);
  RateLimiter limiter(clock, 0, 1);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(limiter.Acquire("k"), 0);
}

}  // namespace
}  // namespace tr

namespace tr {
namespace {

TEST(RateLimiterTest, PeekTakesNothing) {
  FakeClock clock(0);
  RateLimiter limiter(clock, 1, 2);
  EXPECT_EQ(limiter.Peek("k"), 0);
  EXPECT_EQ(limiter.Peek("k"), 0);
  EXPECT_EQ(limiter.Acquire("k"), 0);
  EXPECT_EQ(limiter.Acquire("k"), 0);
  EXPECT_GE(limiter.Peek("k"), 1);
  clock.Advance(1000);
  EXPECT_EQ(limiter.Peek("k"), 0);
}

}  // namespace
}  // namespace tr
