// Server: the HTTP/1.1 front door. Owns the listening socket, one I/O thread per core
// (each with its own io_context), one coroutine per connection, and two pools of threads
// (WorkerPool: as many threads as tasks block at the moment, up to a bound, none when idle)
// for handlers that may block (an outbound call, a PostgreSQL read) and for the proxy's
// streamed bodies. Enforces the connection guards: limits on
// the request line and headers, the body (413), the number of connections, read and idle
// timeouts; keep-alive with pipelined requests answered in order, one at a time.
//
// Beast and Asio stay inside server.cpp; this header is plain C++.
// Thread contract: construct, Bind() and Run() on one thread; Stop() from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "http/message.h"

namespace tr::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  int io_threads = 2;
  // The most threads of each pool; a pool holds only those its work needs at the moment.
  int blocking_threads = 64;          // handlers that block: outbound calls, PostgreSQL reads
  int streaming_threads = 64;         // the proxy's calls and the pieces of their bodies
  size_t max_body_bytes = 1 << 20;    // CONTRACT section 2: over 1 MiB is 413
  size_t max_stream_body_bytes = 64 << 20;  // a streamed request body (the proxy's)
  size_t max_header_bytes = 16 << 10; // request line + headers together
  size_t max_connections = 10000;
  std::chrono::milliseconds header_timeout{10'000};  // to receive a request's head
  std::chrono::milliseconds body_timeout{30'000};    // to receive its body
  std::chrono::milliseconds idle_timeout{60'000};    // between keep-alive requests
  std::chrono::milliseconds write_timeout{30'000};
  bool access_log = true;
};

class Server {
 public:
  using Handler = std::function<Response(const Request&)>;
  using Classifier = std::function<Dispatch(const Request& head)>;

  Server(ServerOptions options, Handler handler, Classifier classify);
  ~Server();

  // Binds the listening socket; the bound "host:port" (the real port when 0 was asked).
  // Throws std::runtime_error when the address cannot be bound.
  std::string Bind();
  // Serves until Stop(), SIGINT or SIGTERM; returns once in-flight requests are answered.
  void Run();
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tr::http
