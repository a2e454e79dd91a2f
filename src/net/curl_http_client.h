// CurlHttpClient: HttpClient on libcurl. TLS certificates and host names are verified;
// redirects are not followed; responses read whole over 4 MiB are refused (streamed ones
// are not held whole); every call has a timeout.
// Connections to non-public addresses are refused after DNS resolution unless
// allow_private_network. Thread-safe: each Send() uses its own easy handle.
#pragma once

#include "net/http_client.h"

namespace tr::net {

struct CurlOptions {
  bool allow_private_network = false;
  std::string user_agent = "toolregistry/0.1";
};

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(CurlOptions options);
  Result<HttpResult> Send(const HttpCall& call) override;
  // Each call runs on a thread of its own while its body streams (see the .cpp).
  Result<StreamedResult> Stream(const HttpCall& call) override;

 private:
  CurlOptions options_;
};

}  // namespace tr::net
