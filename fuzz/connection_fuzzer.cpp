// Fuzz target: the socket server (src/http/server.cpp), its read-parse-respond loop over a
// real connection. One tr::http::Server per process, bound to 127.0.0.1 on a free port and
// serving the Router of fuzz_environment.h from a background thread, with the default head
// limit (16 KiB), short timeouts and small body limits (8 KiB, so that inputs go over them).
// Each input is the bytes a client sends ("$KEY", "$CID", "$OCID" substituted as in
// router_fuzzer), written on a new loopback connection in one to three pieces (cut at points
// drawn from the input's hash, with a pause between, so the server also sees partial heads
// and bodies); then the client closes its sending side and reads the answer to its end.
//
// Checked on every input: the server ends the answer within 5 s (else a hang); it is a run
// of well-framed HTTP/1.1 responses (a status line with a status in 100..599, a head, a body
// framed by Content-Length or chunked); each final response has a usable x-request-id; none
// is a 500 (a handler threw); a JSON error body has a statusCode equal to the status, and the
// server layer's refusals (413, 414, 431, 501, 503) are JSON. Every 64 inputs, a GET /healthz
// on a new connection must answer 200: the server still serves.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "fuzz_environment.h"
#include "fuzz_support.h"
#include "http/message.h"
#include "http/server.h"

namespace tr::fuzz {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Once the client has closed its side, every path of the server ends the connection at once
// (its longest wait, the 2 s of Drain, ends at the client's end of stream): 5 s is a hang.
constexpr auto kAnswerDeadline = 5s;
// Long enough for the server's I/O thread to read the piece before the next one arrives.
constexpr auto kPauseBetweenPieces = 200us;
// The server frees a connection just after closing it. Waiting this long after the end of
// the answer lets that happen within the input, so that its mallocs rarely outnumber its
// frees: libFuzzer then runs the input again under LeakSanitizer, which costs 7 ms.
constexpr auto kServerCleanup = 100us;
constexpr int kHealthCheckEvery = 64;  // inputs; a check costs one more connection
constexpr size_t kMaxInputBytes = 64 << 10;
// What is kept of an answer: a few thousand pipelined GET /openapi.json would be gigabytes.
constexpr size_t kMaxAnswerBytes = 8 << 20;
constexpr size_t kMaxRequestIdBytes = 128;  // as the server's own limit

// The server, serving from its own thread for the rest of the process.
class LiveServer {
 public:
  explicit LiveServer(api::Router& router) {
    http::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.io_threads = 2;
    options.blocking_threads = 4;
    options.streaming_threads = 4;
    options.max_body_bytes = 8 << 10;  // within reach of an input (the default is 1 MiB)
    options.max_stream_body_bytes = 8 << 10;
    options.header_timeout = 1s;
    options.body_timeout = 1s;
    options.idle_timeout = 1s;
    options.write_timeout = 2s;
    options.access_log = false;
    // The server's signal set takes SIGINT and SIGTERM when it is made; they go back to
    // libFuzzer, which prints its statistics and stops on them.
    struct sigaction old_int {};
    struct sigaction old_term {};
    sigaction(SIGINT, nullptr, &old_int);
    sigaction(SIGTERM, nullptr, &old_term);
    server_ = std::make_unique<http::Server>(
        options, [&router](const http::Request& request) { return router.Handle(request); },
        &api::Router::Classify);
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
    std::string bound = server_->Bind();
    port_ = static_cast<uint16_t>(std::stoi(bound.substr(bound.rfind(':') + 1)));
    thread_ = std::thread([this] {
      server_->Run();
      stopped_ = true;
    });
  }

  uint16_t port() const { return port_; }
  bool stopped() const { return stopped_; }

 private:
  std::unique_ptr<http::Server> server_;
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

LiveServer& Live() {
  static LiveServer* live = new LiveServer(*Env().router);  // never destroyed, as Env()
  return *live;
}

// Where `text` is cut into pieces: up to two points strictly inside it, from its hash.
std::vector<size_t> Cuts(std::string_view text) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a
  for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  std::vector<size_t> cuts;
  if (text.size() < 2) return cuts;
  for (uint64_t k = 1; k <= h % 3; ++k) cuts.push_back(1 + (h >> (20 * k)) % (text.size() - 1));
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  return cuts;
}

// What came back on one connection.
struct Answer {
  std::string bytes;
  // The server reset the connection, or the answer was longer than kMaxAnswerBytes (the rest
  // was read and dropped): the last response may be cut short.
  bool cut_short = false;
};

// A connected, non-blocking socket to the server. Aborts when the server does not accept
// within kAnswerDeadline. (Non-blocking from the start: libFuzzer's timer signal would
// interrupt a blocking connect, which cannot simply be called again.)
int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  Check(fd >= 0, "socket", std::strerror(errno));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) return fd;
  Check(errno == EINPROGRESS || errno == EINTR, "connect", std::strerror(errno));
  const auto deadline = Clock::now() + kAnswerDeadline;
  pollfd p{fd, POLLOUT, 0};
  while (poll(&p, 1, 10) <= 0) {
    Check(Clock::now() < deadline, "the server accepts a connection within 5 s");
  }
  int error = 0;
  socklen_t length = sizeof error;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
  Check(error == 0, "the server accepts a connection", std::strerror(error));
  return fd;
}

// Sends `input` in the pieces `cuts` make, closes the sending side, and reads until the server
// closes the connection, all at once (so neither side waits on a full buffer). Aborts when
// that takes longer than kAnswerDeadline.
Answer Exchange(uint16_t port, std::string_view input, const std::vector<size_t>& cuts) {
  int fd = Connect(port);
  Answer answer;
  const auto deadline = Clock::now() + kAnswerDeadline;
  size_t sent = 0;
  size_t next_cut = 0;
  bool sending = true;
  static char buffer[64 << 10];
  while (true) {
    size_t piece_end = next_cut < cuts.size() ? cuts[next_cut] : input.size();
    if (sending && sent == piece_end && piece_end < input.size()) {
      std::this_thread::sleep_for(kPauseBetweenPieces);
      ++next_cut;
      continue;
    }
    if (sending && sent == input.size()) {
      shutdown(fd, SHUT_WR);
      sending = false;
    }
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    Check(left > 0, "the server ends its answer within 5 s (a hang)", answer.bytes.substr(0, 2048));
    pollfd p{fd, static_cast<short>(POLLIN | (sending ? POLLOUT : 0)), 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        size_t keep = std::min(static_cast<size_t>(n), kMaxAnswerBytes - answer.bytes.size());
        answer.bytes.append(buffer, keep);
        if (keep < static_cast<size_t>(n)) answer.cut_short = true;
      } else if (n == 0) {
        break;
      } else if (errno == ECONNRESET) {
        answer.cut_short = true;
        break;
      } else {
        Check(errno == EAGAIN || errno == EINTR, "recv", std::strerror(errno));
      }
    }
    if (sending && (p.revents & POLLOUT)) {
      ssize_t n = send(fd, input.data() + sent, piece_end - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        sending = false;  // the server stopped reading and closed: read what it said
      }
    }
  }
  std::this_thread::sleep_for(kServerCleanup);
  // Close with a reset: the exchange is over, and a few hundred connections a second would
  // otherwise leave as many ports in TIME_WAIT.
  linger no_linger{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_linger, sizeof no_linger);
  close(fd);
  return answer;
}

enum class Framing { kComplete, kIncomplete, kMalformed };

// The length of the chunked body at the start of `rest` (chunks, the last chunk, no trailers:
// what the server writes), or why there is none; its payload appended to `payload` if given.
Framing ChunkedBody(std::string_view rest, size_t& length, std::string* payload = nullptr) {
  size_t pos = 0;
  while (true) {
    size_t eol = rest.find("\r\n", pos);
    if (eol == std::string_view::npos) return Framing::kIncomplete;
    std::string_view digits = rest.substr(pos, eol - pos);
    if (digits.empty() || digits.size() > 15) return Framing::kMalformed;
    size_t size = 0;
    for (char c : digits) {
      int v = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (v < 0) return Framing::kMalformed;
      size = size * 16 + static_cast<size_t>(v);
    }
    pos = eol + 2;
    if (rest.size() < pos + size + 2) return Framing::kIncomplete;
    if (rest.substr(pos + size, 2) != "\r\n") return Framing::kMalformed;
    if (payload) payload->append(rest.substr(pos, size));
    pos += size + 2;
    if (size == 0) {
      length = pos;
      return Framing::kComplete;
    }
  }
}

bool ServerRefusal(int status) {
  return status == 413 || status == 414 || status == 431 || status == 501 || status == 503;
}

// Checks one final response's status, x-request-id and, for an error, its body.
// `head_answer`: the response to a HEAD, whose body was not sent.
void CheckFinal(int status, std::string_view content_type, std::optional<std::string_view> id,
                std::string_view body, bool head_answer) {
  Check(status != 500, "no handler throws (500)", body);
  Check(id && !id->empty() && id->size() <= kMaxRequestIdBytes, "x-request-id", id.value_or(""));
  for (char c : *id) Check(c > 0x20 && c < 0x7f, "x-request-id is printable", *id);
  const bool is_json = content_type == "application/json";
  if (ServerRefusal(status)) Check(is_json, "a refusal is JSON", content_type);
  if (status < 400 || !is_json || head_answer) return;
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  Check(!ec && value.is_object(), "error body is a JSON object", body);
  const json::value* code = value.get_object().if_contains("statusCode");
  Check(code && code->is_int64() && code->get_int64() == status, "statusCode", body);
  const json::value* message = value.get_object().if_contains("message");
  Check(message && (message->is_string() || message->is_array()), "message", body);
}

// Checks that `answer` is a run of HTTP/1.1 responses. `head_sent`: the input holds "HEAD",
// so a response may announce a body length without carrying the body.
void CheckAnswer(const Answer& answer, bool head_sent) {
  std::string_view rest = answer.bytes;
  while (!rest.empty()) {
    size_t head_end = rest.find("\r\n\r\n");
    if (head_end == std::string_view::npos && answer.cut_short) return;
    Check(head_end != std::string_view::npos, "a complete response head", rest.substr(0, 2048));
    Check(rest.starts_with("HTTP/1.1 ") && rest[12] == ' ',
          "a response starts with \"HTTP/1.1 NNN \"", rest.substr(0, 256));
    int status = 0;
    for (char c : rest.substr(9, 3)) {
      Check(c >= '0' && c <= '9', "a 3-digit status", rest.substr(0, 256));
      status = status * 10 + (c - '0');
    }
    Check(status >= 100 && status <= 599, "status in 100..599", rest.substr(0, 256));
    std::string_view head = rest.substr(0, head_end + 2);
    std::string_view after = rest.substr(head_end + 4);
    std::string_view content_type;
    std::optional<std::string_view> request_id;
    std::optional<size_t> content_length;
    bool chunked = false;
    head.remove_prefix(head.find("\r\n") + 2);  // the status line
    while (!head.empty()) {
      size_t eol = head.find("\r\n");
      std::string_view line = head.substr(0, eol);
      head.remove_prefix(eol + 2);
      size_t colon = line.find(": ");
      Check(colon != std::string_view::npos && colon > 0, "a \"name: value\" header", line);
      std::string_view name = line.substr(0, colon);
      std::string_view value = line.substr(colon + 2);
      if (http::EqualsIgnoreCase(name, "content-type")) content_type = value;
      if (http::EqualsIgnoreCase(name, "x-request-id")) request_id = value;
      if (http::EqualsIgnoreCase(name, "transfer-encoding")) chunked = value == "chunked";
      if (http::EqualsIgnoreCase(name, "content-length")) {
        Check(!content_length && !value.empty() && value.size() < 16 &&
                  value.find_first_not_of("0123456789") == std::string_view::npos,
              "one decimal Content-Length", line);
        content_length = std::stoull(std::string(value));
      }
    }
    Check(!(chunked && content_length), "not both Content-Length and chunked");
    if (status < 200) {
      Check(status == 100 && !chunked && !content_length, "only 100 Continue, without a body");
      rest = after;
      continue;
    }
    size_t body_length = after.size();  // without framing: the body runs to the close
    Framing framing = Framing::kComplete;
    if (status == 204 || status == 304) {
      body_length = 0;
    } else if (chunked) {
      framing = ChunkedBody(after, body_length);
    } else if (content_length) {
      body_length = *content_length;
      if (after.size() < body_length) framing = Framing::kIncomplete;
    }
    const bool fits =
        framing == Framing::kComplete &&
        (after.size() == body_length || after.substr(body_length).starts_with("HTTP/1.1 "));
    const bool head_answer =
        !fits && head_sent && (after.empty() || after.starts_with("HTTP/1.1 "));
    if (head_answer) {
      // A response to HEAD: a length announced, no body sent; the next response follows.
      framing = Framing::kComplete;
      body_length = 0;
      chunked = false;
    }
    Check(framing != Framing::kMalformed, "well-formed chunks", after.substr(0, 2048));
    if (framing == Framing::kIncomplete && answer.cut_short) return;
    Check(framing == Framing::kComplete, "a complete response body", rest.substr(0, 2048));
    std::string payload;
    if (chunked) ChunkedBody(after, body_length, &payload);
    CheckFinal(status, content_type, request_id,
               chunked ? std::string_view(payload) : after.substr(0, body_length), head_answer);
    rest = after.substr(body_length);
  }
}

// A GET /healthz on a new connection answers 200.
void CheckHealthy(uint16_t port) {
  Answer answer =
      Exchange(port, "GET /healthz HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n", {});
  Check(answer.bytes.starts_with("HTTP/1.1 200 "), "the server still answers /healthz",
        answer.bytes.substr(0, 1024));
}

}  // namespace
}  // namespace tr::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tr::fuzz;
  if (size > kMaxInputBytes) return -1;
  Environment& env = Env();
  LiveServer& live = Live();
  Check(!live.stopped(), "the server runs");
  std::string input = Substitute(std::string_view(reinterpret_cast<const char*>(data), size), env);
  Answer answer = Exchange(live.port(), input, Cuts(input));
  CheckAnswer(answer, input.find("HEAD") != std::string::npos);
  static int inputs = 0;
  if (++inputs % kHealthCheckEvery == 0) CheckHealthy(live.port());
  env.clock.Advance(1000);  // rate-limit buckets refill; sessions age
  return 0;
}
