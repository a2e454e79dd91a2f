// HttpClient: the seam for outbound HTTP calls to providers (token endpoints, verification
// requests, STS). CurlHttpClient is the real one; tests of the core use a fake.
// Thread-safe: Send() may be called from any thread concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "http/message.h"

namespace tr::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpCall {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
  // Instead of `body`: a body read in pieces while it is sent (the proxy's), with
  // Content-Length when `body_length` is known and chunked otherwise. Not owned.
  http::BodyReader* body_reader = nullptr;
  std::optional<uint64_t> body_length;
  std::chrono::milliseconds timeout{10'000};  // the whole call
  // For Stream(): the call is abandoned when no byte has moved for this long.
  std::chrono::milliseconds stall_timeout{30'000};
};

struct HttpResult {
  int status = 0;
  Headers headers;  // names lowercased
  std::string body;

  // The first header named `name` (lowercase), or "".
  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return {};
  }
};

// A response whose body is still arriving.
struct StreamedResult {
  int status = 0;
  Headers headers;  // names lowercased
  // The body as it arrives: read it to its end, or drop it to abandon the call.
  std::unique_ptr<http::BodyReader> body;
  // The body has arrived whole (or the call ended): reading it never waits.
  bool whole = false;

  // The first header named `name` (lowercase), or "".
  std::string Header(std::string_view name) const;
};

// How much of an answer's body StartStream() waits for before it hands the answer over.
struct StreamReady {
  // The body's first `bytes`, or all of it when it is shorter...
  size_t bytes = 0;
  // ...but, when set, only for a body whose head declares it that short: a longer one, or
  // one of unknown length, is handed over with its head (to be streamed as it comes).
  bool only_declared = false;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // The response, whatever its status. Errc::kGatewayTimeout when the call timed out
  // (connecting, `timeout` in all, or for Stream() `stall_timeout` without a byte moving);
  // Errc::kUnavailable when no response was had for another reason (DNS, connect, TLS, a
  // refused private address, an answer too large). The message says which, without any
  // secret from the request.
  virtual Result<HttpResult> Send(const HttpCall& call) = 0;
  // The response once its head has arrived and the request body has been sent; its body
  // then comes in pieces, so neither body is ever held whole. Same errors as Send().
  // This default buffers both bodies through Send() (enough for fakes in tests).
  virtual Result<StreamedResult> Stream(const HttpCall& call);

  using StreamDone = std::function<void(Result<StreamedResult>)>;
  // Stream() without waiting: `done` gets what Stream() would return, once the head is in
  // and as much of the body as `ready` asks for can be read without waiting. It runs on the
  // client's own thread, where it must not block, or on the calling thread before
  // StartStream() returns. The call's body must be given whole (`body`, not
  // `body_reader`); the client keeps its own copy of the call.
  // This default runs Stream() on the calling thread (enough for fakes in tests).
  virtual void StartStream(HttpCall call, StreamReady ready, StreamDone done);
};

// A body held whole, read in pieces.
class StringBodyReader final : public http::BodyReader {
 public:
  explicit StringBodyReader(std::string body) : body_(std::move(body)) {}
  std::optional<size_t> Read(char* out, size_t max) override;

 private:
  std::string body_;
  size_t offset_ = 0;
};

// Reads `reader` to its end into a string; nullopt when it broke off or passed `limit`.
std::optional<std::string> ReadWhole(http::BodyReader& reader, size_t limit);

// Removes every field named `name` (any case).
void EraseHeader(Headers& headers, std::string_view name);
// Sets header `name` to `value`, removing every other field of that name (any case): the
// value a credential needs is the only one sent.
void SetHeader(Headers& headers, std::string_view name, std::string value);

// `url` without the query parameters named `name` (compared percent-decoded).
std::string WithoutQueryParam(std::string_view url, std::string_view name);

// application/x-www-form-urlencoded encoding of one value (RFC 3986 unreserved kept).
std::string FormEncode(std::string_view value);
// "a=1&b=2" from pairs, each side FormEncode()d.
std::string FormBody(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace tr::net
