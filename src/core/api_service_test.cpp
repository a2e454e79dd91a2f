// Tests for ApiService (core/api_service.h) on a real SqliteStore in a temporary folder, a
// FakeClock, a fixed master key and the embedded catalog. Set-up goes through AdminService,
// the way an operator would prepare a workspace.

#include "core/api_service.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/admin_service.h"
#include "core/ids.h"
#include "core/test_support.h"
#include "store/sqlite_store.h"

namespace tr {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kStart = 1757202316580;  // 2025-09-06T23:45:16.580Z
constexpr char kPublicUrl[] = "https://registry.example.test";

using testing_support::EmbeddedCatalog;

class ApiServiceTest : public testing::Test {
 protected:
  ApiServiceTest() {
    dir_ = testing_support::MakeTempDir("api_service");
    path_ = (dir_ / "toolregistry.db").string();
    store_ = testing_support::OpenTestStore(path_);
    directory_ = std::make_unique<IntegrationDirectory>(EmbeddedCatalog(), *store_);
    admin_ = std::make_unique<AdminService>(*store_, *directory_, keyring_, clock_);
    api_ = std::make_unique<ApiService>(*store_, *directory_, keyring_, clock_,
                                        ApiServiceOptions{kPublicUrl, 900'000});
  }
  ~ApiServiceTest() override {
    api_.reset();
    admin_.reset();
    directory_.reset();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string NewWorkspace(const std::string& name = "acme") {
    auto ws = admin_->CreateWorkspace(name);
    EXPECT_TRUE(ws.ok());
    return ws->workspace_id;
  }

  // Enables `integration_id` with its default auth type (client credentials given, so that
  // OAUTH2 integrations are accepted too); returns the customer integration id.
  std::string Enable(const std::string& workspace_id, const std::string& integration_id,
                     std::optional<std::string> auth_type = std::nullopt) {
    EnableRequest request;
    request.workspace_id = workspace_id;
    request.integration_id = integration_id;
    request.auth_type = std::move(auth_type);
    request.client_id = "client-id";
    request.client_secret = "client-secret";
    auto ci = admin_->EnableIntegration(request);
    EXPECT_TRUE(ci.ok()) << (ci.ok() ? "" : ci.error().message());
    return ci.ok() ? ci->customer_integration_id : "";
  }

  // A one-value query on a separate connection.
  int64_t QueryInt(const std::string& sql) { return testing_support::QueryInt(path_, sql); }

  fs::path dir_;
  std::string path_;
  FakeClock clock_{kStart};
  crypto::Keyring keyring_{std::string(crypto::Keyring::kKeySize, 'k')};
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<IntegrationDirectory> directory_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<ApiService> api_;
};

// The token at the end of an authorizeUrl.
std::string TokenOf(const std::string& url) {
  std::string prefix = std::string(kPublicUrl) + "/connect/";
  EXPECT_TRUE(url.starts_with(prefix)) << url;
  return url.substr(std::min(prefix.size(), url.size()));
}

TEST_F(ApiServiceTest, AuthenticateAcceptsAValidKey) {
  std::string ws = NewWorkspace();
  auto key = admin_->CreateApiKey(ws);
  ASSERT_TRUE(key.ok());
  auto authenticated = api_->Authenticate(key->api_key);
  ASSERT_TRUE(authenticated.ok());
  EXPECT_EQ(*authenticated, ws);
}

TEST_F(ApiServiceTest, ARequestRunAgainIsNotCountedTwice) {
  // A rate of ~0 per second and a burst of 2: two counted requests, then 429.
  ApiService limited(*store_, *directory_, keyring_, clock_,
                     ApiServiceOptions{kPublicUrl, 900'000, 0.001, 2});
  std::string ws = NewWorkspace();
  auto key = admin_->CreateApiKey(ws);
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(limited.Authenticate(key->api_key, "", /*count=*/true).ok());
  for (int i = 0; i < 5; ++i) {  // the same request run again on the pool, each time
    ASSERT_TRUE(limited.Authenticate(key->api_key, "", /*count=*/false).ok());
  }
  ASSERT_TRUE(limited.Authenticate(key->api_key).ok());
  auto over = limited.Authenticate(key->api_key);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, Errc::kRateLimited);
}

TEST_F(ApiServiceTest, AuthenticateRefusesBadKeys) {
  std::string ws = NewWorkspace();
  auto key = admin_->CreateApiKey(ws);
  ASSERT_TRUE(key.ok());
  const std::string body = key->api_key.substr(kApiKeyPrefix.size());
  for (const std::string& bad : {std::string(""), std::string("sk_live_"), "pk_live_" + body,
                                 "SK_LIVE_" + body, body, NewApiKey(), key->api_key + "x"}) {
    auto authenticated = api_->Authenticate(bad);
    ASSERT_FALSE(authenticated.ok()) << bad;
    EXPECT_EQ(authenticated.error().code, Errc::kUnauthenticated) << bad;
  }
}

TEST_F(ApiServiceTest, AuthenticateRefusesARevokedKey) {
  std::string ws = NewWorkspace();
  auto key = admin_->CreateApiKey(ws);
  auto other = admin_->CreateApiKey(ws);
  ASSERT_TRUE(key.ok() && other.ok());
  ASSERT_TRUE(admin_->RevokeApiKey(key->key_id).ok());
  auto authenticated = api_->Authenticate(key->api_key);
  ASSERT_FALSE(authenticated.ok());
  EXPECT_EQ(authenticated.error().code, Errc::kUnauthenticated);
  EXPECT_TRUE(api_->Authenticate(other->api_key).ok());  // only that key
}

TEST_F(ApiServiceTest, ACachedKeyRevokedByAnotherProcessIsRefusedAtOnce) {
  std::string ws = NewWorkspace();
  auto key = admin_->CreateApiKey(ws);
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(api_->Authenticate(key->api_key).ok());
  ASSERT_TRUE(api_->Authenticate(key->api_key).ok());  // now served from the cache

  // The admin CLI is another process: another store (connection) on the same file.
  auto cli_store = testing_support::OpenTestStore(path_);
  IntegrationDirectory cli_directory(EmbeddedCatalog(), *cli_store);
  AdminService cli(*cli_store, cli_directory, keyring_, clock_);
  ASSERT_TRUE(cli.RevokeApiKey(key->key_id).ok());

  auto authenticated = api_->Authenticate(key->api_key);
  ASSERT_FALSE(authenticated.ok());
  EXPECT_EQ(authenticated.error().code, Errc::kUnauthenticated);
}

TEST_F(ApiServiceTest, ACachedIntegrationDisabledByAnotherProcessIsSeenAtOnce) {
  std::string ws = NewWorkspace();
  std::string cid = Enable(ws, "open-meteo");
  ASSERT_TRUE(api_->CreateAuthUrl(ws, cid, "u-1", std::nullopt).ok());
  ASSERT_TRUE(api_->GetUser(ws, cid, "u-1").ok());  // the integration is cached now

  auto cli_store = testing_support::OpenTestStore(path_);
  IntegrationDirectory cli_directory(EmbeddedCatalog(), *cli_store);
  AdminService cli(*cli_store, cli_directory, keyring_, clock_);
  ASSERT_TRUE(cli.SetIntegrationActive(cid, false).ok());

  auto created = api_->CreateAuthUrl(ws, cid, "u-2", std::nullopt);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, Errc::kInvalidArgument) << created.error().message();
}

std::vector<std::string> Cids(const std::vector<IntegrationView>& views) {
  std::vector<std::string> ids;
  for (const auto& v : views) ids.push_back(v.customer_integration.customer_integration_id);
  return ids;
}

TEST_F(ApiServiceTest, ListIntegrationsFiltersOrdersAndIsolates) {
  std::string ws = NewWorkspace("one");
  std::string other_ws = NewWorkspace("two");
  auto empty = api_->ListIntegrations(ws, true);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());

  std::string stripe = Enable(ws, "stripe");
  clock_.Advance(1000);
  std::string github = Enable(ws, "github");
  clock_.Advance(1000);
  std::string meteo = Enable(ws, "open-meteo");
  clock_.Advance(1000);
  std::string foreign = Enable(other_ws, "slack");
  ASSERT_TRUE(admin_->SetIntegrationActive(github, false).ok());

  auto active = api_->ListIntegrations(ws, true);
  ASSERT_TRUE(active.ok());
  EXPECT_EQ(Cids(*active), (std::vector<std::string>{stripe, meteo}));
  ASSERT_EQ(active->size(), 2u);
  EXPECT_EQ((*active)[0].definition->name, "Stripe");
  EXPECT_EQ((*active)[0].customer_integration.created_at, kStart);
  EXPECT_EQ((*active)[0].customer_integration.auth_type, AuthType::kApiToken);
  EXPECT_EQ((*active)[1].customer_integration.auth_type, AuthType::kNone);

  auto inactive = api_->ListIntegrations(ws, false);
  ASSERT_TRUE(inactive.ok());
  EXPECT_EQ(Cids(*inactive), (std::vector<std::string>{github}));
  EXPECT_EQ((*inactive)[0].definition->integration_id, "github");

  auto theirs = api_->ListIntegrations(other_ws, true);
  ASSERT_TRUE(theirs.ok());
  EXPECT_EQ(Cids(*theirs), (std::vector<std::string>{foreign}));
  auto theirs_inactive = api_->ListIntegrations(other_ws, false);
  ASSERT_TRUE(theirs_inactive.ok());
  EXPECT_TRUE(theirs_inactive->empty());
}

TEST_F(ApiServiceTest, GetUserAndCreateAuthUrlRefuseUnknownOrForeignIntegrations) {
  std::string ws = NewWorkspace("one");
  std::string other_ws = NewWorkspace("two");
  std::string mine = Enable(ws, "stripe");
  std::string foreign = Enable(other_ws, "stripe");
  std::string upper = mine;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));

  for (const std::string& cid :
       {std::string("not-a-uuid"), std::string(""), upper, NewUuidV4(), foreign, mine + " "}) {
    SCOPED_TRACE(cid);
    auto user = api_->GetUser(ws, cid, "u-1");
    ASSERT_FALSE(user.ok());
    EXPECT_EQ(user.error().code, Errc::kNotFound);
    EXPECT_EQ(user.error().message(), "Customer integration not found");

    auto url = api_->CreateAuthUrl(ws, cid, "u-1", std::nullopt);
    ASSERT_FALSE(url.ok());
    EXPECT_EQ(url.error().code, Errc::kNotFound);
    EXPECT_EQ(url.error().message(), "Customer integration not found");
  }
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM integration_users"), 0);
}

TEST_F(ApiServiceTest, GetUserUnknownUserIsNotFound) {
  std::string ws = NewWorkspace();
  std::string cid = Enable(ws, "stripe");
  auto user = api_->GetUser(ws, cid, "nobody");
  ASSERT_FALSE(user.ok());
  EXPECT_EQ(user.error().code, Errc::kNotFound);
}

TEST_F(ApiServiceTest, BadUserIdIsInvalidArgument) {
  std::string ws = NewWorkspace();
  std::string cid = Enable(ws, "stripe");
  for (const std::string& user_id :
       {std::string(""), std::string(256, 'a'), std::string("a\x01"), std::string("\xc0\xaf"),
        std::string("a\xc2\x85")}) {
    auto user = api_->GetUser(ws, cid, user_id);
    ASSERT_FALSE(user.ok());
    EXPECT_EQ(user.error().code, Errc::kInvalidArgument);
    auto url = api_->CreateAuthUrl(ws, cid, user_id, std::nullopt);
    ASSERT_FALSE(url.ok());
    EXPECT_EQ(url.error().code, Errc::kInvalidArgument);
  }
}

TEST_F(ApiServiceTest, CreateAuthUrlOnAnInactiveIntegration) {
  std::string ws = NewWorkspace();
  std::string cid = Enable(ws, "stripe");
  ASSERT_TRUE(admin_->SetIntegrationActive(cid, false).ok());
  auto url = api_->CreateAuthUrl(ws, cid, "u-1", std::nullopt);
  ASSERT_FALSE(url.ok());
  EXPECT_EQ(url.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(url.error().message(), "Integration is not active");
  auto user = api_->GetUser(ws, cid, "u-1");
  ASSERT_FALSE(user.ok());
  EXPECT_EQ(user.error().code, Errc::kNotFound);  // nothing was created
}

TEST_F(ApiServiceTest, CreateAuthUrlReturnsAConnectLink) {
  std::string ws = NewWorkspace();
  std::string cid = Enable(ws, "stripe");
  auto url = api_->CreateAuthUrl(ws, cid, "u-1", std::nullopt);
  ASSERT_TRUE(url.ok()) << url.error().message();
  std::string token = TokenOf(*url);
  EXPECT_GE(token.size(), 43u);
  EXPECT_EQ(token.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos)
      << token;

  // The token leads with its creation time (12 hex digits), for index locality.
  EXPECT_EQ(token.substr(0, 12), "0199216b7d24") << "kStart in hex";
  EXPECT_GE(token.size() - 12, 43u) << "at least 256 random bits follow";

  // The session is stored under the token's hash, never the token, with the TTL applied.
  const std::string where = "FROM connect_sessions WHERE token_hash = '" + SessionKey(token) + "'";
  EXPECT_EQ(QueryInt("SELECT COUNT(*) " + where), 1);
  EXPECT_EQ(QueryInt("SELECT created_at " + where), kStart);
  EXPECT_EQ(QueryInt("SELECT expires_at " + where), kStart + 900'000);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM connect_sessions WHERE token_hash = '" + token + "'"),
            0);
}

TEST_F(ApiServiceTest, NoneUserIsActiveFromCreation) {
  std::string ws = NewWorkspace();
  std::string cid = Enable(ws, "open-meteo");
  ASSERT_TRUE(api_->CreateAuthUrl(ws, cid, "u-1", std::nullopt).ok());
  auto user = api_->GetUser(ws, cid, "u-1");
  ASSERT_TRUE(user.ok()) << user.error().message();
  EXPECT_TRUE(user->active);
  EXPECT_EQ(user->user_id, "u-1");
  EXPECT_EQ(user->customer_integration_id, cid);
}

TEST_F(ApiServiceTest, OAuth2UserIsInactiveUntilConnected) {
  std::string ws = NewWorkspace();
  std::string cid = Enable(ws, "google-calendar");
  ASSERT_TRUE(api_->CreateAuthUrl(ws, cid, "u-1", std::nullopt).ok());
  auto user = api_->GetUser(ws, cid, "u-1");
  ASSERT_TRUE(user.ok()) << user.error().message();
  EXPECT_FALSE(user->active);
}

TEST_F(ApiServiceTest, SecondCallKeepsTheUserAndMakesANewSession) {
  std::string ws = NewWorkspace();
  std::string cid = Enable(ws, "stripe");
  clock_.Advance(5000);
  auto first = api_->CreateAuthUrl(ws, cid, "user \xc3\xbc/1", std::nullopt);
  ASSERT_TRUE(first.ok());
  auto user = api_->GetUser(ws, cid, "user \xc3\xbc/1");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->user_id, "user \xc3\xbc/1");
  EXPECT_EQ(user->created_at, kStart + 5000);
  EXPECT_EQ(user->updated_at, kStart + 5000);

  clock_.Advance(60'000);
  auto second = api_->CreateAuthUrl(ws, cid, "user \xc3\xbc/1", std::nullopt);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(*first, *second);
  auto again = api_->GetUser(ws, cid, "user \xc3\xbc/1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->created_at, kStart + 5000);
  EXPECT_EQ(again->updated_at, kStart + 5000);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM connect_sessions"), 2);
  EXPECT_EQ(QueryInt("SELECT MAX(created_at) FROM connect_sessions"), kStart + 65'000);
}

TEST_F(ApiServiceTest, UserIdsAreScopedToTheirCustomerIntegration) {
  std::string ws = NewWorkspace();
  std::string a = Enable(ws, "stripe");
  std::string b = Enable(ws, "open-meteo");
  ASSERT_TRUE(api_->CreateAuthUrl(ws, a, "u-1", std::nullopt).ok());
  auto in_b = api_->GetUser(ws, b, "u-1");
  ASSERT_FALSE(in_b.ok());
  EXPECT_EQ(in_b.error().code, Errc::kNotFound);
}

TEST_F(ApiServiceTest, RedirectUriWithoutAllowListAcceptsAnyHttpUrl) {
  std::string ws = NewWorkspace();
  std::string cid = Enable(ws, "stripe");
  for (const char* uri :
       {"https://anything.example.com/cb?x=1", "http://localhost:3000/done"}) {
    EXPECT_TRUE(api_->CreateAuthUrl(ws, cid, "u-1", uri).ok()) << uri;
  }
  for (const std::string& uri :
       std::vector<std::string>{"ftp://example.com/", "/relative", "javascript:alert(1)",
                                "https://example.com/" + std::string(2048, 'a')}) {
    auto url = api_->CreateAuthUrl(ws, cid, "u-1", uri);
    ASSERT_FALSE(url.ok()) << uri;
    EXPECT_EQ(url.error().code, Errc::kInvalidArgument);
  }
}

TEST_F(ApiServiceTest, RedirectUriMustMatchTheAllowList) {
  std::string ws = NewWorkspace();
  std::string other_ws = NewWorkspace("other");
  std::string cid = Enable(ws, "stripe");
  ASSERT_TRUE(admin_->AllowRedirect(ws, "https://app.example.com").ok());
  ASSERT_TRUE(admin_->AllowRedirect(ws, "http://localhost:3000").ok());
  ASSERT_TRUE(admin_->AllowRedirect(other_ws, "https://evil.example.com").ok());

  for (const char* uri : {"https://app.example.com/cb", "https://APP.example.com:443/x?y=1",
                                 "http://localhost:3000/"}) {
    auto url = api_->CreateAuthUrl(ws, cid, "u-1", uri);
    EXPECT_TRUE(url.ok()) << uri << ": " << (url.ok() ? "" : url.error().message());
  }
  for (const char* uri :
       {"https://evil.example.com/cb", "http://app.example.com/cb", "https://app.example.com:8443/",
        "https://sub.app.example.com/", "http://localhost:3001/"}) {
    auto url = api_->CreateAuthUrl(ws, cid, "u-1", uri);
    ASSERT_FALSE(url.ok()) << uri;
    EXPECT_EQ(url.error().code, Errc::kInvalidArgument) << uri;
  }
  EXPECT_TRUE(api_->CreateAuthUrl(ws, cid, "u-1", std::nullopt).ok());
}

TEST_F(ApiServiceTest, RedirectUriIsStoredWithTheSession) {
  std::string ws = NewWorkspace();
  std::string cid = Enable(ws, "stripe");
  auto url = api_->CreateAuthUrl(ws, cid, "u-1", "https://app.example.com/cb?x=1");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM connect_sessions WHERE redirect_uri = "
                     "'https://app.example.com/cb?x=1' AND token_hash = '" +
                     SessionKey(TokenOf(*url)) + "'"),
            1);
}

}  // namespace
}  // namespace tr
