// JSON formatting of domain values and errors for the public API. The one place where an
// Errc becomes an HTTP status.
#pragma once

#include <string>

#include <boost/json/object.hpp>

#include "core/integration_directory.h"
#include "core/result.h"
#include "core/tool_service.h"
#include "http/message.h"

namespace tr::api {

int HttpStatusFor(Errc code);

// {"statusCode", "message", "error"} in the NestJS convention; `message` is an array when
// the error has several messages.
http::Response ErrorResponse(int status, const std::vector<std::string>& messages);
// kWouldBlock is no answer: it is http::Response::RunBlocking().
http::Response ErrorResponse(const Error& error);
// The answer `deferred` will have: itself when it is resolved already, else a response
// that waits for it (http::Response::deferred).
http::Response LaterResponse(const std::shared_ptr<http::Deferred>& deferred);

http::Response JsonResponse(int status, const boost::json::value& body);
// A JSON response whose body is already serialized.
http::Response SerializedJsonResponse(int status, std::string body);
// The same for a body kept and shared (a cached list): written without a copy.
http::Response SharedJsonResponse(int status, std::shared_ptr<const std::string> body);

// The IntegrationResponseDto of the seed; never a secret.
boost::json::object IntegrationToJson(const IntegrationView& view);
// The IntegrationUserResponseDto of the seed, serialized.
std::string UserJson(const IntegrationUser& user);

// A tool of GET /v1/tools: {"name","description","inputSchema","annotations",
// "customerIntegrationId","integrationId","connected"}.
boost::json::object UserToolToJson(const UserTool& tool);
// The answer of POST /v1/tools/{name}/call: {"status","contentType","json" or "body",
// "truncated"}, plus "bodyEncoding": "base64" for a body that was not UTF-8.
boost::json::object ToolCallResultToJson(const ToolCallResult& result);

}  // namespace tr::api
