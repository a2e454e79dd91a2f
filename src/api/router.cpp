#include "api/router.h"

#include <algorithm>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/api_reference.h"
#include "api/connect_pages.h"
#include "api/form_data.h"
#include "api/request_body.h"
#include "api/responses.h"
#include "core/metrics.h"
#include "core/validation.h"
#include "crypto/crypto.h"

namespace tr {
extern const char kEmbeddedOpenApi[];  // generated from spec/openapi.json
}  // namespace tr

namespace tr::api {

namespace json = boost::json;

namespace {

// Splits "/a/b/c" into raw segments {"a","b","c"}. An empty segment (a "//" or trailing
// "/") is kept, so such paths match no route.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  if (path.empty() || path.front() != '/') return segments;
  path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

// The decoded values of query parameter `name` ('+' is a space).
std::vector<std::string> QueryValues(std::string_view query, std::string_view name) {
  std::vector<std::string> values;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (!QueryKeyIs(pair, name)) continue;
    size_t eq = pair.find('=');
    std::string value(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    std::replace(value.begin(), value.end(), '+', ' ');
    values.push_back(PercentDecode(value).value_or("\x01"));  // malformed: never valid
  }
  return values;
}

// A Content-Length value; nullopt when absent or not a plain decimal number.
std::optional<uint64_t> ContentLength(std::string_view value) {
  if (value.empty() || value.size() > 19) return std::nullopt;
  uint64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

std::optional<bool> ParseBool(std::string_view text) {
  if (http::EqualsIgnoreCase(text, "true") || text == "1") return true;
  if (http::EqualsIgnoreCase(text, "false") || text == "0") return false;
  return std::nullopt;
}

http::Response RenderStep(const ConnectStep& step) {
  if (const auto* redirect = std::get_if<ProviderRedirect>(&step)) {
    return RenderProviderRedirect(*redirect);
  }
  if (const auto* form = std::get_if<FormView>(&step)) return RenderForm(*form);
  return RenderResult(std::get<FlowResult>(step));
}

// The OpenAPI document embedded at build time (spec/openapi.json).
http::Response OpenApiDocument() {
  http::Response response;
  response.body = kEmbeddedOpenApi;
  response.AddHeader("Cache-Control", "public, max-age=300");
  return response;
}

// The reference page, rendered once from the embedded document.
http::Response ApiReferencePage() {
  static const std::string page = [] {
    boost::system::error_code ec;
    json::value doc = json::parse(kEmbeddedOpenApi, ec);
    return RenderApiReference(ec ? json::value() : doc);
  }();
  static const std::string csp =
      "default-src 'none'; style-src 'sha256-" +
      crypto::Base64Encode(crypto::Sha256(kReferenceStyle)) +
      "'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
  http::Response response;
  response.content_type = "text/html; charset=utf-8";
  response.body = page;
  response.AddHeader("Content-Security-Policy", csp);
  response.AddHeader("X-Content-Type-Options", "nosniff");
  return response;
}

http::Response NotFoundRoute(const http::Request& request, std::string_view path) {
  return ErrorResponse(404, {fmt::format("Cannot {} {}", request.method, path)});
}

// A proxied answer taken this much at a time at most is written whole (ReadSmallStream).
constexpr uint64_t kSmallAnswerBytes = 64 << 10;

// The upstream's answer as the proxy's response: its status, headers and streamed body.
http::Response ProxiedResponse(net::StreamedResult upstream) {
  http::Response response;
  response.status = upstream.status;
  response.content_type.clear();
  response.stream_length = ContentLength(upstream.Header("content-length"));
  response.stream = std::move(upstream.body);
  for (auto& [name, value] : upstream.headers) {
    if (http::EqualsIgnoreCase(name, "content-type")) {
      response.content_type = std::move(value);
    } else if (name == "content-length") {
      continue;  // the server frames the body from stream_length
    } else {
      response.AddHeader(std::move(name), std::move(value));
    }
  }
  return response;
}

// POST /v1/tools/{name}/call's answer to a call's outcome.
http::Response ToolCallResponse(const Result<ToolCallOutcome>& outcome, const std::string& user_id) {
  if (!outcome) return ErrorResponse(outcome.error());
  if (const auto* missing = std::get_if<NotConnected>(&*outcome)) {
    json::object body{
        {"statusCode", 409},
        {"message", "User " + user_id + " has not connected " + missing->integration_name},
        {"error", "Conflict"},
        {"authorizeUrl", missing->authorize_url}};
    return JsonResponse(409, body);
  }
  return JsonResponse(200, ToolCallResultToJson(std::get<ToolCallResult>(*outcome)));
}

}  // namespace

http::Dispatch Router::Classify(const http::Request& head) {
  std::string_view path = head.target.substr(0, head.target.find('?'));
  // The proxy and the tool calls (REST or MCP) start their upstream call and answer when it
  // has answered (Response::deferred), without a thread waiting; what would block (a token
  // to refresh, a remote MCP server's tools) runs again on the pool (Response::RunBlocking).
  // The proxy streams a large request body, on the pool.
  if (path.starts_with("/v1/proxy/")) return http::Dispatch::kStreamingInline;
  // Database work does not block: a write is committed on the calling thread in tens of
  // microseconds, and its fsync is waited for by the response's hold (Handle), not a thread.
  // What blocks is an outbound call: the connect flow's and a credential refresh.
  const bool may_block = path.starts_with("/connect/") || path.starts_with("/oauth/") ||
                         path.ends_with("/credentials");
  return may_block ? http::Dispatch::kBlocking : http::Dispatch::kInline;
}

http::Response Router::Handle(const http::Request& request) {
  // The handler's store calls do not wait for their commits to reach the disk; the answer
  // does (store/store.h), so no thread is held for an fsync.
  DurabilityScope durability;
  http::Response response = Route(request);
  if (const uint64_t ticket = durability.ticket()) {
    response.hold = [&store = store_, ticket](std::function<void(bool)> done) {
      store.WhenDurable(ticket, std::move(done));
    };
  }
  return response;
}

http::Response Router::Route(const http::Request& request) {
  std::string_view target = request.target;
  size_t qmark = target.find('?');
  std::string_view path = target.substr(0, qmark);
  std::string_view query = qmark == std::string_view::npos ? "" : target.substr(qmark + 1);
  std::vector<std::string_view> seg = SplitPath(path);
  // HEAD is answered as GET, without the body (RFC 9110, section 9.3.2), except by the connect
  // pages and the OAuth callback: a link checker's HEAD must not run a step of the flow.
  const bool get = request.method == "GET" || request.method == "HEAD";
  const bool flow_get = request.method == "GET";
  const bool post = request.method == "POST";

  auto routed = [](http::Response response, std::string_view route) {
    response.route = route;
    return response;
  };
  if (seg.size() >= 2 && seg[0] == "v1" && seg[1] == "integrations") {
    if (seg.size() == 2 && get) {
      return routed(ListIntegrations(request, query), "GET /v1/integrations");
    }
    if (seg.size() == 5 && seg[3] == "users" && get) {
      return routed(GetUser(request, seg[2], seg[4]), "GET /v1/integrations/{cid}/users/{userId}");
    }
    if (seg.size() == 5 && seg[3] == "users" && request.method == "DELETE") {
      return routed(DeleteUser(request, seg[2], seg[4]),
                    "DELETE /v1/integrations/{cid}/users/{userId}");
    }
    if (seg.size() == 6 && seg[3] == "users" && seg[5] == "credentials" && get) {
      return routed(GetCredentials(request, seg[2], seg[4]),
                    "GET /v1/integrations/{cid}/users/{userId}/credentials");
    }
    if (seg.size() == 6 && seg[3] == "users" && seg[5] == "auth-url" && post) {
      return routed(CreateAuthUrl(request, seg[2], seg[4]),
                    "POST /v1/integrations/{cid}/users/{userId}/auth-url");
    }
  }
  if (seg.size() >= 4 && seg[0] == "v1" && seg[1] == "proxy") {
    // Everything after /v1/proxy/{cid}/{userId}, query included, goes upstream as sent.
    size_t prefix = 1 + seg[0].size() + 1 + seg[1].size() + 1 + seg[2].size() + 1 + seg[3].size();
    return routed(Proxy(request, seg[2], seg[3], target.substr(prefix)),
                  fmt::format("{} /v1/proxy/{{cid}}/{{userId}}/...", request.method));
  }
  if (seg.size() == 2 && seg[0] == "v1" && seg[1] == "tools" && get) {
    return routed(ListTools(request, query), "GET /v1/tools");
  }
  if (seg.size() == 4 && seg[0] == "v1" && seg[1] == "tools" && seg[3] == "call" && post) {
    return routed(CallTool(request, seg[2]), "POST /v1/tools/{name}/call");
  }
  if (seg.size() == 2 && seg[0] == "v1" && seg[1] == "mcp") {
    return routed(Mcp(request), fmt::format("{} /v1/mcp", request.method));
  }
  if (seg.size() == 2 && seg[0] == "connect" && flow_get) {
    return routed(RenderStep(connect_.Start(seg[1])), "GET /connect/{token}");
  }
  if (seg.size() == 2 && seg[0] == "connect" && post) {
    return routed(ConnectSubmit(request, seg[1]), "POST /connect/{token}");
  }
  if (seg.size() == 2 && seg[0] == "oauth" && seg[1] == "callback" && flow_get) {
    return routed(OAuthCallback(query), "GET /oauth/callback");
  }
  if (seg.size() == 2 && seg[0] == "oauth" && seg[1] == "client-metadata.json" && get) {
    // The Client ID Metadata Document: an authorization server fetches it to learn who we are.
    return routed(SerializedJsonResponse(200, connect_.ClientMetadataDocument()),
                  "GET /oauth/client-metadata.json");
  }
  if (seg.size() == 1 && seg[0] == "openapi.json" && get) {
    return routed(OpenApiDocument(), "GET /openapi.json");
  }
  if (seg.size() == 1 && seg[0] == "docs" && get) return routed(ApiReferencePage(), "GET /docs");
  if (seg.size() == 1 && seg[0] == "readyz" && get) return routed(Ready(), "GET /readyz");
  if (seg.size() == 1 && seg[0] == "metrics" && get) return routed(MetricsText(), "GET /metrics");
  if (seg.size() == 1 && seg[0] == "healthz" && get) {
    return routed(JsonResponse(200, json::object{{"status", "ok"}}), "GET /healthz");
  }
  return routed(NotFoundRoute(request, path), "(unmatched)");
}

Result<std::string> Router::Authenticate(const http::Request& request) {
  std::string_view key = request.Header("x-api-key");
  if (key.empty()) {
    std::string_view authorization = request.Header("authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (authorization.size() > kBearer.size() &&
        http::EqualsIgnoreCase(authorization.substr(0, kBearer.size()), kBearer)) {
      key = authorization.substr(kBearer.size());
      key.remove_prefix(std::min(key.find_first_not_of(' '), key.size()));  // 1*SP (RFC 6750)
    }
  }
  if (key.empty()) return Error(Errc::kUnauthenticated, "Missing API key");
  return api_.Authenticate(key, request.remote_address, /*count=*/!request.again);
}

http::Response Router::ListIntegrations(const http::Request& request, std::string_view query) {
  auto workspace = Authenticate(request);
  if (!workspace) return ErrorResponse(workspace.error());
  bool active = true;
  std::vector<std::string> values = QueryValues(query, "active");
  // Given twice the filter is ambiguous, whatever the values: refused, as the reference
  // service's validation refuses an array for a boolean.
  if (values.size() > 1) return ErrorResponse(400, {"active must be given at most once"});
  if (!values.empty()) {
    std::optional<bool> parsed = ParseBool(values.front());
    if (!parsed) {
      return ErrorResponse(400, {"active must be a boolean value (true, false, 1 or 0)"});
    }
    active = *parsed;
  }
  // The serialized list, kept until the database next changes (core/stamped_cache.h).
  const std::optional<uint64_t> stamp = api_.ChangeStamp();
  const std::string cache_key = *workspace + (active ? "/active" : "/inactive");
  if (stamp) {
    if (auto body = list_bodies_.Find(cache_key, *stamp)) {
      return SharedJsonResponse(200, std::move(*body));
    }
  }
  auto list = api_.ListIntegrations(*workspace, active);
  if (!list) return ErrorResponse(list.error());
  json::array array;
  array.reserve(list->size());
  for (const IntegrationView& view : *list) array.emplace_back(IntegrationToJson(view));
  auto body = std::make_shared<const std::string>(json::serialize(array));
  if (stamp) list_bodies_.Put(cache_key, body, *stamp);
  return SharedJsonResponse(200, std::move(body));
}

http::Response Router::GetUser(const http::Request& request, std::string_view cid,
                               std::string_view raw_user_id) {
  auto workspace = Authenticate(request);
  if (!workspace) return ErrorResponse(workspace.error());
  std::optional<std::string> user_id = PercentDecode(raw_user_id);
  if (!user_id) return ErrorResponse(400, {"userId is not correctly percent-encoded"});
  auto user = api_.GetUser(*workspace, cid, *user_id);
  if (!user) return ErrorResponse(user.error());
  return SerializedJsonResponse(200, UserJson(*user));
}

http::Response Router::CreateAuthUrl(const http::Request& request, std::string_view cid,
                                     std::string_view raw_user_id) {
  auto workspace = Authenticate(request);
  if (!workspace) return ErrorResponse(workspace.error());
  std::optional<std::string> user_id = PercentDecode(raw_user_id);
  if (!user_id) return ErrorResponse(400, {"userId is not correctly percent-encoded"});

  auto redirect_uri = ParseAuthUrlBody(request.body);
  if (!redirect_uri) return ErrorResponse(400, redirect_uri.error().messages);
  auto url = api_.CreateAuthUrl(*workspace, cid, *user_id, *redirect_uri);
  if (!url) return ErrorResponse(url.error());
  return JsonResponse(201, json::object{{"authorizeUrl", *url}});
}

http::Response Router::GetCredentials(const http::Request& request, std::string_view cid,
                                      std::string_view raw_user_id) {
  auto workspace = Authenticate(request);
  if (!workspace) return ErrorResponse(workspace.error());
  std::optional<std::string> user_id = PercentDecode(raw_user_id);
  if (!user_id) return ErrorResponse(400, {"userId is not correctly percent-encoded"});
  auto credentials = credentials_.GetCredentials(*workspace, cid, *user_id);
  if (!credentials) return ErrorResponse(credentials.error());
  http::Response response = JsonResponse(200, *credentials);
  response.AddHeader("Cache-Control", "no-store");
  return response;
}

http::Response Router::DeleteUser(const http::Request& request, std::string_view cid,
                                  std::string_view raw_user_id) {
  auto workspace = Authenticate(request);
  if (!workspace) return ErrorResponse(workspace.error());
  std::optional<std::string> user_id = PercentDecode(raw_user_id);
  if (!user_id) return ErrorResponse(400, {"userId is not correctly percent-encoded"});
  if (auto s = credentials_.Disconnect(*workspace, cid, *user_id); !s) return ErrorResponse(s.error());
  http::Response response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

http::Response Router::Proxy(const http::Request& request, std::string_view cid,
                             std::string_view raw_user_id, std::string_view rest) {
  auto workspace = Authenticate(request);
  if (!workspace) return ErrorResponse(workspace.error());
  std::optional<std::string> user_id = PercentDecode(raw_user_id);
  if (!user_id) return ErrorResponse(400, {"userId is not correctly percent-encoded"});
  ProxyRequest proxied;
  proxied.method = std::string(request.method);
  proxied.path_and_query = std::string(rest);
  proxied.body = std::string(request.body);
  proxied.body_reader = request.body_reader;
  for (const auto& [name, value] : request.headers) {
    if (!http::EqualsIgnoreCase(name, "x-request-id")) proxied.headers.emplace_back(name, value);
  }
  proxied.body_length = ContentLength(request.Header("content-length"));
  // An answer that declares a small body is handed over whole, and goes out in one write;
  // any other as soon as its head is in, its body streamed as it comes (read on the pool).
  const bool head_request = request.method == "HEAD";
  auto deferred = std::make_shared<http::Deferred>();
  proxy_.Start(*workspace, cid, *user_id, std::move(proxied), request.may_block,
               net::StreamReady{kSmallAnswerBytes, true},
               [deferred, head_request](Result<net::StreamedResult> upstream) {
                 if (!upstream) return deferred->Resolve(ErrorResponse(upstream.error()));
                 const bool whole = upstream->whole;
                 http::Response response = ProxiedResponse(std::move(*upstream));
                 if (whole) http::ReadSmallStream(response, kSmallAnswerBytes, head_request);
                 deferred->Resolve(std::move(response));
               });
  return LaterResponse(deferred);
}

http::Response Router::ListTools(const http::Request& request, std::string_view query) {
  auto workspace = Authenticate(request);
  if (!workspace) return ErrorResponse(workspace.error());
  std::vector<std::string> user_ids = QueryValues(query, "userId");
  if (user_ids.size() != 1) return ErrorResponse(400, {"userId must be given once"});
  std::vector<std::string> cids = QueryValues(query, "customerIntegrationId");
  if (cids.size() > 1)
    return ErrorResponse(400, {"customerIntegrationId must be given at most once"});
  std::optional<std::string_view> cid;
  if (!cids.empty()) cid = cids.front();
  // The same body serves every user with the same connections, unless a remote MCP
  // server's tools (read for the user, not covered by the stamp) are in it. The stamp is
  // read before the flags and the list are (core/stamped_cache.h).
  const std::optional<uint64_t> stamp = api_.ChangeStamp();
  const std::string key_prefix = *workspace + '/' + std::string(cid.value_or("")) + '/';
  auto flags = tools_.ConnectedFlags(*workspace, user_ids.front(), cid);
  if (!flags) return ErrorResponse(flags.error());
  // Without flags the list has a remote MCP server's tools, read from it for the user.
  if (!*flags && !request.may_block) return http::Response::RunBlocking();
  if (stamp && *flags) {
    if (auto body = tool_bodies_.Find(key_prefix + **flags, *stamp)) {
      return SharedJsonResponse(200, std::move(*body));
    }
  }
  auto list = tools_.List(*workspace, user_ids.front(), cid);
  if (!list) return ErrorResponse(list.error());
  json::array tools;
  tools.reserve(list->size());
  for (const UserTool& entry : *list) tools.emplace_back(UserToolToJson(entry));
  auto body =
      std::make_shared<const std::string>(json::serialize(json::object{{"tools", std::move(tools)}}));
  if (stamp && *flags) {
    // Kept under the flags of the list itself: the user may have connected since.
    std::string cache_key = key_prefix;
    for (const UserTool& entry : *list) cache_key += entry.connected ? '1' : '0';
    tool_bodies_.Put(cache_key, body, *stamp);
  }
  return SharedJsonResponse(200, std::move(body));
}

http::Response Router::CallTool(const http::Request& request, std::string_view raw_name) {
  auto workspace = Authenticate(request);
  if (!workspace) return ErrorResponse(workspace.error());
  std::optional<std::string> name = PercentDecode(raw_name);
  if (!name) return ErrorResponse(404, {"Tool not found"});
  auto call = ParseToolCallBody(request.body);
  if (!call) return ErrorResponse(400, call.error().messages);
  auto deferred = std::make_shared<http::Deferred>();
  tools_.StartCall(*workspace, *name, call->user_id, call->arguments, request.may_block,
                   [deferred, user_id = call->user_id](Result<ToolCallOutcome> outcome) {
                     deferred->Resolve(ToolCallResponse(outcome, user_id));
                   });
  return LaterResponse(deferred);
}

http::Response Router::Mcp(const http::Request& request) {
  auto workspace = Authenticate(request);
  if (!workspace) return ErrorResponse(workspace.error());
  return mcp_.Handle(request, *workspace);
}

http::Response Router::Ready() {
  // The store's public reason: "Database unavailable", or why writes stopped.
  if (auto s = store_.Ping(); !s) return ErrorResponse(503, {s.error().message()});
  return JsonResponse(200, json::object{{"status", "ready"}});
}

http::Response Router::MetricsText() {
  Store::Stats stats = store_.GetStats();
  http::Response response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = Metrics::Global().RenderPrometheus(
      {{"toolregistry_db_idle_connections", "Open database connections not in use.",
        stats.idle_connections},
       {"toolregistry_db_queued_writes",
        "Database work waiting: writes for the next group commit (SQLite), or calls for a free "
        "connection (PostgreSQL).",
        stats.queued_writes},
       {"toolregistry_db_commits", "Group commits since start.", stats.commits},
       {"toolregistry_db_writes_refused",
        "1 when writes are refused after a failed write or fsync of the database (restart once the "
        "disk is fixed).",
        stats.writes_refused}});
  return response;
}

http::Response Router::ConnectSubmit(const http::Request& request, std::string_view token) {
  std::optional<FormValues> form = ParseForm(request.Header("content-type"), request.body);
  if (!form) {
    FlowResult bad;
    bad.error_code = "invalid_request";
    bad.message = "The form could not be read. Open the link again.";
    return RenderResult(bad);
  }
  return RenderStep(connect_.Submit(token, *form));
}

http::Response Router::OAuthCallback(std::string_view query) {
  std::optional<FormValues> params = ParseUrlEncoded(query);
  if (!params) params.emplace();
  return RenderStep(connect_.OAuthCallback(*params));
}

}  // namespace tr::api
