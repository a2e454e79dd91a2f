// ConnectService: the hosted connect flow (CONTRACT section 4) behind /connect/{token} and
// /oauth/callback, for every auth type. It decides; the HTTP layer renders what it returns
// (a redirect to the provider, a form, or the end of the flow). Knows no HTTP.
// Thread-safe: one instance serves every request; outbound calls may block, so callers run
// it off the I/O threads.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "auth/oauth2.h"
#include "core/clock.h"
#include "core/integration_directory.h"
#include "core/oauth_clients.h"
#include "crypto/keyring.h"
#include "net/http_client.h"
#include "store/store.h"

namespace tr {

struct AwsSettings {
  std::string sts_endpoint = "https://sts.amazonaws.com";
  std::string region = "us-east-1";
  std::string principal_arn;  // shown to the user: the identity their role must trust
  std::string access_key_id;  // the service's own credentials, used to call STS
  std::string secret_access_key;
  std::string session_token;
};

struct ConnectOptions {
  std::string public_url;          // without a trailing slash
  int max_submissions = 5;         // form submissions per session before it is spent
  AwsSettings aws;
  bool allow_private_network = false;  // discovered OAuth endpoints may be http (tests)
};

// Send the browser to the provider (OAuth2).
struct ProviderRedirect {
  std::string url;
};

// Show a form (API token, AWS role, Google key), possibly with an error from a last try.
struct FormView {
  AuthType auth_type = AuthType::kApiToken;
  std::string integration_name;
  std::vector<ApiTokenField> fields;  // API_TOKEN: what to ask for
  std::string external_id;            // AWS_ASSUME_ROLE
  std::string principal_arn;          // AWS_ASSUME_ROLE
  std::string action;  // where the form posts: the public URL's path + /connect/<token>
  std::string csrf_token;
  std::string error;                  // "" on first display
  std::string redirect_origin;        // where the flow may end (for the page's CSP)
  int attempts_left = 0;
};

// The flow ended. With a redirect URI, the browser goes there with status=...; else a page.
struct FlowResult {
  bool success = false;
  std::string integration_name;  // "" when the session was not even found
  std::string redirect_uri;
  std::string error_code;        // on failure: invalid_session, expired_session, access_denied...
  std::string message;           // for the page
};

using ConnectStep = std::variant<ProviderRedirect, FormView, FlowResult>;
using FormFields = std::map<std::string, std::string>;

class ConnectService {
 public:
  ConnectService(Store& store, IntegrationDirectory& directory, const crypto::Keyring& keyring,
                 const Clock& clock, net::HttpClient& http, ConnectOptions options);

  // GET /connect/{token}.
  ConnectStep Start(std::string_view token);
  // POST /connect/{token}: a form's fields, "csrf" among them.
  ConnectStep Submit(std::string_view token, const FormFields& fields);
  // GET /oauth/callback with its query parameters.
  ConnectStep OAuthCallback(const FormFields& params);

  std::string CallbackUrl() const { return options_.public_url + "/oauth/callback"; }

  // Whether a connect flow can begin for `ci`: for a remote MCP server whose OAuth
  // endpoints are discovered, discovery and registration (OAuthClients::ForConnect), so
  // that auth-url reports their failure. Ok for everything else.
  Status PrepareConnect(const CustomerIntegration& ci);

  // The Client ID Metadata Document served under the public URL (CONTRACT section 11).
  std::string ClientMetadataDocument() const { return oauth_clients_.ClientMetadataDocument(); }

 private:
  struct Loaded;  // a session with its customer integration and definition
  // Start() without counting: the checks and the first step of the flow.
  ConnectStep Begin(std::string_view token);
  // The session behind `token` when its flow may go on (found, unused, unexpired, its
  // integration active); otherwise the step that ends the flow.
  std::variant<Loaded, ConnectStep> Open(std::string_view token);
  Result<Loaded> Load(std::optional<ConnectSession> session);
  ConnectStep Finish(const Loaded& loaded, bool success, std::string error_code,
                     std::string message, std::optional<std::string> credentials_json,
                     std::optional<int64_t> access_expires_at = std::nullopt);
  FormView Form(const Loaded& loaded, std::string_view token, std::string error);
  // The session's PKCE verifier; nullopt (logged) when it cannot be unsealed.
  std::optional<std::string> UnsealVerifier(const Loaded& loaded);
  ConnectStep SubmitApiToken(const Loaded& loaded, std::string_view token, const FormFields& fields);
  ConnectStep SubmitAwsRole(const Loaded& loaded, std::string_view token, const FormFields& fields);
  ConnectStep SubmitGoogleKey(const Loaded& loaded, std::string_view token,
                              const FormFields& fields);

  Store& store_;
  IntegrationDirectory& directory_;
  const crypto::Keyring& keyring_;
  const Clock& clock_;
  net::HttpClient& http_;
  ConnectOptions options_;
  OAuthClients oauth_clients_;
  // The forms' target before the token: the public URL's path (behind a proxy that serves us
  // under https://a.example/base, "/base") and "/connect/".
  std::string form_path_;
};

// Appends status=success|error (and error=CODE) to a redirect URI: '?' or '&' as its
// query needs, before its fragment, which is kept.
std::string AppendFlowStatus(const std::string& redirect_uri, bool success,
                             const std::string& error_code);

// The associated data that binds a user's sealed credentials to its row.
std::string CredentialsAad(const std::string& customer_integration_id, const std::string& user_id);

}  // namespace tr
