// The pieces of the outbound client that need no network: bodies read in pieces, and the
// buffering Stream() that fakes inherit. Then how CurlHttpClient reports a call that got no
// answer, against loopback sockets of the test's own (port 0).
#include "net/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "net/curl_http_client.h"

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

// A credential's header and query parameter replace any the caller sent under that name.
TEST(CredentialPlacementTest, SetHeaderLeavesOneFieldOfTheName) {
  Headers headers{{"X-Key", "caller"}, {"Accept", "*/*"}, {"x-KEY", "again"}};
  SetHeader(headers, "X-Key", "stored");
  EXPECT_EQ(headers, (Headers{{"Accept", "*/*"}, {"X-Key", "stored"}}));
}

TEST(CredentialPlacementTest, WithoutQueryParamDropsEveryValueOfTheName) {
  EXPECT_EQ(WithoutQueryParam("https://a.test/x?api_key=1&b=2&api%5Fkey=3&api_key#f", "api_key"),
            "https://a.test/x?b=2#f");
  EXPECT_EQ(WithoutQueryParam("https://a.test/x?api_key=1", "api_key"), "https://a.test/x");
  EXPECT_EQ(WithoutQueryParam("https://a.test/x?a+b=1&c=", "a b"), "https://a.test/x?c=");
  EXPECT_EQ(WithoutQueryParam("https://a.test/x", "k"), "https://a.test/x");
  EXPECT_EQ(WithoutQueryParam("https://a.test/x?k2=1&&k=2&%zz=3", "k"),
            "https://a.test/x?k2=1&%zz=3");
}

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

// A loopback TCP socket on a port of its own. Listening, it never accepts: the kernel
// completes connections into its backlog, so a client connects and then hears nothing.
// Not listening, a connection to it is refused.
class LoopbackSocket {
 public:
  explicit LoopbackSocket(bool listening) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        (listening && listen(fd_, 16) != 0) ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot open a loopback socket";
    }
    port_ = ntohs(addr.sin_port);
  }
  ~LoopbackSocket() { close(fd_); }
  // A URL on this socket, with a secret in its query that no error may repeat.
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/x?key=s3cr3t"; }

 private:
  int fd_;
  uint16_t port_ = 0;
};

void ExpectFailure(const Result<HttpResult>& sent, const Result<StreamedResult>& streamed,
                   Errc code) {
  ASSERT_FALSE(sent.ok());
  ASSERT_FALSE(streamed.ok());
  EXPECT_EQ(sent.error().code, code) << sent.error().message();
  EXPECT_EQ(streamed.error().code, code) << streamed.error().message();
  for (const std::string& message : {sent.error().message(), streamed.error().message()}) {
    EXPECT_EQ(message.find("s3cr3t"), std::string::npos) << message;
    EXPECT_EQ(message.find("127.0.0.1"), std::string::npos) << message;
  }
}

// The proxy answers a timeout with 504 and any other call without an answer with 502, so the
// client tells them apart.
TEST(CurlHttpClientTest, ATimeoutIsGatewayTimeoutOtherFailuresAreUnavailable) {
  CurlHttpClient client(CurlOptions{.allow_private_network = true});
  LoopbackSocket silent(/*listening=*/true);
  HttpCall call;
  call.url = silent.Url();
  call.timeout = std::chrono::milliseconds(300);
  ExpectFailure(client.Send(call), client.Stream(call), Errc::kGatewayTimeout);

  LoopbackSocket closed(/*listening=*/false);
  call.url = closed.Url();
  ExpectFailure(client.Send(call), client.Stream(call), Errc::kUnavailable);

  CurlHttpClient strict(CurlOptions{});
  call.url = silent.Url();
  ExpectFailure(strict.Send(call), strict.Stream(call), Errc::kUnavailable);
  EXPECT_NE(strict.Send(call).error().message().find("--allow-private-network"), std::string::npos);
}

}  // namespace
}  // namespace tr::net
