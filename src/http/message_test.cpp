#include "http/message.h"

#include <gtest/gtest.h>

namespace tr::http {
namespace {

TEST(DeferredSettleTest, TheLaterAnswerKeepsThePlaceholdersRouteAndHoldWhenItHasNone) {
  int held_by = 0;
  Response placeholder;
  placeholder.route = "POST /v1/tools/{name}/call";
  placeholder.hold = [&held_by](std::function<void(bool)> done) {
    held_by = 1;
    done(true);
  };
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
  placeholder.hold = [&held_by](std::function<void(bool)> done) {
    held_by = 1;
    done(true);
  };
  Response later;
  later.route = "later";
  later.hold = [&held_by](std::function<void(bool)> done) {
    held_by = 2;
    done(true);
  };
  Response settled = Deferred::Settle(std::move(placeholder), std::move(later));
  EXPECT_EQ(settled.route, "later");
  settled.hold([](bool) {});
  EXPECT_EQ(held_by, 2);
}

}  // namespace
}  // namespace tr::http
