// HttpClient: the seam for outbound HTTP calls to providers (token endpoints, verification
// requests, STS). CurlHttpClient is the real one; tests of the core use a fake.
// Thread-safe: Send() may be called from any thread concurrently.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace tr::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpCall {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
  std::chrono::milliseconds timeout{10'000};
};

struct HttpResult {
  int status = 0;
  Headers headers;  // names lowercased
  std::string body;

  // The first header named `name` (lowercase), or "".
  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return {};
  }
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // The response, whatever its status. Errc::kUnavailable when no response was had
  // (DNS, connect, TLS, timeout, a refused private address); the message says which,
  // without any secret from the request.
  virtual Result<HttpResult> Send(const HttpCall& call) = 0;
};

// application/x-www-form-urlencoded encoding of one value (RFC 3986 unreserved kept).
std::string FormEncode(std::string_view value);
// "a=1&b=2" from pairs, each side FormEncode()d.
std::string FormBody(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace tr::net
