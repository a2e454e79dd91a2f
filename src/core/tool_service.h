// ToolService: the tools an agent may call for one end user, and the calls themselves
// (CONTRACT section 10), for both the REST tool API and the MCP server. A tool call is
// built from its arguments (tools/request_builder.h) and sent through ProxyService, the
// one call path to an upstream: the same auth, refresh-and-retry, SSRF rules and limits.
// Knows no HTTP. Thread-safe; Call blocks on the upstream.
//
// What the store's change stamp covers (the workspace's active integrations and their
// definitions, hence their tools and names) is cached per workspace (core/stamped_cache.h,
// docs/decisions.md "Caches"): a definition changed, an integration enabled or disabled, by
// this process or another, is seen by the next request. Whether the user is connected is
// read from the store on every request (users do not move the stamp): one row per
// integration for a list, the called tool's row for a call.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/api_service.h"
#include "core/integration_directory.h"
#include "core/mcp_upstreams.h"
#include "core/proxy_service.h"
#include "core/stamped_cache.h"
#include "store/store.h"
#include "tools/tool.h"

namespace tr {

// One tool as one user sees it.
struct UserTool {
  std::string name;                                         // unique among the user's tools
  std::shared_ptr<const IntegrationDefinition> definition;  // owns *tool
  const tools::Tool* tool = nullptr;
  // For a remote MCP server's tool: its user's tool set, which owns *tool.
  std::shared_ptr<const tools::ToolSet> mcp_tools;
  std::string customer_integration_id;
  std::string integration_id;
  bool connected = false;  // the user is active in this customer integration
};

// The upstream's answer to a tool call.
struct ToolCallResult {
  int status = 0;
  std::string content_type;
  std::optional<boost::json::value> json;  // the parsed body, when it is JSON and whole
  std::string body;                        // otherwise the body (UTF-8; see `base64`)
  bool base64 = false;                     // `body` is base64: the upstream's bytes were not UTF-8
  bool truncated = false;                  // the body was over kMaxBodyBytes and was cut there
  // `json` is a remote MCP server's tools/call result, to be passed through as it is
  // (status 200, content type application/json).
  bool mcp_result = false;
};

// The user has not connected the tool's integration (or is no longer active there).
struct NotConnected {
  std::string authorize_url;  // a fresh connect link, as auth-url makes it
  std::string integration_name;
  std::string customer_integration_id;
};

using ToolCallOutcome = std::variant<ToolCallResult, NotConnected>;

class ToolService {
 public:
  ToolService(Store& store, ApiService& api, ProxyService& proxy)
      : store_(store), api_(api), proxy_(proxy), upstreams_(proxy) {}

  // An upstream body is read up to this size; the rest is cut (truncated: true).
  static constexpr size_t kMaxBodyBytes = 1 << 20;

  // The tools of the workspace's active customer integrations, oldest integration first,
  // each integration's tools in its document's order (a remote MCP server's: its
  // tools/list for this user, listed only when the user is connected there, and left out
  // with a warning logged when the server cannot be read). `cid` narrows the list to one
  // customer integration (kNotFound when it is malformed, unknown or another workspace's);
  // names are those of the whole list. kInvalidArgument for a malformed userId.
  Result<std::vector<UserTool>> List(const std::string& workspace_id, std::string_view user_id,
                                     std::optional<std::string_view> cid = std::nullopt);

  // The store's change stamp (Store::ChangeStamp), for caches of what List answers: read it
  // before List, keep an answer only while it holds, and never one with a remote MCP
  // server's tools (UserTool::mcp_tools), which are read for the user.
  std::optional<uint64_t> ChangeStamp() { return store_.ChangeStamp(); }

  // What a cache of List's answers is looked up by, read without building the list: the
  // user's `connected` flag for each tool List(workspace_id, user_id, cid) would answer, in
  // its order ('1' or '0'). nullopt when the workspace has a remote MCP server, whose tools
  // are read for the user, so that its lists are not kept. Errors as List's.
  Result<std::optional<std::string>> ConnectedFlags(const std::string& workspace_id,
                                                    std::string_view user_id,
                                                    std::optional<std::string_view> cid = std::nullopt);
  // Whether List's names and schemas are the same for every user of the workspace (it has
  // no remote MCP server): a cache of what is made of them alone, without `connected`,
  // needs no user in its key. Errors as List's (a malformed userId).
  Result<bool> SharedByUsers(const std::string& workspace_id, std::string_view user_id);

  // Calls tool `name` for the user: kNotFound (no such tool), kInvalidArgument (the
  // arguments fail the tool's inputSchema: one message per problem; or a bad userId), the
  // proxy's kBadGateway / kGatewayTimeout / kUnavailable; else the upstream's answer (any
  // status) or NotConnected.
  Result<ToolCallOutcome> Call(const std::string& workspace_id, std::string_view name,
                               std::string_view user_id, const boost::json::object& arguments);

  using CallDone = std::function<void(Result<ToolCallOutcome>)>;
  // Call() without waiting for the upstream: `done` gets what Call() would return, on the
  // calling thread before StartCall() returns, or where ProxyService::Start() finishes
  // (the outbound client's thread, where it must not block, or a pool's). With `may_block`
  // false, what would have to wait for more than the upstream (a remote MCP server's tools,
  // a token refresh) is kWouldBlock at once, and nothing was done.
  void StartCall(const std::string& workspace_id, std::string_view name, std::string_view user_id,
                 const boost::json::object& arguments, bool may_block, CallDone done);

 private:
  // What List found out about the MCP servers it could not list for the user.
  struct McpGap {
    UserTool integration;        // no tool: the customer integration and its definition
    std::optional<Error> error;  // set: the server could not be read; else not connected
  };
  // A workspace's tools as far as the change stamp covers them. Immutable once built.
  struct WorkspaceTools {
    // The active customer integrations that have tools or an MCP server, oldest first.
    std::vector<IntegrationView> integrations;
    // The OpenAPI tools of `integrations` in order, `connected` false. Their names are final
    // when no integration is an MCP server (whose tools depend on the user); else unset.
    std::vector<UserTool> tools;
    std::unordered_map<std::string, size_t> by_name;  // tools[i].name -> i; only without MCP
    bool has_mcp = false;
  };
  Result<std::shared_ptr<const WorkspaceTools>> Tools(const std::string& workspace_id);
  // List's checks of its arguments, then the workspace's tools; nullptr when `cid` is one of
  // the workspace's own customer integrations without tools (an empty list).
  Result<std::shared_ptr<const WorkspaceTools>> ListScope(const std::string& workspace_id,
                                                          std::string_view user_id,
                                                          std::optional<std::string_view> cid);
  // The user's `connected` flag per tool of a workspace without MCP servers (of `cid`'s
  // tools alone when set), one store read per customer integration.
  Result<std::string> Flags(const WorkspaceTools& workspace, std::string_view user_id,
                            std::optional<std::string_view> cid);
  // Whether the user is active in the customer integration (a store read, never cached).
  Result<bool> Connected(const std::string& cid, std::string_view user_id);
  // The list for a workspace with MCP servers, whose names depend on the user's MCP tools;
  // `gaps` (when set) gets the MCP servers left out.
  Result<std::vector<UserTool>> ListWithMcp(const std::string& workspace_id,
                                            const WorkspaceTools& workspace,
                                            std::string_view user_id, std::vector<McpGap>* gaps);
  // An OpenAPI tool's call; `connected`: the user is active in its customer integration.
  void StartOpenApi(const std::string& workspace_id, const UserTool& tool, bool connected,
                    std::string_view user_id, const boost::json::object& arguments,
                    bool may_block, CallDone done);
  // The upstream's answer to an OpenAPI tool's call, as the call's outcome.
  Result<ToolCallOutcome> OpenApiOutcome(const std::string& workspace_id, const UserTool& tool,
                                         std::string_view user_id,
                                         Result<net::StreamedResult> upstream);
  Result<ToolCallOutcome> CallMcp(const std::string& workspace_id, const UserTool& tool,
                                  std::string_view user_id, const boost::json::object& arguments);
  Result<NotConnected> ConnectLink(const std::string& workspace_id, const UserTool& tool,
                                   std::string_view user_id);

  Store& store_;
  ApiService& api_;
  ProxyService& proxy_;
  McpUpstreams upstreams_;  // this node's sessions with remote MCP servers
  // By workspace id. An entry holds a UserTool per tool (about 40 KB for 250 tools), so
  // fewer are kept than the StampedCache default.
  static constexpr size_t kWorkspaces = 512;
  StampedCache<std::shared_ptr<const WorkspaceTools>> workspace_tools_{kWorkspaces};
};

// The names of `base` tool names made unique in order: a repeat gets "_2", "_3"... (cut so
// that it stays within 64 characters), skipping names already taken.
std::vector<std::string> UniqueToolNames(const std::vector<std::string>& base);

// The upstream's body as a tool result: parsed when JSON, else text (or base64).
ToolCallResult ReadToolAnswer(int status, std::string content_type, std::string body,
                              bool truncated);

}  // namespace tr
