// McpSessions: the sessions of the MCP endpoint (/v1/mcp, CONTRACT section 10) and its
// Origin rule. A session is a row in the database (Store::*McpSession), so that every node
// honours it; the session id is a random token, stored only as its hash. Knows no HTTP.
// Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"
#include "store/store.h"

namespace tr {

class McpSessions {
 public:
  // `public_url` without a trailing slash.
  McpSessions(Store& store, const Clock& clock, std::string public_url);

  // How long a session lives after initialize; a client then starts a new one (its 404).
  static constexpr int64_t kLifetimeMillis = 7LL * 24 * 3600 * 1000;

  // A new session's id.
  Result<std::string> Create(const std::string& workspace_id, std::string protocol_version,
                             bool url_elicitation);
  // The session `session_id` of the workspace, unexpired; nullopt when there is none (unknown,
  // ended, expired, or another workspace's).
  Result<std::optional<McpSession>> Find(const std::string& workspace_id,
                                         std::string_view session_id);
  // Ends the session; false when there was none for this workspace.
  Result<bool> End(const std::string& workspace_id, std::string_view session_id);

  // Whether a request with this Origin header may reach the endpoint: the public URL's
  // origin, or one of the workspace's allowed redirect origins.
  Result<bool> OriginAllowed(const std::string& workspace_id, std::string_view origin);

 private:
  Store& store_;
  const Clock& clock_;
  std::string public_origin_;  // scheme://host[:port] of the public URL
};

}  // namespace tr
