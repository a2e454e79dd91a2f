// Router: maps a request to the handler of its route and the handler's result to a
// response. A pure function of the request and the services' state: no sockets, no Beast.
// Thread-safe: Handle() runs on any server thread concurrently.
#pragma once

#include "api/mcp.h"
#include "core/api_service.h"
#include "core/connect_service.h"
#include "core/credential_service.h"
#include "core/proxy_service.h"
#include "core/stamped_cache.h"
#include "core/tool_service.h"
#include "http/message.h"

namespace tr::api {

class Router {
 public:
  Router(ApiService& api, ConnectService& connect, CredentialService& credentials,
         ProxyService& proxy, ToolService& tools, McpSessions& mcp_sessions, Store& store)
      : api_(api),
        connect_(connect),
        credentials_(credentials),
        proxy_(proxy),
        tools_(tools),
        mcp_(tools, mcp_sessions),
        store_(store) {}

  // Never throws for bad input; an exception means a bug (the server answers 500). The
  // response's `hold` is set when it may go out only once a commit is on disk.
  http::Response Handle(const http::Request& request);

  // How the server runs a request, from its head: off the I/O threads when handling may
  // wait on a durable write or an outbound call; the proxy also streams its bodies.
  static http::Dispatch Classify(const http::Request& head);

 private:
  http::Response Route(const http::Request& request);
  http::Response ListIntegrations(const http::Request& request, std::string_view query);
  http::Response GetUser(const http::Request& request, std::string_view cid,
                         std::string_view user_id);
  http::Response CreateAuthUrl(const http::Request& request, std::string_view cid,
                               std::string_view user_id);
  http::Response GetCredentials(const http::Request& request, std::string_view cid,
                                std::string_view user_id);
  http::Response DeleteUser(const http::Request& request, std::string_view cid,
                            std::string_view user_id);
  http::Response Proxy(const http::Request& request, std::string_view cid,
                       std::string_view user_id, std::string_view rest);
  http::Response ListTools(const http::Request& request, std::string_view query);
  http::Response CallTool(const http::Request& request, std::string_view raw_name);
  http::Response Mcp(const http::Request& request);
  http::Response Ready();
  http::Response MetricsText();
  http::Response ConnectSubmit(const http::Request& request, std::string_view token);
  http::Response OAuthCallback(std::string_view query);
  // The caller's workspace id, or the 401 to send.
  Result<std::string> Authenticate(const http::Request& request);

  ApiService& api_;
  ConnectService& connect_;
  CredentialService& credentials_;
  ProxyService& proxy_;
  ToolService& tools_;
  McpEndpoint mcp_;
  Store& store_;  // for /readyz and the pool gauges of /metrics
  // GET /v1/integrations bodies by workspace and `active`, while the database is unchanged.
  StampedCache<std::shared_ptr<const std::string>> list_bodies_;
  // GET /v1/tools bodies by workspace, customerIntegrationId and the user's `connected`
  // flags, while the database is unchanged: the names and schemas are the workspace's, only
  // `connected` is the user's. A body holds every tool's schema (280 KB for 250 tools), so
  // few are kept.
  static constexpr size_t kToolBodies = 16;
  StampedCache<std::shared_ptr<const std::string>> tool_bodies_{kToolBodies};
};

}  // namespace tr::api
