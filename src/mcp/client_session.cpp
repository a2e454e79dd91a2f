#include "mcp/client_session.h"

#include <set>

#include <fmt/format.h>
#include <boost/json/serialize.hpp>

#include "core/validation.h"
#include "mcp/rpc_answer.h"

namespace tr::mcp {

namespace json = boost::json;

namespace {

// The revisions whose Streamable HTTP transport this client speaks (2025-03-26 introduced
// it; MCP-Protocol-Version came with 2025-06-18 and is harmless to older servers).
constexpr std::string_view kSupportedVersions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};

// A body of an answer we do not read (an error status, a notification's 202) is read up to
// this size, so that the connection can be reused, and otherwise dropped.
constexpr size_t kDrainBytes = 64 << 10;

void Drain(net::StreamedResult& answer) {
  if (answer.body) (void)net::ReadWhole(*answer.body, kDrainBytes);
}

Error StatusError(int status) {
  if (status == 401 || status == 403) {
    return Error(Errc::kBadGateway,
                 fmt::format("the MCP server refused the credentials (HTTP {})", status));
  }
  return Error(Errc::kBadGateway, fmt::format("the MCP server answered HTTP {}", status));
}

}  // namespace

bool IsSupportedProtocolVersion(std::string_view version) {
  for (std::string_view v : kSupportedVersions) {
    if (v == version) return true;
  }
  return false;
}

HttpClientTransport::HttpClientTransport(net::HttpClient& http, std::string url,
                                         net::Headers extra_headers)
    : http_(http), url_(std::move(url)), extra_headers_(std::move(extra_headers)) {}

Result<net::StreamedResult> HttpClientTransport::Send(std::string_view method,
                                                      const net::Headers& headers,
                                                      const std::string& body) {
  net::HttpCall call;
  call.method = std::string(method);
  call.url = url_;
  call.headers = headers;
  call.headers.insert(call.headers.end(), extra_headers_.begin(), extra_headers_.end());
  call.body = body;
  call.timeout = std::chrono::seconds(60);
  return http_.Stream(call);
}

ClientSession::ClientSession(Transport& transport, ClientSessionOptions options)
    : transport_(transport), options_(std::move(options)) {}

ClientSession::SessionState ClientSession::State() const {
  std::lock_guard lock(mu_);
  return state_;
}

std::string ClientSession::session_id() const { return State().session_id; }
std::string ClientSession::protocol_version() const { return State().protocol_version; }

net::Headers ClientSession::HeadersFor(const SessionState& state) const {
  net::Headers headers{{"Content-Type", "application/json"},
                       {"Accept", "application/json, text/event-stream"}};
  if (!state.protocol_version.empty()) {
    headers.emplace_back("MCP-Protocol-Version", state.protocol_version);
  }
  if (!state.session_id.empty()) headers.emplace_back("MCP-Session-Id", state.session_id);
  return headers;
}

Result<json::value> ClientSession::Post(std::string_view method, const json::object& params,
                                        const SessionState& state, bool& gone) {
  gone = false;
  const int64_t id = next_id_.fetch_add(1);
  json::object request{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.empty()) request["params"] = params;
  auto answer = transport_.Send("POST", HeadersFor(state), json::serialize(request));
  if (!answer) return answer.error();
  if (answer->status == 404 && !state.session_id.empty()) {
    Drain(*answer);
    gone = true;
    return Error(Errc::kBadGateway, "the MCP server ended the session");
  }
  if (answer->status < 200 || answer->status > 299) {
    Drain(*answer);
    return StatusError(answer->status);
  }
  RpcAnswerOptions read{id, kMaxAnswerBytes, options_.on_notification};
  return ReadRpcAnswer(answer->Header("content-type"), *answer->body, read);
}

Status ClientSession::PostNotification(std::string_view method, const SessionState& state) {
  json::object message{{"jsonrpc", "2.0"}, {"method", method}};
  auto answer = transport_.Send("POST", HeadersFor(state), json::serialize(message));
  if (!answer) return answer.error();
  Drain(*answer);
  if (answer->status < 200 || answer->status > 299) return StatusError(answer->status);
  return Ok{};
}

Status ClientSession::Initialize() {
  if (State().initialized) return Ok{};  // the common case, without waiting on init_mu_
  std::lock_guard init(init_mu_);
  if (State().initialized) return Ok{};
  return InitializeLocked(0);
}

// REQUIRES: init_mu_ held. `stale_generation`: the session a caller saw answer 404 (0:
// none); when another caller has re-initialized since, there is nothing to do.
Status ClientSession::InitializeLocked(uint64_t stale_generation) {
  SessionState fresh = State();
  if (fresh.initialized && fresh.generation != stale_generation) return Ok{};
  fresh.initialized = false;
  fresh.session_id.clear();
  fresh.protocol_version.clear();

  json::object params{
      {"protocolVersion", kClientProtocolVersion},
      {"capabilities", json::object{}},
      {"clientInfo",
       json::object{{"name", options_.client_name}, {"version", options_.client_version}}},
  };
  const int64_t id = next_id_.fetch_add(1);
  json::object request{
      {"jsonrpc", "2.0"}, {"id", id}, {"method", "initialize"}, {"params", std::move(params)}};
  auto answer = transport_.Send("POST", HeadersFor(fresh), json::serialize(request));
  if (!answer) return answer.error();
  if (answer->status < 200 || answer->status > 299) {
    Drain(*answer);
    return StatusError(answer->status);
  }
  RpcAnswerOptions read{id, kMaxAnswerBytes, options_.on_notification};
  auto result = ReadRpcAnswer(answer->Header("content-type"), *answer->body, read);
  if (!result) return result.error();
  const json::value* version =
      result->is_object() ? result->get_object().if_contains("protocolVersion") : nullptr;
  if (!version || !version->is_string()) {
    return Error(Errc::kBadGateway, "the MCP server's initialize result has no protocolVersion");
  }
  if (!IsSupportedProtocolVersion(version->get_string())) {
    return Error(Errc::kBadGateway,
                 fmt::format("the MCP server speaks protocol version {}, which we do not",
                             SafeText(version->get_string(), 40)));
  }
  fresh.protocol_version = std::string(version->get_string());
  fresh.session_id = answer->Header("mcp-session-id");
  Status notified = PostNotification("notifications/initialized", fresh);
  if (!notified) return notified;
  fresh.initialized = true;
  std::lock_guard lock(mu_);
  fresh.generation = state_.generation + 1;
  state_ = std::move(fresh);
  return Ok{};
}

Result<json::value> ClientSession::Call(std::string_view method, json::object params) {
  Status ready = Initialize();
  if (!ready) return ready.error();
  SessionState state = State();
  bool gone = false;
  auto result = Post(method, params, state, gone);
  if (!gone) return result;
  // The server forgot the session (a restart, an expiry): a new one, and the call once more.
  {
    std::lock_guard init(init_mu_);
    Status again = InitializeLocked(state.generation);
    if (!again) return again.error();
  }
  state = State();
  return Post(method, params, state, gone);
}

Result<std::vector<json::object>> ClientSession::ListTools() {
  std::vector<json::object> tools;
  std::set<std::string> cursors_seen;
  std::string cursor;
  for (int page = 0; page < kMaxToolPages; ++page) {
    json::object params;
    if (!cursor.empty()) params["cursor"] = cursor;
    auto result = Call("tools/list", std::move(params));
    if (!result) return result.error();
    const json::object* obj = result->if_object();
    const json::value* list = obj ? obj->if_contains("tools") : nullptr;
    if (!list || !list->is_array()) {
      return Error(Errc::kBadGateway, "the MCP server's tools/list result has no tools array");
    }
    for (const json::value& tool : list->get_array()) {
      if (tool.is_object()) tools.push_back(tool.get_object());
    }
    const json::value* next = obj->if_contains("nextCursor");
    if (!next || !next->is_string() || next->get_string().empty()) return tools;
    cursor = std::string(next->get_string());
    if (!cursors_seen.insert(cursor).second) {
      return Error(Errc::kBadGateway, "the MCP server's tools/list cursors go round in a loop");
    }
  }
  return Error(Errc::kBadGateway,
               fmt::format("the MCP server's tools/list has more than {} pages", kMaxToolPages));
}

Result<json::object> ClientSession::CallTool(std::string_view name, const json::object& arguments) {
  json::object params{{"name", name}, {"arguments", arguments}};
  auto result = Call("tools/call", std::move(params));
  if (!result) return result.error();
  if (!result->is_object()) {
    return Error(Errc::kBadGateway, "the MCP server's tools/call result is not an object");
  }
  return std::move(result->get_object());
}

Status ClientSession::Close() {
  std::lock_guard init(init_mu_);
  SessionState state = State();
  {
    std::lock_guard lock(mu_);
    state_.initialized = false;
    state_.session_id.clear();
    state_.protocol_version.clear();
  }
  if (!state.initialized || state.session_id.empty()) return Ok{};
  auto answer = transport_.Send("DELETE", HeadersFor(state), "");
  if (!answer) return answer.error();
  Drain(*answer);
  // 405: the server does not let clients end sessions; 404: it is gone already.
  const bool fine = (answer->status >= 200 && answer->status <= 299) || answer->status == 404 ||
                    answer->status == 405;
  return fine ? Status(Ok{}) : Status(StatusError(answer->status));
}

}  // namespace tr::mcp
