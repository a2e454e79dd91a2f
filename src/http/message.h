// The request and response values that cross between the HTTP layer (Beast, in server.cpp)
// and the handlers. No Beast types here, so handlers and their tests compile without it.
// A request's views point into the connection's buffers and live while the handler runs.
#pragma once

#include <cstdint>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
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
  // Read() if it would answer at once, else kWouldWait without reading: the server takes
  // what is already there on its I/O thread and waits for the rest on a pool thread. The
  // default is for readers that cannot tell.
  static constexpr size_t kWouldWait = static_cast<size_t>(-1);
  virtual std::optional<size_t> ReadNow(char* /*out*/, size_t /*max*/) { return kWouldWait; }
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
  // False when the handler runs on an I/O thread (Dispatch::kInline): it must not wait for
  // anything but a local read. A handler that finds it would have to (a token to refresh)
  // answers Response::RunBlocking() before it has changed anything.
  bool may_block = true;
  // Set when the server runs the request a second time, on the pool, after the first run
  // answered RunBlocking(): what the first run counted (the API key's rate limit) is not
  // counted again.
  bool again = false;

  // The first header named `name` (case-insensitive), or "".
  std::string_view Header(std::string_view name) const;
};

class Deferred;

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
  // Set when the answer comes later (an outbound call under way): the server waits for it
  // without holding a thread, then answers with it instead of this one (whose `route` it
  // keeps for the log when the later one has none).
  std::shared_ptr<Deferred> deferred;
  // Set by a handler that ran inline (Request::may_block false) and would have to block: it
  // did nothing, and the server runs the request again on its blocking pool.
  bool run_blocking = false;
  // The route template for logs and metrics ("GET /v1/integrations/{cid}"): never the raw
  // path, which may carry a secret (a connect token) or personal data.
  std::string route;

  void AddHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }

  // The whole body as one string (for tests and checks; the server writes the parts).
  std::string Text() const;

  static Response RunBlocking() {
    Response response;
    response.run_blocking = true;
    return response;
  }
};

// An answer that is not there yet (Response::deferred). Whoever finishes the work calls
// Resolve() once, on any thread; the server calls When() once. Whichever comes second runs
// the continuation, on its own thread, so neither waits for the other.
class Deferred {
 public:
  void Resolve(Response response);
  // Runs `then` with the answer: at once when it is already there, else on the thread that
  // resolves it.
  void When(std::function<void(Response)> then);
  // The answer, when it was resolved already (a call that failed before it started).
  std::optional<Response> TakeIfResolved();
  // Waits for the answer (for callers that may block, and tests).
  Response Wait();
  // The answer that goes out instead of `placeholder` (the one that carried this Deferred):
  // `later`, with the placeholder's route when it has none (for the log) and its hold when
  // it has none of its own (a commit made before the call started, a token refreshed on the
  // way, holds it too).
  static Response Settle(Response placeholder, Response later);

 private:
  std::mutex mu_;
  std::condition_variable resolved_cv_;
  std::optional<Response> response_;          // Guarded by mu_
  std::function<void(Response)> then_;        // Guarded by mu_
};

// Turns a streamed answer of a known length up to `max_bytes` into a plain one by reading it
// whole (a proxied answer: head and body then go out in one write, with no trip to a pool
// per piece). The caller must be allowed to block, or know those bytes are already in. A
// stream that breaks off stays a stream of what came, so the client still sees a truncated
// message. Nothing changes for a HEAD answer (`head_request`), or one that has no body.
void ReadSmallStream(Response& response, uint64_t max_bytes, bool head_request);

// How a request is run, decided from its head (method and target) before its body is read.
enum class Dispatch {
  kInline,     // on the connection's I/O thread: never blocks
  kBlocking,   // on the blocking pool (a durable write, an outbound call)
  kStreaming,  // on the blocking pool, with the body streamed (Request::body_reader) up to
               // ServerOptions::max_stream_body_bytes instead of read whole
  kStreamingInline,  // kInline when the head announces a small body (64 KiB at most) or
                     // none, read whole; kStreaming otherwise
};

// The reason phrase of an HTTP status ("Not Found").
std::string_view StatusText(int status);

// `text` escaped for the inside of a JSON string (quotes, backslashes, control characters).
std::string JsonEscape(std::string_view text);

// Case-insensitive ASCII comparison.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace tr::http
