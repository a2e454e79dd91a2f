#include "api/mcp.h"

#include <algorithm>
#include <array>
#include <charconv>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "api/request_body.h"
#include "api/responses.h"
#include "core/ids.h"
#include "core/validation.h"

namespace tr::api {

namespace json = boost::json;

namespace {

// Newest first: what initialize answers a client asking for a version not listed here.
constexpr std::array<std::string_view, 3> kProtocolVersions = {"2025-11-25", "2025-06-18",
                                                               "2025-03-26"};
// JSON-RPC error codes (MCP schema).
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kInternalError = -32603;
constexpr int kUrlElicitationRequired = -32042;
// A request body nested deeper than this is refused: parsing it would cost the stack. Tool
// arguments nest deeper than the API's own bodies (api/request_body.h, kMaxJsonDepth).
constexpr unsigned kMaxMessageDepth = 64;

bool Supported(std::string_view version) {
  return std::find(kProtocolVersions.begin(), kProtocolVersions.end(), version) !=
         kProtocolVersions.end();
}

json::object RpcError(int code, std::string message) {
  return json::object{{"error", json::object{{"code", code}, {"message", std::move(message)}}}};
}

json::object RpcResult(json::value result) { return json::object{{"result", std::move(result)}}; }

// An HTTP-level refusal. The body is a JSON-RPC error without an id, as the transport
// allows, and carries the statusCode and message every /v1 error has (CONTRACT section 2);
// its "error" is JSON-RPC's object, which a status text in that name would collide with.
http::Response HttpError(int status, int code, std::string message) {
  json::object body{{"jsonrpc", "2.0"},
                    {"id", nullptr},
                    {"error", json::object{{"code", code}, {"message", message}}},
                    {"statusCode", status},
                    {"message", message}};
  return JsonResponse(status, body);
}

http::Response Accepted() {
  http::Response response;
  response.status = 202;
  response.content_type.clear();
  return response;
}

// A tools/call result: one text item, and isError when the call did not succeed.
json::object TextResult(std::string text, bool is_error) {
  json::object result{
      {"content", json::array{json::object{{"type", "text"}, {"text", ReplaceInvalidUtf8(text)}}}}};
  if (is_error) result["isError"] = true;
  return result;
}

// The HTTP answer carrying a JSON-RPC answer ({"result"} or {"error"}) to request `id`.
http::Response RpcAnswer(json::object message, const json::value& id) {
  message["jsonrpc"] = "2.0";
  message["id"] = id;
  return JsonResponse(200, message);
}

// What a tools/call's answer needs once the call is done.
struct CallContext {
  std::string tool_name;
  std::string protocol_version;
  bool url_elicitation = false;
  json::value id;
};

// A tools/call's answer ({"result"} or {"error"}) to the call's outcome.
json::object CallResult(const Result<ToolCallOutcome>& outcome, const CallContext& call) {
  if (!outcome) {
    const Error& error = outcome.error();
    switch (error.code) {
      case Errc::kNotFound:
        return RpcError(kInvalidParams, "Unknown tool: " + call.tool_name);
      case Errc::kInvalidArgument:
        return RpcResult(TextResult(
            fmt::format("Invalid arguments for {}: {}", call.tool_name, fmt::join(error.messages, "; ")),
            true));
      case Errc::kBadGateway:
      case Errc::kGatewayTimeout:
      case Errc::kTooLarge:
      case Errc::kUnavailable:
      case Errc::kConflict:
        return RpcResult(TextResult(error.message(), true));
      default:
        return RpcError(kInternalError, "Internal error");
    }
  }
  if (const auto* missing = std::get_if<NotConnected>(&*outcome)) {
    const std::string message =
        fmt::format("Connect your {} account to use {}.", missing->integration_name, call.tool_name);
    if (call.url_elicitation && call.protocol_version == "2025-11-25") {
      json::object elicitation{{"mode", "url"},
                               {"elicitationId", NewUuidV4()},
                               {"url", missing->authorize_url},
                               {"message", message}};
      json::object error{{"code", kUrlElicitationRequired},
                         {"message", "This request requires more information."},
                         {"data", json::object{{"elicitations", json::array{elicitation}}}}};
      return json::object{{"error", std::move(error)}};
    }
    return RpcResult(
        TextResult(fmt::format("{} Open this link to connect, then call the tool again: {}",
                               message, missing->authorize_url),
                   true));
  }
  const ToolCallResult& answer = std::get<ToolCallResult>(*outcome);
  // A remote MCP server's result goes to the client as the server sent it.
  if (answer.mcp_result && answer.json && answer.json->is_object()) {
    return RpcResult(answer.json->get_object());
  }
  std::string text = answer.json ? json::serialize(*answer.json) : answer.body;
  if (answer.base64) text = "(binary body, base64) " + text;
  if (answer.truncated) text += "\n[truncated at 1 MiB]";
  const bool ok = answer.status >= 200 && answer.status < 300;
  if (!ok) {
    text = fmt::format("The upstream answered {} {}: {}", answer.status,
                       http::StatusText(answer.status), text);
  }
  json::object result = TextResult(std::move(text), !ok);
  // structuredContent came with 2025-06-18.
  if (answer.json && answer.json->is_object() &&
      call.protocol_version != "2025-03-26") {
    result["structuredContent"] = answer.json->get_object();
  }
  return RpcResult(std::move(result));
}

}  // namespace

struct McpEndpoint::Context {
  const std::string& workspace_id;
  std::string user_id;
  std::optional<McpSession> session;  // set once found (every message but initialize)
};

http::Response McpEndpoint::Handle(const http::Request& request, const std::string& workspace_id) {
  // DNS rebinding: a browser page of another site must not reach the endpoint.
  if (std::string_view origin = request.Header("origin"); !origin.empty()) {
    auto allowed = sessions_.OriginAllowed(workspace_id, origin);
    if (!allowed) return ErrorResponse(allowed.error());
    if (!*allowed) return HttpError(403, kInvalidRequest, "Origin not allowed");
  }
  if (request.method != "POST" && request.method != "DELETE") {
    http::Response response =
        HttpError(405, kInvalidRequest,
                  request.method == "GET" ? "Method not allowed: this server offers no SSE stream"
                                          : "Method not allowed: use POST or DELETE");
    response.AddHeader("Allow", "POST, DELETE");
    return response;
  }
  std::string_view user_id = request.Header("x-user-id");
  if (user_id.empty()) return HttpError(400, kInvalidRequest, "The x-user-id header is required");
  if (auto valid = ValidateUserId(user_id); !valid) {
    return HttpError(400, kInvalidRequest, "x-user-id: " + valid.error().message());
  }
  std::string_view version = request.Header("mcp-protocol-version");
  if (!version.empty() && !Supported(version)) {
    return HttpError(400, kInvalidRequest,
                     fmt::format("Unsupported MCP-Protocol-Version: supported are {}",
                                 fmt::join(kProtocolVersions, ", ")));
  }
  Context context{workspace_id, std::string(user_id), std::nullopt};
  if (request.method == "DELETE") return Delete(request, context);
  return Post(request, context);
}

http::Response McpEndpoint::Delete(const http::Request& request, const Context& context) {
  std::string_view session_id = request.Header("mcp-session-id");
  if (session_id.empty())
    return HttpError(400, kInvalidRequest, "Mcp-Session-Id header is required");
  auto ended = sessions_.End(context.workspace_id, session_id);
  if (!ended) return ErrorResponse(ended.error());
  if (!*ended) return HttpError(404, kInvalidRequest, "Session not found");
  http::Response response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

http::Response McpEndpoint::Post(const http::Request& request, Context& context) {
  json::parse_options options;
  options.max_depth = kMaxMessageDepth;
  boost::system::error_code ec;
  json::value message = json::parse(request.body, ec, {}, options);
  if (ec) return HttpError(400, kParseError, "Parse error: the body is not JSON");
  if (HasNonFiniteNumber(message)) {
    return HttpError(400, kParseError, "Parse error: a number beyond a double's range");
  }
  if (message.is_array()) {
    return HttpError(400, kInvalidRequest, "Invalid request: batches are not supported");
  }
  const json::object* object = message.if_object();
  const json::value* jsonrpc = object ? object->if_contains("jsonrpc") : nullptr;
  if (!jsonrpc || !jsonrpc->is_string() || jsonrpc->get_string() != "2.0") {
    return HttpError(400, kInvalidRequest, "Invalid request: not a JSON-RPC 2.0 message");
  }
  const json::value* method = object->if_contains("method");
  const json::value* id = object->if_contains("id");
  if (method && !method->is_string()) {
    return HttpError(400, kInvalidRequest, "Invalid request: method must be a string");
  }
  if (id && !id->is_string() && !id->is_int64() && !id->is_uint64()) {
    return HttpError(400, kInvalidRequest, "Invalid request: id must be a string or an integer");
  }
  const json::value* params_ptr = object->if_contains("params");
  const json::value params = params_ptr ? *params_ptr : json::value();
  if (!params.is_null() && !params.is_object()) {
    return HttpError(400, kInvalidRequest, "Invalid request: params must be an object");
  }

  std::string session_id;
  json::object answer;
  const bool initialize = method && method->get_string() == "initialize";
  if (initialize && id) {
    answer = Initialize(params, context, session_id);
  } else {
    std::string_view header = request.Header("mcp-session-id");
    if (header.empty()) {
      return HttpError(400, kInvalidRequest,
                       "Mcp-Session-Id header is required (send initialize first)");
    }
    auto session = sessions_.Find(context.workspace_id, header);
    if (!session) return ErrorResponse(session.error());
    if (!*session) return HttpError(404, kInvalidRequest, "Session not found");
    context.session = std::move(*session);
    // A notification (notifications/initialized, cancelled...) or a response to us.
    if (!method || !id) return Accepted();
    if (method->get_string() == "tools/call") return CallTool(params, *id, context, request.may_block);
    if (method->get_string() == "tools/list") {
      auto page = ListTools(params, context, request.may_block);
      if (auto* error = std::get_if<Error>(&page)) return ErrorResponse(*error);
      if (auto* result = std::get_if<std::shared_ptr<const std::string>>(&page)) {
        // The result as kept, neither parsed nor copied: the answer is written around it.
        http::Response response = SharedJsonResponse(200, std::move(*result));
        response.body = R"({"jsonrpc":"2.0","id":)" + json::serialize(*id) + R"(,"result":)";
        response.body_end = "}";
        return response;
      }
      answer = std::get<json::object>(std::move(page));
    } else {
      answer = Dispatch(std::string(method->get_string()));
    }
  }
  http::Response response = RpcAnswer(std::move(answer), *id);
  if (!session_id.empty()) response.AddHeader("Mcp-Session-Id", session_id);
  return response;
}

json::object McpEndpoint::Initialize(const json::value& params, Context& context,
                                     std::string& session_id) {
  const json::object* p = params.if_object();
  const json::value* asked = p ? p->if_contains("protocolVersion") : nullptr;
  if (!asked || !asked->is_string()) {
    return RpcError(kInvalidParams, "Invalid params: protocolVersion is required");
  }
  // Negotiation: the client's version when we speak it, else our newest.
  std::string version(asked->get_string());
  if (!Supported(version)) version = kProtocolVersions.front();
  // URL elicitation (2025-11-25): capabilities.elicitation.url.
  bool url_elicitation = false;
  if (const json::value* caps = p->if_contains("capabilities"); caps && caps->is_object()) {
    const json::value* elicitation = caps->get_object().if_contains("elicitation");
    url_elicitation =
        elicitation && elicitation->is_object() && elicitation->get_object().contains("url");
  }
  auto created = sessions_.Create(context.workspace_id, version, url_elicitation);
  if (!created) return RpcError(kInternalError, created.error().message());
  session_id = std::move(*created);
  return RpcResult(json::object{
      {"protocolVersion", version},
      {"capabilities", json::object{{"tools", json::object{{"listChanged", false}}}}},
      {"serverInfo", json::object{{"name", "toolregistry"}, {"version", "1.0.0"}}},
      {"instructions",
       "Tools of the integrations this workspace enabled, called with the stored credentials "
       "of the user named by x-user-id. A user who has not connected an integration gets a "
       "link to connect it."}});
}

json::object McpEndpoint::Dispatch(const std::string& method) {
  if (method == "ping") return RpcResult(json::object());
  if (method == "initialize") return RpcError(kInvalidRequest, "Already initialized");
  return RpcError(kMethodNotFound, "Method not found: " + method);
}

std::variant<json::object, std::shared_ptr<const std::string>, Error> McpEndpoint::ListTools(
    const json::value& params, const Context& context, bool may_block) {
  // The cursor is the offset of the page's first tool, as text.
  size_t offset = 0;
  if (const json::object* p = params.if_object()) {
    if (const json::value* cursor = p->if_contains("cursor"); cursor && !cursor->is_null()) {
      const json::string* text = cursor->if_string();
      if (!text || text->empty()) return RpcError(kInvalidParams, "Invalid params: unknown cursor");
      const char* end = text->data() + text->size();
      auto [ptr, ec] = std::from_chars(text->data(), end, offset);
      if (ec != std::errc() || ptr != end) {
        return RpcError(kInvalidParams, "Invalid params: unknown cursor");
      }
    }
  }
  // The stamp is read before the list is (core/stamped_cache.h). A page is the same for
  // every user of the workspace, unless a remote MCP server's tools (read for the user) are
  // in the list: then it is not kept.
  const std::optional<uint64_t> stamp = tools_.ChangeStamp();
  auto shared = tools_.SharedByUsers(context.workspace_id, context.user_id);
  if (!shared) return RpcError(kInternalError, shared.error().message());
  if (!*shared && !may_block) return Error(Errc::kWouldBlock, "a remote MCP server's tools");
  const bool cacheable = stamp && *shared;
  const std::string cache_key = context.workspace_id + '/' + std::to_string(offset);
  if (cacheable) {
    if (auto page = list_pages_.Find(cache_key, *stamp)) return std::move(*page);
  }
  auto list = tools_.List(context.workspace_id, context.user_id);
  if (!list) return RpcError(kInternalError, list.error().message());
  if (offset > list->size()) return RpcError(kInvalidParams, "Invalid params: unknown cursor");
  const size_t end = std::min(list->size(), offset + kPageSize);
  json::array tools;
  tools.reserve(end - offset);
  for (size_t i = offset; i < end; ++i) {
    const UserTool& entry = (*list)[i];
    json::object tool{{"name", entry.name}};
    if (!entry.tool->description.empty()) tool["description"] = entry.tool->description;
    tool["inputSchema"] = entry.tool->input_schema;
    if (!entry.tool->annotations.empty()) tool["annotations"] = entry.tool->annotations;
    tools.emplace_back(std::move(tool));
  }
  json::object result{{"tools", std::move(tools)}};
  if (end < list->size()) result["nextCursor"] = std::to_string(end);
  auto page = std::make_shared<const std::string>(json::serialize(result));
  if (cacheable) list_pages_.Put(cache_key, page, *stamp);
  return page;
}

http::Response McpEndpoint::CallTool(const json::value& params, const json::value& id,
                                     const Context& context, bool may_block) {
  const json::object* p = params.if_object();
  const json::value* name = p ? p->if_contains("name") : nullptr;
  if (!name || !name->is_string())
    return RpcAnswer(RpcError(kInvalidParams, "Invalid params: name is required"), id);
  json::object arguments;
  if (const json::value* args = p->if_contains("arguments"); args && !args->is_null()) {
    if (!args->is_object())
      return RpcAnswer(RpcError(kInvalidParams, "Invalid params: arguments must be an object"), id);
    arguments = args->get_object();
  }
  // What the answer needs, kept past this request's handler.
  auto deferred = std::make_shared<http::Deferred>();
  const std::string tool_name(name->get_string());
  CallContext call{tool_name, context.session->protocol_version, context.session->url_elicitation,
                   id};
  tools_.StartCall(context.workspace_id, tool_name, context.user_id, arguments, may_block,
                   [deferred, call = std::move(call)](Result<ToolCallOutcome> outcome) {
                     if (!outcome && outcome.error().code == Errc::kWouldBlock) {
                       return deferred->Resolve(http::Response::RunBlocking());
                     }
                     deferred->Resolve(RpcAnswer(CallResult(outcome, call), call.id));
                   });
  return LaterResponse(deferred);
}

}  // namespace tr::api
