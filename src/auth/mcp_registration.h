// How the service becomes a client of an MCP server's authorization server (MCP
// specification 2025-11-25, "Client Registration Approaches"; CONTRACT section 11 step 3):
// a pre-registered client id first, then a Client ID Metadata Document that the service
// serves under its public URL, then RFC 7591 dynamic registration. Pure functions: the
// registration call goes out through net::HttpClient, and its result is stored sealed by
// the caller (it holds a client secret).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "auth/mcp_discovery.h"
#include "core/integration.h"
#include "core/result.h"
#include "net/http_client.h"

namespace tr::auth {

enum class RegistrationMethod { kPreRegistered, kClientIdMetadataDocument, kDynamic };

// What the service says about itself to an authorization server.
struct ClientMetadata {
  std::string client_name = "toolregistry";
  std::string client_uri;                  // optional: the public URL
  std::vector<std::string> redirect_uris;  // <public URL>/oauth/callback
  std::string scope;                       // optional, space-separated
};

// The path under the public URL where the service serves its Client ID Metadata Document;
// the document's URL is its client_id.
inline constexpr std::string_view kClientMetadataDocumentPath = "/oauth/client-metadata.json";

// The method to use, in the specification's order: kPreRegistered when the workspace gave
// a client id; kClientIdMetadataDocument when the server says it supports them and
// `public_url` is https (the document must be fetchable over https); kDynamic when it has
// a registration endpoint. Else kInvalidArgument: "… give a client id to integration enable".
Result<RegistrationMethod> ChooseRegistration(bool has_client_id,
                                              const AuthorizationServerMetadata& server,
                                              std::string_view public_url);

// The Client ID Metadata Document served at `client_id` (an https URL with a path): a
// public client (token_endpoint_auth_method "none": the service holds no key the server
// could check), authorization_code and refresh_token grants, response type code.
boost::json::object ClientIdMetadataDocument(std::string_view client_id,
                                             const ClientMetadata& metadata);

// The token endpoint auth method to register with: client_secret_basic when the server
// lists it or lists nothing (RFC 8414's default), else client_secret_post, else none.
std::string ChooseTokenEndpointAuthMethod(const AuthorizationServerMetadata& server);

// POST registration_endpoint with the RFC 7591 client metadata (JSON): client_name,
// redirect_uris, grant_types [authorization_code, refresh_token], response_types [code],
// token_endpoint_auth_method as chosen above, and scope/client_uri when set.
// REQUIRES: server.registration_endpoint is set.
net::HttpCall BuildRegistrationCall(const AuthorizationServerMetadata& server,
                                    const ClientMetadata& metadata);

struct ClientRegistration {
  std::string client_id;
  std::string client_secret;  // empty for a public client
  std::string token_endpoint_auth_method;
  int64_t client_secret_expires_at = 0;  // 0: never
};

// The registration endpoint's answer: 201 (or 200) with a client_id. Otherwise
// kBadGateway, "the authorization server refused the registration: <error>: <description>"
// (or with its HTTP status); never with a secret.
Result<ClientRegistration> ParseRegistrationResponse(const net::HttpResult& answer);

// The OAuth settings the connect flow and the refresh use for a discovered MCP server:
// its authorization server's endpoints, the chosen scopes, PKCE (always: discovery refused
// a server without S256), the RFC 8707 resource, and how the registered client
// authenticates ("client_secret_basic", "client_secret_post" or "none").
OAuth2Config McpOAuth2Config(const McpAuthorization& found,
                             const std::string& token_endpoint_auth_method);

}  // namespace tr::auth
