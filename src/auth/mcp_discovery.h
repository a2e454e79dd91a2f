// MCP authorization discovery, as a client (MCP specification 2025-11-25, "Authorization";
// CONTRACT section 11): from a remote MCP server's URL, and the challenge of its 401, to
// the authorization server that guards it. RFC 9728 protected-resource metadata names the
// authorization server; its RFC 8414 (or OpenID Connect discovery) metadata gives the
// endpoints. The checks the specification asks of a client are made here: the metadata's
// `resource` is this server, the authorization server's `issuer` is the one named, PKCE
// S256 is supported, and every endpoint is HTTPS unless private networks are allowed.
//
// The pure pieces (challenge parsing, URL orders, metadata parsing) are free functions;
// DiscoverMcpAuthorization makes the calls through a net::HttpClient, whose real
// implementation applies the SSRF rules to every discovered URL. Thread-safe (no state).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "net/http_client.h"

namespace tr::auth {

// The parameters of a `Bearer` challenge in WWW-Authenticate (RFC 6750 section 3, RFC 9728
// section 5.1). Empty strings for absent parameters.
struct BearerChallenge {
  std::string resource_metadata;
  std::string scope;
  std::string error;
};

// The Bearer challenge of a WWW-Authenticate value (which may hold several challenges,
// quoted strings with escapes, any case of "Bearer"); nullopt when it has none.
std::optional<BearerChallenge> ParseBearerChallenge(std::string_view www_authenticate);

// Where to look for the protected-resource metadata of the MCP server at `server_url`, in
// order: the challenge's URL (when given), then /.well-known/oauth-protected-resource with
// the server's path appended (when it has one), then at the root.
std::vector<std::string> ProtectedResourceMetadataUrls(std::string_view server_url,
                                                       std::string_view challenge_url);

// Where to look for the metadata of the authorization server `issuer`, in order: RFC 8414
// with path insertion, OpenID Connect with path insertion, OpenID Connect with the path
// appended (the last two are one URL for an issuer without a path).
std::vector<std::string> AuthorizationServerMetadataUrls(std::string_view issuer);

// The canonical URI of an MCP server for RFC 8707's `resource` (scheme and host in lower
// case, no fragment, no trailing slash); nullopt when `url` is not an absolute http(s) URL.
std::optional<std::string> CanonicalResourceUri(std::string_view url);

struct DiscoveryPolicy {
  // Off: every discovered URL must be https. On: http is allowed too (a test's loopback
  // authorization server); the SSRF rules of the HttpClient apply either way.
  bool allow_private_network = false;
};

struct ProtectedResourceMetadata {
  std::string resource;
  std::vector<std::string> authorization_servers;  // at least one
  std::vector<std::string> scopes_supported;
};

struct AuthorizationServerMetadata {
  std::string issuer;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string registration_endpoint;  // empty: no dynamic registration
  std::string revocation_endpoint;    // empty: none
  std::vector<std::string> scopes_supported;
  std::vector<std::string> code_challenge_methods_supported;       // includes S256
  std::vector<std::string> token_endpoint_auth_methods_supported;  // empty: not stated
  bool client_id_metadata_document_supported = false;
};

// A protected-resource metadata document fetched for the server at `server_url`. Errors
// (kBadGateway): not JSON, no authorization server, an authorization server URL that is
// not https (policy permitting http), a `resource` that is not this server or a prefix of
// its path on the same origin.
Result<ProtectedResourceMetadata> ParseProtectedResourceMetadata(std::string_view body,
                                                                 std::string_view server_url,
                                                                 const DiscoveryPolicy& policy);

// An authorization server's metadata fetched for `issuer`. Errors (kBadGateway): not JSON,
// an `issuer` other than `issuer`, no authorization or token endpoint, an endpoint that is
// not https (policy permitting http), no S256 in code_challenge_methods_supported.
Result<AuthorizationServerMetadata> ParseAuthorizationServerMetadata(std::string_view body,
                                                                     std::string_view issuer,
                                                                     const DiscoveryPolicy& policy);

// What discovery found: everything the authorization-code grant needs besides a client.
struct McpAuthorization {
  std::string resource;               // RFC 8707 `resource`, for authorization and token requests
  std::vector<std::string> scopes;    // the challenge's scope, else scopes_supported, else none
  std::string resource_metadata_url;  // where the protected-resource metadata was found
  AuthorizationServerMetadata server;
};

// Discovery for the MCP server at `server_url`. `www_authenticate` is the header of a 401
// the server gave; when empty, the server is asked first (an initialize without a token)
// for its challenge. Each URL of an order is tried until one answers 200 with a document
// that passes its checks. kBadGateway with a message saying which step failed: "… publishes
// no protected-resource metadata …", "… is not HTTPS …", "… does not support PKCE …".
Result<McpAuthorization> DiscoverMcpAuthorization(net::HttpClient& http,
                                                  std::string_view server_url,
                                                  std::string_view www_authenticate,
                                                  const DiscoveryPolicy& policy);

}  // namespace tr::auth
