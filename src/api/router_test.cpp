// Tests for the public API Router (api/router.h), driven with http::Request values (no
// sockets) over an ApiService on a real SqliteStore in a temporary folder and a FakeClock.
// The connect flow's and the credentials' routes are only checked for their route names here.

#include "api/router.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "api/request_body.h"
#include "core/admin_service.h"
#include "core/api_service.h"
#include "core/connect_service.h"
#include "core/credential_service.h"
#include "core/test_support.h"
#include "net/http_client.h"
#include "store/sqlite_store.h"

namespace tr::api {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr int64_t kStart = 1757202316580;  // 2025-09-06T23:45:16.580Z
constexpr char kPublicUrl[] = "https://registry.example.test";

using testing_support::EmbeddedCatalog;

using Headers = std::vector<std::pair<std::string_view, std::string_view>>;

// The fixed words of the API's paths; every other path segment is a variable.
const std::set<std::string_view> kLiteralSegments = {
    "v1",       "integrations", "users",   "auth-url", "credentials", "connect", "oauth",
    "callback", "proxy",        "healthz", "tools",    "call",        "mcp"};

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    size_t slash = path.find('/');
    if (slash != 0) out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// Outbound calls are not expected from the /v1 routes; any that happens fails.
class NoNetworkHttpClient final : public net::HttpClient {
 public:
  Result<net::HttpResult> Send(const net::HttpCall&) override {
    return Error(Errc::kUnavailable, "no network in unit tests");
  }
};

class RouterTest : public testing::Test {
 protected:
  RouterTest() {
    dir_ = testing_support::MakeTempDir("router");
    store_ = testing_support::OpenTestStore(dir_ / "toolregistry.db");
    directory_ = std::make_unique<IntegrationDirectory>(EmbeddedCatalog(), *store_);
    admin_ = std::make_unique<AdminService>(*store_, *directory_, keyring_, clock_);
    api_ = std::make_unique<ApiService>(*store_, *directory_, keyring_, clock_,
                                        ApiServiceOptions{kPublicUrl, 900'000});
    connect_ = std::make_unique<ConnectService>(*store_, *directory_, keyring_, clock_, http_,
                                                ConnectOptions{kPublicUrl});
    credentials_ = std::make_unique<CredentialService>(*store_, *directory_, keyring_, clock_,
                                                      http_, CredentialOptions{});
    proxy_ = std::make_unique<ProxyService>(*directory_, *credentials_, http_, clock_);
    tools_ = std::make_unique<ToolService>(*store_, *api_, *proxy_);
    mcp_sessions_ = std::make_unique<McpSessions>(*store_, clock_, kPublicUrl);
    router_ = std::make_unique<Router>(*api_, *connect_, *credentials_, *proxy_, *tools_,
                                       *mcp_sessions_, *store_);

    auto ws = admin_->CreateWorkspace("acme");
    auto key = admin_->CreateApiKey(ws->workspace_id);
    workspace_id_ = ws->workspace_id;
    api_key_ = key->api_key;
    stripe_ = Enable("stripe");
  }
  ~RouterTest() override {
    router_.reset();
    mcp_sessions_.reset();
    tools_.reset();
    proxy_.reset();
    credentials_.reset();
    connect_.reset();
    api_.reset();
    admin_.reset();
    directory_.reset();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string Enable(const std::string& integration_id) {
    EnableRequest request;
    request.workspace_id = workspace_id_;
    request.integration_id = integration_id;
    request.client_id = "client-id";
    request.client_secret = "client-secret-value";
    auto ci = admin_->EnableIntegration(request);
    if (!ci) throw std::runtime_error(ci.error().message());
    return ci->customer_integration_id;
  }

  http::Response Call(std::string_view method, std::string_view target, Headers headers,
                      std::string_view body = "") {
    http::Request request;
    request.method = method;
    request.target = target;
    request.body = body;
    request.headers = std::move(headers);
    request.request_id = "req-1";
    request.remote_address = "127.0.0.1";
    http::Response response = router_->Handle(request);
    EXPECT_FALSE(response.run_blocking);  // a test request may block
    if (response.deferred) {  // as the server does: the answer of a call under way
      http::Response later = response.deferred->Wait();
      if (!later.hold) later.hold = std::move(response.hold);
      response = std::move(later);
    }
    if (response.hold) {  // as the server does: the answer waits for its commit to be on disk
      std::promise<bool> durable;
      response.hold([&durable](bool ok) { durable.set_value(ok); });
      EXPECT_TRUE(durable.get_future().get());
      response.hold = nullptr;
    }
    // Whatever the request, the route is a template: it never carries a variable part of
    // the raw path (a customer integration id, a user id, a connect token).
    EXPECT_FALSE(response.route.empty());
    std::string_view path = target.substr(0, target.find('?'));
    for (std::string_view segment : Segments(path)) {
      if (segment.size() >= 3 && !kLiteralSegments.contains(segment)) {
        EXPECT_EQ(response.route.find(segment), std::string::npos) << response.route;
      }
    }
    return response;
  }
  // With the workspace's API key in x-api-key.
  http::Response Call(std::string_view method, std::string_view target,
                      std::string_view body = "") {
    return Call(method, target, Headers{{"x-api-key", api_key_}}, body);
  }

  std::string UserPath(std::string_view cid, std::string_view raw_user_id) {
    return "/v1/integrations/" + std::string(cid) + "/users/" + std::string(raw_user_id);
  }
  std::string AuthUrlPath(std::string_view cid, std::string_view raw_user_id) {
    return UserPath(cid, raw_user_id) + "/auth-url";
  }

  fs::path dir_;
  FakeClock clock_{kStart};
  crypto::Keyring keyring_{std::string(crypto::Keyring::kKeySize, 'k')};
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<IntegrationDirectory> directory_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<ApiService> api_;
  NoNetworkHttpClient http_;
  std::unique_ptr<ConnectService> connect_;
  std::unique_ptr<CredentialService> credentials_;
  std::unique_ptr<ProxyService> proxy_;
  std::unique_ptr<ToolService> tools_;
  std::unique_ptr<McpSessions> mcp_sessions_;
  std::unique_ptr<Router> router_;
  std::string workspace_id_;
  std::string api_key_;
  std::string stripe_;
};

json::value Body(const http::Response& response) {
  boost::system::error_code ec;
  json::value v = json::parse(response.Text(), ec);
  EXPECT_FALSE(ec) << response.Text();
  return v;
}

// Checks the NestJS-style error body and returns its message.
std::string ExpectError(const http::Response& response, int status, std::string_view error) {
  EXPECT_EQ(response.status, status) << response.Text();
  EXPECT_EQ(response.content_type, "application/json");
  json::value body = Body(response);
  if (!body.is_object()) {
    ADD_FAILURE() << response.Text();
    return "";
  }
  const json::object& o = body.get_object();
  EXPECT_EQ(o.size(), 3u) << response.Text();
  EXPECT_EQ(o.contains("statusCode") ? o.at("statusCode").to_number<int>() : -1, status);
  EXPECT_EQ(o.contains("error") && o.at("error").is_string()
                ? std::string(o.at("error").get_string())
                : std::string(),
            error);
  if (!o.contains("message") || !o.at("message").is_string()) {
    ADD_FAILURE() << "no string message: " << response.Text();
    return "";
  }
  return std::string(o.at("message").get_string());
}

TEST_F(RouterTest, MissingOrBadKeyIs401) {
  const std::string user = UserPath(stripe_, "u-1");
  const std::string auth_url = AuthUrlPath(stripe_, "u-1");
  const std::string bearer_bad = "Bearer sk_live_nope";
  const std::string revoked_bearer = "Bearer " + api_key_ + "x";
  // Named: a Headers entry is a view, so a temporary here would dangle (AddressSanitizer
  // reported the heap-use-after-free of "api_key_ + x" when it was written inline).
  const std::string wrong_key = api_key_ + "x";
  const Headers kBadHeaders[] = {
      {},
      {{"x-api-key", ""}},
      {{"x-api-key", "sk_live_nope"}},
      {{"x-api-key", wrong_key}},
      {{"authorization", bearer_bad}},
      {{"Authorization", revoked_bearer}},
      {{"Authorization", "Basic c2tfbGl2ZV94Og=="}},
      {{"Authorization", "Bearer "}},
      {{"Authorization", api_key_}},  // no scheme
  };
  for (const Headers& headers : kBadHeaders) {
    SCOPED_TRACE(headers.empty() ? "no header" : std::string(headers[0].second));
    ExpectError(Call("GET", "/v1/integrations", headers), 401, "Unauthorized");
    ExpectError(Call("GET", user, headers), 401, "Unauthorized");
    ExpectError(Call("POST", auth_url, headers, "{}"), 401, "Unauthorized");
  }
}

// The tool routes' refusals (their answers with tools are in core/tool_service_test.cpp and
// the black-box tests tools_rest and mcp_server).
TEST_F(RouterTest, ToolRoutesRefuseBadInput) {
  ExpectError(Call("GET", "/v1/tools?userId=u-1", Headers{}), 401, "Unauthorized");
  ExpectError(Call("POST", "/v1/tools/x/call", Headers{}, "{}"), 401, "Unauthorized");
  ExpectError(Call("POST", "/v1/mcp", Headers{}, "{}"), 401, "Unauthorized");
  ExpectError(Call("GET", "/v1/tools"), 400, "Bad Request");
  ExpectError(Call("GET", "/v1/tools?userId=a&userId=b"), 400, "Bad Request");
  ExpectError(Call("GET", "/v1/tools?userId=u-1&customerIntegrationId=nope"), 404, "Not Found");
  // The fixture's Stripe integration ships curated tools; u-1 has not connected.
  http::Response listed = Call("GET", "/v1/tools?userId=u-1");
  EXPECT_EQ(listed.status, 200);
  EXPECT_TRUE(listed.Text().starts_with(R"({"tools":[{"name":"stripe_)")) << listed.Text().substr(0, 200);
  EXPECT_EQ(listed.Text().find(R"("connected":true)"), std::string::npos);
  ExpectError(Call("POST", "/v1/tools/x/call", "not json"), 400, "Bad Request");
  http::Response both = Call("POST", "/v1/tools/x/call", R"({"arguments": 1})");
  EXPECT_EQ(both.status, 400);
  EXPECT_EQ(json::parse(both.Text()).at("message").as_array().size(), 2u);  // each problem
  ExpectError(Call("POST", "/v1/tools/x/call", R"({"userId": "u-1"})"), 404, "Not Found");
  EXPECT_EQ(Call("GET", "/v1/mcp", Headers{{"x-api-key", api_key_}, {"x-user-id", "u"}}).status,
            405);
  EXPECT_EQ(Call("POST", "/v1/mcp", "{}").status, 400);  // no x-user-id
}

TEST_F(RouterTest, RevokedKeyIs401) {
  auto key = admin_->CreateApiKey(workspace_id_);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(Call("GET", "/v1/integrations", Headers{{"x-api-key", key->api_key}}).status, 200);
  ASSERT_TRUE(admin_->RevokeApiKey(key->key_id).ok());
  ExpectError(Call("GET", "/v1/integrations", Headers{{"x-api-key", key->api_key}}), 401,
              "Unauthorized");
}

TEST_F(RouterTest, ApiKeyInEitherHeader) {
  const std::string bearer = "Bearer " + api_key_;
  const std::string lower_bearer = "bearer " + api_key_;
  for (const Headers& headers :
       {Headers{{"x-api-key", api_key_}}, Headers{{"X-API-Key", api_key_}},
        Headers{{"Authorization", bearer}}, Headers{{"authorization", lower_bearer}}}) {
    SCOPED_TRACE(std::string(headers[0].first));
    http::Response response = Call("GET", "/v1/integrations", headers);
    EXPECT_EQ(response.status, 200) << response.Text();
  }
}

TEST_F(RouterTest, ListIntegrationsBody) {
  clock_.Advance(1000);
  std::string meteo = Enable("open-meteo");
  http::Response response = Call("GET", "/v1/integrations");
  ASSERT_EQ(response.status, 200) << response.Text();
  EXPECT_EQ(response.route, "GET /v1/integrations");
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.Text().find("client-secret-value"), std::string::npos);
  EXPECT_EQ(response.Text().find("client-id"), std::string::npos);
  json::value body = Body(response);
  ASSERT_TRUE(body.is_array());
  const json::array& list = body.get_array();
  ASSERT_EQ(list.size(), 2u);
  const json::object& first = list[0].as_object();
  EXPECT_EQ(first.at("customerIntegrationId").as_string(), stripe_);
  EXPECT_EQ(first.at("integrationId").as_string(), "stripe");
  EXPECT_EQ(first.at("name").as_string(), "Stripe");
  EXPECT_EQ(first.at("host").as_string(), "api.stripe.com");
  EXPECT_TRUE(first.at("active").as_bool());
  EXPECT_EQ(first.at("authType").as_string(), "API_TOKEN");
  EXPECT_EQ(first.at("createdAt").as_string(), "2025-09-06T23:45:16.580Z");
  EXPECT_EQ(first.at("updatedAt").as_string(), "2025-09-06T23:45:16.580Z");
  EXPECT_TRUE(first.contains("description"));
  EXPECT_TRUE(first.contains("logoUrl"));
  EXPECT_EQ(list[1].as_object().at("customerIntegrationId").as_string(), meteo);
}

TEST_F(RouterTest, ActiveQueryParameter) {
  std::string meteo = Enable("open-meteo");
  ASSERT_TRUE(admin_->SetIntegrationActive(meteo, false).ok());
  auto ids = [&](std::string_view target) {
    std::vector<std::string> out;
    http::Response response = Call("GET", target);
    EXPECT_EQ(response.status, 200) << target << ": " << response.Text();
    json::value body = Body(response);
    if (!body.is_array()) return out;
    for (const auto& item : body.get_array()) {
      out.emplace_back(item.as_object().at("customerIntegrationId").as_string());
    }
    return out;
  };
  const std::vector<std::string> active{stripe_};
  const std::vector<std::string> inactive{meteo};
  EXPECT_EQ(ids("/v1/integrations"), active);
  EXPECT_EQ(ids("/v1/integrations?active=true"), active);
  EXPECT_EQ(ids("/v1/integrations?active=TRUE"), active);
  EXPECT_EQ(ids("/v1/integrations?active=1"), active);
  EXPECT_EQ(ids("/v1/integrations?active=false"), inactive);
  EXPECT_EQ(ids("/v1/integrations?active=False"), inactive);
  EXPECT_EQ(ids("/v1/integrations?active=0"), inactive);
  EXPECT_EQ(ids("/v1/integrations?other=1&active=false"), inactive);

  for (std::string_view target :
       {"/v1/integrations?active=maybe", "/v1/integrations?active=", "/v1/integrations?active=yes",
        "/v1/integrations?active=%zz", "/v1/integrations?active=true&active=false",
        // More than once is refused, whatever the values (the same twice, or a bad one
        // between two equal ones).
        "/v1/integrations?active=true&active=true", "/v1/integrations?active=0&active=0",
        "/v1/integrations?active=1&active=maybe&active=1",
        "/v1/integrations?active=true&other=1&active=true"}) {
    SCOPED_TRACE(target);
    http::Response response = Call("GET", target);
    ExpectError(response, 400, "Bad Request");
    EXPECT_EQ(response.route, "GET /v1/integrations");
  }
}

TEST_F(RouterTest, EmptyWorkspaceListsNothing) {
  auto ws = admin_->CreateWorkspace("empty");
  auto key = admin_->CreateApiKey(ws->workspace_id);
  http::Response response = Call("GET", "/v1/integrations", Headers{{"x-api-key", key->api_key}});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.Text(), "[]");
}

TEST_F(RouterTest, CreateAuthUrlBodies) {
  const std::string path = AuthUrlPath(stripe_, "u-1");
  const struct {
    std::string_view body;
    int status;
  } kCases[] = {
      {"", 201},
      {"  \r\n", 201},
      {"{}", 201},
      {R"({"redirectUri": null})", 201},
      {R"({"unknown": [1, 2], "redirectUri": "https://app.example.com/cb"})", 201},
      {"{", 400},
      {"{\"redirectUri\": }", 400},
      {"not json", 400},
      {"{} {}", 400},
      {"[]", 400},
      {"\"https://app.example.com\"", 400},
      {"null", 400},
      {"42", 400},
      {R"({"redirectUri": 5})", 400},
      {R"({"redirectUri": ["https://app.example.com"]})", 400},
      {R"({"redirectUri": {"url": "https://app.example.com"}})", 400},
      {R"({"redirectUri": "ftp://app.example.com/"})", 400},
      {R"({"redirectUri": "/relative"})", 400},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.body);
    http::Response response = Call("POST", path, c.body);
    EXPECT_EQ(response.route, "POST /v1/integrations/{cid}/users/{userId}/auth-url");
    if (c.status == 201) {
      ASSERT_EQ(response.status, 201) << response.Text();
      json::value body = Body(response);
      ASSERT_TRUE(body.is_object());
      EXPECT_EQ(body.get_object().size(), 1u);
      std::string url(body.get_object().at("authorizeUrl").as_string());
      EXPECT_TRUE(url.starts_with(std::string(kPublicUrl) + "/connect/")) << url;
      EXPECT_GE(url.size(), std::string(kPublicUrl).size() + 9 + 43);
    } else {
      ExpectError(response, c.status, "Bad Request");
    }
  }
}

TEST_F(RouterTest, DeeplyNestedBodyIs400) {
  std::string deep = std::string(1000, '[') + std::string(1000, ']');
  ExpectError(Call("POST", AuthUrlPath(stripe_, "u-1"), deep), 400, "Bad Request");
}

TEST_F(RouterTest, UnknownRouteIs404) {
  const struct {
    std::string_view method;
    std::string_view target;
    std::string_view message;
  } kCases[] = {
      {"GET", "/x", "Cannot GET /x"},
      {"GET", "/x?token=secret", "Cannot GET /x"},
      {"POST", "/v1/integrations", "Cannot POST /v1/integrations"},
      {"DELETE", "/v1/integrations", "Cannot DELETE /v1/integrations"},
      {"GET", "/v1/integrations/", "Cannot GET /v1/integrations/"},
      {"GET", "/v1/integrations/abc/users", "Cannot GET /v1/integrations/abc/users"},
      {"GET", "/v1/integrations/abc/users/u/auth-url", "Cannot GET /v1/integrations/abc/users/u/auth-url"},
      {"POST", "/v1/integrations/abc/users/u", "Cannot POST /v1/integrations/abc/users/u"},
      // Found by fuzz/router_fuzzer.cpp: a path that is not UTF-8 made the body invalid JSON.
      {"PUT", "/v1/integr\xe1tions", "Cannot PUT /v1/integr\xef\xbf\xbdtions"},
      {"GET", "/\xff\xc0\x80", "Cannot GET /\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.target);
    http::Response response = Call(c.method, c.target);
    EXPECT_EQ(ExpectError(response, 404, "Not Found"), c.message);
    EXPECT_EQ(response.route.find("abc"), std::string::npos);
    EXPECT_EQ(response.route.find("secret"), std::string::npos);
  }
}

TEST_F(RouterTest, GetUser) {
  clock_.Advance(2500);
  ASSERT_EQ(Call("POST", AuthUrlPath(stripe_, "u-1")).status, 201);
  http::Response response = Call("GET", UserPath(stripe_, "u-1"));
  ASSERT_EQ(response.status, 200) << response.Text();
  EXPECT_EQ(response.route, "GET /v1/integrations/{cid}/users/{userId}");
  json::value body = Body(response);
  ASSERT_TRUE(body.is_object());
  const json::object& o = body.get_object();
  EXPECT_EQ(o.size(), 4u);
  EXPECT_EQ(o.at("userId").as_string(), "u-1");
  EXPECT_FALSE(o.at("active").as_bool());
  EXPECT_EQ(o.at("createdAt").as_string(), "2025-09-06T23:45:19.080Z");
  EXPECT_EQ(o.at("updatedAt").as_string(), "2025-09-06T23:45:19.080Z");
}

TEST_F(RouterTest, UnknownIntegrationOrUserIs404) {
  std::string message = ExpectError(Call("GET", UserPath(stripe_, "nobody")), 404, "Not Found");
  EXPECT_EQ(message, "User not found");
  for (const std::string& cid : {std::string("not-a-uuid"), std::string("00000000-0000-4000-8000-000000000000")}) {
    SCOPED_TRACE(cid);
    EXPECT_EQ(ExpectError(Call("GET", UserPath(cid, "u-1")), 404, "Not Found"),
              "Customer integration not found");
    EXPECT_EQ(ExpectError(Call("POST", AuthUrlPath(cid, "u-1")), 404, "Not Found"),
              "Customer integration not found");
  }
}

TEST_F(RouterTest, ForeignIntegrationIs404) {
  auto other = admin_->CreateWorkspace("other");
  auto other_key = admin_->CreateApiKey(other->workspace_id);
  ASSERT_EQ(Call("POST", AuthUrlPath(stripe_, "u-1")).status, 201);
  Headers theirs{{"x-api-key", other_key->api_key}};
  ExpectError(Call("GET", UserPath(stripe_, "u-1"), theirs), 404, "Not Found");
  ExpectError(Call("POST", AuthUrlPath(stripe_, "u-1"), theirs), 404, "Not Found");
}

TEST_F(RouterTest, InactiveIntegrationIs400) {
  ASSERT_TRUE(admin_->SetIntegrationActive(stripe_, false).ok());
  EXPECT_EQ(ExpectError(Call("POST", AuthUrlPath(stripe_, "u-1")), 400, "Bad Request"),
            "Integration is not active");
}

TEST_F(RouterTest, UserIdIsPercentDecoded) {
  ASSERT_EQ(Call("POST", AuthUrlPath(stripe_, "a%2Fb")).status, 201);
  auto stored = store_->FindUser(stripe_, "a/b");
  ASSERT_TRUE(stored.ok());
  ASSERT_TRUE(stored->has_value());
  auto raw = store_->FindUser(stripe_, "a%2Fb");
  ASSERT_TRUE(raw.ok());
  EXPECT_FALSE(raw->has_value());

  http::Response response = Call("GET", UserPath(stripe_, "a%2fb"));
  ASSERT_EQ(response.status, 200) << response.Text();
  EXPECT_EQ(Body(response).as_object().at("userId").as_string(), "a/b");

  ASSERT_EQ(Call("POST", AuthUrlPath(stripe_, "john%20doe%20%C3%BC")).status, 201);
  auto unicode = store_->FindUser(stripe_, "john doe \xc3\xbc");
  ASSERT_TRUE(unicode.ok());
  EXPECT_TRUE(unicode->has_value());
  // '+' in a path segment is itself, not a space.
  ASSERT_EQ(Call("POST", AuthUrlPath(stripe_, "a+b")).status, 201);
  auto plus = store_->FindUser(stripe_, "a+b");
  ASSERT_TRUE(plus.ok());
  EXPECT_TRUE(plus->has_value());
}

TEST_F(RouterTest, BadUserIdIs400) {
  const std::string too_long(256, 'a');
  for (const std::string& raw : {std::string("a%zz"), std::string("a%2"), std::string("%00"),
                                 std::string("a%01b"), std::string("%C0%AF"), too_long}) {
    SCOPED_TRACE(raw);
    ExpectError(Call("GET", UserPath(stripe_, raw)), 400, "Bad Request");
    ExpectError(Call("POST", AuthUrlPath(stripe_, raw)), 400, "Bad Request");
  }
  // An empty userId: refused, whether as an unmatched route or as a bad userId.
  int status = Call("GET", UserPath(stripe_, "")).status;
  EXPECT_TRUE(status == 400 || status == 404) << status;
}

TEST_F(RouterTest, RouteNeverCarriesTheRawPath) {
  const std::string token = "tok_" + std::string(40, 'z');
  http::Response connect = Call("GET", "/connect/" + token);
  EXPECT_EQ(connect.route, "GET /connect/{token}");
  EXPECT_EQ(connect.route.find(token), std::string::npos);

  http::Response health = Call("GET", "/healthz", Headers{});
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.route, "GET /healthz");

  const std::string personal = "alice%40example.com";
  for (const http::Response& response :
       {Call("GET", UserPath(stripe_, personal)), Call("POST", AuthUrlPath(stripe_, personal)),
        Call("GET", UserPath(stripe_, personal), Headers{})}) {
    EXPECT_EQ(response.route.find(stripe_), std::string::npos) << response.route;
    EXPECT_EQ(response.route.find("alice"), std::string::npos) << response.route;
    EXPECT_TRUE(response.route.starts_with("GET /v1/integrations/{cid}/users/{userId}") ||
                response.route == "POST /v1/integrations/{cid}/users/{userId}/auth-url")
        << response.route;
  }
}

TEST_F(RouterTest, ClassifyBlocksForOutboundCallsStreamsTheProxyAndInlinesTheRest) {
  using http::Dispatch;
  const struct {
    std::string_view method;
    std::string_view target;
    Dispatch dispatch;
  } kCases[] = {
      {"GET", "/v1/integrations", Dispatch::kInline},
      {"GET", "/v1/integrations/abc/users/u-1", Dispatch::kInline},
      {"POST", "/v1/integrations/abc/users/u-1/auth-url", Dispatch::kInline},
      {"DELETE", "/v1/integrations/abc/users/u-1", Dispatch::kInline},
      {"POST", "/oauth/callback", Dispatch::kBlocking},
      {"POST", "/connect/tok", Dispatch::kBlocking},
      {"GET", "/v1/integrations/abc/users/u-1/credentials", Dispatch::kBlocking},
      {"GET", "/connect/tok", Dispatch::kBlocking},
      {"GET", "/v1/proxy/abc/u-1/x?y=1", Dispatch::kStreamingInline},
      {"PUT", "/v1/proxy/abc/u-1/upload", Dispatch::kStreamingInline},
      {"POST", "/v1/tools/getItem/call", Dispatch::kInline},
      {"POST", "/v1/mcp", Dispatch::kInline},
      {"GET", "/v1/tools", Dispatch::kInline},
  };
  for (const auto& c : kCases) {
    http::Request request;
    request.method = c.method;
    request.target = c.target;
    EXPECT_EQ(Router::Classify(request), c.dispatch) << c.method << " " << c.target;
  }
}

TEST(RequestBodyTest, NumbersBeyondADoublesRangeAreRefused) {
  auto huge = ParseToolCallBody(R"({"userId":"u","arguments":{"a":[1,{"b":-1e400}]}})");
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().code, Errc::kInvalidArgument);
  auto fine = ParseToolCallBody(R"({"userId":"u","arguments":{"a":1.7e308,"b":-0.0,"c":1e-400}})");
  EXPECT_TRUE(fine.ok());
}

}  // namespace
}  // namespace tr::api
