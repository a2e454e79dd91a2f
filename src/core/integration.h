// An integration definition: what the service knows about a provider (CONTRACT section 8).
// Catalog entries and custom integrations share this type and its parser. Immutable values.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/integration_tools.h"
#include "core/result.h"
#include "tools/tool.h"

namespace tr {

enum class AuthType { kNone, kApiToken, kOAuth2, kAwsAssumeRole, kGoogleServiceAccount };

// Google's token endpoint: the token URL of GOOGLE_SERVICE_ACCOUNT_OAUTH unless a definition
// declares another.
inline constexpr std::string_view kDefaultGoogleTokenUrl = "https://oauth2.googleapis.com/token";

std::string_view AuthTypeName(AuthType type);
std::optional<AuthType> ParseAuthType(std::string_view name);

struct OAuth2Config {
  std::string authorization_url;
  std::string token_url;
  std::string revocation_url;  // empty: none
  std::vector<std::string> scopes;
  std::string scope_separator = " ";
  std::map<std::string, std::string> authorization_params;
  std::string token_endpoint_auth_method = "client_secret_post";
  bool pkce = false;
  std::string issuer;  // empty: none
  // RFC 8707 resource indicator, sent on the authorization, code exchange and refresh
  // requests when set: a remote MCP server's canonical URI (discovered, never from a file).
  std::string resource;
};

struct ApiTokenField {
  std::string name;
  std::string label;
  bool secret = true;
};

// What API_TOKEN sends: the value of the field "token" (always among `fields` when the
// integration offers API_TOKEN), as `header: prefix+token` or in the query parameter.
struct ApiTokenConfig {
  std::string header = "Authorization";  // an HTTP field name; used when query_param is empty
  std::string prefix = "Bearer ";        // no control characters
  std::string query_param;  // set: the token goes in this query parameter instead
  std::vector<ApiTokenField> fields{{"token", "API token", true}};
  struct Verification {
    std::string method;
    std::string url;  // may contain {fieldName}
    int success_status = 200;
  };
  std::optional<Verification> verification;
};

// A remote MCP server as the integration (CONTRACT section 11): its Streamable HTTP
// endpoint. https, or http to a loopback address (which only the private-network setting
// lets the service reach).
struct McpConfig {
  std::string url;
  // The definition's `tools` object (include, exclude, names), applied to the server's
  // tools/list (core/mcp_upstreams.h).
  tools::ToolSelection tools;
};

struct IntegrationDefinition {
  std::string integration_id;
  std::string name;
  std::string description;  // empty: unknown
  std::string logo_url;     // empty: unknown
  std::string host;         // a host name or IPv4 address, with an optional ":port"
  std::string api_base_url;  // defaults to https://<host>
  std::vector<AuthType> auth_types;
  std::optional<OAuth2Config> oauth2;
  std::optional<ApiTokenConfig> api_token;
  int aws_session_duration_seconds = 3600;
  std::vector<std::string> google_service_account_scopes;
  // The only token endpoint a GOOGLE_SERVICE_ACCOUNT_OAUTH key may name (its token_uri):
  // googleServiceAccount.tokenUrl, else Google's.
  std::string google_service_account_token_url{kDefaultGoogleTokenUrl};
  // The tools its `tools` object defines (CONTRACT section 10); null: none.
  std::shared_ptr<const tools::ToolSet> tools;
  // Set for a remote MCP server. Its auth types are NONE, API_TOKEN and OAUTH2; OAUTH2 may
  // come without `oauth2` endpoints: they are discovered when a user connects
  // (core/oauth_clients.h); host and apiBaseUrl default from its URL.
  std::optional<McpConfig> mcp;

  bool Supports(AuthType type) const;
  // Whether the settings `type` needs are here (oauth2 for OAUTH2, apiToken for API_TOKEN,
  // scopes for a Google service account). A placeholder for a definition that is gone, or
  // no longer parses, has none: nothing may connect or mint credentials through it.
  bool Configured(AuthType type) const;
};

// Parses and checks one definition. `source` names it in errors ("catalog/github.json").
// Error messages read "<source>: <field>: <problem>". Besides the types of CONTRACT
// section 8: `host` is a host name or IPv4 address with an optional port (1-65535), nothing
// else; an integration offering API_TOKEN declares the field "token" (what it sends) and a
// valid header name or a non-empty query parameter, and a prefix without control characters.
// `tools` (core/integration_tools.h) is read here, once: a definition's ToolSet is built when
// it is parsed. `loader` reads a tools.openapi given as a path; without one, paths are refused.
Result<IntegrationDefinition> ParseIntegrationDefinition(std::string_view json_text,
                                                         std::string_view source,
                                                         const DefinitionFileLoader& loader = {});

}  // namespace tr
