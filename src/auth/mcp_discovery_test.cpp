#include "auth/mcp_discovery.h"

#include <gtest/gtest.h>

#include <map>

#include <boost/json/parse.hpp>

#include "auth/mcp_registration.h"
#include "auth/oauth2.h"

namespace tr::auth {
namespace {

namespace json = boost::json;

// Answers by URL; everything else 404. Records what was asked.
class FakeWeb final : public net::HttpClient {
 public:
  std::map<std::string, net::HttpResult> pages;
  std::vector<net::HttpCall> calls;

  Result<net::HttpResult> Send(const net::HttpCall& call) override {
    calls.push_back(call);
    auto it = pages.find(call.url);
    if (it == pages.end()) return net::HttpResult{404, {}, "not found"};
    return it->second;
  }
  void Json(const std::string& url, const std::string& body) { pages[url] = {200, {}, body}; }
};

constexpr char kServer[] = "https://mcp.example.com/mcp";
constexpr char kAsMetadata[] = R"({
  "issuer": "https://auth.example.com",
  "authorization_endpoint": "https://auth.example.com/authorize",
  "token_endpoint": "https://auth.example.com/token",
  "registration_endpoint": "https://auth.example.com/register",
  "code_challenge_methods_supported": ["S256"],
  "scopes_supported": ["read", "write"]
})";

TEST(McpDiscovery, ParsesBearerChallenges) {
  auto c = ParseBearerChallenge(
      R"(Basic realm="x", Bearer error="invalid_token", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource", scope="files:read files:write")");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->resource_metadata, "https://mcp.example.com/.well-known/oauth-protected-resource");
  EXPECT_EQ(c->scope, "files:read files:write");
  EXPECT_EQ(c->error, "invalid_token");

  auto bare =
      ParseBearerChallenge(R"(bearer resource_metadata=https://a.example/m, scope="a \"b\"")");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->resource_metadata, "https://a.example/m");
  EXPECT_EQ(bare->scope, "a \"b\"");
  EXPECT_FALSE(ParseBearerChallenge(R"(Basic realm="x")"));
  EXPECT_FALSE(ParseBearerChallenge(""));
}

TEST(McpDiscovery, MetadataUrlOrders) {
  EXPECT_EQ(ProtectedResourceMetadataUrls("https://MCP.example.com:443/public/mcp/", ""),
            (std::vector<std::string>{
                "https://mcp.example.com/.well-known/oauth-protected-resource/public/mcp",
                "https://mcp.example.com/.well-known/oauth-protected-resource"}));
  EXPECT_EQ(
      ProtectedResourceMetadataUrls("https://mcp.example.com", "https://x.example/prm"),
      (std::vector<std::string>{"https://x.example/prm",
                                "https://mcp.example.com/.well-known/oauth-protected-resource"}));
  EXPECT_EQ(AuthorizationServerMetadataUrls("https://auth.example.com/tenant1"),
            (std::vector<std::string>{
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration"}));
  EXPECT_EQ(
      AuthorizationServerMetadataUrls("https://auth.example.com/"),
      (std::vector<std::string>{"https://auth.example.com/.well-known/oauth-authorization-server",
                                "https://auth.example.com/.well-known/openid-configuration"}));
  EXPECT_EQ(CanonicalResourceUri("HTTPS://Mcp.Example.com/mcp/#x"), "https://mcp.example.com/mcp");
}

TEST(McpDiscovery, FollowsTheChallengeToTheAuthorizationServer) {
  FakeWeb web;
  web.pages[kServer] = {
      401,
      {{"www-authenticate",
        R"(Bearer resource_metadata="https://mcp.example.com/prm", scope="read")"}},
      ""};
  web.Json(
      "https://mcp.example.com/prm",
      R"({"resource": "https://mcp.example.com/mcp", "authorization_servers": ["https://auth.example.com"], "scopes_supported": ["read", "write"]})");
  web.Json("https://auth.example.com/.well-known/oauth-authorization-server", kAsMetadata);
  auto found = DiscoverMcpAuthorization(web, kServer, "", {});
  ASSERT_TRUE(found.ok()) << found.error().message();
  EXPECT_EQ(found->resource, "https://mcp.example.com/mcp");
  EXPECT_EQ(found->scopes, std::vector<std::string>{"read"});  // the challenge's, not all
  EXPECT_EQ(found->resource_metadata_url, "https://mcp.example.com/prm");
  EXPECT_EQ(found->server.token_endpoint, "https://auth.example.com/token");
  EXPECT_EQ(web.calls[0].method, "POST");  // the probe for the challenge
}

TEST(McpDiscovery, FallsBackToWellKnownUrlsAndOpenIdConnect) {
  FakeWeb web;
  web.Json(
      "https://mcp.example.com/.well-known/oauth-protected-resource",
      R"({"resource": "https://mcp.example.com", "authorization_servers": ["https://auth.example.com/t1"], "scopes_supported": ["a", "b"]})");
  std::string oidc = R"({"issuer": "https://auth.example.com/t1",
      "authorization_endpoint": "https://auth.example.com/t1/auth",
      "token_endpoint": "https://auth.example.com/t1/token",
      "code_challenge_methods_supported": ["plain", "S256"]})";
  web.Json("https://auth.example.com/t1/.well-known/openid-configuration", oidc);
  auto found = DiscoverMcpAuthorization(web, kServer, "Bearer", {});
  ASSERT_TRUE(found.ok()) << found.error().message();
  EXPECT_EQ(found->resource, "https://mcp.example.com");
  EXPECT_EQ(found->scopes, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(found->server.authorization_endpoint, "https://auth.example.com/t1/auth");
  std::vector<std::string> urls;
  for (const auto& call : web.calls) urls.push_back(call.url);
  EXPECT_EQ(urls, (std::vector<std::string>{
                      "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
                      "https://mcp.example.com/.well-known/oauth-protected-resource",
                      "https://auth.example.com/.well-known/oauth-authorization-server/t1",
                      "https://auth.example.com/.well-known/openid-configuration/t1",
                      "https://auth.example.com/t1/.well-known/openid-configuration"}));
}

TEST(McpDiscovery, EachFailureSaysWhat) {
  struct Case {
    std::string name;
    std::string prm;  // "" : none published
    std::string as;   // at https://auth.example.com/.well-known/oauth-authorization-server
    bool allow_private;
    std::string expected;  // a part of the message
  };
  const std::string prm_ok =
      R"({"resource": "https://mcp.example.com/mcp", "authorization_servers": ["https://auth.example.com"]})";
  std::vector<Case> cases = {
      {"no metadata", "", "", false, "publishes no protected-resource metadata (RFC 9728)"},
      {"http AS",
       R"({"resource": "https://mcp.example.com/mcp", "authorization_servers": ["http://auth.example.com"]})",
       "", false, "the authorization server http://auth.example.com is not HTTPS"},
      {"wrong resource",
       R"({"resource": "https://other.example.com/mcp", "authorization_servers": ["https://auth.example.com"]})",
       "", false, "is for the resource https://other.example.com/mcp, not for"},
      {"sibling path",
       R"({"resource": "https://mcp.example.com/mc", "authorization_servers": ["https://auth.example.com"]})",
       "", false, "not for"},
      {"no AS metadata", prm_ok, "", false, "publishes no metadata (RFC 8414 or OpenID Connect"},
      {"no PKCE", prm_ok,
       R"({"issuer": "https://auth.example.com", "authorization_endpoint": "https://auth.example.com/a", "token_endpoint": "https://auth.example.com/t"})",
       false, "does not support PKCE with S256"},
      {"issuer mismatch", prm_ok,
       R"({"issuer": "https://evil.example.com", "authorization_endpoint": "https://auth.example.com/a", "token_endpoint": "https://auth.example.com/t", "code_challenge_methods_supported": ["S256"]})",
       false, "names the issuer \"https://evil.example.com\""},
      {"http endpoint", prm_ok,
       R"({"issuer": "https://auth.example.com", "authorization_endpoint": "http://auth.example.com/a", "token_endpoint": "https://auth.example.com/t", "code_challenge_methods_supported": ["S256"]})",
       false, "endpoint http://auth.example.com/a is not HTTPS"},
  };
  for (const Case& c : cases) {
    FakeWeb web;
    if (!c.prm.empty())
      web.Json("https://mcp.example.com/.well-known/oauth-protected-resource", c.prm);
    if (!c.as.empty())
      web.Json("https://auth.example.com/.well-known/oauth-authorization-server", c.as);
    auto found = DiscoverMcpAuthorization(web, kServer, "Bearer", {c.allow_private});
    ASSERT_FALSE(found.ok()) << c.name;
    EXPECT_EQ(found.error().code, Errc::kBadGateway) << c.name;
    EXPECT_NE(found.error().message().find(c.expected), std::string::npos)
        << c.name << ": " << found.error().message();
  }
}

TEST(McpDiscovery, AllowsHttpOnlyWithPrivateNetworks) {
  FakeWeb web;
  web.Json(
      "http://127.0.0.1:9/.well-known/oauth-protected-resource",
      R"({"resource": "http://127.0.0.1:9/mcp", "authorization_servers": ["http://127.0.0.1:8"]})");
  web.Json(
      "http://127.0.0.1:8/.well-known/oauth-authorization-server",
      R"({"issuer": "http://127.0.0.1:8/", "authorization_endpoint": "http://127.0.0.1:8/a", "token_endpoint": "http://127.0.0.1:8/t", "code_challenge_methods_supported": ["S256"]})");
  EXPECT_TRUE(DiscoverMcpAuthorization(web, "http://127.0.0.1:9/mcp", "Bearer", {true}).ok());
  EXPECT_FALSE(DiscoverMcpAuthorization(web, "http://127.0.0.1:9/mcp", "Bearer", {false}).ok());
}

TEST(McpRegistration, ChoosesInTheSpecificationsOrder) {
  AuthorizationServerMetadata as;
  as.issuer = "https://auth.example.com";
  EXPECT_EQ(*ChooseRegistration(true, as, "https://tr.example.com"),
            RegistrationMethod::kPreRegistered);
  auto none = ChooseRegistration(false, as, "https://tr.example.com");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message().find("give a client id"), std::string::npos);
  as.registration_endpoint = "https://auth.example.com/register";
  EXPECT_EQ(*ChooseRegistration(false, as, "https://tr.example.com"), RegistrationMethod::kDynamic);
  as.client_id_metadata_document_supported = true;
  EXPECT_EQ(*ChooseRegistration(false, as, "https://tr.example.com"),
            RegistrationMethod::kClientIdMetadataDocument);
  // A document on plain http cannot be a client id.
  EXPECT_EQ(*ChooseRegistration(false, as, "http://localhost:8080"), RegistrationMethod::kDynamic);
}

TEST(McpRegistration, BuildsTheRequestAndTheDocument) {
  AuthorizationServerMetadata as;
  as.registration_endpoint = "https://auth.example.com/register";
  as.token_endpoint_auth_methods_supported = {"none", "client_secret_post"};
  ClientMetadata me;
  me.redirect_uris = {"https://tr.example.com/oauth/callback"};
  me.scope = "read write";
  net::HttpCall call = BuildRegistrationCall(as, me);
  EXPECT_EQ(call.method, "POST");
  EXPECT_EQ(call.url, "https://auth.example.com/register");
  json::object body = json::parse(call.body).as_object();
  EXPECT_EQ(body["client_name"], "toolregistry");
  EXPECT_EQ(body["redirect_uris"].as_array()[0], "https://tr.example.com/oauth/callback");
  EXPECT_EQ(body["grant_types"], (json::array{"authorization_code", "refresh_token"}));
  EXPECT_EQ(body["token_endpoint_auth_method"], "client_secret_post");
  EXPECT_EQ(body["scope"], "read write");
  as.token_endpoint_auth_methods_supported = {};
  EXPECT_EQ(ChooseTokenEndpointAuthMethod(as), "client_secret_basic");
  as.token_endpoint_auth_methods_supported = {"none"};
  EXPECT_EQ(ChooseTokenEndpointAuthMethod(as), "none");

  std::string id = "https://tr.example.com/oauth/client-metadata.json";
  json::object doc = ClientIdMetadataDocument(id, me);
  EXPECT_EQ(doc["client_id"].as_string(), id);
  EXPECT_EQ(doc["token_endpoint_auth_method"], "none");
  EXPECT_EQ(doc["response_types"], json::array{"code"});
}

TEST(McpRegistration, ReadsTheAnswer) {
  auto ok = ParseRegistrationResponse(
      {201,
       {},
       R"({"client_id": "abc", "client_secret": "s3cret", "client_secret_expires_at": 0})"});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->client_id, "abc");
  EXPECT_EQ(ok->client_secret, "s3cret");
  EXPECT_EQ(ok->token_endpoint_auth_method, "client_secret_basic");

  auto refused = ParseRegistrationResponse(
      {400, {}, R"({"error": "invalid_redirect_uri", "error_description": "not allowed\n"})"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(
      refused.error().message(),
      "the authorization server refused the registration: invalid_redirect_uri: not allowed ");
  auto forbidden = ParseRegistrationResponse({403, {}, "<html>"});
  EXPECT_EQ(forbidden.error().message(),
            "the authorization server refused the registration (HTTP 403)");
  EXPECT_FALSE(ParseRegistrationResponse({201, {}, R"({"client_secret": "x"})"}).ok());
}

// The discovered server as OAuth settings: PKCE S256 and the RFC 8707 resource on the
// authorization URL, the code exchange and the refresh; a public client sends no secret.
TEST(McpRegistration, DiscoveredOAuthSettingsCarryTheResource) {
  McpAuthorization found;
  found.resource = "https://mcp.example.com/mcp";
  found.scopes = {"read", "write"};
  found.server.authorization_endpoint = "https://auth.example.com/authorize";
  found.server.token_endpoint = "https://auth.example.com/token";
  OAuth2Config config = McpOAuth2Config(found, "none");
  EXPECT_TRUE(config.pkce);
  OAuthClient client{"https://tr.example.com/oauth/client-metadata.json", "",
                     "https://tr.example.com/oauth/callback"};
  std::string url = BuildAuthorizationUrl(config, client, config.scopes, "st", "verifier");
  // ':' and '/' may stand unescaped in a query (RFC 3986 section 3.4).
  EXPECT_NE(url.find("&resource=https://mcp.example.com/mcp"), std::string::npos) << url;
  EXPECT_NE(url.find("code_challenge_method=S256"), std::string::npos) << url;
  EXPECT_NE(url.find("scope=read%20write"), std::string::npos) << url;

  net::HttpCall exchange = BuildCodeExchangeCall(config, client, "code", "verifier");
  EXPECT_NE(exchange.body.find("resource=https%3A%2F%2Fmcp.example.com%2Fmcp"), std::string::npos);
  EXPECT_NE(exchange.body.find("client_id="), std::string::npos);
  EXPECT_EQ(exchange.body.find("client_secret"), std::string::npos) << exchange.body;
  for (const auto& [name, value] : exchange.headers) EXPECT_NE(name, "Authorization");

  net::HttpCall refresh =
      BuildRefreshCall(McpOAuth2Config(found, "client_secret_basic"), {"id", "secret", ""}, "rt");
  EXPECT_NE(refresh.body.find("resource=https%3A%2F%2Fmcp.example.com%2Fmcp"), std::string::npos);
  EXPECT_EQ(refresh.body.find("client_secret"), std::string::npos);
}

}  // namespace
}  // namespace tr::auth
