// Tests for OAuthClients (core/oauth_clients.h) through the connect flow and the refresh of
// one server's services (core/test_services.h): a remote MCP server without declared OAuth
// endpoints, a fake MCP server and authorization server behind the outbound HTTP client, a
// real SqliteStore in a temporary folder and a FakeClock.

#include "core/oauth_clients.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "core/test_services.h"
#include "core/test_support.h"

namespace tr {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kStart = 1757202316580;
constexpr char kPublicUrl[] = "https://registry.example.test";
constexpr char kMcpUrl[] = "https://mcp.test/mcp";
const char* const kDefinition = R"({"integrationId": "remote", "name": "Remote MCP",
  "authTypes": ["OAUTH2"], "mcp": {"url": "https://mcp.test/mcp"}})";

// The MCP server's 401 and metadata, and its authorization server (RFC 8414 metadata,
// RFC 7591 registration, the token endpoint). Thread-safe.
class FakeServers final : public net::HttpClient {
 public:
  Result<net::HttpResult> Send(const net::HttpCall& call) override {
    std::lock_guard lock(mu);
    calls.push_back(call);
    auto json = [](int status, std::string body) {
      return net::HttpResult{status, {{"content-type", "application/json"}}, std::move(body)};
    };
    if (call.url == kMcpUrl) {
      return net::HttpResult{401,
                             {{"www-authenticate",
                               "Bearer resource_metadata=\"https://mcp.test/.well-known/"
                               "oauth-protected-resource/mcp\""}},
                             ""};
    }
    if (call.url == "https://mcp.test/.well-known/oauth-protected-resource/mcp" && metadata) {
      return json(200, R"({"resource": "https://mcp.test/mcp",
        "authorization_servers": ["https://as.test"], "scopes_supported": ["tools"]})");
    }
    if (call.url == "https://as.test/.well-known/oauth-authorization-server") {
      return json(200, R"({"issuer": "https://as.test",
        "authorization_endpoint": "https://as.test/authorize", "token_endpoint": "https://as.test/token",
        "registration_endpoint": "https://as.test/register", "code_challenge_methods_supported": ["S256"]})");
    }
    if (call.url == "https://as.test/register") {
      ++registrations;
      if (refuse_registration) {
        return json(400, R"({"error": "invalid_client_metadata", "error_description": "closed"})");
      }
      return json(201, R"({"client_id": "dyn-)" + std::to_string(registrations) +
                           R"(", "client_secret": "dyn-secret-value", "token_endpoint_auth_method": "client_secret_basic"})");
    }
    if (call.url == "https://as.test/token") {
      return json(200, R"({"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600})");
    }
    return net::HttpResult{404, {}, ""};
  }

  int Count(std::string_view url) {
    std::lock_guard lock(mu);
    int n = 0;
    for (const net::HttpCall& call : calls) n += call.url == url;
    return n;
  }

  std::mutex mu;
  std::vector<net::HttpCall> calls;  // Guarded by mu
  int registrations = 0;             // Guarded by mu
  bool metadata = true;
  bool refuse_registration = false;
};

const Catalog& RemoteCatalog() {
  static const Catalog catalog = [] {
    auto loaded = Catalog::Load({{"remote.json", kDefinition}});
    if (!loaded) throw std::runtime_error(loaded.error().message());
    return std::move(loaded.value());
  }();
  return catalog;
}

class OAuthClientsTest : public testing::Test {
 protected:
  OAuthClientsTest()
      : dir_(testing_support::MakeTempDir("oauth_clients")),
        services_(RemoteCatalog(), dir_ / "toolregistry.db", clock_, keyring_, http_,
                  ApiServiceOptions{kPublicUrl, 900'000}),
        workspace_id_(services_.NewWorkspace("acme")) {
    EnableRequest request;
    request.workspace_id = workspace_id_;
    request.integration_id = "remote";
    auto ci = services_.admin->EnableIntegration(request);
    if (!ci) throw std::runtime_error(ci.error().message());
    cid_ = ci->customer_integration_id;
  }
  ~OAuthClientsTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  ConnectStep Start(const std::string& user_id) {
    return services_.connect->Start(services_.NewSession(workspace_id_, cid_, user_id));
  }

  fs::path dir_;
  FakeClock clock_{kStart};
  crypto::Keyring keyring_{std::string(crypto::Keyring::kKeySize, 'k')};
  FakeServers http_;
  testing_support::TestServices services_;
  std::string workspace_id_;
  std::string cid_;
};

TEST_F(OAuthClientsTest, DiscoversRegistersOnceAndRunsTheGrantWithTheResource) {
  ConnectStep step = Start("alice");
  ASSERT_TRUE(std::holds_alternative<ProviderRedirect>(step));
  const std::string& url = std::get<ProviderRedirect>(step).url;
  EXPECT_TRUE(url.starts_with("https://as.test/authorize?")) << url;
  EXPECT_NE(url.find("client_id=dyn-1"), std::string::npos) << url;
  EXPECT_TRUE(url.ends_with("&resource=https://mcp.test/mcp")) << url;
  EXPECT_NE(url.find("code_challenge_method=S256"), std::string::npos) << url;
  EXPECT_NE(url.find("scope=tools"), std::string::npos) << url;

  // A second flow uses the stored discovery: no second registration, no second metadata read.
  ASSERT_TRUE(std::holds_alternative<ProviderRedirect>(Start("bob")));
  EXPECT_EQ(http_.registrations, 1);
  EXPECT_EQ(http_.Count("https://as.test/.well-known/oauth-authorization-server"), 1);

  // Stored sealed: the client secret is not in the row's bytes.
  auto row = services_.store->FindMcpOAuthClient(cid_);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->sealed.blob.find("dyn-secret-value"), std::string::npos);

  // The code exchange and a refresh go to the discovered token endpoint with the resource.
  EXPECT_TRUE(services_.ConnectOAuth(workspace_id_, cid_, "carol"));
  ASSERT_TRUE(services_.credentials->Refresh(cid_, "carol", "at-1").ok());
  int token_calls = 0;
  for (const net::HttpCall& call : http_.calls) {
    if (call.url != "https://as.test/token") continue;
    ++token_calls;
    EXPECT_NE(call.body.find("resource=https%3A%2F%2Fmcp.test%2Fmcp"), std::string::npos) << call.body;
    bool basic = false;
    for (const auto& [name, value] : call.headers) basic |= value.starts_with("Basic ");
    EXPECT_TRUE(basic) << "client_secret_basic, as registered";
  }
  EXPECT_EQ(token_calls, 2);
}

TEST_F(OAuthClientsTest, DiscoversAgainAfterADayAndKeepsTheClient) {
  ASSERT_TRUE(std::holds_alternative<ProviderRedirect>(Start("alice")));
  clock_.Advance(25LL * 3600 * 1000);
  ConnectStep step = Start("bob");
  ASSERT_TRUE(std::holds_alternative<ProviderRedirect>(step));
  EXPECT_NE(std::get<ProviderRedirect>(step).url.find("client_id=dyn-1"), std::string::npos);
  EXPECT_EQ(http_.Count("https://as.test/.well-known/oauth-authorization-server"), 2);
  EXPECT_EQ(http_.registrations, 1);
}

TEST_F(OAuthClientsTest, TheConnectPageSaysWhichStepFailed) {
  http_.metadata = false;
  ConnectStep step = Start("alice");
  ASSERT_TRUE(std::holds_alternative<FlowResult>(step));
  const FlowResult& failed = std::get<FlowResult>(step);
  EXPECT_FALSE(failed.success);
  EXPECT_EQ(failed.error_code, "discovery_failed");
  EXPECT_NE(failed.message.find("publishes no protected-resource metadata"), std::string::npos)
      << failed.message;

  // The failure is remembered for a while: no calls until then.
  const size_t calls = http_.calls.size();
  step = Start("bob");
  ASSERT_TRUE(std::holds_alternative<FlowResult>(step));
  EXPECT_EQ(std::get<FlowResult>(step).error_code, "discovery_failed");
  EXPECT_EQ(http_.calls.size(), calls);

  http_.metadata = true;
  http_.refuse_registration = true;
  clock_.Advance(30'000);
  step = Start("carol");
  ASSERT_TRUE(std::holds_alternative<FlowResult>(step));
  EXPECT_EQ(std::get<FlowResult>(step).error_code, "registration_refused");
  EXPECT_NE(std::get<FlowResult>(step).message.find("invalid_client_metadata: closed"),
            std::string::npos);
}

}  // namespace
}  // namespace tr
