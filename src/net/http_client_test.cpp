// The pieces of the outbound client that need no network: bodies read in pieces, and the
// buffering Stream() that fakes inherit.
#include "net/http_client.h"

#include <gtest/gtest.h>

namespace tr::net {
namespace {

// A body handed out `step` bytes at a time, that breaks off after `fail_after` bytes.
class SteppedReader final : public http::BodyReader {
 public:
  SteppedReader(std::string body, size_t step, size_t fail_after = std::string::npos)
      : body_(std::move(body)), step_(step), fail_after_(fail_after) {}
  std::optional<size_t> Read(char* out, size_t max) override {
    if (offset_ >= fail_after_) return std::nullopt;
    size_t n = std::min({max, step_, body_.size() - offset_});
    body_.copy(out, n, offset_);
    offset_ += n;
    return n;
  }

 private:
  std::string body_;
  size_t step_;
  size_t fail_after_;
  size_t offset_ = 0;
};

class EchoClient final : public HttpClient {
 public:
  Result<HttpResult> Send(const HttpCall& call) override {
    last = call;
    return HttpResult{200, {{"content-type", "text/plain"}}, "echo:" + call.body};
  }
  HttpCall last;
};

TEST(StringBodyReaderTest, HandsOutTheBodyInPiecesThenZero) {
  StringBodyReader reader("hello world");
  char buf[4];
  std::string got;
  while (true) {
    std::optional<size_t> n = reader.Read(buf, sizeof buf);
    ASSERT_TRUE(n.has_value());
    if (*n == 0) break;
    EXPECT_LE(*n, sizeof buf);
    got.append(buf, *n);
  }
  EXPECT_EQ(got, "hello world");
  EXPECT_EQ(reader.Read(buf, sizeof buf), 0u) << "the end stays the end";
}

TEST(ReadWholeTest, ReadsToTheEndWithinTheLimit) {
  SteppedReader reader(std::string(100'000, 'x'), 777);
  std::optional<std::string> body = ReadWhole(reader, 100'000);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(body->size(), 100'000u);
}

TEST(ReadWholeTest, NulloptPastTheLimitOrWhenTheBodyBreaksOff) {
  SteppedReader big(std::string(1000, 'x'), 100);
  EXPECT_FALSE(ReadWhole(big, 999).has_value());
  SteppedReader broken(std::string(1000, 'x'), 100, 500);
  EXPECT_FALSE(ReadWhole(broken, 10'000).has_value());
}

TEST(HttpClientStreamTest, TheDefaultReadsTheRequestBodyAndStreamsTheAnswer) {
  EchoClient client;
  SteppedReader body("a body in pieces", 3);
  HttpCall call;
  call.method = "POST";
  call.url = "http://upstream.test/x";
  call.body_reader = &body;
  auto result = client.Stream(call);
  ASSERT_TRUE(result);
  EXPECT_EQ(client.last.body, "a body in pieces");
  EXPECT_EQ(client.last.body_reader, nullptr);
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->Header("content-type"), "text/plain");
  std::optional<std::string> answer = ReadWhole(*result->body, 1 << 20);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(*answer, "echo:a body in pieces");
}

TEST(HttpClientStreamTest, ABodyThatBreaksOffFailsTheCall) {
  EchoClient client;
  SteppedReader body("a body in pieces", 3, 6);
  HttpCall call;
  call.body_reader = &body;
  auto result = client.Stream(call);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::kUnavailable);
}

}  // namespace
}  // namespace tr::net
