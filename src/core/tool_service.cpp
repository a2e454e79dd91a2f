#include "core/tool_service.h"

#include <algorithm>
#include <future>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/json/parse.hpp>

#include "core/ids.h"
#include "core/validation.h"
#include "crypto/crypto.h"
#include "http/message.h"
#include "tools/request_builder.h"

namespace tr {

namespace json = boost::json;

namespace {

constexpr size_t kMaxToolName = 64;  // CONTRACT section 10: ^[A-Za-z0-9_-]{1,64}$
// A JSON body nested deeper than this is given as text: parsing it would cost the stack.
constexpr unsigned kMaxJsonDepth = 64;

// The length of the longest prefix of `text` that is well-formed UTF-8.
size_t ValidUtf8Prefix(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    size_t n = Utf8SequenceLength(text, i);
    if (n == 0) break;
    i += n;
  }
  return i;
}

bool IsJsonContentType(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  if (http::EqualsIgnoreCase(media, "application/json")) return true;
  return media.size() > 5 && http::EqualsIgnoreCase(media.substr(media.size() - 5), "+json");
}

}  // namespace

std::vector<std::string> UniqueToolNames(const std::vector<std::string>& base) {
  std::set<std::string> taken(base.begin(), base.end());
  std::set<std::string> used;
  std::vector<std::string> names;
  names.reserve(base.size());
  for (const std::string& name : base) {
    if (used.insert(name).second) {
      names.push_back(name);
      continue;
    }
    // A repeat: the first free "_N", N from 2. A name some other tool has as its own is not
    // free, so that tool keeps it whatever the order.
    for (int n = 2;; ++n) {
      const std::string suffix = fmt::format("_{}", n);
      std::string candidate =
          name.substr(0, std::min(name.size(), kMaxToolName - suffix.size())) + suffix;
      if (taken.count(candidate) || used.count(candidate)) continue;
      used.insert(candidate);
      names.push_back(std::move(candidate));
      break;
    }
  }
  return names;
}

ToolCallResult ReadToolAnswer(int status, std::string content_type, std::string body,
                              bool truncated) {
  ToolCallResult result;
  result.status = status;
  result.content_type = std::move(content_type);
  result.truncated = truncated;
  if (!truncated && IsJsonContentType(result.content_type)) {
    json::parse_options options;
    options.max_depth = kMaxJsonDepth;
    boost::system::error_code ec;
    json::value parsed = json::parse(body, ec, {}, options);
    if (!ec) {
      result.json = std::move(parsed);
      return result;
    }
  }
  const size_t valid = ValidUtf8Prefix(body);
  // A cut may split the last character: drop its first bytes rather than call it binary.
  if (valid == body.size() || (truncated && body.size() - valid < 4)) {
    body.resize(valid);
    result.body = std::move(body);
  } else {
    result.body = crypto::Base64Encode(body);
    result.base64 = true;
  }
  return result;
}

Result<std::shared_ptr<const ToolService::WorkspaceTools>> ToolService::Tools(
    const std::string& workspace_id) {
  using Loaded = Result<std::optional<std::shared_ptr<const WorkspaceTools>>>;
  // The stamp is read before the integrations are (core/stamped_cache.h).
  const std::optional<uint64_t> stamp = store_.ChangeStamp();
  Loaded cached = workspace_tools_.GetOrLoad(workspace_id, stamp, [&]() -> Loaded {
    auto active = api_.ListIntegrations(workspace_id, true);
    if (!active) return active.error();
    auto built = std::make_shared<WorkspaceTools>();
    std::vector<std::string> base_names;
    for (IntegrationView& view : *active) {
      const bool mcp = view.definition->mcp.has_value();
      if (!mcp && (!view.definition->tools || view.definition->tools->tools.empty())) continue;
      built->has_mcp = built->has_mcp || mcp;
      if (!mcp) {
        for (const tools::Tool& tool : view.definition->tools->tools) {
          UserTool entry;
          entry.definition = view.definition;
          entry.tool = &tool;
          entry.customer_integration_id = view.customer_integration.customer_integration_id;
          entry.integration_id = view.customer_integration.integration_id;
          base_names.push_back(tool.name);
          built->tools.push_back(std::move(entry));
        }
      }
      built->integrations.push_back(std::move(view));
    }
    if (!built->has_mcp) {
      std::vector<std::string> names = UniqueToolNames(base_names);
      for (size_t i = 0; i < built->tools.size(); ++i) {
        built->tools[i].name = std::move(names[i]);
        built->by_name.emplace(built->tools[i].name, i);
      }
    }
    return std::optional<std::shared_ptr<const WorkspaceTools>>(std::move(built));
  });
  if (!cached) return cached.error();
  return std::move(**cached);
}

Result<bool> ToolService::Connected(const std::string& cid, std::string_view user_id) {
  auto user = store_.FindUser(cid, std::string(user_id));
  if (!user) return user.error();
  return *user && (*user)->active;
}

Result<std::shared_ptr<const ToolService::WorkspaceTools>> ToolService::ListScope(
    const std::string& workspace_id, std::string_view user_id,
    std::optional<std::string_view> cid) {
  if (auto valid = ValidateUserId(user_id); !valid) return valid.error();
  if (cid && !IsUuidV4(*cid)) return Error(Errc::kNotFound, "Customer integration not found");
  auto workspace = Tools(workspace_id);
  if (!workspace) return workspace.error();
  const WorkspaceTools& ws = **workspace;
  if (cid && std::none_of(ws.integrations.begin(), ws.integrations.end(),
                          [&](const IntegrationView& view) {
                            return view.customer_integration.customer_integration_id == *cid;
                          })) {
    // One of the workspace's own that is inactive or has no tools: no tools; any other is
    // not found.
    if (auto owned = api_.FindOwned(workspace_id, *cid); !owned) return owned.error();
    return std::shared_ptr<const WorkspaceTools>();
  }
  return std::move(*workspace);
}

Result<std::string> ToolService::Flags(const WorkspaceTools& workspace, std::string_view user_id,
                                       std::optional<std::string_view> cid) {
  // One store read per customer integration: its tools are consecutive.
  std::string flags;
  flags.reserve(workspace.tools.size());
  const std::string* current = nullptr;
  char flag = '0';
  for (const UserTool& tool : workspace.tools) {
    if (cid && tool.customer_integration_id != *cid) continue;
    if (!current || *current != tool.customer_integration_id) {
      auto read = Connected(tool.customer_integration_id, user_id);
      if (!read) return read.error();
      flag = *read ? '1' : '0';
      current = &tool.customer_integration_id;
    }
    flags.push_back(flag);
  }
  return flags;
}

Result<std::optional<std::string>> ToolService::ConnectedFlags(
    const std::string& workspace_id, std::string_view user_id,
    std::optional<std::string_view> cid) {
  auto scope = ListScope(workspace_id, user_id, cid);
  if (!scope) return scope.error();
  if (!*scope) return std::optional<std::string>(std::string());
  if ((*scope)->has_mcp) return std::optional<std::string>();
  auto flags = Flags(**scope, user_id, cid);
  if (!flags) return flags.error();
  return std::optional<std::string>(std::move(*flags));
}

Result<bool> ToolService::SharedByUsers(const std::string& workspace_id,
                                        std::string_view user_id) {
  auto scope = ListScope(workspace_id, user_id, std::nullopt);
  if (!scope) return scope.error();
  return !(*scope)->has_mcp;
}

Result<std::vector<UserTool>> ToolService::List(const std::string& workspace_id,
                                                std::string_view user_id,
                                                std::optional<std::string_view> cid) {
  auto scope = ListScope(workspace_id, user_id, cid);
  if (!scope) return scope.error();
  if (!*scope) return std::vector<UserTool>();
  const WorkspaceTools& ws = **scope;
  if (ws.has_mcp) {
    auto list = ListWithMcp(workspace_id, ws, user_id, nullptr);
    if (list && cid) {
      std::erase_if(*list, [&](const UserTool& t) { return t.customer_integration_id != *cid; });
    }
    return list;
  }
  // The names are the workspace's; only `connected` is the user's.
  auto flags = Flags(ws, user_id, cid);
  if (!flags) return flags.error();
  std::vector<UserTool> list;
  list.reserve(flags->size());
  for (const UserTool& tool : ws.tools) {
    if (cid && tool.customer_integration_id != *cid) continue;
    list.push_back(tool);
    list.back().connected = (*flags)[list.size() - 1] == '1';
  }
  return list;
}

Result<std::vector<UserTool>> ToolService::ListWithMcp(const std::string& workspace_id,
                                                       const WorkspaceTools& workspace,
                                                       std::string_view user_id,
                                                       std::vector<McpGap>* gaps) {
  std::vector<UserTool> list;
  std::vector<std::string> base_names;
  for (const IntegrationView& view : workspace.integrations) {
    const bool mcp = view.definition->mcp.has_value();
    const CustomerIntegration& ci = view.customer_integration;
    auto connected = Connected(ci.customer_integration_id, user_id);
    if (!connected) return connected.error();
    std::shared_ptr<const tools::ToolSet> set = view.definition->tools;
    if (mcp) {
      UserTool integration;
      integration.definition = view.definition;
      integration.customer_integration_id = ci.customer_integration_id;
      integration.integration_id = ci.integration_id;
      // A user not connected has no session to read the server's tools with.
      auto read = *connected ? upstreams_.Tools(workspace_id, ci.customer_integration_id,
                                                user_id, view.definition)
                             : Result<std::shared_ptr<const tools::ToolSet>>(
                                   Error(Errc::kConflict, "not connected"));
      if (!read) {
        const bool inactive = read.error().code == Errc::kConflict;
        if (!inactive) {
          spdlog::warn("the tools of MCP server {} (customer integration {}) could not be read: {}",
                       ci.integration_id, ci.customer_integration_id, read.error().message());
        }
        if (gaps) {
          gaps->push_back(McpGap{std::move(integration),
                                 inactive ? std::nullopt : std::optional<Error>(read.error())});
        }
        continue;
      }
      set = std::move(*read);
    }
    for (const tools::Tool& tool : set->tools) {
      UserTool entry;
      entry.definition = view.definition;
      entry.tool = &tool;
      if (mcp) entry.mcp_tools = set;
      entry.customer_integration_id = ci.customer_integration_id;
      entry.integration_id = ci.integration_id;
      entry.connected = *connected;
      base_names.push_back(tool.name);
      list.push_back(std::move(entry));
    }
  }
  std::vector<std::string> names = UniqueToolNames(base_names);
  for (size_t i = 0; i < list.size(); ++i) list[i].name = std::move(names[i]);
  return list;
}

Result<NotConnected> ToolService::ConnectLink(const std::string& workspace_id, const UserTool& tool,
                                              std::string_view user_id) {
  auto url = api_.CreateAuthUrl(workspace_id, tool.customer_integration_id, user_id, std::nullopt);
  if (!url) return url.error();
  return NotConnected{std::move(*url), tool.definition->name, tool.customer_integration_id};
}

Result<ToolCallOutcome> ToolService::CallMcp(const std::string& workspace_id, const UserTool& tool,
                                             std::string_view user_id,
                                             const json::object& arguments) {
  // The upstream checks the arguments against its own schema: they go as they are.
  auto result = upstreams_.Call(workspace_id, tool.customer_integration_id, user_id, tool.tool->key,
                                arguments);
  if (!result) {
    // The user stopped being active after the list was read (a revoke), or during the call:
    // the server refused the token and its refresh failed for good (the server's 401 is then
    // the error, and the user row says why).
    bool inactive = result.error().code == Errc::kConflict;
    if (!inactive && result.error().code == Errc::kBadGateway) {
      auto connected = Connected(tool.customer_integration_id, user_id);
      inactive = connected && !*connected;
    }
    if (inactive) {
      auto link = ConnectLink(workspace_id, tool, user_id);
      if (!link) return link.error();
      return ToolCallOutcome(std::move(*link));
    }
    return result.error();
  }
  ToolCallResult answer;
  answer.status = 200;
  answer.content_type = "application/json";
  answer.json = json::value(std::move(*result));
  answer.mcp_result = true;
  return ToolCallOutcome(std::move(answer));
}

Result<ToolCallOutcome> ToolService::Call(const std::string& workspace_id, std::string_view name,
                                          std::string_view user_id, const json::object& arguments) {
  std::promise<Result<ToolCallOutcome>> answer;
  std::future<Result<ToolCallOutcome>> answered = answer.get_future();
  StartCall(workspace_id, name, user_id, arguments, /*may_block=*/true,
            [&answer](Result<ToolCallOutcome> outcome) { answer.set_value(std::move(outcome)); });
  return answered.get();
}

void ToolService::StartCall(const std::string& workspace_id, std::string_view name,
                            std::string_view user_id, const json::object& arguments,
                            bool may_block, CallDone done) {
  if (auto valid = ValidateUserId(user_id); !valid) return done(valid.error());
  auto workspace = Tools(workspace_id);
  if (!workspace) return done(workspace.error());
  if (!(*workspace)->has_mcp) {
    // The names are the workspace's: one lookup, and the called tool's user row.
    const WorkspaceTools& ws = **workspace;
    auto found = ws.by_name.find(std::string(name));
    if (found == ws.by_name.end()) return done(Error(Errc::kNotFound, "Tool not found"));
    const UserTool& tool = ws.tools[found->second];
    auto connected = Connected(tool.customer_integration_id, user_id);
    if (!connected) return done(connected.error());
    return StartOpenApi(workspace_id, tool, *connected, user_id, arguments, may_block,
                        std::move(done));
  }
  // The list is read for the user, from the remote MCP servers.
  if (!may_block) return done(Error(Errc::kWouldBlock, "a remote MCP server's tools"));
  std::vector<McpGap> gaps;
  auto list = ListWithMcp(workspace_id, **workspace, user_id, &gaps);
  if (!list) return done(list.error());
  auto found =
      std::find_if(list->begin(), list->end(), [&](const UserTool& t) { return t.name == name; });
  if (found == list->end()) {
    // A name under an MCP server the user has not connected (or that could not be read) is
    // taken as one of its tools: the user gets the connect link (or the server's error).
    for (const McpGap& gap : gaps) {
      const IntegrationDefinition& def = *gap.integration.definition;
      bool named = name.starts_with(def.integration_id + "_");
      for (const auto& [key, renamed] : def.mcp->tools.names) named = named || renamed == name;
      if (!named) continue;
      if (gap.error) return done(*gap.error);
      auto link = ConnectLink(workspace_id, gap.integration, user_id);
      if (!link) return done(link.error());
      return done(ToolCallOutcome(std::move(*link)));
    }
    return done(Error(Errc::kNotFound, "Tool not found"));
  }
  const UserTool& tool = *found;
  if (tool.mcp_tools) return done(CallMcp(workspace_id, tool, user_id, arguments));
  StartOpenApi(workspace_id, tool, tool.connected, user_id, arguments, may_block, std::move(done));
}

void ToolService::StartOpenApi(const std::string& workspace_id, const UserTool& tool,
                               bool connected, std::string_view user_id,
                               const json::object& arguments, bool may_block, CallDone done) {
  // Nothing is sent for invalid arguments, whether or not the user is connected.
  auto built = tools::BuildRequest(*tool.tool, arguments);
  if (!built) return done(built.error());
  if (!connected) {
    auto link = ConnectLink(workspace_id, tool, user_id);
    if (!link) return done(link.error());
    return done(ToolCallOutcome(std::move(*link)));
  }

  ProxyRequest request;
  request.method = std::move(built->method);
  request.path_and_query = std::move(built->path_and_query);
  request.body = std::move(built->body);
  bool has_accept = false;
  for (auto& [header, value] : built->headers) {
    has_accept = has_accept || http::EqualsIgnoreCase(header, "accept");
    request.headers.emplace_back(std::move(header), std::move(value));
  }
  if (!has_accept) request.headers.emplace_back("Accept", "application/json");

  // The answer is read up to one byte past the cut, so that reading it never waits.
  auto answered = [this, workspace_id, tool, user = std::string(user_id),
                   done = std::move(done)](Result<net::StreamedResult> upstream) {
    done(OpenApiOutcome(workspace_id, tool, user, std::move(upstream)));
  };
  proxy_.Start(workspace_id, tool.customer_integration_id, user_id, std::move(request), may_block,
               net::StreamReady{kMaxBodyBytes + 1, false}, std::move(answered));
}

Result<ToolCallOutcome> ToolService::OpenApiOutcome(const std::string& workspace_id,
                                                    const UserTool& tool, std::string_view user_id,
                                                    Result<net::StreamedResult> upstream) {
  if (!upstream) {
    // The user stopped being active after the list was read (a failed refresh, a revoke).
    if (upstream.error().code == Errc::kConflict) {
      auto link = ConnectLink(workspace_id, tool, user_id);
      if (!link) return link.error();
      return ToolCallOutcome(std::move(*link));
    }
    return upstream.error();
  }
  std::string body;
  bool truncated = false;
  char piece[16 << 10];
  while (true) {
    std::optional<size_t> n = upstream->body->Read(piece, sizeof piece);
    if (!n) return Error(Errc::kBadGateway, "Upstream unreachable: its answer broke off");
    if (*n == 0) break;
    const size_t room = kMaxBodyBytes - body.size();
    body.append(piece, std::min(*n, room));
    if (*n > room) {
      // Enough: the rest is not read; dropping the reader abandons the transfer.
      truncated = true;
      break;
    }
  }
  std::string content_type = upstream->Header("content-type");
  return ToolCallOutcome(
      ReadToolAnswer(upstream->status, std::move(content_type), std::move(body), truncated));
}

}  // namespace tr
