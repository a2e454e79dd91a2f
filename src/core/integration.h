// An integration definition: what the service knows about a provider (CONTRACT section 8).
// Catalog entries and custom integrations share this type and its parser. Immutable values.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace tr {

enum class AuthType { kNone, kApiToken, kOAuth2, kAwsAssumeRole, kGoogleServiceAccount };

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
};

struct ApiTokenField {
  std::string name;
  std::string label;
  bool secret = true;
};

struct ApiTokenConfig {
  std::string header = "Authorization";
  std::string prefix = "Bearer ";
  std::string query_param;  // set: the token goes in this query parameter instead
  std::vector<ApiTokenField> fields{{"token", "API token", true}};
  struct Verification {
    std::string method;
    std::string url;  // may contain {fieldName}
    int success_status = 200;
  };
  std::optional<Verification> verification;
};

struct IntegrationDefinition {
  std::string integration_id;
  std::string name;
  std::string description;  // empty: unknown
  std::string logo_url;     // empty: unknown
  std::string host;
  std::string api_base_url;  // defaults to https://<host>
  std::vector<AuthType> auth_types;
  std::optional<OAuth2Config> oauth2;
  std::optional<ApiTokenConfig> api_token;
  int aws_session_duration_seconds = 3600;
  std::vector<std::string> google_service_account_scopes;

  bool Supports(AuthType type) const;
};

// Parses and checks one definition. `source` names it in errors ("catalog/github.json").
// Error messages read "<source>: <field>: <problem>".
Result<IntegrationDefinition> ParseIntegrationDefinition(std::string_view json_text,
                                                         std::string_view source);

}  // namespace tr
