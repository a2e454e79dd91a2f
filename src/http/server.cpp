#include "http/server.h"

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <future>
#include <iterator>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "crypto/crypto.h"
#include "http/worker_pool.h"

namespace tr::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

namespace {

// A Beast body of up to three pieces held elsewhere (Response::body, shared_body and
// body_end), written with the head in one gathered write: a cached document goes out
// without being copied into the message.
struct PartsBody {
  struct value_type {
    std::array<asio::const_buffer, 3> parts;
  };

  static std::uint64_t size(const value_type& body) {
    return asio::buffer_size(body.parts);
  }

  class writer {
   public:
    using const_buffers_type = std::array<asio::const_buffer, 3>;

    template <bool kIsRequest, class Fields>
    writer(const bhttp::header<kIsRequest, Fields>&, const value_type& body) : body_(body) {}

    void init(beast::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec) {
      ec = {};
      return std::pair<const_buffers_type, bool>(body_.parts, false);
    }

   private:
    const value_type& body_;
  };
};

// An x-request-id we echo must be short and printable; otherwise we make our own.
constexpr size_t kMaxRequestIdBytes = 128;
// How long and how much we keep reading after an error answer before closing (see Drain).
constexpr std::chrono::seconds kDrainTime{2};
constexpr size_t kMaxDrainBytes = 8 << 20;
// The most of a streamed response body read and written at a time: a piece costs two trips
// between the I/O thread and the pool, so a large download goes in large pieces.
constexpr size_t kStreamPieceBytes = 256 << 10;
// A streamed response body of a known length up to this size is read whole on the pool
// thread that ran the handler, and answered like any other body (one write, no more trips
// to the pool). Most proxied API answers are this small.
constexpr uint64_t kPrefetchBytes = 64 << 10;
// A Dispatch::kStreamingInline request whose body is at most this long is read whole and
// runs inline; a longer one streams, on the pool.
constexpr uint64_t kInlineBodyBytes = 64 << 10;
// How long a pool thread waits for work before it ends (docs/architecture.md, "Threads").
constexpr std::chrono::seconds kWorkerIdleTimeout{10};
// What a connection's read buffer may hold beyond the head limit: read-ahead of pipelined
// requests, and one line of chunked framing (a chunk size with its extensions). A longer
// chunk line is refused rather than buffered.
constexpr size_t kReadAheadBytes = 64 << 10;
// How long the acceptor rests when the process is out of file descriptors, instead of
// spinning on an accept that fails at once.
constexpr std::chrono::milliseconds kAcceptBackoff{100};

bool UsableRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdBytes) return false;
  for (char c : id) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// A new request id: 32 hex digits, unique but not secret (a random prefix per thread and
// a counter), so that making one costs no trip through the CSPRNG.
std::string NewRequestId() {
  thread_local const std::string prefix = crypto::HexEncode(crypto::RandomBytes(8));
  thread_local uint64_t counter = 0;
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string id = prefix;
  id.resize(32);
  uint64_t n = ++counter;
  for (size_t i = 31; i >= 16; --i, n >>= 4) id[i] = kDigits[n & 0xf];
  return id;
}

// The caller's x-request-id from a parsed head when usable, else a new one.
std::string HeadRequestId(const bhttp::request_header<>& head) {
  std::string id(head["x-request-id"]);
  return UsableRequestId(id) ? id : NewRequestId();
}

Response ServerError(int status, std::string_view message) {
  Response r;
  r.status = status;
  r.body = fmt::format(R"({{"statusCode":{},"message":"{}","error":"{}"}})", status, message,
                       StatusText(status));
  r.route = "(server)";
  return r;
}

// `text` without leading and trailing spaces and tabs (HTTP's optional whitespace).
std::string_view TrimOws(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Read errors after which the connection just ends: the peer went away, closed its side
// (mid-message too), or was too slow; there is nobody to answer, or nothing to say.
bool EndsQuietly(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == beast::error::timeout || ec == asio::error::operation_aborted ||
         ec == asio::error::connection_reset || ec == asio::error::eof ||
         ec == asio::error::bad_descriptor || ec == asio::error::broken_pipe;
}

// The answer to a request whose head could not be read (`ec`, not one that ends quietly).
// Over the head limit: `414` when the request line itself did not end within it (the parser
// has no target yet, and the buffer holds no line end), else `431`.
Response HeadReadError(const boost::system::error_code& ec,
                       const bhttp::request_parser<bhttp::string_body>& parser,
                       std::string_view held) {
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    const bool line_ended =
        !parser.get().target().empty() || held.find("\r\n") != std::string_view::npos;
    return line_ended ? ServerError(431, "Request headers too large")
                      : ServerError(414, "Request line too long");
  }
  if (ec == bhttp::error::body_limit) return ServerError(413, "Request body too large");
  return ServerError(400, "Malformed HTTP request");
}

// What Beast's parser lets through but we refuse, from a request's parsed head: a version
// other than HTTP/1.0 or 1.1 (an HTTP/2 preface on this plain port included); a
// Content-Length given twice or as a list, even of equal values (a proxy in front may have
// read it otherwise); a body framed both by Content-Length and Transfer-Encoding, or by a
// transfer coding other than chunked alone (Beast would decode chunked and pass the other
// coding through, or read no body and take the encoded bytes for a next request); a
// Content-Length over `body_limit`.
std::optional<Response> RefuseHead(const bhttp::request_parser<bhttp::string_body>& parser,
                                   size_t body_limit) {
  const auto& head = parser.get();
  if (head.version() != 10 && head.version() != 11) {
    return ServerError(400, "Unsupported HTTP version");
  }
  const auto lengths = head.equal_range(bhttp::field::content_length);
  const bool has_length = lengths.first != lengths.second;
  if (has_length && (std::next(lengths.first) != lengths.second ||
                     lengths.first->value().find_first_not_of("0123456789") !=
                         std::string_view::npos)) {
    return ServerError(400, "Content-Length must be given once, as digits");
  }
  const auto codings = head.equal_range(bhttp::field::transfer_encoding);
  if (codings.first != codings.second) {
    if (has_length) return ServerError(400, "Both Content-Length and Transfer-Encoding");
    if (std::next(codings.first) != codings.second ||
        !EqualsIgnoreCase(TrimOws(codings.first->value()), "chunked")) {
      return ServerError(501, "Transfer-Encoding other than chunked is not supported");
    }
  }
  // RFC 9112, section 3.2: an HTTP/1.1 request has exactly one Host.
  const auto hosts = head.equal_range(bhttp::field::host);
  const bool one_host = hosts.first != hosts.second && std::next(hosts.first) == hosts.second;
  if (head.version() == 11 && !one_host) {
    return ServerError(400, "An HTTP/1.1 request must carry one Host header");
  }
  if (auto length = parser.content_length(); length && *length > body_limit) {
    return ServerError(413, "Request body too large");
  }
  return std::nullopt;
}

// The path and query of a target: an absolute-form target ("http://host/path?q", which RFC
// 9112, section 3.2.2, has servers accept) without its scheme and authority.
std::string_view OriginForm(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size() &&
        EqualsIgnoreCase(target.substr(0, scheme.size()), scheme)) {
      const size_t path = target.find_first_of("/?", scheme.size());
      if (path == std::string_view::npos) return "/";
      return target.substr(path);
    }
  }
  return target;
}

}  // namespace

// One accepted connection. Owned by the server's registry from its accept to the end of
// its coroutine (which keeps it alive past its removal), and shared with Stop(), which may
// close it while it waits for a next request; both touch it only on its own executor.
struct Connection : std::enable_shared_from_this<Connection> {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  std::atomic<bool> idle{true};  // waiting for the head of a next request
  std::string remote_address;
};

// The request body of a streaming route, read from the connection on demand. Read() runs
// on a pool thread: it hands one read to the connection's I/O thread and waits for it.
// The connection's coroutine is suspended in the handler meanwhile, so nothing else
// touches the stream, the buffer or the parser.
class SocketBodyReader final : public BodyReader {
 public:
  SocketBodyReader(Connection& conn, beast::flat_buffer& buffer,
                   bhttp::request_parser<bhttp::buffer_body>& parser,
                   std::chrono::milliseconds timeout)
      : conn_(conn), buffer_(buffer), parser_(parser), timeout_(timeout) {}

  std::optional<size_t> Read(char* out, size_t max) override {
    while (!broken_ && !parser_.is_done() && max > 0) {
      // Bytes already in the buffer are parsed here, without a trip to the I/O thread; only
      // when they hold no body does the I/O thread read more from the socket.
      if (std::optional<size_t> n = ReadBuffered(out, max)) return n;
      if (broken_ || parser_.is_done()) break;
      // Beast reads as much as the buffer's free capacity (at least 512 bytes): make room
      // for a large read, so that a big body comes in a few reads rather than thousands.
      buffer_.reserve(std::min(buffer_.max_size(), buffer_.size() + kReadAheadBytes));
      std::promise<boost::system::error_code> done;
      std::future<boost::system::error_code> result = done.get_future();
      asio::post(conn_.stream.get_executor(), [&] {
        auto& body = parser_.get().body();
        body.data = out;
        body.size = max;
        body.more = true;
        conn_.stream.expires_after(timeout_);
        bhttp::async_read_some(conn_.stream, buffer_, parser_,
                               [&done](boost::system::error_code ec, size_t) { done.set_value(ec); });
      });
      boost::system::error_code ec = result.get();
      if (ec == bhttp::error::body_limit) too_large_ = true;
      if (ec && ec != bhttp::error::need_buffer) {
        broken_ = true;
        break;
      }
      // A read may parse only framing (a chunk header): go on until some body arrives.
      if (size_t n = max - parser_.get().body().size; n > 0) return n;
    }
    if (broken_) return std::nullopt;
    return 0;
  }
  bool TooLarge() const override { return too_large_; }
  // The whole body was read: the connection may serve a next request.
  bool Finished() const { return !broken_ && parser_.is_done(); }

 private:
  // Body bytes parsed from what the buffer already holds (read ahead with an earlier piece):
  // their count, or nullopt when it holds none (or only framing, such as a partial chunk
  // line). Breaks the reader on a parse error or the body limit.
  std::optional<size_t> ReadBuffered(char* out, size_t max) {
    while (buffer_.size() > 0 && !parser_.is_done()) {
      auto& body = parser_.get().body();
      body.data = out;
      body.size = max;
      body.more = true;
      boost::system::error_code ec;
      const size_t used = parser_.put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == bhttp::error::body_limit) too_large_ = true;
      if (ec && ec != bhttp::error::need_buffer && ec != bhttp::error::need_more) {
        broken_ = true;
        return std::nullopt;
      }
      if (size_t n = max - body.size; n > 0) return n;
      if (ec == bhttp::error::need_more || used == 0) break;
    }
    return std::nullopt;
  }

  Connection& conn_;
  beast::flat_buffer& buffer_;
  bhttp::request_parser<bhttp::buffer_body>& parser_;
  std::chrono::milliseconds timeout_;
  bool broken_ = false;
  bool too_large_ = false;
};

class Server::Impl {
 public:
  Impl(ServerOptions options, Handler handler, Classifier classify)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        classify_(std::move(classify)),
        blocking_pool_(static_cast<size_t>(options_.blocking_threads), kWorkerIdleTimeout),
        streaming_pool_(static_cast<size_t>(options_.streaming_threads), kWorkerIdleTimeout) {
    for (int i = 0; i < std::max(1, options_.io_threads); ++i) {
      contexts_.push_back(std::make_unique<asio::io_context>(1));
      guards_.emplace_back(contexts_.back()->get_executor());
    }
    acceptor_.emplace(*contexts_[0]);
    signals_.emplace(*contexts_[0], SIGINT, SIGTERM);
  }

  std::string Bind() {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(options_.host, ec);
    if (ec) {
      // A name ("localhost"): its first IPv4 address, else its first address. The resolver's
      // own order differs between machines (::1 first in some containers).
      tcp::resolver resolver(*contexts_[0]);
      auto found = resolver.resolve(options_.host, "", tcp::resolver::passive, ec);
      if (ec || found.empty()) throw std::runtime_error("invalid listen address " + options_.host);
      address = found.begin()->endpoint().address();
      for (const auto& entry : found) {
        if (entry.endpoint().address().is_v4()) {
          address = entry.endpoint().address();
          break;
        }
      }
    }
    tcp::endpoint endpoint(address, options_.port);
    acceptor_->open(endpoint.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(endpoint, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error(
          fmt::format("cannot listen on {}:{}: {}", options_.host, options_.port, ec.message()));
    }
    tcp::endpoint bound = acceptor_->local_endpoint();
    std::string host = bound.address().to_string();
    if (bound.address().is_v6()) host = "[" + host + "]";
    return fmt::format("{}:{}", host, bound.port());
  }

  void Run() {
    signals_->async_wait([this](boost::system::error_code ec, int signal) {
      if (!ec) {
        spdlog::info("signal {} received: stopping", signal);
        Stop();
      }
    });
    asio::co_spawn(*contexts_[0], Accept(), asio::detached);
    std::vector<std::thread> threads;
    for (size_t i = 1; i < contexts_.size(); ++i) {
      threads.emplace_back([this, i] { contexts_[i]->run(); });
    }
    contexts_[0]->run();
    for (auto& t : threads) t.join();
    blocking_pool_.Join();
    streaming_pool_.Join();
  }

  void Stop() {
    if (stopping_.exchange(true)) return;
    asio::post(*contexts_[0], [this] {
      boost::system::error_code ignored;
      acceptor_->close(ignored);
      signals_->cancel(ignored);
    });
    std::lock_guard lock(connections_mu_);
    for (const auto& conn : connections_) {
      asio::post(conn->stream.get_executor(), [conn] {
        if (conn->idle) conn->stream.socket().close();
      });
    }
    for (auto& guard : guards_) guard.reset();
  }

 private:
  asio::awaitable<void> Accept() {
    size_t next = 0;
    while (!stopping_) {
      asio::io_context& target = *contexts_[next++ % contexts_.size()];
      auto [ec, socket] = co_await acceptor_->async_accept(target, kUseTuple);
      if (ec) {
        if (stopping_ || ec == asio::error::operation_aborted) break;
        spdlog::warn("accept failed: {}", ec.message());
        if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
            ec == asio::error::no_memory || ec.value() == ENFILE) {
          // Out of descriptors or memory: accepting again at once fails again at once.
          asio::steady_timer rest(acceptor_->get_executor(), kAcceptBackoff);
          [[maybe_unused]] auto [tec] = co_await rest.async_wait(kUseTuple);
        }
        continue;
      }
      // Our writes are whole answers or large pieces of one: Nagle's algorithm would only
      // hold a piece's last segment back until the client's delayed ACK (40 ms).
      boost::system::error_code nodelay_ec;
      socket.set_option(tcp::no_delay(true), nodelay_ec);
      auto conn = std::make_shared<Connection>(std::move(socket));
      Register(conn);
      // Serve takes the connection by reference (coroutine parameters are references or
      // plain values: docs/decisions.md, "Coroutine call sites"); the registry owns it.
      Connection& accepted = *conn;
      asio::co_spawn(target, Serve(accepted), asio::detached);
    }
  }

  void Register(const std::shared_ptr<Connection>& conn) {
    std::lock_guard lock(connections_mu_);
    connections_.insert(conn);
  }
  void Unregister(const std::shared_ptr<Connection>& conn) {
    std::lock_guard lock(connections_mu_);
    connections_.erase(conn);
  }

  // REQUIRES: `conn` is registered (Register); it is unregistered here at the end.
  asio::awaitable<void> Serve(Connection& conn) {
    const std::shared_ptr<Connection> self = conn.shared_from_this();  // past Unregister
    size_t open = ++open_connections_;
    boost::system::error_code ec;
    auto remote = conn.stream.socket().remote_endpoint(ec);
    if (!ec) conn.remote_address = remote.address().to_string();
    try {
      if (open > options_.max_connections) {
        Response refusal = ServerError(503, "Too many connections");
        co_await WriteResponse(conn, refusal, false, "");
      } else {
        co_await ServeRequests(conn);
      }
    } catch (const std::exception& e) {
      spdlog::error("connection from {} failed: {}", conn.remote_address, e.what());
    }
    conn.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    conn.stream.close();
    --open_connections_;
    Unregister(self);
  }

  // Answers the connection's requests one at a time until it ends. Every refusal is a JSON
  // error answer followed by Drain and the end of the connection (Refuse).
  asio::awaitable<void> ServeRequests(Connection& conn) {
    beast::flat_buffer buffer(options_.max_header_bytes + kReadAheadBytes);
    bool first = true;
    const size_t largest_body = std::max(options_.max_body_bytes, options_.max_stream_body_bytes);
    while (!stopping_) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<uint32_t>(options_.max_header_bytes));
      parser.body_limit(largest_body);  // the route's own limit is set once the head is read
      conn.idle = true;
      conn.stream.expires_after(first ? options_.header_timeout : options_.idle_timeout);
      auto [ec, n] = co_await bhttp::async_read_header(conn.stream, buffer, parser, kUseTuple);
      conn.idle = false;
      first = false;
      if (ec) {
        if (EndsQuietly(ec)) co_return;
        std::string_view held(static_cast<const char*>(buffer.data().data()), buffer.size());
        Response refusal = HeadReadError(ec, parser, held);
        co_await Refuse(conn, buffer, refusal, "");
        co_return;
      }
      std::string request_id = HeadRequestId(parser.get());
      Request head;
      head.method = parser.get().method_string();
      head.target = OriginForm(parser.get().target());
      Dispatch dispatch = classify_(head);
      if (dispatch == Dispatch::kStreamingInline) {
        // A small body of a known length (or none) is read whole; a larger one streams
        // (its reads reserve room for large pieces: SocketBodyReader).
        const bool small = !parser.chunked() &&
                           parser.content_length().value_or(0) <= kInlineBodyBytes;
        dispatch = small ? Dispatch::kInline : Dispatch::kStreaming;
      }
      const size_t body_limit =
          dispatch == Dispatch::kStreaming ? options_.max_stream_body_bytes : options_.max_body_bytes;
      if (std::optional<Response> refusal = RefuseHead(parser, body_limit)) {
        co_await Refuse(conn, buffer, *refusal, request_id);
        co_return;
      }
      parser.body_limit(body_limit);  // bounds a chunked body as it arrives
      if (auto expect = parser.get()[bhttp::field::expect];
          !expect.empty() && EqualsIgnoreCase(expect, "100-continue")) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
        conn.stream.expires_after(options_.write_timeout);
        auto [wec, wn] = co_await bhttp::async_write(conn.stream, cont, kUseTuple);
        if (wec) co_return;
      }
      const bool client_keep_alive = parser.get().keep_alive();
      // Read now: `head` views the parser's fields, which a streamed request moves away.
      const bool head_request = parser.get().method() == bhttp::verb::head;
      const auto started = std::chrono::steady_clock::now();
      Response response;
      bool body_finished = true;  // the request body was read to its end
      if (dispatch == Dispatch::kStreaming) {
        bhttp::request_parser<bhttp::buffer_body> body_parser(std::move(parser));
        SocketBodyReader reader(conn, buffer, body_parser, options_.body_timeout);
        Request request = ViewOf(body_parser.get(), request_id, conn);
        request.body_reader = &reader;
        Response handled = co_await Handle(request, conn, streaming_pool_, head_request);
        response = std::move(handled);
        body_finished = reader.Finished();
        buffer.shrink_to_fit();  // a large body's read-ahead room is not kept per connection
      } else {
        conn.stream.expires_after(options_.body_timeout);
        auto [bec, bn] = co_await bhttp::async_read(conn.stream, buffer, parser, kUseTuple);
        if (bec) {
          if (EndsQuietly(bec)) co_return;
          // Over the body limit, or broken framing: a bad chunk size, a chunk line or
          // trailer longer than the buffer.
          Response refusal = bec == bhttp::error::body_limit
                                 ? ServerError(413, "Request body too large")
                                 : ServerError(400, "Malformed HTTP request body");
          co_await Refuse(conn, buffer, refusal, request_id);
          co_return;
        }
        Request request = ViewOf(parser.get(), request_id, conn);
        request.body = parser.get().body();
        if (dispatch == Dispatch::kInline) {
          request.may_block = false;
          response = Invoke(request);
        }
        if (dispatch != Dispatch::kInline || response.run_blocking) {
          request.again = response.run_blocking;
          request.may_block = true;
          Response handled = co_await Handle(request, conn, blocking_pool_, head_request);
          response = std::move(handled);
        }
      }

      if (response.deferred) {
        const std::shared_ptr<Deferred>& deferred = response.deferred;
        auto when_answered = [&deferred](std::function<void(Response)> then) {
          deferred->When(std::move(then));
        };
        Response later = co_await AwaitValue<Response>(conn, when_answered);
        response = Deferred::Settle(std::move(response), std::move(later));
        if (response.run_blocking) response = ServerError(500, "Internal server error");
      }
      if (response.hold) {
        const bool durable = co_await AwaitValue<bool>(conn, response.hold);
        if (!durable) {
          std::string route = std::move(response.route);
          response = ServerError(503, "Database unavailable");
          response.route = std::move(route);
        }
      }

      // A request body left unread ends the connection: what follows it is not a request.
      const bool keep_alive = client_keep_alive && body_finished && !stopping_;
      const int status = response.status;
      const std::string route = std::move(response.route);
      bool written = true;
      if (response.stream) {
        written = co_await WriteStreamed(conn, response, keep_alive, request_id, head_request);
      } else {
        co_await WriteResponse(conn, response, keep_alive, request_id, head_request);
      }
      if (options_.access_log) {
        auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
        if (auto access = spdlog::get("access")) {
          access->info(R"("request_id":"{}","route":"{}","status":{},"latency_ms":{:.3f})",
                       JsonEscape(request_id), JsonEscape(route), status, micros / 1000.0);
        }
      }
      if (!body_finished && written) co_await Drain(conn, buffer);
      if (!keep_alive || !written) co_return;
    }
  }

  // The handler's view of a request whose head has been parsed (the body is set apart).
  static Request ViewOf(const bhttp::request_header<>& head, std::string_view request_id,
                        const Connection& conn) {
    Request request;
    request.method = head.method_string();
    request.target = OriginForm(head.target());
    request.request_id = request_id;
    request.remote_address = conn.remote_address;
    for (const auto& field : head) request.headers.emplace_back(field.name_string(), field.value());
    return request;
  }

  // Answers `refusal` and ends the connection (after Drain).
  asio::awaitable<void> Refuse(Connection& conn, beast::flat_buffer& buffer, Response& refusal,
                               std::string_view request_id) {
    co_await WriteResponse(conn, refusal, false, request_id);
    co_await Drain(conn, buffer);
  }

  // After an error answer on a connection we are closing: stop sending, then read and
  // discard what the client is still sending for a short while, so that closing with
  // unread data does not reset the connection before the client has read the answer.
  asio::awaitable<void> Drain(Connection& conn, beast::flat_buffer& buffer) {
    boost::system::error_code ec;
    conn.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    conn.stream.expires_after(kDrainTime);
    size_t drained = 0;
    while (!ec && drained < kMaxDrainBytes) {
      buffer.consume(buffer.size());
      auto [rec, n] = co_await conn.stream.async_read_some(buffer.prepare(64 * 1024), kUseTuple);
      ec = rec;
      drained += n;
    }
  }

  // Runs a handler that may block (a durable write waiting for its group commit, an
  // outbound call) on `pool`, then comes back to this connection's I/O thread to answer.
  // A small streamed answer is read whole while still on the pool (PrefetchSmallStream).
  asio::awaitable<Response> Handle(const Request& request, Connection& conn, WorkerPool& pool,
                                   bool head_request) {
    co_await OnPool(pool);
    Response response = Invoke(request);
    ReadSmallStream(response, kPrefetchBytes, head_request);
    co_await OnExecutor(conn);
    co_return response;
  }

  // Moves the running coroutine to a pool thread: the pool runs the coroutine's completion
  // handler, which resumes it there.
  static asio::awaitable<void> OnPool(WorkerPool& pool) {
    auto initiation = [&pool](auto handler) {
      pool.Post([handler = std::move(handler)]() mutable { std::move(handler)(); });
    };
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(initiation,
                                                                         asio::use_awaitable);
  }
  // Moves it back to the connection's I/O thread.
  static asio::awaitable<void> OnExecutor(Connection& conn) {
    auto on_connection = asio::bind_executor(conn.stream.get_executor(), asio::use_awaitable);
    co_await asio::post(on_connection);
  }

  // Waits until `start` hands the continuation it is given a value (on any thread), holding
  // no thread meanwhile, and comes back to the connection's I/O thread with it: a durability
  // `hold` (bool), or a `deferred` answer (Response). The I/O thread's context counts the
  // wait as work, so a stopping server does not finish before it.
  template <typename T, typename Start>
  static asio::awaitable<T> AwaitValue(Connection& conn, const Start& start) {
    auto executor = conn.stream.get_executor();
    auto initiation = [&start, executor](auto handler) {
      struct Waiting {
        decltype(handler) resume;
        asio::executor_work_guard<decltype(executor)> work;
      };
      // std::function needs a copyable callable; the coroutine's handler is move-only.
      auto waiting = std::make_shared<Waiting>(
          Waiting{std::move(handler), asio::make_work_guard(executor)});
      start([waiting, executor](T value) {
        auto held = std::make_shared<T>(std::move(value));
        asio::post(executor, [waiting, held] {
          auto resume = std::move(waiting->resume);
          waiting->work.reset();
          std::move(resume)(std::move(*held));
        });
      });
    };
    T value = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(
        initiation, asio::use_awaitable);
    co_return value;
  }

  Response Invoke(const Request& request) {
    try {
      return handler_(request);
    } catch (const std::exception& e) {
      spdlog::error("request_id={} unhandled exception: {}", request.request_id, e.what());
    } catch (...) {
      spdlog::error("request_id={} unhandled exception", request.request_id);
    }
    return ServerError(500, "Internal server error");
  }

  // Writes `response` (its body is moved out); to a HEAD request, its head alone, with the
  // Content-Length its body would have had.
  asio::awaitable<void> WriteResponse(Connection& conn, Response& response, bool keep_alive,
                                      std::string_view request_id, bool head_request = false) {
    bhttp::response<PartsBody> res{static_cast<bhttp::status>(response.status), 11};
    SetHead(res, response, keep_alive, request_id);
    asio::const_buffer shared;
    if (response.shared_body) shared = asio::buffer(*response.shared_body);
    res.body().parts = {asio::buffer(response.body), shared, asio::buffer(response.body_end)};
    res.prepare_payload();
    if (head_request) res.body().parts = {};
    conn.stream.expires_after(options_.write_timeout);
    [[maybe_unused]] auto [ec, n] = co_await bhttp::async_write(conn.stream, res, kUseTuple);
  }

  // Writes a response whose body is a stream: the head, then each piece as it is read
  // (on the streaming pool, since Read blocks), with Content-Length when the length is
  // known and chunked otherwise. False when the connection cannot go on: the client went
  // away, or the stream broke off or disagreed with its length (the message then ends
  // short, and closing tells the client so).
  asio::awaitable<bool> WriteStreamed(Connection& conn, Response& response, bool keep_alive,
                                      std::string_view request_id, bool head_request) {
    const int status = response.status;
    const bool no_body = head_request || status == 204 || status == 304 || status < 200;
    bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(status), 11};
    SetHead(res, response, keep_alive, request_id);
    if (response.stream_length && (!no_body || head_request)) {
      res.content_length(*response.stream_length);
    } else if (!no_body) {
      res.chunked(true);
    }
    bhttp::response_serializer<bhttp::empty_body> serializer(res);
    conn.stream.expires_after(options_.write_timeout);
    auto [ec, n] = co_await bhttp::async_write_header(conn.stream, serializer, kUseTuple);
    if (ec) co_return false;
    if (no_body) co_return true;

    std::string piece;
    piece.resize(response.stream_length ? std::min<uint64_t>(*response.stream_length, kStreamPieceBytes)
                                        : kStreamPieceBytes);
    if (piece.empty()) piece.resize(1);  // a read past a zero length must still be seen
    uint64_t sent = 0;
    while (true) {
      // What has come is taken here; only a wait for more goes to the pool.
      std::optional<size_t> got = response.stream->ReadNow(piece.data(), piece.size());
      if (got == BodyReader::kWouldWait) {
        co_await OnPool(streaming_pool_);
        got = response.stream->Read(piece.data(), piece.size());
        co_await OnExecutor(conn);
      }
      if (!got) co_return false;
      if (*got == 0) break;
      sent += *got;
      if (response.stream_length && sent > *response.stream_length) co_return false;
      conn.stream.expires_after(options_.write_timeout);
      auto data = asio::buffer(piece.data(), *got);
      if (res.chunked()) {
        auto chunk = bhttp::make_chunk(data);
        auto [cec, cn] = co_await asio::async_write(conn.stream, chunk, kUseTuple);
        if (cec) co_return false;
      } else {
        auto [dec, dn] = co_await asio::async_write(conn.stream, data, kUseTuple);
        if (dec) co_return false;
      }
      // All the length promised is written: no trip to the pool just to hear the end.
      if (response.stream_length && sent == *response.stream_length) break;
    }
    if (response.stream_length) co_return sent == *response.stream_length;
    conn.stream.expires_after(options_.write_timeout);
    auto last = bhttp::make_chunk_last();
    auto [lec, ln] = co_await asio::async_write(conn.stream, last, kUseTuple);
    co_return !lec;
  }

  // The head every response carries: content type, x-request-id, the handler's headers.
  template <class Body>
  static void SetHead(bhttp::response<Body>& res, const Response& response, bool keep_alive,
                      std::string_view request_id) {
    if (!response.content_type.empty()) res.set(bhttp::field::content_type, response.content_type);
    // A header the handler gives twice (an upstream's Set-Cookie, Link) goes out twice.
    for (const auto& [name, value] : response.headers) res.insert(name, value);
    // Ours, whatever the handler passed on (the proxy's upstream may send its own).
    res.set("x-request-id", request_id.empty() ? NewRequestId() : std::string(request_id));
    res.keep_alive(keep_alive);
  }

  ServerOptions options_;
  Handler handler_;
  Classifier classify_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  WorkerPool blocking_pool_;
  WorkerPool streaming_pool_;  // the proxy's: a slow upstream never holds a write back
  std::optional<tcp::acceptor> acceptor_;
  std::optional<asio::signal_set> signals_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> open_connections_{0};
  std::mutex connections_mu_;
  std::set<std::shared_ptr<Connection>> connections_;  // Guarded by connections_mu_
};

Server::Server(ServerOptions options, Handler handler, Classifier classify)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler),
                                   std::move(classify))) {}
Server::~Server() = default;
std::string Server::Bind() { return impl_->Bind(); }
void Server::Run() { impl_->Run(); }
void Server::Stop() { impl_->Stop(); }

}  // namespace tr::http
