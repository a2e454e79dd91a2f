// Tests for the webhook retry schedule (core/webhook_dispatcher.h).

#include "core/webhook_dispatcher.h"

#include <gtest/gtest.h>

namespace tr {
namespace {

TEST(WebhookRetryDelayTest, DoublesFromASecondUpToAnHourForAboutThreeDays) {
  const WebhookOptions options;
  EXPECT_EQ(WebhookRetryDelay(options, 1), 1'000);
  EXPECT_EQ(WebhookRetryDelay(options, 2), 2'000);
  EXPECT_EQ(WebhookRetryDelay(options, 12), 2'048'000);
  EXPECT_EQ(WebhookRetryDelay(options, 13), 3'600'000);
  EXPECT_EQ(WebhookRetryDelay(options, 80), 3'600'000);
  int64_t waited = 0;
  for (int attempts = 1; attempts < options.max_attempts; ++attempts) {
    waited += WebhookRetryDelay(options, attempts);
  }
  // Standard Webhooks: a schedule spanning several days.
  EXPECT_GE(waited, 71LL * 3'600'000);
  EXPECT_LE(waited, 73LL * 3'600'000);
}

TEST(WebhookRetryDelayTest, AReceiversRetryAfterIsHonouredUpToTheCap) {
  const WebhookOptions options;
  EXPECT_EQ(WebhookRetryDelay(options, 1, 30'000), 30'000);
  EXPECT_EQ(WebhookRetryDelay(options, 5, 1'000), 16'000);  // never sooner than the backoff
  EXPECT_EQ(WebhookRetryDelay(options, 1, 86'400'000), 3'600'000);
}

}  // namespace
}  // namespace tr
