#include "core/mcp_upstreams.h"

#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>

#include "tools/openapi_schema.h"
#include "tools/tool_name.h"

namespace tr {

namespace json = boost::json;

namespace {

constexpr size_t kMaxDescription = 1024;  // CONTRACT section 10

bool Listed(const std::vector<std::string>& list, const std::string& key) {
  return std::find(list.begin(), list.end(), key) != list.end();
}

}  // namespace

tools::ToolSet McpToolSet(const std::vector<json::object>& upstream_tools,
                          const IntegrationDefinition& definition) {
  static const tools::ToolSelection kEverything;
  const tools::ToolSelection& selection = definition.mcp ? definition.mcp->tools : kEverything;
  tools::ToolSet set;
  for (const json::object& upstream : upstream_tools) {
    const json::value* name = upstream.if_contains("name");
    if (!name || !name->is_string() || name->get_string().empty()) {
      set.warnings.push_back("a tool without a name; left out");
      continue;
    }
    tools::Tool tool;
    tool.key = std::string(name->get_string());
    if (!selection.include.empty() && !Listed(selection.include, tool.key)) continue;
    if (Listed(selection.exclude, tool.key)) continue;
    auto named = selection.names.find(tool.key);
    tool.name = named != selection.names.end()
                    ? named->second
                    : tools::ToolName(definition.integration_id + "_" + tool.key);
    if (const json::value* d = upstream.if_contains("description"); d && d->is_string()) {
      tool.description = tools::CutUtf8(d->get_string(), kMaxDescription);
    }
    const json::value* schema = upstream.if_contains("inputSchema");
    tool.input_schema =
        schema && schema->is_object() ? schema->get_object() : json::object{{"type", "object"}};
    if (const json::value* a = upstream.if_contains("annotations"); a && a->is_object()) {
      tool.annotations = a->get_object();
    }
    set.tools.push_back(std::move(tool));
  }
  // Names that clash get _2, _3 in the order of the upstream names, not of the list: a server
  // that lists its tools in another order must not move a name to another tool.
  std::vector<size_t> order(set.tools.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return set.tools[a].key < set.tools[b].key; });
  std::set<std::string> names;
  for (size_t i : order) {
    std::string unique = set.tools[i].name;
    for (int n = 2; names.contains(unique); ++n) {
      unique = tools::NumberedToolName(set.tools[i].name, n);
    }
    names.insert(unique);
    set.tools[i].name = std::move(unique);
  }
  return set;
}

Result<net::StreamedResult> McpUpstreams::ProxyTransport::Send(std::string_view method,
                                                               const net::Headers& headers,
                                                               const std::string& body) {
  ProxyRequest request;
  request.method = std::string(method);
  // Empty: the definition's apiBaseUrl, its MCP endpoint (ProxyService keeps it as it is).
  request.headers = headers;
  request.body = body;
  return proxy_.Forward(workspace_id_, cid_, user_id_, request);
}

McpUpstreams::Upstream::Upstream(ProxyService& proxy, const std::string& workspace_id,
                                 const std::string& cid, std::string_view user_id)
    : transport(proxy, workspace_id, cid, std::string(user_id)),
      session(transport,
              mcp::ClientSessionOptions{"toolregistry", "0", [this](const std::string& method) {
                                          if (method == "notifications/tools/list_changed") {
                                            tools_changed = true;
                                          }
                                        }}) {}

std::shared_ptr<McpUpstreams::Upstream> McpUpstreams::Acquire(const std::string& workspace_id,
                                                              const std::string& cid,
                                                              std::string_view user_id) {
  const auto now = now_();
  std::vector<std::shared_ptr<Upstream>> idle;
  std::shared_ptr<Upstream> upstream;
  {
    std::lock_guard lock(mu_);
    for (auto it = upstreams_.begin(); it != upstreams_.end();) {
      if (it->second->in_use == 0 && now - it->second->last_used > kIdleTimeout) {
        idle.push_back(std::move(it->second));
        it = upstreams_.erase(it);
      } else {
        ++it;
      }
    }
    std::string key = cid + '\n' + std::string(user_id);
    auto& entry = upstreams_[key];
    if (!entry) entry = std::make_shared<Upstream>(proxy_, workspace_id, cid, user_id);
    entry->last_used = now;
    ++entry->in_use;
    upstream = entry;
  }
  // Outside the lock: each is a DELETE to its server.
  for (const auto& gone : idle) {
    if (auto closed = gone->session.Close(); !closed) {
      spdlog::debug("closing an idle MCP upstream session: {}", closed.error().message());
    }
  }
  return upstream;
}

void McpUpstreams::Release(Upstream& upstream) {
  std::lock_guard lock(mu_);
  --upstream.in_use;
  upstream.last_used = now_();
}

size_t McpUpstreams::size() const {
  std::lock_guard lock(mu_);
  return upstreams_.size();
}

Result<std::shared_ptr<const tools::ToolSet>> McpUpstreams::Tools(
    const std::string& workspace_id, const std::string& cid, std::string_view user_id,
    std::shared_ptr<const IntegrationDefinition> definition) {
  std::shared_ptr<Upstream> upstream = Acquire(workspace_id, cid, user_id);
  struct Releaser {
    McpUpstreams& pool;
    Upstream& upstream;
    ~Releaser() { pool.Release(upstream); }
  } releaser{*this, *upstream};

  std::lock_guard lock(upstream->tools_mu);
  const auto now = now_();
  const bool due = upstream->tools_changed || !upstream->tools_read ||
                   now - *upstream->tools_read >= kToolsMaxAge;
  const bool held = upstream->failure && now < upstream->failed_until;
  if (due && !held) {
    const bool changed = upstream->tools_changed.exchange(false);
    auto listed = upstream->session.ListTools();
    if (listed) {
      upstream->failure.reset();
      upstream->listed = std::move(*listed);
      upstream->tools_read = now;
      upstream->tools.reset();
    } else {
      if (changed) upstream->tools_changed = true;  // still to be read
      // A user who is not active there costs no upstream request: nothing to hold.
      if (listed.error().code == Errc::kConflict) return listed.error();
      upstream->failure = listed.error();
      upstream->failed_until = now_() + kFailureHold;
      if (upstream->tools_read) {
        spdlog::warn(
            "the tools of an MCP server could not be read again ({}); the last list "
            "is served for now",
            listed.error().message());
      }
    }
  }
  // Never read: the failure (held or just met); else the last list read.
  if (!upstream->tools_read) return *upstream->failure;
  if (!upstream->tools || upstream->built_for != definition) {
    upstream->tools = std::make_shared<tools::ToolSet>(McpToolSet(upstream->listed, *definition));
    upstream->built_for = std::move(definition);
  }
  return upstream->tools;
}

Result<json::object> McpUpstreams::Call(const std::string& workspace_id, const std::string& cid,
                                        std::string_view user_id, std::string_view upstream_name,
                                        const json::object& arguments) {
  std::shared_ptr<Upstream> upstream = Acquire(workspace_id, cid, user_id);
  auto result = upstream->session.CallTool(upstream_name, arguments);
  Release(*upstream);
  return result;
}

}  // namespace tr
