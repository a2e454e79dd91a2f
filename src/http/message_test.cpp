#include "http/message.h"

#include <gtest/gtest.h>

namespace tr::http {
namespace {

// An answer with `route` and a hold that records `id` in `held_by` when it is called.
Response Answer(std::string route, int& held_by, int id) {
  Response response;
  response.route = std::move(route);
  response.hold = [&held_by, id](std::function<void(bool)> done) {
    held_by = id;
    done(true);
  };
  return response;
}

TEST(DeferredSettleTest, TheLaterAnswerKeepsThePlaceholdersRouteAndHoldWhenItHasNone) {
  int held_by = 0;
  Response later;
  later.status = 404;
  Response settled =
      Deferred::Settle(Answer("POST /v1/tools/{name}/call", held_by, 1), std::move(later));
  EXPECT_EQ(settled.status, 404);
  EXPECT_EQ(settled.route, "POST /v1/tools/{name}/call");
  ASSERT_TRUE(settled.hold);
  settled.hold([](bool) {});
  EXPECT_EQ(held_by, 1);
}

TEST(DeferredSettleTest, TheLaterAnswersOwnRouteAndHoldWin) {
  int held_by = 0;
  Response settled =
      Deferred::Settle(Answer("placeholder", held_by, 1), Answer("later", held_by, 2));
  EXPECT_EQ(settled.route, "later");
  settled.hold([](bool) {});
  EXPECT_EQ(held_by, 2);
}

}  // namespace
}  // namespace tr::http
