// Fuzz target: the whole request-to-response path in process. The input is the text of an
// HTTP/1.1 request ("METHOD target HTTP/1.1\r\nName: value\r\n...\r\n\r\nbody"), split by
// a deliberately simple parser (no Beast), and handed to the Router of fuzz_environment.h: a
// real SqliteStore in a temporary folder ($TMPDIR) holding a workspace, an API key, enabled
// integrations and a connected user. In the input, "$KEY" stands for the valid API key,
// "$CID" for the customer integration id of the API-token integration and "$OCID" for the
// OAuth one, so that the fuzzer reaches past authentication and the lookups. Outbound calls
// go to a fake that answers every call with a token-endpoint-like JSON 200.
//
// Checked on every response: a status in 100..599 with its reason phrase, a route template
// without the raw ids, and for every /v1 route but the proxy a JSON body; error bodies carry
// the same statusCode as the status.

#include <algorithm>
#include <cstdint>
#include <future>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "fuzz_environment.h"
#include "fuzz_support.h"
#include "http/message.h"

namespace tr::fuzz {
namespace {

namespace json = boost::json;

// Owns the text a Request's views point into.
struct ParsedRequest {
  std::string head;
  std::string body;
  http::Request request;
};

// "METHOD SP target SP version CRLF (name: value CRLF)* CRLF body"; LF alone also ends a
// line. Whatever does not fit is kept as best it can: a missing target is "", a header line
// without a colon is a name with an empty value.
void Split(std::string_view text, ParsedRequest& out) {
  size_t end_of_head = text.find("\r\n\r\n");
  size_t body_start = end_of_head == std::string_view::npos ? text.size() : end_of_head + 4;
  out.head = std::string(text.substr(0, std::min(end_of_head, text.size())));
  out.body = std::string(text.substr(body_start));
  std::string_view head = out.head;
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    head.remove_prefix(nl + 1);
  }
  http::Request& r = out.request;
  r.body = out.body;
  r.request_id = "fuzz";
  r.remote_address = "127.0.0.1";
  if (lines.empty()) return;
  std::string_view first = lines[0];
  size_t sp = first.find(' ');
  r.method = first.substr(0, sp);
  if (sp != std::string_view::npos) {
    std::string_view rest = first.substr(sp + 1);
    r.target = rest.substr(0, rest.find(' '));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    r.headers.emplace_back(name, value);
  }
}

void CheckResponse(const http::Request& request, const http::Response& response,
                   const Environment& env) {
  Check(response.status >= 100 && response.status <= 599, "status in range");
  Check(!http::StatusText(response.status).empty(), "known status",
        std::to_string(response.status));
  Check(!response.route.empty(), "route set");
  // The route is a template: the ids of the path never reach it (the method is the client's).
  for (const std::string* id : {&env.token_cid, &env.oauth_cid, &env.api_key}) {
    if (request.method.find(*id) != std::string_view::npos) continue;
    Check(response.route.find(*id) == std::string::npos, "route holds no id", response.route);
  }
  std::string_view path = request.target.substr(0, request.target.find('?'));
  bool v1 = path.starts_with("/v1/") || path == "/v1";
  bool proxied = response.route.find("/v1/proxy/") != std::string::npos;
  if (!v1 || proxied || response.status == 204) return;
  Check(response.content_type == "application/json", "json content type", response.route);
  boost::system::error_code ec;
  json::value body = json::parse(response.Text(), ec);
  Check(!ec, "json body", response.Text());
  if (response.status >= 400) {
    Check(body.is_object(), "error body is an object", response.Text());
    const json::value* code = body.get_object().if_contains("statusCode");
    Check(code && code->is_int64() && code->get_int64() == response.status, "statusCode",
          response.Text());
    const json::value* message = body.get_object().if_contains("message");
    Check(message && (message->is_string() || message->is_array()), "message", response.Text());
  }
}

}  // namespace
}  // namespace tr::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tr::fuzz;
  if (size > 64 * 1024) return -1;  // the server refuses heads over 16 KiB and keeps bodies small
  Environment& env = Env();
  std::string text = Substitute(std::string_view(reinterpret_cast<const char*>(data), size), env);
  ParsedRequest parsed;
  Split(text, parsed);
  tr::http::Response response = env.router->Handle(parsed.request);
  if (response.deferred) {  // as the server does: an answer that comes later is waited for
    tr::http::Response later = response.deferred->Wait();
    response = tr::http::Deferred::Settle(std::move(response), std::move(later));
    Check(!response.run_blocking, "a later answer is never run_blocking", response.route);
  }
  if (response.hold) {  // as the server does: the answer waits for its commit to be on disk
    std::promise<bool> durable;
    response.hold([&durable](bool ok) { durable.set_value(ok); });
    if (!durable.get_future().get()) __builtin_trap();
  }
  CheckResponse(parsed.request, response, env);
  env.clock.Advance(1000);  // rate-limit buckets refill; sessions age
  return 0;
}
