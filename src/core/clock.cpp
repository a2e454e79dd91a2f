#include "core/clock.h"

#include <algorithm>
#include <ctime>
#include <string>

#include <fmt/format.h>

namespace tr {

namespace {

// Writes `value` as `width` decimal digits at `out`.
void Digits(char* out, int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

CivilTime UtcCivilTime(int64_t unix_seconds) {
  // Civil date from days since the epoch (Howard Hinnant's algorithm): no locale, no tz.
  int64_t days = unix_seconds / 86400;
  int64_t secs = unix_seconds % 86400;
  if (secs < 0) {
    secs += 86400;
    days -= 1;
  }
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return CivilTime{year, month, day, secs / 3600, secs / 60 % 60, secs % 60};
}

std::string FormatTimestamp(int64_t unix_millis) {
  int64_t seconds = unix_millis / 1000;
  int64_t millis = unix_millis % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  const CivilTime t = UtcCivilTime(seconds);
  if (t.year < 0 || t.year > 9999) {
    return fmt::format("{:04}-{:02}-{:02}T00:00:00.000Z", std::clamp<int64_t>(t.year, 0, 9999),
                       t.month, t.day);
  }
  std::string out = "0000-00-00T00:00:00.000Z";
  Digits(&out[0], t.year, 4);
  Digits(&out[5], t.month, 2);
  Digits(&out[8], t.day, 2);
  Digits(&out[11], t.hour, 2);
  Digits(&out[14], t.minute, 2);
  Digits(&out[17], t.second, 2);
  Digits(&out[20], millis, 3);
  return out;
}

}  // namespace tr
