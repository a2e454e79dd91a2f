#include "http/message.h"

#include <gtest/gtest.h>

namespace tr::http {
namespace {

// A hold that records `id` in `held_by` when it is called.
Response::Hold MarkingHold(int& held_by, int id) {
  return [&held_by, id](std::function<void(bool)> done) {
    held_by = id;
    done(true);
  };
}

TEST(DeferredSettleTest, TheLaterAnswerKeepsThePlaceholdersRouteAndHoldWhenItHasNone) {
  int held_by = 0;
  Response placeholder;
  placeholder.route = "POST /v1/tools/{name}/call";
  placeholder.hold = MarkingHold(held_by, 1);
  Response later;
  later.status = 404;
  Response settled = Deferred::Settle(std::move(placeholder), std::move(later));
  EXPECT_EQ(settled.status, 404);
  EXPECT_EQ(settled.route, "POST /v1/tools/{name}/call");
  ASSERT_TRUE(settled.hold);
  settled.hold([](bool) {});
  EXPECT_EQ(held_by, 1);
}

TEST(DeferredSettleTest, TheLaterAnswersOwnRouteAndHoldWin) {
  int held_by = 0;
  Response placeholder;
  placeholder.route = "placeholder";
  placeholder.hold = MarkingHold(held_by, 1);
  Response later;
  later.route = "later";
  later.hold = MarkingHold(held_by, 2);
  Response settled = Deferred::Settle(std::move(placeholder), std::move(later));
  EXPECT_EQ(settled.route, "later");
  settled.hold([](bool) {});
  EXPECT_EQ(held_by, 2);
}

}  // namespace
}  // namespace tr::http
