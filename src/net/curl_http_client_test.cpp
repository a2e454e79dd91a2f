// CurlHttpClient against a loopback HTTP/1.1 server of the test's own (port 0): calls reuse
// pooled connections, the pool's bound holds under concurrency, a streamed body pauses the
// transfer while its reader is behind, an upload is fed by the caller, a dropped reader
// abandons its call, a call that cannot get a connection times out, idle connections close.
// Written to run under ThreadSanitizer too (cmake/tsan.cmake).
#include "net/curl_http_client.h"
#include "net/curl_call.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tr::net {
namespace {

using namespace std::chrono_literals;

// Bytes that depend on their position, so that a reordered or dropped piece shows.
char ByteAt(uint64_t i) { return static_cast<char>('a' + (i * 7 + i / 4096) % 26); }

// A keep-alive HTTP/1.1 server on 127.0.0.1, one thread per connection. Routes:
//   /small            200 "hello"
//   /bytes/N          N bytes of ByteAt()
//   /slow             200 "slow" after 30 ms
//   /hold             200, 1 MiB promised, "first" sent, the rest once Release()d
//   /upload           200, the body's length and a checksum ("<length> <sum>")
// It counts the connections it accepted, and those that the client has closed.
class LoopbackServer {
 public:
  LoopbackServer() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd_, 128) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen on loopback";
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~LoopbackServer() {
    Release();
    stopping_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    acceptor_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      for (int fd : open_) shutdown(fd, SHUT_RDWR);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

  std::string Url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  int Accepted() const { return accepted_; }
  int ClosedByClient() const { return closed_; }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
  }

 private:
  void Accept() {
    while (!stopping_) {
      int conn = accept(fd_, nullptr, nullptr);
      if (conn < 0) return;
      ++accepted_;
      std::lock_guard lock(mu_);
      open_.push_back(conn);
      threads_.emplace_back([this, conn] { Serve(conn); });
    }
  }

  static bool SendAll(int fd, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one request (head and a Content-Length or chunked body); false when the peer closed.
  static bool ReadRequest(int fd, std::string& buffer, std::string& head, std::string& body) {
    auto fill = [&] {
      char piece[65536];
      ssize_t n = recv(fd, piece, sizeof piece, 0);
      if (n <= 0) return false;
      buffer.append(piece, static_cast<size_t>(n));
      return true;
    };
    size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return false;
    }
    head = buffer.substr(0, end + 4);
    buffer.erase(0, end + 4);
    body.clear();
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (size_t at = lower.find("content-length:"); at != std::string::npos) {
      size_t length = std::stoul(lower.substr(at + 15));
      while (buffer.size() < length) {
        if (!fill()) return false;
      }
      body = buffer.substr(0, length);
      buffer.erase(0, length);
    } else if (lower.find("transfer-encoding: chunked") != std::string::npos) {
      while (true) {
        size_t line;
        while ((line = buffer.find("\r\n")) == std::string::npos) {
          if (!fill()) return false;
        }
        size_t size = std::stoul(buffer.substr(0, line), nullptr, 16);
        while (buffer.size() < line + 2 + size + 2) {
          if (!fill()) return false;
        }
        body.append(buffer, line + 2, size);
        buffer.erase(0, line + 2 + size + 2);
        if (size == 0) break;
      }
    }
    return true;
  }

  // Waits for Release(); false when the client closes the connection meanwhile.
  bool AwaitRelease(int fd) {
    while (true) {
      {
        std::lock_guard lock(mu_);
        if (released_) return true;
      }
      pollfd p{fd, POLLRDHUP, 0};
      if (poll(&p, 1, 10) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) return false;
    }
  }

  void Serve(int fd) {
    std::string buffer, head, body;
    while (ReadRequest(fd, buffer, head, body)) {
      std::string path = head.substr(head.find(' ') + 1);
      path = path.substr(0, path.find(' '));
      std::string answer;
      if (path == "/hold") {
        if (!SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\nfirst")) break;
        if (!AwaitRelease(fd)) break;  // the client closed the connection first
        SendAll(fd, std::string(1048576 - 5, 'r'));
        continue;
      }
      if (path == "/small") answer = "hello";
      if (path == "/slow") {
        std::this_thread::sleep_for(30ms);
        answer = "slow";
      }
      if (path.starts_with("/bytes/")) {
        uint64_t n = std::stoull(path.substr(7));
        answer.resize(n);
        for (uint64_t i = 0; i < n; ++i) answer[i] = ByteAt(i);
      }
      if (path == "/upload") {
        uint64_t sum = 0;
        for (char c : body) sum = sum * 31 + static_cast<unsigned char>(c);
        answer = std::to_string(body.size()) + " " + std::to_string(sum);
      }
      std::string response = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(answer.size()) +
                             "\r\n\r\n" + answer;
      if (!SendAll(fd, response)) break;
    }
    ++closed_;
    close(fd);
    std::lock_guard lock(mu_);
    std::erase(open_, fd);
  }

  int fd_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> closed_{0};
  std::thread acceptor_;
  std::mutex mu_;
  bool released_ = false;             // Guarded by mu_
  std::vector<int> open_;             // Guarded by mu_
  std::vector<std::thread> threads_;  // Guarded by mu_
};

CurlOptions Loopback() {
  CurlOptions options;
  options.allow_private_network = true;
  return options;
}

template <typename Pred>
bool Eventually(Pred pred, std::chrono::milliseconds limit = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

HttpCall Get(const LoopbackServer& server, std::string_view path) {
  HttpCall call;
  call.url = server.Url(path);
  return call;
}

std::string ReadAll(http::BodyReader& reader) {
  std::string out;
  char piece[16384];
  while (true) {
    std::optional<size_t> n = reader.Read(piece, sizeof piece);
    if (!n) return out + "<broken>";
    if (*n == 0) return out;
    out.append(piece, *n);
  }
}

TEST(CurlHttpClientPoolTest, SequentialCallsReuseOneConnection) {
  LoopbackServer server;
  CurlHttpClient client(Loopback());
  for (int i = 0; i < 40; ++i) {
    auto sent = client.Send(Get(server, "/small"));
    ASSERT_TRUE(sent.ok()) << sent.error().message();
    EXPECT_EQ(sent->body, "hello");
    auto streamed = client.Stream(Get(server, "/small"));
    ASSERT_TRUE(streamed.ok()) << streamed.error().message();
    EXPECT_EQ(streamed->status, 200);
    EXPECT_EQ(ReadAll(*streamed->body), "hello");
  }
  EXPECT_EQ(server.Accepted(), 1);
}

TEST(CurlHttpClientPoolTest, ConcurrentCallsStayWithinTheBoundPerOrigin) {
  LoopbackServer server;
  CurlOptions options = Loopback();
  options.max_connections_per_origin = 4;
  CurlHttpClient client(options);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 4; ++i) {
        auto sent = client.Send(Get(server, "/slow"));
        if (sent.ok() && sent->body == "slow") ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 48);
  EXPECT_LE(server.Accepted(), 4);
}

TEST(CurlHttpClientPoolTest, AStreamedBodyPausesForItsSlowReaderAndArrivesWhole) {
  LoopbackServer server;
  CurlHttpClient client(Loopback());
  constexpr uint64_t kSize = 3 << 20;  // several times the queue: the transfer must pause
  auto streamed = client.Stream(Get(server, "/bytes/" + std::to_string(kSize)));
  ASSERT_TRUE(streamed.ok()) << streamed.error().message();
  std::this_thread::sleep_for(100ms);  // the queue fills meanwhile
  uint64_t at = 0;
  char piece[100000];
  while (true) {
    std::optional<size_t> n = streamed->body->Read(piece, sizeof piece);
    ASSERT_TRUE(n.has_value());
    if (*n == 0) break;
    for (size_t i = 0; i < *n; ++i, ++at) ASSERT_EQ(piece[i], ByteAt(at)) << "at " << at;
    if (at % (1 << 20) < sizeof piece) std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(at, kSize);
  // The connection went back to the pool.
  auto again = client.Send(Get(server, "/small"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(server.Accepted(), 1);
}

// On a pooled connection a large answer may arrive faster than the caller takes its head:
// the queue must hold curl back then too, not count it as an answer too large.
TEST(CurlHttpClientPoolTest, ALargeAnswerOnAPooledConnectionArrivesWhole) {
  LoopbackServer server;
  CurlHttpClient client(Loopback());
  constexpr uint64_t kSize = 12 << 20;  // three times what is held before the hand-off
  for (int i = 0; i < 3; ++i) {
    auto streamed = client.Stream(Get(server, "/bytes/" + std::to_string(kSize)));
    ASSERT_TRUE(streamed.ok()) << streamed.error().message();
    std::this_thread::sleep_for(50ms);
    const std::string body = ReadAll(*streamed->body);
    ASSERT_EQ(body.size(), kSize) << "call " << i;
    EXPECT_EQ(body[kSize - 1], ByteAt(kSize - 1));
  }
  EXPECT_EQ(server.Accepted(), 1);
}

// A request body that arrives in pieces, slowly: the transfer waits for the caller.
class SlowBody final : public http::BodyReader {
 public:
  explicit SlowBody(uint64_t size) : size_(size) {}
  std::optional<size_t> Read(char* out, size_t max) override {
    if (at_ == size_) return 0;
    if (++reads_ % 8 == 0) std::this_thread::sleep_for(5ms);
    size_t n = std::min<uint64_t>({max, size_ - at_, 10000});
    for (size_t i = 0; i < n; ++i) out[i] = ByteAt(at_ + i);
    at_ += n;
    return n;
  }
  std::string Expected() const {
    uint64_t sum = 0;
    for (uint64_t i = 0; i < size_; ++i) sum = sum * 31 + static_cast<unsigned char>(ByteAt(i));
    return std::to_string(size_) + " " + std::to_string(sum);
  }

 private:
  uint64_t size_;
  uint64_t at_ = 0;
  int reads_ = 0;
};

TEST(CurlHttpClientPoolTest, AStreamedUploadIsFedByTheCallerWithAndWithoutLength) {
  LoopbackServer server;
  CurlHttpClient client(Loopback());
  for (bool known : {true, false}) {
    SlowBody body(1500000);
    HttpCall call = Get(server, "/upload");
    call.method = "POST";
    call.body_reader = &body;
    if (known) call.body_length = 1500000;
    auto streamed = client.Stream(call);
    ASSERT_TRUE(streamed.ok()) << streamed.error().message();
    EXPECT_EQ(ReadAll(*streamed->body), body.Expected())
        << (known ? "with" : "without") << " length";
  }
  EXPECT_EQ(server.Accepted(), 1);
}

TEST(CurlHttpClientPoolTest, DroppingTheReaderAbandonsItsCallOnly) {
  LoopbackServer server;
  CurlHttpClient client(Loopback());
  auto held = client.Stream(Get(server, "/hold"));
  ASSERT_TRUE(held.ok()) << held.error().message();
  char piece[5];
  ASSERT_EQ(held->body->Read(piece, sizeof piece), 5u);
  held->body.reset();  // mid-body: the connection cannot be reused, so it is closed
  EXPECT_TRUE(Eventually([&] { return server.ClosedByClient() == 1; }));
  auto next = client.Send(Get(server, "/small"));
  ASSERT_TRUE(next.ok()) << next.error().message();
  EXPECT_EQ(next->body, "hello");
  EXPECT_EQ(server.Accepted(), 2);
}

TEST(CurlHttpClientPoolTest, ReadNowTakesWhatHasComeAndNeverWaits) {
  LoopbackServer server;
  CurlHttpClient client(Loopback());
  auto held = client.Stream(Get(server, "/hold"));
  ASSERT_TRUE(held.ok()) << held.error().message();
  http::BodyReader& body = *held->body;
  char piece[16384];
  // "first" has come (or comes soon); after it, nothing until the server is released.
  ASSERT_TRUE(Eventually([&] { return body.ReadNow(piece, 5) != http::BodyReader::kWouldWait; }));
  EXPECT_EQ(std::string(piece, 5), "first");
  EXPECT_EQ(body.ReadNow(piece, sizeof piece), http::BodyReader::kWouldWait);
  server.Release();
  size_t total = 5;
  while (true) {
    std::optional<size_t> n = body.ReadNow(piece, sizeof piece);
    if (n == http::BodyReader::kWouldWait) n = body.Read(piece, sizeof piece);
    ASSERT_TRUE(n.has_value());
    if (*n == 0) break;
    total += *n;
  }
  EXPECT_EQ(total, 1048576u);
  EXPECT_EQ(body.ReadNow(piece, sizeof piece), 0u);  // the end, at once, however often asked
}

TEST(CurlHttpClientPoolTest, ACallThatGetsNoConnectionInTimeIsAGatewayTimeout) {
  LoopbackServer server;
  CurlOptions options = Loopback();
  options.max_connections_per_origin = 1;
  CurlHttpClient client(options);
  auto held = client.Stream(Get(server, "/hold"));  // takes the only connection
  ASSERT_TRUE(held.ok());
  HttpCall call = Get(server, "/small");
  call.timeout = 300ms;
  auto waited = client.Send(call);
  ASSERT_FALSE(waited.ok());
  EXPECT_EQ(waited.error().code, Errc::kGatewayTimeout) << waited.error().message();
  server.Release();
  EXPECT_EQ(ReadAll(*held->body).size(), 1048576u);
  auto after = client.Send(Get(server, "/small"));
  ASSERT_TRUE(after.ok()) << after.error().message();
  EXPECT_EQ(server.Accepted(), 1);
}

TEST(CurlHttpClientPoolTest, IdleConnectionsAreClosed) {
  LoopbackServer server;
  CurlOptions options = Loopback();
  options.idle_connection_timeout = 1s;
  CurlHttpClient client(options);
  ASSERT_TRUE(client.Send(Get(server, "/small")).ok());
  EXPECT_EQ(server.ClosedByClient(), 0);
  EXPECT_TRUE(Eventually([&] { return server.ClosedByClient() == 1; }, 4s));
  ASSERT_TRUE(client.Send(Get(server, "/small")).ok());
  EXPECT_EQ(server.Accepted(), 2);
}

TEST(CurlHttpClientPoolTest, EachClientHasItsOwnPool) {
  LoopbackServer server;
  CurlHttpClient permissive(Loopback());
  CurlHttpClient strict(CurlOptions{});
  ASSERT_TRUE(permissive.Send(Get(server, "/small")).ok());
  // The permissive client's open connection to loopback is not the strict one's to use.
  auto refused = strict.Send(Get(server, "/small"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("--allow-private-network"), std::string::npos);
  EXPECT_EQ(server.Accepted(), 1);
}

// What StartStream() hands over: the status, and whether the body is whole, with the body
// read on the loop thread as far as it may be read there without waiting.
struct Started {
  int status = 0;
  bool whole = false;
  std::string body;  // all of it when whole, else up to the ready bytes
  std::unique_ptr<http::BodyReader> rest;
  std::string error;
};

Started StartAndRead(CurlHttpClient& client, HttpCall call, size_t ready_bytes,
                     bool only_declared = false) {
  std::promise<Started> promise;
  std::future<Started> started = promise.get_future();
  StreamReady ready{ready_bytes, only_declared};
  // Handed over with its head only (a body not declared short): nothing can be read yet.
  const size_t readable = only_declared ? 0 : ready_bytes;
  client.StartStream(std::move(call), ready, [&promise, ready_bytes = readable](Result<StreamedResult> r) {
    Started out;
    if (!r) {
      out.error = r.error().message();
      return promise.set_value(std::move(out));
    }
    out.status = r->status;
    out.whole = r->whole;
    if (r->whole) {
      out.body = ReadAll(*r->body);
      r->body.reset();  // here, before the test goes on to drop the client
    } else {
      char piece[16384];
      while (out.body.size() < ready_bytes) {
        std::optional<size_t> n = r->body->Read(piece, std::min(sizeof piece, ready_bytes - out.body.size()));
        if (!n || *n == 0) break;
        out.body.append(piece, *n);
      }
      out.rest = std::move(r->body);
    }
    promise.set_value(std::move(out));
  });
  // A read that waited on the loop thread would never end: fail instead of hanging.
  if (started.wait_for(10s) != std::future_status::ready) {
    ADD_FAILURE() << "StartStream's answer did not come (a read waited on the loop thread?)";
    std::abort();
  }
  return started.get();
}

TEST(CurlHttpClientStartTest, AWholeAnswerIsReadToItsEndOnTheLoopThread) {
  LoopbackServer server;
  CurlHttpClient client(Loopback());
  for (uint64_t n : {0u, 5u, 40000u, 300000u}) {
    Started got = StartAndRead(client, Get(server, "/bytes/" + std::to_string(n)), 1 << 20);
    ASSERT_TRUE(got.error.empty()) << got.error;
    EXPECT_EQ(got.status, 200);
    EXPECT_TRUE(got.whole) << n;
    ASSERT_EQ(got.body.size(), n);
    for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(got.body[i], ByteAt(i)) << i;
  }
  EXPECT_EQ(server.Accepted(), 1);  // pooled, as Send() and Stream() are
}

TEST(CurlHttpClientStartTest, ALargerAnswerComesWithItsReadyBytesAndTheRestStreams) {
  LoopbackServer server;
  CurlHttpClient client(Loopback());
  const uint64_t n = 3 << 20;
  Started got = StartAndRead(client, Get(server, "/bytes/" + std::to_string(n)), 1 << 20);
  ASSERT_TRUE(got.error.empty()) << got.error;
  ASSERT_FALSE(got.whole);
  ASSERT_EQ(got.body.size(), 1u << 20);
  std::string all = got.body + ReadAll(*got.rest);  // the rest, on this thread
  ASSERT_EQ(all.size(), n);
  for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(all[i], ByteAt(i)) << i;
}

TEST(CurlHttpClientStartTest, TheHeadOfASlowAnswerComesAtOnce) {
  LoopbackServer server;
  CurlHttpClient client(Loopback());
  // Without ready bytes the head is handed over while the server holds the rest back.
  Started got = StartAndRead(client, Get(server, "/hold"), 0);
  ASSERT_TRUE(got.error.empty()) << got.error;
  EXPECT_EQ(got.status, 200);
  EXPECT_FALSE(got.whole);
  // Asked for the body only when it is declared short: this one declares 1 MiB.
  Started declared = StartAndRead(client, Get(server, "/hold"), 64 << 10, /*only_declared=*/true);
  ASSERT_TRUE(declared.error.empty()) << declared.error;
  EXPECT_FALSE(declared.whole);
  server.Release();
  const std::string rest = ReadAll(*got.rest);
  EXPECT_EQ(rest.size(), 1048576u);
  EXPECT_EQ(rest.substr(0, 5), "first");
  EXPECT_EQ(ReadAll(*declared.rest).size(), 1048576u);
  // One declared short comes whole.
  Started small = StartAndRead(client, Get(server, "/bytes/40000"), 64 << 10, true);
  EXPECT_TRUE(small.whole);
  EXPECT_EQ(small.body.size(), 40000u);
}

TEST(CurlHttpClientStartTest, AFailedCallIsItsError) {
  CurlHttpClient client(Loopback());
  HttpCall call;
  call.url = "http://127.0.0.1:1/nothing";  // nothing listens on port 1
  Started got = StartAndRead(client, std::move(call), 1 << 20);
  EXPECT_FALSE(got.error.empty());
  CurlHttpClient strict(CurlOptions{});  // private addresses refused
  LoopbackServer server;
  got = StartAndRead(strict, Get(server, "/small"), 0);
  EXPECT_NE(got.error.find("private"), std::string::npos) << got.error;
  EXPECT_EQ(server.Accepted(), 0);
}

// The head's lines as curl hands them over: an answer whose head breaks HTTP's syntax is
// refused whole, so that nothing an upstream smuggles into a field reaches the caller.
TEST(CurlHeadLineTest, ParsesAValidHeadAndRefusesWhatBreaksTheSyntax) {
  using curl::HeadLine;
  using curl::OnHeadLine;
  size_t bytes = 0;
  HttpResult head;
  EXPECT_EQ(OnHeadLine("HTTP/1.1 100 Continue\r\n", head, bytes), HeadLine::kMore);
  EXPECT_EQ(OnHeadLine("\r\n", head, bytes), HeadLine::kMore);  // the end of an interim answer
  EXPECT_EQ(OnHeadLine("HTTP/1.1 201 Created\r\n", head, bytes), HeadLine::kMore);
  EXPECT_EQ(OnHeadLine("Content-Type:  text/plain ; x=1 \t\r\n", head, bytes), HeadLine::kMore);
  EXPECT_EQ(OnHeadLine("X-Empty:\r\n", head, bytes), HeadLine::kMore);
  EXPECT_EQ(OnHeadLine("X-Latin: caf\xe9\tok\n", head, bytes),
            HeadLine::kMore);  // obs-text, HTAB, a lone LF
  EXPECT_EQ(OnHeadLine("\r\n", head, bytes), HeadLine::kEnd);
  EXPECT_EQ(head.status, 201);
  ASSERT_EQ(head.headers.size(), 3u);
  EXPECT_EQ(head.headers[0],
            (std::pair<std::string, std::string>("content-type", "text/plain ; x=1")));
  EXPECT_EQ(head.headers[1], (std::pair<std::string, std::string>("x-empty", "")));
  EXPECT_EQ(head.headers[2].second, "caf\xe9\tok");

  HttpResult h2;
  EXPECT_EQ(OnHeadLine("HTTP/2 204 \r\n", h2, bytes), HeadLine::kMore);
  EXPECT_EQ(h2.status, 204);
  EXPECT_EQ(OnHeadLine("HTTP/1.0 599\r\n", h2, bytes), HeadLine::kMore);

  for (std::string_view line :
       {"HTTP/1.1 999 Odd\r\n", "HTTP/1.1 099 Low\r\n", "HTTP/1.1\r\n", "HTTP/1.1 20 Short\r\n",
        "HTTP/1.1 2000 Long\r\n", "HTTP/1.1 200 O\rK\r\n"}) {
    HttpResult h;
    EXPECT_EQ(OnHeadLine(line, h, bytes), HeadLine::kInvalid) << line;
  }
  using namespace std::string_view_literals;
  for (std::string_view line :
       {"X-A: a\rSet-Cookie: b\r\n"sv, "X-A: a\0b\r\n"sv, "X-A: a\x7f\r\n"sv, "X\x01A: b\r\n"sv,
        "X A: b\r\n"sv, ": b\r\n"sv, "X-A : b\r\n"sv, "no colon\r\n"sv, " folded\r\n"sv,
        "\tfolded\r\n"sv, "X-A: b\r\r\n"sv}) {
    HttpResult h;
    h.status = 200;
    EXPECT_EQ(OnHeadLine(line, h, bytes), HeadLine::kInvalid) << line;
  }
  // The framing, checked on the blank line: one length, or the same one repeated.
  auto end_of = [](std::vector<std::string_view> fields) {
    HttpResult h;
    size_t bytes = 0;
    OnHeadLine("HTTP/1.1 200 OK\r\n", h, bytes);
    for (std::string_view f : fields) EXPECT_EQ(OnHeadLine(f, h, bytes), HeadLine::kMore) << f;
    return OnHeadLine("\r\n", h, bytes);
  };
  EXPECT_EQ(end_of({"Content-Length: 2\r\n", "content-length: 2\r\n"}), HeadLine::kEnd);
  EXPECT_EQ(end_of({"Transfer-Encoding: chunked\r\n"}), HeadLine::kEnd);
  EXPECT_EQ(end_of({"Content-Length: 2\r\n", "Content-Length: 3\r\n"}), HeadLine::kInvalid);
  EXPECT_EQ(end_of({"Content-Length: -5\r\n"}), HeadLine::kInvalid);
  EXPECT_EQ(end_of({"Content-Length: 99999999999999999999999\r\n"}), HeadLine::kInvalid);
  EXPECT_EQ(end_of({"Content-Length: 2, 2\r\n"}), HeadLine::kInvalid);
  EXPECT_EQ(end_of({"Content-Length:\r\n"}), HeadLine::kInvalid);
  EXPECT_EQ(end_of({"Content-Length: 5\r\n", "Transfer-Encoding: chunked\r\n"}),
            HeadLine::kInvalid);

  // At most kMaxHeadBytes of heads in all, interim ones counted: neither many fields nor
  // an endless run of 1xx answers fills memory.
  HttpResult many;
  bytes = 0;
  OnHeadLine("HTTP/1.1 200 OK\r\n", many, bytes);
  HeadLine last = HeadLine::kMore;
  for (int i = 0; i < 10000 && last == HeadLine::kMore; ++i)
    last = OnHeadLine("X-N: v\r\n", many, bytes);
  EXPECT_EQ(last, HeadLine::kInvalid);
  EXPECT_LE(bytes, curl::kMaxHeadBytes + 16);
  HttpResult interim;
  bytes = 0;
  last = HeadLine::kMore;
  for (int i = 0; i < 10000 && last == HeadLine::kMore; ++i) {
    last = OnHeadLine("HTTP/1.1 100 Continue\r\n", interim, bytes);
    if (last == HeadLine::kMore) last = OnHeadLine("\r\n", interim, bytes);
  }
  EXPECT_EQ(last, HeadLine::kInvalid);
}

// Heads that curl refuses before OnHeadLine sees them name the same reason as ours, not
// curl's own words ("Out of memory" for a line over 100 KiB, "Unsupported protocol" for 000).
TEST(CurlHeadLineTest, CurlsOwnRefusalsOfAHeadSayTheHeadIsInvalid) {
  curl::SocketGuard guard;
  for (CURLcode rc : {CURLE_WEIRD_SERVER_REPLY, CURLE_UNSUPPORTED_PROTOCOL, CURLE_OUT_OF_MEMORY}) {
    Error error = curl::CallFailed(rc, guard, false, false);
    EXPECT_EQ(error.code, Errc::kUnavailable);
    EXPECT_EQ(error.message(), "the answer's head is not valid HTTP/1.1 (RFC 9112)") << rc;
  }
  EXPECT_EQ(curl::CallFailed(CURLE_OPERATION_TIMEDOUT, guard, false, false).code,
            Errc::kGatewayTimeout);
}

}  // namespace
}  // namespace tr::net
