// The request and response values that cross between the HTTP layer (Beast, in server.cpp)
// and the handlers. No Beast types here, so handlers and their tests compile without it.
// A request's views point into the connection's buffers and live while the handler runs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tr::http {

// A body that moves in pieces instead of whole: a streamed request body (read from the
// client while the handler runs) or a streamed response body (the proxy's upstream
// answer, read after the handler returned). One interface for both directions, so the
// proxy can hand the client's body to the outbound client and the upstream's body back.
// Read() blocks; it is never called on an I/O thread.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // Up to `max` bytes into `out`: the count read, 0 at the end of the body, or nullopt
  // when the body broke off (the peer went away, a timeout, over the size limit).
  virtual std::optional<size_t> Read(char* out, size_t max) = 0;
  // Whether the body broke off because it was larger than allowed.
  virtual bool TooLarge() const { return false; }
};

struct Request {
  std::string_view method;  // "GET", "POST", ...
  std::string_view target;  // path and query, as sent
  std::string_view body;  // empty for a streamed request: read it with body_reader
  // Set for routes that stream their request body (Dispatch::kStreaming): the body,
  // unread. Whatever the handler leaves unread ends the connection after the answer.
  BodyReader* body_reader = nullptr;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view request_id;  // the caller's x-request-id, or one the server made
  std::string_view remote_address;

  // The first header named `name` (case-insensitive), or "".
  std::string_view Header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // A body kept elsewhere and shared between answers (a cached tool list), written after
  // `body` and before `body_end` without being copied: an answer wrapped around a cached
  // document costs its small ends only.
  std::shared_ptr<const std::string> shared_body;
  std::string body_end;
  std::vector<std::pair<std::string, std::string>> headers;  // besides content-type
  // A body written as it is read, instead of `body`: with Content-Length when
  // `stream_length` is known, chunked otherwise. A stream that breaks off ends the
  // connection, so the client sees a truncated message, never a wrong one.
  std::shared_ptr<BodyReader> stream;
  std::optional<uint64_t> stream_length;
  // Set when the answer may go out only once something else is done: a commit it depends on
  // reaching the disk (store/store.h, DurabilityScope). The server calls it with a
  // continuation, waits without holding a thread, and answers when the continuation runs:
  // as is with true, with a 503 instead with false. The continuation may run on any thread.
  using Hold = std::function<void(std::function<void(bool)>)>;
  Hold hold;
  // The route template for logs and metrics ("GET /v1/integrations/{cid}"): never the raw
  // path, which may carry a secret (a connect token) or personal data.
  std::string route;

  void AddHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }

  // The whole body as one string (for tests and checks; the server writes the parts).
  std::string Text() const;
};

// How a request is run, decided from its head (method and target) before its body is read.
enum class Dispatch {
  kInline,     // on the connection's I/O thread: never blocks
  kBlocking,   // on the blocking pool (a durable write, an outbound call)
  kStreaming,  // on the blocking pool, with the body streamed (Request::body_reader) up to
               // ServerOptions::max_stream_body_bytes instead of read whole
};

// The reason phrase of an HTTP status ("Not Found").
std::string_view StatusText(int status);

// `text` escaped for the inside of a JSON string (quotes, backslashes, control characters).
std::string JsonEscape(std::string_view text);

// Case-insensitive ASCII comparison.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace tr::http
