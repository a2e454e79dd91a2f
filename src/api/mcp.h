// McpEndpoint: the MCP server at /v1/mcp (CONTRACT section 10): the Streamable HTTP
// transport of the Model Context Protocol, revision 2025-11-25 (also 2025-06-18 and
// 2025-03-26), with the tools of core/tool_service.h. Every POST carries one JSON-RPC
// message and gets one JSON answer (no SSE: this server sends no requests or notifications
// of its own); GET is 405; DELETE ends the session. Sessions are rows in the database
// (core/mcp_sessions.h), so any node answers any session.
// The caller (the Router) has checked the API key. Thread-safe; tools/call answers when its
// upstream has (http::Response::deferred), without a thread waiting.
#pragma once

#include <string>
#include <variant>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/mcp_sessions.h"
#include "core/stamped_cache.h"
#include "core/tool_service.h"
#include "http/message.h"

namespace tr::api {

class McpEndpoint {
 public:
  McpEndpoint(ToolService& tools, McpSessions& sessions) : tools_(tools), sessions_(sessions) {}

  // Tools per tools/list page.
  static constexpr size_t kPageSize = 100;

  // One request to /v1/mcp from workspace `workspace_id`.
  http::Response Handle(const http::Request& request, const std::string& workspace_id);

 private:
  struct Context;  // the request's workspace, user and session
  http::Response Post(const http::Request& request, Context& context);
  http::Response Delete(const http::Request& request, const Context& context);
  // The answer to a JSON-RPC request other than initialize, tools/list and tools/call
  // (ping, or an error): {"result"} or {"error"}.
  boost::json::object Dispatch(const std::string& method);
  boost::json::object Initialize(const boost::json::value& params, Context& context,
                                 std::string& session_id);
  // tools/list: a JSON-RPC error ({"error"}), or the page's result serialized (kept and
  // shared by the answers to every user of the workspace while the database is unchanged).
  // With `may_block` false, a list with a remote MCP server's tools (read from it) is
  // kWouldBlock.
  std::variant<boost::json::object, std::shared_ptr<const std::string>, Error> ListTools(
      const boost::json::value& params, const Context& context, bool may_block);
  // tools/call: its answer, or one to come (http::Response::deferred).
  http::Response CallTool(const boost::json::value& params, const boost::json::value& id,
                          const Context& context, bool may_block);

  ToolService& tools_;
  McpSessions& sessions_;
  // tools/list results by workspace and cursor, while the database is unchanged
  // (core/stamped_cache.h): without a remote MCP server's tools, a page is the same for
  // every user of the workspace. A page holds up to 100 schemas, so few are kept.
  static constexpr size_t kListPages = 16;
  StampedCache<std::shared_ptr<const std::string>> list_pages_{kListPages};
};

}  // namespace tr::api
