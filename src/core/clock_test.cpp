// Tests for FormatTimestamp (core/clock.h): RFC 3339 UTC with milliseconds and 'Z'.
#include "core/clock.h"

#include <gtest/gtest.h>

namespace tr {
namespace {

TEST(FormatTimestampTest, KnownInstants) {
  const struct {
    int64_t millis;
    const char* text;
  } kCases[] = {
      {0, "1970-01-01T00:00:00.000Z"},
      {1757202316580, "2025-09-06T23:45:16.580Z"},  // CONTRACT section 2's example
      {951782400123, "2000-02-29T00:00:00.123Z"},   // a leap day
      {4102444799999, "2099-12-31T23:59:59.999Z"},
      {-1, "1969-12-31T23:59:59.999Z"},
  };
  for (const auto& c : kCases) EXPECT_EQ(FormatTimestamp(c.millis), c.text) << c.millis;
}

TEST(FormatTimestampTest, FakeClockAdvances) {
  FakeClock clock(1000);
  clock.Advance(1500);
  EXPECT_EQ(clock.NowMillis(), 2500);
  EXPECT_EQ(FormatTimestamp(clock.NowMillis()), "1970-01-01T00:00:02.500Z");
}

}  // namespace
}  // namespace tr
