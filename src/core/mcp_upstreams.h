// McpUpstreams: the service's own MCP sessions with remote MCP servers (CONTRACT section 11),
// at most one per (customer integration, user) on this node. Each session's HTTP goes
// through ProxyService::Forward with an empty path (an MCP definition's apiBaseUrl is its
// endpoint), so the user's auth, the SSRF rules and the OAuth 401 refresh-and-retry are the
// proxy's. The upstream's tools/list is cached per session: re-read after kToolsMaxAge, or
// once the server sent notifications/tools/list_changed. A session unused for kIdleTimeout
// is closed (DELETE) on the next access to the pool: no thread of its own.
// Thread-safe; calls block on the upstream.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/integration.h"
#include "core/proxy_service.h"
#include "mcp/client_session.h"
#include "tools/tool.h"

namespace tr {

class McpUpstreams {
 public:
  using SteadyClock = std::chrono::steady_clock;
  static constexpr std::chrono::minutes kToolsMaxAge{10};
  static constexpr std::chrono::minutes kIdleTimeout{5};
  // After a failed tools/list, the server is not asked again for this long: a hung server
  // costs one request its timeout, not every list and call of its users. The last list
  // read, if any, is served meanwhile.
  static constexpr std::chrono::minutes kFailureHold{1};

  // Sessions still open at destruction are not ended: the servers expire them. `now` is the
  // steady clock (a fake one in unit tests).
  explicit McpUpstreams(ProxyService& proxy,
                        std::function<SteadyClock::time_point()> now = SteadyClock::now)
      : proxy_(proxy), now_(std::move(now)) {}
  McpUpstreams(const McpUpstreams&) = delete;
  McpUpstreams& operator=(const McpUpstreams&) = delete;

  // The server's tools as `definition` (an MCP one) names and selects them: each Tool's key
  // is the upstream's name, its name <integrationId>_<upstream name> (section 10's rules,
  // or the `names` override), unique within the set; no operation, no validator (the
  // arguments go to the upstream unchanged). Errors are the session's and the proxy's
  // (kConflict: the user is not active there).
  Result<std::shared_ptr<const tools::ToolSet>> Tools(
      const std::string& workspace_id, const std::string& cid, std::string_view user_id,
      std::shared_ptr<const IntegrationDefinition> definition);

  // tools/call of the upstream's tool `upstream_name`: its result as sent.
  Result<boost::json::object> Call(const std::string& workspace_id, const std::string& cid,
                                   std::string_view user_id, std::string_view upstream_name,
                                   const boost::json::object& arguments);

  // Sessions open now (for tests).
  size_t size() const;

 private:
  // Sends each request of one session through the proxy, for one user.
  class ProxyTransport final : public mcp::Transport {
   public:
    ProxyTransport(ProxyService& proxy, std::string workspace_id, std::string cid,
                   std::string user_id)
        : proxy_(proxy),
          workspace_id_(std::move(workspace_id)),
          cid_(std::move(cid)),
          user_id_(std::move(user_id)) {}
    Result<net::StreamedResult> Send(std::string_view method, const net::Headers& headers,
                                     const std::string& body) override;

   private:
    ProxyService& proxy_;
    std::string workspace_id_, cid_, user_id_;
  };

  struct Upstream {
    Upstream(ProxyService& proxy, const std::string& workspace_id, const std::string& cid,
             std::string_view user_id);
    ProxyTransport transport;
    std::atomic<bool> tools_changed{false};  // set by notifications/tools/list_changed
    mcp::ClientSession session;              // uses transport and tools_changed
    std::mutex tools_mu;                     // one tools/list at a time
    // Guarded by tools_mu: the last tools/list, when it was read, and the set made of it
    // for `built_for` (a redefined integration gets its set made again).
    std::vector<boost::json::object> listed;
    std::optional<SteadyClock::time_point> tools_read;  // none until a list came
    std::shared_ptr<const IntegrationDefinition> built_for;
    std::shared_ptr<const tools::ToolSet> tools;
    std::optional<Error> failure;  // of the last read, while failed_until is ahead
    SteadyClock::time_point failed_until;
    // Guarded by McpUpstreams::mu_:
    SteadyClock::time_point last_used;
    int in_use = 0;
  };

  // Marks the entry for (cid, user) in use (made if needed) after closing idle ones.
  std::shared_ptr<Upstream> Acquire(const std::string& workspace_id, const std::string& cid,
                                    std::string_view user_id);
  void Release(Upstream& upstream);

  ProxyService& proxy_;
  std::function<SteadyClock::time_point()> now_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Upstream>>
      upstreams_;  // Guarded by mu_; by cid + '\n' + user
};

// The upstream's `tools` (its Tool objects) as `definition` names and selects them.
tools::ToolSet McpToolSet(const std::vector<boost::json::object>& upstream_tools,
                          const IntegrationDefinition& definition);

}  // namespace tr
