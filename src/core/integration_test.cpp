// Tests for core/integration.h (the definition schema of CONTRACT section 8) and
// core/catalog.h (the shipped catalog).

#include "core/integration.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/catalog.h"

namespace tr {
namespace {

namespace json = boost::json;

// Every field of section 8, each set to a non-default value.
constexpr std::string_view kFullDefinition = R"json({
  "integrationId": "acme-crm",
  "name": "Acme CRM",
  "description": "Contacts and deals",
  "logoUrl": "https://acme.example.com/logo.svg",
  "host": "api.acme.example.com",
  "apiBaseUrl": "https://api.acme.example.com/v2",
  "authTypes": ["OAUTH2", "API_TOKEN", "AWS_ASSUME_ROLE", "GOOGLE_SERVICE_ACCOUNT_OAUTH", "NONE"],
  "oauth2": {
    "authorizationUrl": "https://auth.acme.example.com/authorize",
    "tokenUrl": "https://auth.acme.example.com/token",
    "revocationUrl": "https://auth.acme.example.com/revoke",
    "scopes": ["contacts.read", "deals.write"],
    "scopeSeparator": ",",
    "authorizationParams": {"access_type": "offline", "prompt": "consent"},
    "tokenEndpointAuthMethod": "client_secret_basic",
    "pkce": true,
    "issuer": "https://auth.acme.example.com"
  },
  "apiToken": {
    "header": "X-Api-Key",
    "prefix": "",
    "fields": [
      {"name": "token", "label": "API key", "secret": true},
      {"name": "subdomain", "label": "Subdomain", "secret": false},
      {"name": "region"}
    ],
    "verification": {
      "method": "POST",
      "url": "https://{subdomain}.acme.example.com/v1/me",
      "successStatus": 204
    }
  },
  "awsAssumeRole": {"sessionDurationSeconds": 7200},
  "googleServiceAccount": {"scopes": ["https://www.googleapis.com/auth/bigquery"],
                           "tokenUrl": "https://oauth2.acme.example.com/token"}
})json";

TEST(ParseIntegrationDefinitionTest, FullDefinition) {
  auto parsed = ParseIntegrationDefinition(kFullDefinition, "custom.json");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  const IntegrationDefinition& def = *parsed;
  EXPECT_EQ(def.integration_id, "acme-crm");
  EXPECT_EQ(def.name, "Acme CRM");
  EXPECT_EQ(def.description, "Contacts and deals");
  EXPECT_EQ(def.logo_url, "https://acme.example.com/logo.svg");
  EXPECT_EQ(def.host, "api.acme.example.com");
  EXPECT_EQ(def.api_base_url, "https://api.acme.example.com/v2");
  EXPECT_EQ(def.auth_types,
            (std::vector<AuthType>{AuthType::kOAuth2, AuthType::kApiToken, AuthType::kAwsAssumeRole,
                                   AuthType::kGoogleServiceAccount, AuthType::kNone}));
  for (AuthType t : def.auth_types) EXPECT_TRUE(def.Supports(t));

  ASSERT_TRUE(def.oauth2.has_value());
  const OAuth2Config& o = *def.oauth2;
  EXPECT_EQ(o.authorization_url, "https://auth.acme.example.com/authorize");
  EXPECT_EQ(o.token_url, "https://auth.acme.example.com/token");
  EXPECT_EQ(o.revocation_url, "https://auth.acme.example.com/revoke");
  EXPECT_EQ(o.scopes, (std::vector<std::string>{"contacts.read", "deals.write"}));
  EXPECT_EQ(o.scope_separator, ",");
  EXPECT_EQ(o.authorization_params,
            (std::map<std::string, std::string>{{"access_type", "offline"}, {"prompt", "consent"}}));
  EXPECT_EQ(o.token_endpoint_auth_method, "client_secret_basic");
  EXPECT_TRUE(o.pkce);
  EXPECT_EQ(o.issuer, "https://auth.acme.example.com");

  ASSERT_TRUE(def.api_token.has_value());
  const ApiTokenConfig& t = *def.api_token;
  EXPECT_EQ(t.header, "X-Api-Key");
  EXPECT_EQ(t.prefix, "");
  ASSERT_EQ(t.fields.size(), 3u);
  EXPECT_EQ(t.fields[0].name, "token");
  EXPECT_EQ(t.fields[0].label, "API key");
  EXPECT_TRUE(t.fields[0].secret);
  EXPECT_EQ(t.fields[1].name, "subdomain");
  EXPECT_FALSE(t.fields[1].secret);
  EXPECT_EQ(t.fields[2].name, "region");
  EXPECT_EQ(t.fields[2].label, "region");  // defaults to the name
  EXPECT_TRUE(t.fields[2].secret);         // secret unless said otherwise
  ASSERT_TRUE(t.verification.has_value());
  EXPECT_EQ(t.verification->method, "POST");
  EXPECT_EQ(t.verification->url, "https://{subdomain}.acme.example.com/v1/me");
  EXPECT_EQ(t.verification->success_status, 204);

  EXPECT_EQ(def.aws_session_duration_seconds, 7200);
  EXPECT_EQ(def.google_service_account_scopes,
            (std::vector<std::string>{"https://www.googleapis.com/auth/bigquery"}));
  EXPECT_EQ(def.google_service_account_token_url, "https://oauth2.acme.example.com/token");
}

TEST(ParseIntegrationDefinitionTest, Defaults) {
  constexpr std::string_view kMinimal = R"json({
    "integrationId": "mini",
    "name": "Mini",
    "host": "api.mini.example.com",
    "authTypes": ["OAUTH2", "API_TOKEN"],
    "oauth2": {
      "authorizationUrl": "https://mini.example.com/authorize",
      "tokenUrl": "https://mini.example.com/token"
    }
  })json";
  auto parsed = ParseIntegrationDefinition(kMinimal, "mini.json");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  const IntegrationDefinition& def = *parsed;
  EXPECT_EQ(def.api_base_url, "https://api.mini.example.com");
  EXPECT_EQ(def.description, "");
  EXPECT_EQ(def.logo_url, "");
  ASSERT_TRUE(def.oauth2.has_value());
  EXPECT_EQ(def.oauth2->scope_separator, " ");
  EXPECT_EQ(def.oauth2->token_endpoint_auth_method, "client_secret_post");
  EXPECT_FALSE(def.oauth2->pkce);
  EXPECT_EQ(def.oauth2->revocation_url, "");
  EXPECT_EQ(def.oauth2->issuer, "");
  EXPECT_TRUE(def.oauth2->scopes.empty());
  EXPECT_TRUE(def.oauth2->authorization_params.empty());

  ASSERT_TRUE(def.api_token.has_value());
  EXPECT_EQ(def.api_token->header, "Authorization");
  EXPECT_EQ(def.api_token->prefix, "Bearer ");
  ASSERT_EQ(def.api_token->fields.size(), 1u);
  EXPECT_EQ(def.api_token->fields[0].name, "token");
  EXPECT_TRUE(def.api_token->fields[0].secret);
  EXPECT_FALSE(def.api_token->verification.has_value());
  EXPECT_EQ(def.aws_session_duration_seconds, 3600);
  EXPECT_EQ(def.google_service_account_token_url, "https://oauth2.googleapis.com/token");
}

TEST(ParseIntegrationDefinitionTest, NoApiTokenConfigWithoutApiTokenAuth) {
  auto parsed = ParseIntegrationDefinition(
      R"({"integrationId": "free", "name": "Free", "host": "free.example.com",
          "authTypes": ["NONE"]})",
      "free.json");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_FALSE(parsed->api_token.has_value());
  EXPECT_FALSE(parsed->oauth2.has_value());
  EXPECT_FALSE(parsed->Supports(AuthType::kOAuth2));
}

TEST(AuthTypeTest, NamesRoundTrip) {
  for (AuthType t : {AuthType::kNone, AuthType::kApiToken, AuthType::kOAuth2,
                     AuthType::kAwsAssumeRole, AuthType::kGoogleServiceAccount}) {
    EXPECT_EQ(ParseAuthType(AuthTypeName(t)), t);
  }
  EXPECT_EQ(AuthTypeName(AuthType::kGoogleServiceAccount), "GOOGLE_SERVICE_ACCOUNT_OAUTH");
  EXPECT_FALSE(ParseAuthType("oauth2").has_value());
  EXPECT_FALSE(ParseAuthType("").has_value());
}

// A valid definition that the failure cases below break one field at a time.
json::object BaseDefinition() {
  return json::parse(R"json({
    "integrationId": "custom",
    "name": "Custom",
    "host": "api.custom.example.com",
    "authTypes": ["OAUTH2", "API_TOKEN"],
    "oauth2": {
      "authorizationUrl": "https://custom.example.com/authorize",
      "tokenUrl": "https://custom.example.com/token"
    },
    "apiToken": {
      "fields": [{"name": "token"}],
      "verification": {"url": "https://api.custom.example.com/me"}
    }
  })json")
      .as_object();
}

json::object& At(json::object& o, std::string_view key) { return o.at(key).as_object(); }

struct FailureCase {
  std::string name;
  std::function<void(json::object&)> edit;
  std::string expected_prefix;  // what the error message must start with
};

TEST(ParseIntegrationDefinitionTest, BaseDefinitionIsValid) {
  auto parsed = ParseIntegrationDefinition(json::serialize(BaseDefinition()), "custom.json");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
}

// Self-hosted services listen on their own ports (gitlab.example.com:8443).
TEST(ParseIntegrationDefinitionTest, HostMayCarryAPortThatTheDefaultApiBaseUrlKeeps) {
  for (std::string_view host : {"gitlab.example.com:8443", "gitlab.example.com:1",
                                "gitlab.example.com:65535", "127.0.0.1:8080", "localhost:443"}) {
    SCOPED_TRACE(host);
    json::object d = BaseDefinition();
    d["host"] = host;
    auto parsed = ParseIntegrationDefinition(json::serialize(d), "custom.json");
    ASSERT_TRUE(parsed.ok()) << parsed.error().message();
    EXPECT_EQ(parsed->host, host);
    EXPECT_EQ(parsed->api_base_url, "https://" + std::string(host));
  }
}

// What API_TOKEN sends is checked only when API_TOKEN is offered: a stray apiToken block of
// another kind of integration is never used, and a stored one must keep loading.
TEST(ParseIntegrationDefinitionTest, ApiTokenSendingRulesOnlyWhenApiTokenIsOffered) {
  json::object d = BaseDefinition();
  d["authTypes"] = json::array{"OAUTH2"};
  At(d, "apiToken")["fields"] = json::array{json::object{{"name", "apiKey"}}};
  At(d, "apiToken")["header"] = "";
  auto parsed = ParseIntegrationDefinition(json::serialize(d), "custom.json");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_FALSE(parsed->api_token.has_value());

  // A query parameter makes the header irrelevant.
  json::object q = BaseDefinition();
  At(q, "apiToken")["queryParam"] = "api_key";
  At(q, "apiToken")["header"] = "";
  auto query = ParseIntegrationDefinition(json::serialize(q), "custom.json");
  ASSERT_TRUE(query.ok()) << query.error().message();
  EXPECT_EQ(query->api_token->query_param, "api_key");
}

TEST(ParseIntegrationDefinitionTest, FailuresNameTheSourceAndField) {
  const FailureCase kCases[] = {
      {"missing integrationId", [](json::object& d) { d.erase("integrationId"); },
       "custom.json: integrationId:"},
      {"null integrationId", [](json::object& d) { d["integrationId"] = nullptr; },
       "custom.json: integrationId:"},
      {"integrationId not a string", [](json::object& d) { d["integrationId"] = 7; },
       "custom.json: integrationId:"},
      {"integrationId uppercase", [](json::object& d) { d["integrationId"] = "Custom"; },
       "custom.json: integrationId:"},
      {"integrationId leading dash", [](json::object& d) { d["integrationId"] = "-custom"; },
       "custom.json: integrationId:"},
      {"integrationId with slash", [](json::object& d) { d["integrationId"] = "a/b"; },
       "custom.json: integrationId:"},
      {"integrationId 65 chars", [](json::object& d) { d["integrationId"] = std::string(65, 'a'); },
       "custom.json: integrationId:"},
      {"missing name", [](json::object& d) { d.erase("name"); }, "custom.json: name:"},
      {"empty name", [](json::object& d) { d["name"] = ""; }, "custom.json: name:"},
      {"missing host", [](json::object& d) { d.erase("host"); }, "custom.json: host:"},
      {"host with scheme", [](json::object& d) { d["host"] = "https://api.custom.example.com"; },
       "custom.json: host:"},
      {"host with path", [](json::object& d) { d["host"] = "api.custom.example.com/v1"; },
       "custom.json: host:"},
      {"host with userinfo",
       [](json::object& d) { d["host"] = "user@api.custom.example.com:8443"; },
       "custom.json: host:"},
      {"host with port and path",
       [](json::object& d) { d["host"] = "api.custom.example.com:8443/v1"; }, "custom.json: host:"},
      {"host with port 0", [](json::object& d) { d["host"] = "api.custom.example.com:0"; },
       "custom.json: host:"},
      {"host with port 65536", [](json::object& d) { d["host"] = "api.custom.example.com:65536"; },
       "custom.json: host:"},
      {"host with a six-digit port",
       [](json::object& d) { d["host"] = "api.custom.example.com:100000"; }, "custom.json: host:"},
      {"host with an empty port", [](json::object& d) { d["host"] = "api.custom.example.com:"; },
       "custom.json: host:"},
      {"host with a port that is not digits",
       [](json::object& d) { d["host"] = "api.custom.example.com:84a3"; }, "custom.json: host:"},
      {"host with a signed port",
       [](json::object& d) { d["host"] = "api.custom.example.com:+843"; }, "custom.json: host:"},
      {"host with a port with a leading zero",
       [](json::object& d) { d["host"] = "api.custom.example.com:08443"; }, "custom.json: host:"},
      {"host with two ports", [](json::object& d) { d["host"] = "api.custom.example.com:1:2"; },
       "custom.json: host:"},
      {"port without a host", [](json::object& d) { d["host"] = ":8443"; }, "custom.json: host:"},
      {"host an IPv6 literal", [](json::object& d) { d["host"] = "[::1]:8443"; },
       "custom.json: host:"},
      {"host with scheme and port",
       [](json::object& d) { d["host"] = "https://api.custom.example.com:8443"; },
       "custom.json: host:"},
      {"logoUrl relative", [](json::object& d) { d["logoUrl"] = "logo.svg"; },
       "custom.json: logoUrl:"},
      {"apiBaseUrl without scheme", [](json::object& d) { d["apiBaseUrl"] = "api.example.com"; },
       "custom.json: apiBaseUrl:"},
      {"missing authTypes", [](json::object& d) { d.erase("authTypes"); },
       "custom.json: authTypes:"},
      {"empty authTypes", [](json::object& d) { d["authTypes"] = json::array(); },
       "custom.json: authTypes:"},
      {"authTypes not an array", [](json::object& d) { d["authTypes"] = "OAUTH2"; },
       "custom.json: authTypes:"},
      {"unknown auth type", [](json::object& d) { d["authTypes"] = json::array{"BASIC"}; },
       "custom.json: authTypes:"},
      {"lowercase auth type", [](json::object& d) { d["authTypes"] = json::array{"oauth2"}; },
       "custom.json: authTypes:"},
      {"duplicate auth type",
       [](json::object& d) {
         d["authTypes"] = json::array{"API_TOKEN", "OAUTH2", "API_TOKEN"};
       },
       "custom.json: authTypes:"},
      {"OAUTH2 without oauth2", [](json::object& d) { d.erase("oauth2"); }, "custom.json: oauth2:"},
      {"oauth2 not an object", [](json::object& d) { d["oauth2"] = "yes"; },
       "custom.json: oauth2:"},
      {"bad tokenUrl", [](json::object& d) { At(d, "oauth2")["tokenUrl"] = "not a url"; },
       "custom.json: oauth2.tokenUrl:"},
      {"missing tokenUrl", [](json::object& d) { At(d, "oauth2").erase("tokenUrl"); },
       "custom.json: oauth2.tokenUrl:"},
      {"ftp authorizationUrl",
       [](json::object& d) { At(d, "oauth2")["authorizationUrl"] = "ftp://custom.example.com/a"; },
       "custom.json: oauth2.authorizationUrl:"},
      {"bad revocationUrl", [](json::object& d) { At(d, "oauth2")["revocationUrl"] = "/revoke"; },
       "custom.json: oauth2.revocationUrl:"},
      {"scopes not an array", [](json::object& d) { At(d, "oauth2")["scopes"] = "a b"; },
       "custom.json: oauth2.scopes:"},
      {"scopes with a number",
       [](json::object& d) {
         At(d, "oauth2")["scopes"] = json::array{"a", 1};
       },
       "custom.json: oauth2.scopes:"},
      {"empty scopeSeparator", [](json::object& d) { At(d, "oauth2")["scopeSeparator"] = ""; },
       "custom.json: oauth2.scopeSeparator:"},
      {"pkce not a bool", [](json::object& d) { At(d, "oauth2")["pkce"] = "yes"; },
       "custom.json: oauth2.pkce:"},
      {"bad tokenEndpointAuthMethod",
       [](json::object& d) { At(d, "oauth2")["tokenEndpointAuthMethod"] = "private_key_jwt"; },
       "custom.json: oauth2.tokenEndpointAuthMethod:"},
      {"authorizationParams non-string value",
       [](json::object& d) {
         At(d, "oauth2")["authorizationParams"] = json::object{{"access_type", "offline"}, {"prompt", 1}};
       },
       "custom.json: oauth2.authorizationParams.prompt:"},
      {"authorizationParams not an object",
       [](json::object& d) { At(d, "oauth2")["authorizationParams"] = json::array{"a"}; },
       "custom.json: oauth2.authorizationParams:"},
      {"apiToken not an object", [](json::object& d) { d["apiToken"] = 1; },
       "custom.json: apiToken:"},
      {"apiToken fields empty",
       [](json::object& d) { At(d, "apiToken")["fields"] = json::array(); },
       "custom.json: apiToken.fields:"},
      {"apiToken field not an object",
       [](json::object& d) { At(d, "apiToken")["fields"] = json::array{"token"}; },
       "custom.json: apiToken.fields[0]:"},
      {"apiToken field without name",
       [](json::object& d) {
         At(d, "apiToken")["fields"] = json::array{json::object{{"label", "x"}}};
       },
       "custom.json: apiToken.fields[0].name:"},
      {"apiToken field name starts with a digit",
       [](json::object& d) {
         At(d, "apiToken")["fields"] = json::array{json::object{{"name", "1token"}}};
       },
       "custom.json: apiToken.fields[0].name:"},
      {"apiToken field name with a space",
       [](json::object& d) {
         At(d, "apiToken")["fields"] =
             json::array{json::object{{"name", "token"}}, json::object{{"name", "api key"}}};
       },
       "custom.json: apiToken.fields[1].name:"},
      {"apiToken field named authType (the credentials' own key)",
       [](json::object& d) {
         At(d, "apiToken")["fields"] =
             json::array{json::object{{"name", "token"}}, json::object{{"name", "authType"}}};
       },
       "custom.json: apiToken.fields[1].name: is reserved"},
      {"apiToken field named csrf (the form's own field)",
       [](json::object& d) {
         At(d, "apiToken")["fields"] = json::array{json::object{{"name", "csrf"}}};
       },
       "custom.json: apiToken.fields[0].name: is reserved"},
      {"apiToken duplicate field",
       [](json::object& d) {
         At(d, "apiToken")["fields"] =
             json::array{json::object{{"name", "token"}}, json::object{{"name", "token"}}};
       },
       "custom.json: apiToken.fields[1].name:"},
      {"apiToken field secret not a bool",
       [](json::object& d) {
         At(d, "apiToken")["fields"] =
             json::array{json::object{{"name", "token"}, {"secret", "no"}}};
       },
       "custom.json: apiToken.fields[0].secret:"},
      {"apiToken fields without the token field",
       [](json::object& d) {
         At(d, "apiToken")["fields"] = json::array{json::object{{"name", "apiKey"}}};
       },
       "custom.json: apiToken.fields: must include the field \"token\""},
      {"apiToken fields without the token field, two others",
       [](json::object& d) {
         At(d, "apiToken")["fields"] =
             json::array{json::object{{"name", "subdomain"}}, json::object{{"name", "key"}}};
       },
       "custom.json: apiToken.fields: must include the field \"token\""},
      {"apiToken empty header", [](json::object& d) { At(d, "apiToken")["header"] = ""; },
       "custom.json: apiToken.header:"},
      {"apiToken header with a space",
       [](json::object& d) { At(d, "apiToken")["header"] = "X Api Key"; },
       "custom.json: apiToken.header:"},
      {"apiToken header with a colon",
       [](json::object& d) { At(d, "apiToken")["header"] = "X-Key: injected"; },
       "custom.json: apiToken.header:"},
      {"apiToken header with CR LF",
       [](json::object& d) { At(d, "apiToken")["header"] = "X-Key\r\nX-Injected"; },
       "custom.json: apiToken.header:"},
      {"apiToken header not ASCII",
       [](json::object& d) { At(d, "apiToken")["header"] = "X-Cl\xc3\xa9"; },
       "custom.json: apiToken.header:"},
      {"apiToken empty queryParam", [](json::object& d) { At(d, "apiToken")["queryParam"] = ""; },
       "custom.json: apiToken.queryParam:"},
      {"apiToken prefix with CR LF",
       [](json::object& d) { At(d, "apiToken")["prefix"] = "Bearer\r\nX-Injected: 1\r\n"; },
       "custom.json: apiToken.prefix:"},
      {"apiToken prefix with NUL",
       [](json::object& d) { At(d, "apiToken")["prefix"] = std::string("Bearer\0", 7); },
       "custom.json: apiToken.prefix:"},
      {"verification with bad method",
       [](json::object& d) { At(At(d, "apiToken"), "verification")["method"] = "DELETE"; },
       "custom.json: apiToken.verification.method:"},
      {"verification without url",
       [](json::object& d) { At(At(d, "apiToken"), "verification").erase("url"); },
       "custom.json: apiToken.verification.url:"},
      {"verification with relative url",
       [](json::object& d) { At(At(d, "apiToken"), "verification")["url"] = "/me"; },
       "custom.json: apiToken.verification.url:"},
      {"verification successStatus out of range",
       [](json::object& d) { At(At(d, "apiToken"), "verification")["successStatus"] = 42; },
       "custom.json: apiToken.verification.successStatus:"},
      {"GOOGLE_SERVICE_ACCOUNT_OAUTH without scopes",
       [](json::object& d) {
         d["authTypes"].as_array().emplace_back("GOOGLE_SERVICE_ACCOUNT_OAUTH");
       },
       "custom.json: googleServiceAccount.scopes:"},
      {"GOOGLE_SERVICE_ACCOUNT_OAUTH with empty scopes",
       [](json::object& d) {
         d["authTypes"].as_array().emplace_back("GOOGLE_SERVICE_ACCOUNT_OAUTH");
         d["googleServiceAccount"] = json::object{{"scopes", json::array()}};
       },
       "custom.json: googleServiceAccount.scopes:"},
      {"googleServiceAccount tokenUrl relative",
       [](json::object& d) {
         d["googleServiceAccount"] =
             json::object{{"scopes", json::array{"s"}}, {"tokenUrl", "/token"}};
       },
       "custom.json: googleServiceAccount.tokenUrl:"},
      {"googleServiceAccount tokenUrl empty",
       [](json::object& d) {
         d["googleServiceAccount"] = json::object{{"scopes", json::array{"s"}}, {"tokenUrl", ""}};
       },
       "custom.json: googleServiceAccount.tokenUrl:"},
      {"googleServiceAccount tokenUrl not a string",
       [](json::object& d) {
         d["googleServiceAccount"] = json::object{{"scopes", json::array{"s"}}, {"tokenUrl", 7}};
       },
       "custom.json: googleServiceAccount.tokenUrl:"},
      {"awsAssumeRole duration below 900",
       [](json::object& d) {
         d["awsAssumeRole"] = json::object{{"sessionDurationSeconds", 899}};
       },
       "custom.json: awsAssumeRole.sessionDurationSeconds:"},
      {"awsAssumeRole duration above 43200",
       [](json::object& d) {
         d["awsAssumeRole"] = json::object{{"sessionDurationSeconds", 43201}};
       },
       "custom.json: awsAssumeRole.sessionDurationSeconds:"},
      {"awsAssumeRole duration above INT64_MAX (a uint64 to Boost.JSON)",
       [](json::object& d) {
         d["awsAssumeRole"] = json::object{{"sessionDurationSeconds", UINT64_MAX}};
       },
       "custom.json: awsAssumeRole.sessionDurationSeconds:"},
      {"awsAssumeRole duration not an integer",
       [](json::object& d) {
         d["awsAssumeRole"] = json::object{{"sessionDurationSeconds", "3600"}};
       },
       "custom.json: awsAssumeRole.sessionDurationSeconds:"},
      {"awsAssumeRole duration a fraction",
       [](json::object& d) {
         d["awsAssumeRole"] = json::object{{"sessionDurationSeconds", 1800.5}};
       },
       "custom.json: awsAssumeRole.sessionDurationSeconds:"},
  };
  for (const FailureCase& c : kCases) {
    SCOPED_TRACE(c.name);
    json::object def = BaseDefinition();
    c.edit(def);
    auto parsed = ParseIntegrationDefinition(json::serialize(def), "custom.json");
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, Errc::kInvalidArgument);
    EXPECT_TRUE(parsed.error().message().starts_with(c.expected_prefix))
        << parsed.error().message();
  }
}

TEST(ParseIntegrationDefinitionTest, NotJsonOrNotAnObjectNamesTheSource) {
  for (std::string_view text : {"", "{", "not json", "{\"integrationId\": }", "[1, 2]", "\"x\"", "42"}) {
    SCOPED_TRACE(text);
    auto parsed = ParseIntegrationDefinition(text, "custom.json");
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, Errc::kInvalidArgument);
    EXPECT_TRUE(parsed.error().message().starts_with("custom.json: ")) << parsed.error().message();
  }
}

std::string EmbeddedFileText(std::string_view name) {
  for (const EmbeddedFile* f = kEmbeddedCatalog; f->name != nullptr; ++f) {
    if (name == f->name) return f->contents;
  }
  ADD_FAILURE() << "no embedded file " << name;
  return "";
}

TEST(CatalogTest, LoadEmbeddedHasTheExpectedEntries) {
  auto catalog = Catalog::LoadEmbedded();
  ASSERT_TRUE(catalog.ok()) << catalog.error().message();

  const struct {
    std::string_view id;
    AuthType auth_type;  // one type it must support
  } kExpected[] = {
      {"google-calendar", AuthType::kOAuth2},
      {"github", AuthType::kOAuth2},
      {"github", AuthType::kApiToken},
      {"slack", AuthType::kOAuth2},
      {"stripe", AuthType::kApiToken},
      {"openai", AuthType::kApiToken},
      {"aws", AuthType::kAwsAssumeRole},
      {"google-bigquery", AuthType::kGoogleServiceAccount},
  };
  for (const auto& e : kExpected) {
    SCOPED_TRACE(e.id);
    auto def = catalog->Find(e.id);
    ASSERT_NE(def, nullptr);
    EXPECT_EQ(def->integration_id, e.id);
    EXPECT_FALSE(def->name.empty());
    EXPECT_TRUE(def->Supports(e.auth_type));
  }
  EXPECT_EQ(catalog->Find("stripe")->auth_types.front(), AuthType::kApiToken);
  EXPECT_EQ(catalog->Find("aws")->auth_types.front(), AuthType::kAwsAssumeRole);
  EXPECT_FALSE(catalog->Find("google-bigquery")->google_service_account_scopes.empty());
  ASSERT_TRUE(catalog->Find("google-calendar")->oauth2.has_value());
  EXPECT_EQ(catalog->Find("google-calendar")->oauth2->token_url,
            "https://oauth2.googleapis.com/token");
  EXPECT_EQ(catalog->Find("no-such-integration"), nullptr);

  std::vector<const IntegrationDefinition*> all = catalog->All();
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end(), [](const auto* a, const auto* b) {
    return a->integration_id < b->integration_id;
  }));
  EXPECT_TRUE(std::any_of(all.begin(), all.end(), [](const IntegrationDefinition* d) {
    return d->auth_types.front() == AuthType::kNone;
  }));
  size_t embedded_files = 0;
  for (const EmbeddedFile* f = kEmbeddedCatalog; f->name != nullptr; ++f) {
    // Files under catalog/openapi/ are documents that definitions name, not definitions.
    if (!std::string_view(f->name).starts_with("catalog/openapi/")) ++embedded_files;
  }
  EXPECT_EQ(all.size(), embedded_files);
}

TEST(CatalogTest, LoadRejectsAFileNamedAfterAnotherId) {
  // gitlab.json names no OpenAPI file (Load without a folder reads none).
  std::string gitlab = EmbeddedFileText("catalog/gitlab.json");
  auto catalog = Catalog::Load({{"catalog/github.json", gitlab}});
  ASSERT_FALSE(catalog.ok());
  EXPECT_EQ(catalog.error().code, Errc::kInvalidArgument);
  EXPECT_TRUE(catalog.error().message().starts_with("catalog/github.json: integrationId:"))
      << catalog.error().message();

  auto fine = Catalog::Load({{"catalog/gitlab.json", gitlab}});
  ASSERT_TRUE(fine.ok()) << fine.error().message();
  EXPECT_NE(fine->Find("gitlab"), nullptr);
}

TEST(CatalogTest, LoadNamesTheBadFile) {
  auto catalog = Catalog::Load({{"catalog/gitlab.json", EmbeddedFileText("catalog/gitlab.json")},
                                {"catalog/broken.json", "{\"integrationId\": \"broken\"}"}});
  ASSERT_FALSE(catalog.ok());
  EXPECT_TRUE(catalog.error().message().starts_with("catalog/broken.json: name:"))
      << catalog.error().message();
}

// The catalog goes through the same parser: an API_TOKEN entry that would send no
// credential stops the load, naming the file and the field.
TEST(CatalogTest, LoadRefusesAnApiTokenEntryThatSendsNothing) {
  auto catalog = Catalog::Load(
      {{"catalog/gitlab.json", EmbeddedFileText("catalog/gitlab.json")},
       {"catalog/no-token.json",
        R"({"integrationId": "no-token", "name": "No token", "host": "api.example.com",
            "authTypes": ["API_TOKEN"],
            "apiToken": {"header": "X-Key", "fields": [{"name": "key"}]}})"}});
  ASSERT_FALSE(catalog.ok());
  EXPECT_TRUE(catalog.error().message().starts_with("catalog/no-token.json: apiToken.fields:"))
      << catalog.error().message();
}

TEST(CatalogTest, LoadDirectoryReadsOnlyJsonFiles) {
  std::string tmpl = (std::filesystem::path(testing::TempDir()) / "catalog_XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path dir = tmpl;
  std::ofstream(dir / "gitlab.json") << EmbeddedFileText("catalog/gitlab.json");
  std::ofstream(dir / "README.md") << "not a definition";
  auto catalog = Catalog::LoadDirectory(dir.string());
  std::ofstream(dir / "stray.json") << "{";
  auto broken = Catalog::LoadDirectory(dir.string());
  auto missing = Catalog::LoadDirectory((dir / "absent").string());
  std::filesystem::remove_all(dir);

  ASSERT_TRUE(catalog.ok()) << catalog.error().message();
  EXPECT_EQ(catalog->All().size(), 1u);
  EXPECT_NE(catalog->Find("gitlab"), nullptr);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message().find("stray.json"), std::string::npos);
  EXPECT_FALSE(missing.ok());
}

// A --catalog folder: definitions name OpenAPI documents under openapi/, read from disk.
TEST(CatalogTest, LoadDirectoryReadsToolsDocumentsUnderOpenApi) {
  std::string tmpl = (std::filesystem::path(testing::TempDir()) / "catalog_XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path dir = tmpl;
  std::filesystem::create_directory(dir / "openapi");
  std::ofstream(dir / "open-meteo.json") << EmbeddedFileText("catalog/open-meteo.json");
  std::ofstream(dir / "openapi" / "open-meteo.yaml")
      << EmbeddedFileText("catalog/openapi/open-meteo.yaml");
  auto catalog = Catalog::LoadDirectory(dir.string());
  std::filesystem::remove(dir / "openapi" / "open-meteo.yaml");
  auto without = Catalog::LoadDirectory(dir.string());
  std::filesystem::remove_all(dir);

  ASSERT_TRUE(catalog.ok()) << catalog.error().message();
  auto def = catalog->Find("open-meteo");
  ASSERT_TRUE(def && def->tools);
  EXPECT_EQ(def->tools->tools.at(0).name, "open-meteo_forecast");
  ASSERT_FALSE(without.ok());
  EXPECT_NE(without.error().message().find("open-meteo.json: tools.openapi: "
                                           "openapi/open-meteo.yaml: cannot be read"),
            std::string::npos)
      << without.error().message();
}

}  // namespace
}  // namespace tr

namespace tr {
namespace {

// A placeholder for a definition that is gone or no longer parses carries only its auth
// types: nothing may connect or mint credentials through it.
TEST(IntegrationDefinitionTest, ConfiguredOnlyWithTheSettingsItsAuthTypeNeeds) {
  IntegrationDefinition placeholder;
  placeholder.auth_types = {AuthType::kOAuth2, AuthType::kApiToken,
                            AuthType::kGoogleServiceAccount, AuthType::kNone,
                            AuthType::kAwsAssumeRole};
  EXPECT_FALSE(placeholder.Configured(AuthType::kOAuth2));
  EXPECT_FALSE(placeholder.Configured(AuthType::kApiToken));
  EXPECT_FALSE(placeholder.Configured(AuthType::kGoogleServiceAccount));
  EXPECT_TRUE(placeholder.Configured(AuthType::kNone));
  EXPECT_TRUE(placeholder.Configured(AuthType::kAwsAssumeRole));

  IntegrationDefinition full = placeholder;
  full.oauth2.emplace();
  full.api_token.emplace();
  full.google_service_account_scopes = {"https://www.googleapis.com/auth/calendar"};
  EXPECT_TRUE(full.Configured(AuthType::kOAuth2));
  EXPECT_TRUE(full.Configured(AuthType::kApiToken));
  EXPECT_TRUE(full.Configured(AuthType::kGoogleServiceAccount));
}

// A remote MCP server (CONTRACT section 11): the URL gives host and apiBaseUrl, OAUTH2 may
// come without endpoints (they are discovered), API_TOKEN defaults to a Bearer header.
TEST(ParseIntegrationDefinitionTest, McpServerDefinitions) {
  auto oauth = ParseIntegrationDefinition(R"json({
    "integrationId": "linear-mcp", "name": "Linear MCP",
    "mcp": {"url": "https://mcp.linear.app/mcp"}, "authTypes": ["OAUTH2"]})json",
                                          "linear-mcp.json");
  ASSERT_TRUE(oauth.ok()) << oauth.error().message();
  ASSERT_TRUE(oauth->mcp.has_value());
  EXPECT_EQ(oauth->mcp->url, "https://mcp.linear.app/mcp");
  EXPECT_EQ(oauth->host, "mcp.linear.app");
  EXPECT_EQ(oauth->api_base_url, "https://mcp.linear.app/mcp");
  EXPECT_FALSE(oauth->oauth2.has_value());
  EXPECT_TRUE(oauth->Configured(AuthType::kOAuth2));  // its endpoints are discovered
  EXPECT_FALSE(oauth->oauth2.has_value());

  auto token = ParseIntegrationDefinition(R"json({
    "integrationId": "local", "name": "Local", "host": "mcp.example.com",
    "apiBaseUrl": "https://mcp.example.com/base",
    "mcp": {"url": "http://127.0.0.1:3001/mcp"}, "authTypes": ["API_TOKEN", "NONE"]})json",
                                          "local.json");
  ASSERT_TRUE(token.ok()) << token.error().message();
  EXPECT_EQ(token->host, "mcp.example.com");
  EXPECT_EQ(token->api_base_url, "https://mcp.example.com/base");
  EXPECT_EQ(token->api_token->header, "Authorization");
  EXPECT_EQ(token->api_token->prefix, "Bearer ");

  for (std::string_view url : {"http://localhost:8080/mcp", "http://[::1]:9/mcp"}) {
    json::object d{{"integrationId", "x"}, {"name", "X"}, {"authTypes", json::array{"NONE"}},
                   {"mcp", {{"url", url}}}};
    auto parsed = ParseIntegrationDefinition(json::serialize(d), "x.json");
    ASSERT_TRUE(parsed.ok()) << url << ": " << parsed.error().message();
    EXPECT_EQ(parsed->api_base_url, url);
  }
}

TEST(ParseIntegrationDefinitionTest, McpServerFailures) {
  const struct {
    std::string_view json;
    std::string_view expected;
  } kCases[] = {
      {R"({"integrationId":"x","name":"X","authTypes":["NONE"],"mcp":{}})",
       "x.json: mcp.url: is required"},
      {R"({"integrationId":"x","name":"X","authTypes":["NONE"],"mcp":"https://a.example/mcp"})",
       "x.json: mcp: must be an object"},
      {R"({"integrationId":"x","name":"X","authTypes":["NONE"],"mcp":{"url":"http://mcp.example.com/mcp"}})",
       "x.json: mcp.url: must be https (plain http only to a loopback address)"},
      {R"({"integrationId":"x","name":"X","authTypes":["NONE"],"mcp":{"url":"http://10.0.0.1/mcp"}})",
       "x.json: mcp.url: must be https"},
      {R"({"integrationId":"x","name":"X","authTypes":["NONE"],"mcp":{"url":"ftp://a.example/mcp"}})",
       "x.json: mcp.url: must be an absolute http(s) URL"},
      {R"({"integrationId":"x","name":"X","authTypes":["NONE"],"mcp":{"url":"https://a.example/mcp?key=1"}})",
       "x.json: mcp.url: must not carry a query or a user"},
      {R"({"integrationId":"x","name":"X","authTypes":["AWS_ASSUME_ROLE"],"mcp":{"url":"https://a.example/mcp"}})",
       "x.json: authTypes: must contain only NONE, API_TOKEN and OAUTH2 for an MCP server"},
      {R"({"integrationId":"x","name":"X","authTypes":["OAUTH2"]})",
       "x.json: host: is required"},
  };
  for (const auto& c : kCases) {
    auto parsed = ParseIntegrationDefinition(c.json, "x.json");
    ASSERT_FALSE(parsed.ok()) << c.json;
    EXPECT_TRUE(parsed.error().message().starts_with(c.expected))
        << c.json << " -> " << parsed.error().message();
  }
}

// Issue 17: at least 8 real remote MCP servers, each with its https URL.
TEST(CatalogTest, ShipsRemoteMcpServers) {
  auto catalog = Catalog::LoadEmbedded();
  ASSERT_TRUE(catalog.ok()) << catalog.error().message();
  size_t servers = 0;
  for (const IntegrationDefinition* def : catalog->All()) {
    if (!def->mcp) continue;
    ++servers;
    EXPECT_TRUE(def->mcp->url.starts_with("https://")) << def->integration_id;
    EXPECT_EQ(def->api_base_url, def->mcp->url) << def->integration_id;
  }
  EXPECT_GE(servers, 8u);
  ASSERT_NE(catalog->Find("linear-mcp"), nullptr);
  EXPECT_EQ(catalog->Find("linear-mcp")->mcp->url, "https://mcp.linear.app/mcp");
  EXPECT_EQ(catalog->Find("github-mcp")->auth_types.front(), AuthType::kApiToken);
}

}  // namespace
}  // namespace tr
