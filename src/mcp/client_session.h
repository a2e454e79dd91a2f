// ClientSession: the service as an MCP client of one remote MCP server, for one end user
// (CONTRACT section 11). It speaks the Streamable HTTP transport of revision 2025-11-25:
// initialize + notifications/initialized, then tools/list (through every cursor) and
// tools/call, each a POST whose answer is JSON or an SSE stream; it keeps the server's
// MCP-Session-Id, sends MCP-Protocol-Version, re-initializes once when the server forgets
// its session (404), and ends the session with DELETE.
//
// HTTP goes through a Transport, so that the real calls take the proxy's path (the user's
// auth, the SSRF rules, the OAuth 401 refresh) and tests use a fake. The session never sees
// a credential.
//
// Thread-safe: calls may run concurrently on one session; only (re-)initialization is
// serialized. The Transport must outlive the session.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/result.h"
#include "net/http_client.h"

namespace tr::mcp {

// The revision we ask for, and those we accept when a server answers with an older one.
inline constexpr std::string_view kClientProtocolVersion = "2025-11-25";
bool IsSupportedProtocolVersion(std::string_view version);

// One HTTP exchange with the MCP server's endpoint (its URL is the transport's business).
class Transport {
 public:
  virtual ~Transport() = default;
  // Sends `method` (POST or DELETE) with `headers` and `body`; the answer with any status,
  // its body still arriving. Errors are the call path's (kBadGateway, kGatewayTimeout,
  // kConflict for a user who is not connected, ...), passed on as they are.
  virtual Result<net::StreamedResult> Send(std::string_view method, const net::Headers& headers,
                                           const std::string& body) = 0;
};

// A Transport straight to `url` through an HttpClient, with `extra_headers` on every call
// (for a server without auth, discovery probes and tests; a user's calls take the proxy).
class HttpClientTransport final : public Transport {
 public:
  HttpClientTransport(net::HttpClient& http, std::string url, net::Headers extra_headers = {});
  Result<net::StreamedResult> Send(std::string_view method, const net::Headers& headers,
                                   const std::string& body) override;

 private:
  net::HttpClient& http_;
  std::string url_;
  net::Headers extra_headers_;
};

struct ClientSessionOptions {
  std::string client_name = "toolregistry";
  std::string client_version = "0";
  // Called with the method of each server notification seen in an answer (for example
  // "notifications/tools/list_changed"), on the calling thread.
  std::function<void(const std::string& method)> on_notification;
};

class ClientSession {
 public:
  // An answer (JSON or SSE) is read up to this size; a larger one is an error.
  static constexpr size_t kMaxAnswerBytes = 8 << 20;
  // tools/list stops following cursors after this many pages (a server that loops).
  static constexpr int kMaxToolPages = 100;

  ClientSession(Transport& transport, ClientSessionOptions options = {});

  // Runs initialize and notifications/initialized unless a session is up. Ok, or the error:
  // kBadGateway for an HTTP error status, an answer that is not JSON-RPC, a JSON-RPC error
  // or a protocol version we do not speak; the transport's own errors as they are.
  Status Initialize();
  // Every tool of the server, in its order, each its `Tool` object as sent. Initializes
  // first when needed. Errors as Initialize(); kBadGateway also for a cursor loop.
  Result<std::vector<boost::json::object>> ListTools();
  // The `tools/call` result as the server sent it (content, structuredContent, isError).
  // A JSON-RPC error: kInvalidArgument for -32602/-32601 (unknown tool, bad arguments),
  // else kBadGateway; the server's message is in the error.
  Result<boost::json::object> CallTool(std::string_view name, const boost::json::object& arguments);
  // Ends the session with DELETE (a server that refuses with 405 is fine). The next call
  // initializes again.
  Status Close();

  // The server's session id ("" before initialize, or when it issues none).
  std::string session_id() const;
  // The protocol version agreed at initialize ("" before).
  std::string protocol_version() const;

 private:
  struct SessionState {
    bool initialized = false;
    std::string session_id;
    std::string protocol_version;
    uint64_t generation = 0;  // counts initializations: who saw a 404 for which session
  };

  // A request's result; re-initializes once when the server answers 404 for our session.
  Result<boost::json::value> Call(std::string_view method, boost::json::object params);
  // One POST of a request. `gone` is set when the server answered 404 for the session.
  Result<boost::json::value> Post(std::string_view method, const boost::json::object& params,
                                  const SessionState& state, bool& gone);
  Status PostNotification(std::string_view method, const SessionState& state);
  Status InitializeLocked(uint64_t stale_generation);
  SessionState State() const;
  net::Headers HeadersFor(const SessionState& state) const;

  Transport& transport_;
  ClientSessionOptions options_;
  std::atomic<int64_t> next_id_{1};
  std::mutex init_mu_;  // held while initializing: one initialize at a time
  mutable std::mutex mu_;
  SessionState state_;  // Guarded by mu_
};

}  // namespace tr::mcp
