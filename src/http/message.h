// The request and response values that cross between the HTTP layer (Beast, in server.cpp)
// and the handlers. No Beast types here, so handlers and their tests compile without it.
// A request's views point into the connection's buffers and live while the handler runs.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tr::http {

struct Request {
  std::string_view method;  // "GET", "POST", ...
  std::string_view target;  // path and query, as sent
  std::string_view body;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view request_id;  // the caller's x-request-id, or one the server made
  std::string_view remote_address;

  // The first header named `name` (case-insensitive), or "".
  std::string_view Header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // besides content-type
  // The route template for logs and metrics ("GET /v1/integrations/{cid}"): never the raw
  // path, which may carry a secret (a connect token) or personal data.
  std::string route;

  void AddHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
};

// The reason phrase of an HTTP status ("Not Found").
std::string_view StatusText(int status);

// `text` escaped for the inside of a JSON string (quotes, backslashes, control characters).
std::string JsonEscape(std::string_view text);

// Case-insensitive ASCII comparison.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace tr::http
