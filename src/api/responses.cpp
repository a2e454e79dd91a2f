#include "api/responses.h"

#include <algorithm>

#include <boost/json/serialize.hpp>

#include "core/clock.h"
#include "core/validation.h"

namespace tr::api {

namespace json = boost::json;

int HttpStatusFor(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument: return 400;
    case Errc::kUnauthenticated: return 401;
    case Errc::kNotFound: return 404;
    case Errc::kConflict: return 409;
    case Errc::kTooLarge: return 413;
    case Errc::kRateLimited: return 429;
    case Errc::kUnavailable: return 503;
    case Errc::kBadGateway: return 502;
    case Errc::kGatewayTimeout: return 504;
    case Errc::kInternal: return 500;
    case Errc::kWouldBlock: return 500;  // never sent: the router runs the request again
  }
  return 500;
}

http::Response JsonResponse(int status, const json::value& body) {
  return SerializedJsonResponse(status, json::serialize(body));
}

http::Response SerializedJsonResponse(int status, std::string body) {
  http::Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

http::Response SharedJsonResponse(int status, std::shared_ptr<const std::string> body) {
  http::Response response;
  response.status = status;
  response.shared_body = std::move(body);
  return response;
}

http::Response ErrorResponse(int status, const std::vector<std::string>& messages) {
  json::object body;
  body["statusCode"] = status;
  // A message may quote the request (the path of a 404) or a provider: its bytes need not be
  // UTF-8, and JSON must be.
  if (messages.size() == 1) {
    body["message"] = ReplaceInvalidUtf8(messages.front());
  } else {
    json::array list;
    for (const auto& m : messages) list.emplace_back(ReplaceInvalidUtf8(m));
    body["message"] = std::move(list);
  }
  body["error"] = http::StatusText(status);
  return JsonResponse(status, body);
}

http::Response ErrorResponse(const Error& error) {
  if (error.code == Errc::kWouldBlock) return http::Response::RunBlocking();
  http::Response response = ErrorResponse(HttpStatusFor(error.code), error.messages);
  if (error.code == Errc::kRateLimited) {
    response.AddHeader("Retry-After", std::to_string(std::max(1, error.retry_after_seconds)));
  }
  return response;
}

http::Response LaterResponse(const std::shared_ptr<http::Deferred>& deferred) {
  if (std::optional<http::Response> now = deferred->TakeIfResolved()) return std::move(*now);
  http::Response response;
  response.deferred = deferred;
  return response;
}

json::object IntegrationToJson(const IntegrationView& view) {
  const CustomerIntegration& ci = view.customer_integration;
  const IntegrationDefinition& def = *view.definition;
  json::object o;
  o["integrationId"] = ci.integration_id;
  o["customerIntegrationId"] = ci.customer_integration_id;
  o["active"] = ci.active;
  o["name"] = def.name;
  if (!def.description.empty()) o["description"] = def.description;
  if (!def.logo_url.empty()) o["logoUrl"] = def.logo_url;
  o["host"] = def.host;
  o["updatedAt"] = FormatTimestamp(ci.updated_at);
  o["createdAt"] = FormatTimestamp(ci.created_at);
  o["authType"] = AuthTypeName(ci.auth_type);
  return o;
}

std::string UserJson(const IntegrationUser& user) {
  // Written straight out: the hottest answer of all, and four fixed fields.
  std::string out;
  out.reserve(96 + user.user_id.size());
  out += R"({"userId":")";
  out += http::JsonEscape(user.user_id);
  out += user.active ? R"(","active":true,"updatedAt":")" : R"(","active":false,"updatedAt":")";
  out += FormatTimestamp(user.updated_at);
  out += R"(","createdAt":")";
  out += FormatTimestamp(user.created_at);
  out += R"("})";
  return out;
}

json::object UserToolToJson(const UserTool& tool) {
  json::object o;
  o["name"] = tool.name;
  o["description"] = tool.tool->description;
  o["inputSchema"] = tool.tool->input_schema;
  o["annotations"] = tool.tool->annotations;
  o["customerIntegrationId"] = tool.customer_integration_id;
  o["integrationId"] = tool.integration_id;
  o["connected"] = tool.connected;
  return o;
}

json::object ToolCallResultToJson(const ToolCallResult& result) {
  json::object o;
  o["status"] = result.status;
  o["contentType"] = ReplaceInvalidUtf8(result.content_type);
  if (result.json) {
    o["json"] = *result.json;
  } else {
    o["body"] = result.body;
    if (result.base64) o["bodyEncoding"] = "base64";
  }
  o["truncated"] = result.truncated;
  return o;
}

}  // namespace tr::api
