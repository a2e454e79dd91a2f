#include "http/server.h"

#include <atomic>
#include <mutex>
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
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "crypto/crypto.h"

namespace tr::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

namespace {

// An x-request-id we echo must be short and printable; otherwise we make our own.
constexpr size_t kMaxRequestIdBytes = 128;
// How long and how much we keep reading after an error answer before closing (see Drain).
constexpr std::chrono::seconds kDrainTime{2};
constexpr size_t kMaxDrainBytes = 8 << 20;

bool UsableRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdBytes) return false;
  for (char c : id) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// The caller's x-request-id from a parsed head when usable, else a new one.
std::string HeadRequestId(const bhttp::request_parser<bhttp::string_body>& parser) {
  std::string id(parser.get()["x-request-id"]);
  return UsableRequestId(id) ? id : crypto::HexEncode(crypto::RandomBytes(16));
}

Response ServerError(int status, std::string_view message) {
  Response r;
  r.status = status;
  r.body = fmt::format(R"({{"statusCode":{},"message":"{}","error":"{}"}})", status, message,
                       StatusText(status));
  r.route = "(server)";
  return r;
}

}  // namespace

// One accepted connection. Shared by its coroutine and by Stop(), which may close it
// while it waits for a next request; both touch it only on its own executor.
struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  std::atomic<bool> idle{true};  // waiting for the head of a next request
  std::string remote_address;
};

class Server::Impl {
 public:
  Impl(ServerOptions options, Handler handler, BlockingPredicate may_block)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        may_block_(std::move(may_block)),
        blocking_pool_(static_cast<size_t>(options_.blocking_threads)) {
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
    if (ec) throw std::runtime_error("invalid listen address " + options_.host);
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
    blocking_pool_.join();
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
        continue;
      }
      auto conn = std::make_shared<Connection>(std::move(socket));
      asio::co_spawn(target, Serve(std::move(conn)), asio::detached);
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

  asio::awaitable<void> Serve(std::shared_ptr<Connection> conn) {
    size_t open = ++open_connections_;
    Register(conn);
    boost::system::error_code ec;
    auto remote = conn->stream.socket().remote_endpoint(ec);
    conn->remote_address = ec ? "" : remote.address().to_string();
    if (open > options_.max_connections) {
      co_await WriteResponse(*conn, ServerError(503, "Too many connections"), false, "");
    } else {
      try {
        co_await ServeRequests(*conn);
      } catch (const std::exception& e) {
        spdlog::error("connection from {} failed: {}", conn->remote_address, e.what());
      }
    }
    conn->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    conn->stream.close();
    Unregister(conn);
    --open_connections_;
  }

  asio::awaitable<void> ServeRequests(Connection& conn) {
    beast::flat_buffer buffer;
    bool first = true;
    while (!stopping_) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<uint32_t>(options_.max_header_bytes));
      parser.body_limit(options_.max_body_bytes);
      conn.idle = true;
      conn.stream.expires_after(first ? options_.header_timeout : options_.idle_timeout);
      auto [ec, n] = co_await bhttp::async_read_header(conn.stream, buffer, parser, kUseTuple);
      conn.idle = false;
      first = false;
      if (ec == bhttp::error::header_limit) {
        // No line end in what we hold: the request line itself is too long.
        std::string_view held(static_cast<const char*>(buffer.data().data()), buffer.size());
        bool line_too_long = held.find("\r\n") == std::string_view::npos;
        co_await WriteResponse(conn,
                               line_too_long ? ServerError(414, "Request line too long")
                                             : ServerError(431, "Request headers too large"),
                               false, "");
        co_await Drain(conn, buffer);
        co_return;
      }
      if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
          ec == asio::error::eof || ec == asio::error::bad_descriptor) {
        co_return;
      }
      if (ec == bhttp::error::body_limit) {  // Content-Length over the limit, seen in the head
        co_await WriteResponse(conn, ServerError(413, "Request body too large"), false,
                               HeadRequestId(parser));
        co_await Drain(conn, buffer);
        co_return;
      }
      if (ec) {
        co_await WriteResponse(conn, ServerError(400, "Malformed HTTP request"), false, "");
        co_await Drain(conn, buffer);
        co_return;
      }
      std::string request_id = HeadRequestId(parser);
      auto length = parser.content_length();
      if (length && *length > options_.max_body_bytes) {
        co_await WriteResponse(conn, ServerError(413, "Request body too large"), false, request_id);
        co_await Drain(conn, buffer);
        co_return;
      }
      if (auto expect = parser.get()[bhttp::field::expect];
          !expect.empty() && EqualsIgnoreCase(expect, "100-continue")) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
        conn.stream.expires_after(options_.write_timeout);
        auto [wec, wn] = co_await bhttp::async_write(conn.stream, cont, kUseTuple);
        if (wec) co_return;
      }
      conn.stream.expires_after(options_.body_timeout);
      std::tie(ec, n) = co_await bhttp::async_read(conn.stream, buffer, parser, kUseTuple);
      if (ec == bhttp::error::body_limit) {
        co_await WriteResponse(conn, ServerError(413, "Request body too large"), false, request_id);
        co_await Drain(conn, buffer);
        co_return;
      }
      if (ec) co_return;

      const auto started = std::chrono::steady_clock::now();
      auto& message = parser.get();
      Request request;
      request.method = message.method_string();
      request.target = message.target();
      request.body = message.body();
      request.request_id = request_id;
      request.remote_address = conn.remote_address;
      for (const auto& field : message) request.headers.emplace_back(field.name_string(), field.value());

      Response response = co_await Handle(request, conn);
      const bool keep_alive = message.keep_alive() && !stopping_;
      const int status = response.status;
      const std::string route = std::move(response.route);
      co_await WriteResponse(conn, std::move(response), keep_alive, request_id);
      if (options_.access_log) {
        auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
        if (auto access = spdlog::get("access")) {
          access->info(R"("request_id":"{}","route":"{}","status":{},"latency_ms":{:.3f})",
                       JsonEscape(request_id), JsonEscape(route), status, micros / 1000.0);
        }
      }
      if (!keep_alive) co_return;
    }
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

  asio::awaitable<Response> Handle(const Request& request, Connection& conn) {
    if (!may_block_(request)) co_return Invoke(request);
    // A durable write may wait for its group commit: run it on the blocking pool and come
    // back to this connection's I/O thread to answer. bind_executor makes the coroutine
    // resume on the pool (a plain post would resume it on its own I/O thread).
    co_await asio::post(asio::bind_executor(blocking_pool_.get_executor(), asio::use_awaitable));
    Response response = Invoke(request);
    co_await asio::post(asio::bind_executor(conn.stream.get_executor(), asio::use_awaitable));
    co_return response;
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

  asio::awaitable<void> WriteResponse(Connection& conn, Response response, bool keep_alive,
                                      std::string_view request_id) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), 11};
    if (!response.content_type.empty()) res.set(bhttp::field::content_type, response.content_type);
    res.set("x-request-id",
            request_id.empty() ? crypto::HexEncode(crypto::RandomBytes(16)) : std::string(request_id));
    for (auto& [name, value] : response.headers) res.set(name, value);
    res.body() = std::move(response.body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    conn.stream.expires_after(options_.write_timeout);
    co_await bhttp::async_write(conn.stream, res, kUseTuple);
  }

  ServerOptions options_;
  Handler handler_;
  BlockingPredicate may_block_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  asio::thread_pool blocking_pool_;
  std::optional<tcp::acceptor> acceptor_;
  std::optional<asio::signal_set> signals_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> open_connections_{0};
  std::mutex connections_mu_;
  std::set<std::shared_ptr<Connection>> connections_;  // Guarded by connections_mu_
};

Server::Server(ServerOptions options, Handler handler, BlockingPredicate may_block)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler),
                                   std::move(may_block))) {}
Server::~Server() = default;
std::string Server::Bind() { return impl_->Bind(); }
void Server::Run() { impl_->Run(); }
void Server::Stop() { impl_->Stop(); }

}  // namespace tr::http
