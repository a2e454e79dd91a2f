// MCP authorization discovery and dynamic registration against a real authorization server
// (npm oidc-provider) over loopback, through the real outbound client (libcurl).
// tests/blackbox/mcp_client_smoke.test.mjs starts tests/peers/mcp_protected.mjs and runs
// this test with TOOLREGISTRY_TEST_MCP_AUTH_URL set; without it the test is skipped.

#include <gtest/gtest.h>

#include <cstdlib>

#include "auth/mcp_discovery.h"
#include "auth/mcp_registration.h"
#include "net/curl_http_client.h"

namespace tr::auth {
namespace {

TEST(McpDiscoverySmoke, DiscoversAndRegistersWithOidcProvider) {
  const char* url = std::getenv("TOOLREGISTRY_TEST_MCP_AUTH_URL");
  if (url == nullptr || *url == '\0') GTEST_SKIP() << "TOOLREGISTRY_TEST_MCP_AUTH_URL is not set";
  net::CurlOptions options;
  options.allow_private_network = true;
  net::CurlHttpClient http(options);

  // The server's own 401 names the metadata; oidc-provider serves OpenID Connect discovery
  // only, so the RFC 8414 URL answers 404 first.
  auto found = DiscoverMcpAuthorization(http, url, "", {true});
  ASSERT_TRUE(found.ok()) << found.error().message();
  EXPECT_EQ(found->resource, url);
  EXPECT_EQ(found->scopes, (std::vector<std::string>{"openid", "offline_access"}));
  EXPECT_FALSE(found->server.registration_endpoint.empty());
  EXPECT_FALSE(found->server.token_endpoint.empty());

  // The same discovery without private networks: the loopback server is plain http.
  auto refused = DiscoverMcpAuthorization(http, url, "", {false});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("is not HTTPS"), std::string::npos)
      << refused.error().message();

  ASSERT_EQ(*ChooseRegistration(false, found->server, "https://tr.example.com"),
            RegistrationMethod::kDynamic);
  ClientMetadata me;
  me.redirect_uris = {"https://tr.example.com/oauth/callback"};
  me.scope = "openid offline_access";
  auto answer = http.Send(BuildRegistrationCall(found->server, me));
  ASSERT_TRUE(answer.ok()) << answer.error().message();
  auto registered = ParseRegistrationResponse(*answer);
  ASSERT_TRUE(registered.ok()) << registered.error().message() << " " << answer->body;
  EXPECT_FALSE(registered->client_id.empty());
  EXPECT_FALSE(registered->client_secret.empty());
  EXPECT_EQ(registered->token_endpoint_auth_method, "client_secret_basic");

  // A redirect URI the server refuses: its error, in our words.
  me.redirect_uris = {"https://tr.example.com/oauth/callback#fragment"};
  auto bad = http.Send(BuildRegistrationCall(found->server, me));
  ASSERT_TRUE(bad.ok()) << bad.error().message();
  auto rejected = ParseRegistrationResponse(*bad);
  ASSERT_FALSE(rejected.ok());
  EXPECT_TRUE(rejected.error().message().starts_with(
      "the authorization server refused the registration: invalid_redirect_uri"))
      << rejected.error().message();
}

}  // namespace
}  // namespace tr::auth
