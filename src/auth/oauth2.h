// OAuth 2.0 authorization-code grant (RFC 6749) with PKCE (RFC 7636): building the
// authorization URL, the token request, and reading the token response. Pure functions;
// the outbound call itself goes through net::HttpClient.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/integration.h"
#include "core/result.h"
#include "net/http_client.h"

namespace tr::auth {

struct OAuthClient {
  std::string client_id;
  std::string client_secret;
  std::string redirect_uri;  // <public URL>/oauth/callback
};

// The provider's authorization URL with response_type=code, client_id, redirect_uri, scope
// (joined with the integration's separator; omitted when empty), state, PKCE S256 when the
// integration supports it, and the integration's extra parameters.
std::string BuildAuthorizationUrl(const OAuth2Config& config, const OAuthClient& client,
                                  const std::vector<std::string>& scopes, const std::string& state,
                                  const std::string& pkce_verifier);

// S256 code challenge of a verifier: base64url(SHA-256(verifier)).
std::string PkceChallenge(const std::string& verifier);

// POST tokenUrl grant_type=authorization_code, with the client authentication the
// integration declares (client_secret_basic or client_secret_post).
net::HttpCall BuildCodeExchangeCall(const OAuth2Config& config, const OAuthClient& client,
                                    const std::string& code, const std::string& pkce_verifier);

// POST tokenUrl grant_type=refresh_token.
net::HttpCall BuildRefreshCall(const OAuth2Config& config, const OAuthClient& client,
                               const std::string& refresh_token);

// POST revocationUrl token=...&token_type_hint=... (RFC 7009), client authenticated as at
// the token endpoint.
net::HttpCall BuildRevocationCall(const OAuth2Config& config, const OAuthClient& client,
                                  const std::string& token, const std::string& token_type_hint);

struct OAuthTokens {
  std::string access_token;
  std::string refresh_token;  // empty: none issued
  std::string token_type = "Bearer";
  std::optional<int64_t> expires_in_seconds;
  std::string scope;  // as granted, when the provider says
};

// A token endpoint's answer: JSON (or, as some providers send, form-encoded). A 200 without
// access_token, or an error answer, is Error(kInvalidArgument, "<error>[: description]")
// with the OAuth error code first, e.g. "invalid_grant: ...". Never includes a token.
Result<OAuthTokens> ParseTokenResponse(const net::HttpResult& response);

// The OAuth error code an ParseTokenResponse error starts with ("invalid_grant"), or "".
std::string OAuthErrorCode(const Error& error);

}  // namespace tr::auth
