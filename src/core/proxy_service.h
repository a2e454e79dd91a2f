// ProxyService: authenticated calls to an integration's API on a user's behalf
// (ANY /v1/proxy/{cid}/{userId}/{path...}). Forwards to the integration's apiBaseUrl with
// the user's auth added (Bearer token, the API token as declared, SigV4 for AWS), strips
// hop-by-hop headers both ways, and on a 401 from upstream for OAUTH2 refreshes once and
// retries once. Bodies are buffered within the server's limits (1 MiB in, 4 MiB out).
// Thread-safe; blocks on outbound HTTP.
#pragma once

#include <string>
#include <string_view>

#include "core/credential_service.h"
#include "net/http_client.h"

namespace tr {

struct ProxyRequest {
  std::string method;
  std::string path_and_query;  // after /v1/proxy/{cid}/{userId}, starting with '/' (or empty)
  net::Headers headers;        // as received; filtered here
  std::string body;
};

class ProxyService {
 public:
  ProxyService(Store& store, IntegrationDirectory& directory, CredentialService& credentials,
               net::HttpClient& http, const Clock& clock);

  // The upstream's answer (any status). kNotFound, kConflict (inactive user),
  // kUnavailable (upstream unreachable) otherwise.
  Result<net::HttpResult> Forward(const std::string& workspace_id, std::string_view cid,
                                  std::string_view user_id, const ProxyRequest& request);

 private:
  Store& store_;
  IntegrationDirectory& directory_;
  CredentialService& credentials_;
  net::HttpClient& http_;
  const Clock& clock_;
};

// True for headers that must not cross a proxy (RFC 9110 section 7.6.1), plus those we set.
bool IsHopByHopHeader(std::string_view name);

}  // namespace tr
