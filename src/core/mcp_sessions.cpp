#include "core/mcp_sessions.h"

#include <algorithm>

#include "core/ids.h"
#include "core/validation.h"

namespace tr {

McpSessions::McpSessions(Store& store, const Clock& clock, std::string public_url)
    : store_(store), clock_(clock) {
  auto origin = ValidateRedirectUri(public_url);  // the origin of any http(s) URL
  public_origin_ = origin ? std::move(*origin) : std::move(public_url);
}

Result<std::string> McpSessions::Create(const std::string& workspace_id,
                                        std::string protocol_version, bool url_elicitation) {
  const int64_t now = clock_.NowMillis();
  std::string id = NewToken();
  McpSession session{HashSecret(id),  workspace_id, std::move(protocol_version),
                     url_elicitation, now,          now + kLifetimeMillis};
  if (auto stored = store_.CreateMcpSession(session, now); !stored) return stored.error();
  return id;
}

Result<std::optional<McpSession>> McpSessions::Find(const std::string& workspace_id,
                                                    std::string_view session_id) {
  auto found = store_.FindMcpSession(HashSecret(session_id));
  if (!found) return found.error();
  if (!*found || (*found)->workspace_id != workspace_id ||
      (*found)->expires_at <= clock_.NowMillis()) {
    return std::optional<McpSession>();
  }
  return found;
}

Result<bool> McpSessions::End(const std::string& workspace_id, std::string_view session_id) {
  auto found = Find(workspace_id, session_id);
  if (!found) return found.error();
  if (!*found) return false;
  return store_.DeleteMcpSession((*found)->session_hash);
}

Result<bool> McpSessions::OriginAllowed(const std::string& workspace_id, std::string_view origin) {
  auto normalized = NormalizeOrigin(origin);
  if (!normalized) return false;  // "null", garbage
  if (*normalized == public_origin_) return true;
  auto allowed = store_.ListRedirectOrigins(workspace_id);
  if (!allowed) return allowed.error();
  return std::find(allowed->begin(), allowed->end(), *normalized) != allowed->end();
}

}  // namespace tr
