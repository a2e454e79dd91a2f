// Tests for ToolService (core/tool_service.h) and the MCP endpoint over it (api/mcp.h):
// tools of hand-made ToolSets on catalog entries, calls through the real ProxyService to a
// fake upstream, over a real SqliteStore in a temporary folder and a FakeClock.

#include "core/tool_service.h"

#include <gtest/gtest.h>

#include <mutex>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "api/mcp.h"
#include "core/test_services.h"
#include "core/test_support.h"

namespace tr {
namespace {

namespace json = boost::json;

constexpr int64_t kStart = 1757202316580;
constexpr char kPublicUrl[] = "https://registry.example.test";

// Two API_TOKEN integrations on one upstream; each gets tools in the test.
const char* const kAlpha = R"({"integrationId": "alpha", "name": "Alpha", "host": "alpha.test",
  "authTypes": ["API_TOKEN"], "apiToken": {"header": "X-Key", "fields": [{"name": "token"}],
  "verification": {"method": "GET", "url": "https://alpha.test/me", "successStatus": 200}}})";
const char* const kBeta = R"({"integrationId": "beta", "name": "Beta", "host": "beta.test",
  "authTypes": ["API_TOKEN"], "apiToken": {"header": "X-Key", "fields": [{"name": "token"}],
  "verification": {"method": "GET", "url": "https://beta.test/me", "successStatus": 200}}})";

// The upstream: records each call and answers with `answer`.
class FakeUpstream final : public net::HttpClient {
 public:
  Result<net::HttpResult> Send(const net::HttpCall& call) override {
    std::lock_guard lock(mu_);
    calls.push_back(call);
    if (call.url.ends_with("/me")) return net::HttpResult{200, {}, "{}"};
    return answer;
  }
  std::mutex mu_;
  std::vector<net::HttpCall> calls;
  net::HttpResult answer{200, {{"content-type", "application/json"}}, R"({"id": 7})"};
};

tools::Tool MakeTool(std::string name, std::string method, std::string path) {
  tools::Tool tool;
  tool.name = std::move(name);
  tool.key = tool.name;
  tool.description = "does " + tool.name;
  tool.input_schema = json::object{{"type", "object"}, {"properties", json::object()}};
  tool.operation.method = std::move(method);
  tool.operation.path = std::move(path);
  return tool;
}

Catalog TwoIntegrations() {
  auto loaded = Catalog::Load({{"alpha.json", kAlpha}, {"beta.json", kBeta}});
  if (!loaded) throw std::runtime_error(loaded.error().message());
  return std::move(loaded.value());
}

// Puts `set` on a catalog definition. The definitions are made mutable (make_shared) and
// are shared read-only afterwards; a test sets tools before any service reads them, as the
// OpenAPI import does when it parses a definition.
void SetTools(const Catalog& catalog, std::string_view id, tools::ToolSet set) {
  auto def = catalog.Find(id);
  const_cast<IntegrationDefinition&>(*def).tools =
      std::make_shared<const tools::ToolSet>(std::move(set));
}

class ToolServiceTest : public testing::Test {
 protected:
  ToolServiceTest() : catalog_(TwoIntegrations()) {
    tools::Tool get_item = MakeTool("alpha_get_item", "GET", "/items/{id}");
    get_item.input_schema = json::parse(R"({"type": "object", "required": ["id"],
        "properties": {"id": {"type": "string"}, "q": {"type": "string"}}})")
                                .get_object();
    get_item.operation.parameters.push_back(
        tools::Parameter{"id", "id", tools::ParamIn::kPath, "", false, true});
    get_item.operation.parameters.push_back(
        tools::Parameter{"q", "q", tools::ParamIn::kQuery, "", true, false});
    tools::Tool create = MakeTool("dup", "POST", "/items");
    create.input_schema = json::parse(R"({"type": "object",
        "properties": {"body": {"type": "object"}}})")
                              .get_object();
    create.operation.has_body = true;
    create.operation.body_content_type = "application/json";
    SetTools(catalog_, "alpha", tools::ToolSet{{get_item, create}});
    SetTools(catalog_, "beta",
             tools::ToolSet{{MakeTool("dup", "GET", "/b"), MakeTool("dup_2", "GET", "/c")}});
    dir_ = testing_support::MakeTempDir("tools");
    services_ = std::make_unique<testing_support::TestServices>(
        catalog_, dir_ / "toolregistry.db", clock_, keyring_, http_,
        ApiServiceOptions{kPublicUrl, 900'000});
    ws_ = services_->NewWorkspace("acme");
    alpha_ = services_->Enable(ws_, "alpha");
    clock_.Advance(1);
    beta_ = services_->Enable(ws_, "beta");
  }
  ~ToolServiceTest() override {
    services_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Result<ToolCallOutcome> Call(std::string_view name, const char* arguments) {
    return services_->tools->Call(ws_, name, "u-1", json::parse(arguments).get_object());
  }

  Catalog catalog_;
  FakeClock clock_{kStart};
  crypto::Keyring keyring_{std::string(crypto::Keyring::kKeySize, 'k')};
  FakeUpstream http_;
  std::filesystem::path dir_;
  std::unique_ptr<testing_support::TestServices> services_;
  std::string ws_, alpha_, beta_;
};

TEST(UniqueToolNames, RepeatsGetTheFirstFreeSuffixInOrder) {
  EXPECT_EQ(UniqueToolNames({"a", "b", "a", "a_2", "a"}),
            (std::vector<std::string>{"a", "b", "a_3", "a_2", "a_4"}));
  std::string long_name(64, 'x');
  auto names = UniqueToolNames({long_name, long_name});
  EXPECT_EQ(names[1], std::string(62, 'x') + "_2");
}

TEST(ReadToolAnswer, JsonTextAndBinary) {
  auto parsed = ReadToolAnswer(200, "application/problem+json; charset=utf-8", R"({"a":1})", false);
  ASSERT_TRUE(parsed.json);
  EXPECT_EQ(json::serialize(*parsed.json), R"({"a":1})");
  auto text = ReadToolAnswer(200, "application/json", "not json", false);
  EXPECT_FALSE(text.json);
  EXPECT_EQ(text.body, "not json");
  auto cut = ReadToolAnswer(200, "application/json", "{\"a\": \"\xc3", true);
  EXPECT_FALSE(cut.json);
  EXPECT_FALSE(cut.base64);
  EXPECT_EQ(cut.body, "{\"a\": \"");
  auto binary = ReadToolAnswer(200, "image/png", std::string("\x89PNG\xff\xfe", 6), false);
  EXPECT_TRUE(binary.base64);
}

TEST_F(ToolServiceTest, ListsToolsOfActiveIntegrationsWithUniqueNames) {
  ASSERT_TRUE(services_->ConnectApiToken(ws_, beta_, "u-1", "secret-b"));
  auto list = services_->tools->List(ws_, "u-1");
  ASSERT_TRUE(list) << list.error().message();
  std::vector<std::string> names;
  for (const UserTool& t : *list) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"alpha_get_item", "dup", "dup_3", "dup_2"}));
  EXPECT_FALSE((*list)[0].connected);
  EXPECT_TRUE((*list)[2].connected);
  EXPECT_EQ((*list)[2].customer_integration_id, beta_);

  auto only_beta = services_->tools->List(ws_, "u-1", beta_);
  ASSERT_TRUE(only_beta);
  ASSERT_EQ(only_beta->size(), 2u);
  EXPECT_EQ((*only_beta)[0].name, "dup_3");  // the names of the whole list

  ASSERT_TRUE(services_->store->SetCustomerIntegrationActive(beta_, false, kStart));
  auto inactive = services_->tools->List(ws_, "u-1", beta_);
  ASSERT_TRUE(inactive);
  EXPECT_TRUE(inactive->empty());
  EXPECT_EQ(services_->tools->List(ws_, "u-1", "not-a-uuid").error().code, Errc::kNotFound);
  EXPECT_EQ(services_->tools->List(ws_, "").error().code, Errc::kInvalidArgument);
}

TEST_F(ToolServiceTest, CallSendsThroughTheProxyWithTheUsersAuth) {
  ASSERT_TRUE(services_->ConnectApiToken(ws_, alpha_, "u-1", "secret-a"));
  auto outcome = Call("alpha_get_item", R"({"id": "a b", "q": "x"})");
  ASSERT_TRUE(outcome) << outcome.error().message();
  const auto& result = std::get<ToolCallResult>(*outcome);
  EXPECT_EQ(result.status, 200);
  ASSERT_TRUE(result.json);
  EXPECT_EQ(json::serialize(*result.json), R"({"id":7})");
  EXPECT_FALSE(result.truncated);
  const net::HttpCall& sent = http_.calls.back();
  EXPECT_EQ(sent.method, "GET");
  EXPECT_EQ(sent.url, "https://alpha.test/items/a%20b?q=x");
  bool has_key = false;
  for (const auto& [name, value] : sent.headers) {
    has_key |= http::EqualsIgnoreCase(name, "x-key") && value.ends_with("secret-a");
  }
  EXPECT_TRUE(has_key) << sent.headers.size();
}

TEST_F(ToolServiceTest, InvalidArgumentsSendNothing) {
  ASSERT_TRUE(services_->ConnectApiToken(ws_, alpha_, "u-1", "secret-a"));
  const size_t before = http_.calls.size();
  auto outcome = Call("alpha_get_item", "{}");
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(http_.calls.size(), before);
  EXPECT_EQ(Call("nope", "{}").error().code, Errc::kNotFound);
}

TEST_F(ToolServiceTest, UnconnectedUserGetsAFreshConnectLink) {
  auto outcome = Call("alpha_get_item", R"({"id": "1"})");
  ASSERT_TRUE(outcome) << outcome.error().message();
  const auto& missing = std::get<NotConnected>(*outcome);
  EXPECT_TRUE(missing.authorize_url.starts_with(std::string(kPublicUrl) + "/connect/"));
  EXPECT_EQ(missing.integration_name, "Alpha");
  auto again = Call("alpha_get_item", R"({"id": "1"})");
  EXPECT_NE(std::get<NotConnected>(*again).authorize_url, missing.authorize_url);
  EXPECT_TRUE(http_.calls.empty());
}

TEST_F(ToolServiceTest, LargeBodiesAreCutAtOneMebibyte) {
  ASSERT_TRUE(services_->ConnectApiToken(ws_, alpha_, "u-1", "secret-a"));
  http_.answer = net::HttpResult{
      500, {{"content-type", "text/plain"}}, std::string(ToolService::kMaxBodyBytes + 10, 'a')};
  auto outcome = Call("dup", R"({"body": {"x": 1}})");
  ASSERT_TRUE(outcome) << outcome.error().message();
  const auto& result = std::get<ToolCallResult>(*outcome);
  EXPECT_EQ(result.status, 500);
  EXPECT_TRUE(result.truncated);
  EXPECT_EQ(result.body.size(), ToolService::kMaxBodyBytes);
  EXPECT_EQ(http_.calls.back().body, R"({"x":1})");
}

// The workspace's tools are cached under the change stamp; the user's rows are not.
TEST_F(ToolServiceTest, CachedToolsFollowConnectionsAndIntegrationChanges) {
  auto connected = [&](std::string_view user) {
    auto list = services_->tools->List(ws_, user, alpha_);
    EXPECT_TRUE(list) << list.error().message();
    return list && !list->empty() && (*list)[0].connected;
  };
  EXPECT_FALSE(connected("u-1"));
  ASSERT_TRUE(std::holds_alternative<NotConnected>(*Call("alpha_get_item", R"({"id": "1"})")));
  ASSERT_TRUE(services_->ConnectApiToken(ws_, alpha_, "u-1", "secret-a"));
  EXPECT_TRUE(connected("u-1"));  // the next call sees it, cache or not
  EXPECT_FALSE(connected("u-2"));
  ASSERT_TRUE(std::holds_alternative<ToolCallResult>(*Call("alpha_get_item", R"({"id": "1"})")));

  // Disabling alpha moves the stamp: its tools are gone, and beta's "dup" (was "dup_3") and
  // "dup_2" keep their own names...
  ASSERT_TRUE(services_->store->SetCustomerIntegrationActive(alpha_, false, kStart));
  auto list = services_->tools->List(ws_, "u-1");
  ASSERT_TRUE(list);
  std::vector<std::string> names;
  for (const UserTool& t : *list) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"dup", "dup_2"}));
  EXPECT_EQ(Call("alpha_get_item", R"({"id": "1"})").error().code, Errc::kNotFound);
  // ...and back.
  ASSERT_TRUE(services_->store->SetCustomerIntegrationActive(alpha_, true, kStart));
  EXPECT_TRUE(connected("u-1"));
  ASSERT_TRUE(std::holds_alternative<ToolCallResult>(*Call("alpha_get_item", R"({"id": "1"})")));
}

// ConnectedFlags is what the list caches are looked up by: it must say of every tool what
// List says, in List's order, for the whole list and for one customer integration.
TEST_F(ToolServiceTest, ConnectedFlagsAreListsConnectedInOrder) {
  ASSERT_TRUE(services_->ConnectApiToken(ws_, alpha_, "u-1", "secret-a"));
  for (std::optional<std::string_view> cid : {std::optional<std::string_view>(),
                                               std::optional<std::string_view>(alpha_)}) {
    for (std::string_view user : {"u-1", "u-2"}) {
      auto list = services_->tools->List(ws_, user, cid);
      auto flags = services_->tools->ConnectedFlags(ws_, user, cid);
      ASSERT_TRUE(list && flags && *flags);
      std::string expected;
      for (const UserTool& t : *list) expected += t.connected ? '1' : '0';
      EXPECT_EQ(**flags, expected) << user << (cid ? " in alpha" : "");
      EXPECT_NE(expected.find(user == "u-1" ? '1' : '0'), std::string::npos);
    }
  }
  EXPECT_EQ(services_->tools->ConnectedFlags(ws_, "bad\nid").error().code,
            Errc::kInvalidArgument);
  auto shared = services_->tools->SharedByUsers(ws_, "u-1");
  ASSERT_TRUE(shared);
  EXPECT_TRUE(*shared);  // no remote MCP server in this workspace
}

// The MCP endpoint over the same services.
class McpEndpointTest : public ToolServiceTest {
 protected:
  http::Response Post(const std::string& body, std::string_view session = "",
                      std::string_view origin = "") {
    http::Request request;
    request.method = "POST";
    request.target = "/v1/mcp";
    request.body = body;
    request.headers.emplace_back("x-user-id", "u-1");
    if (!session.empty()) request.headers.emplace_back("mcp-session-id", session);
    if (!origin.empty()) request.headers.emplace_back("origin", origin);
    http::Response response = endpoint_.Handle(request, ws_);
    if (response.deferred) return response.deferred->Wait();  // a call under way
    return response;
  }
  std::string Initialize(const char* capabilities = "{}") {
    http::Response response = Post(std::string(R"({"jsonrpc":"2.0","id":1,"method":"initialize",
      "params":{"protocolVersion":"2025-11-25","clientInfo":{"name":"t","version":"1"},
      "capabilities":)") + capabilities +
                                   "}}");
    EXPECT_EQ(response.status, 200);
    for (const auto& [name, value] : response.headers) {
      if (name == "Mcp-Session-Id") return value;
    }
    ADD_FAILURE() << "no session id";
    return "";
  }
  json::object Answer(const http::Response& response) {
    return json::parse(response.Text()).get_object();
  }
  api::McpEndpoint endpoint_{*services_->tools, *services_->mcp_sessions};
};

TEST_F(McpEndpointTest, SessionsPagesAndCalls) {
  std::string session = Initialize();
  EXPECT_EQ(Post(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", session).status, 202);
  EXPECT_EQ(Post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})").status, 400);  // no session
  EXPECT_EQ(Post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})", "unknown").status, 404);
  json::object list = Answer(Post(R"({"jsonrpc":"2.0","id":3,"method":"tools/list"})", session));
  EXPECT_EQ(list["result"].at("tools").as_array().size(), 4u);
  EXPECT_FALSE(list["result"].as_object().contains("nextCursor"));

  json::object unconnected = Answer(Post(
      R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"dup","arguments":{}}})",
      session));
  EXPECT_TRUE(unconnected["result"].at("isError").as_bool());

  ASSERT_TRUE(services_->ConnectApiToken(ws_, alpha_, "u-1", "secret-a"));
  json::object called = Answer(Post(
      R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"alpha_get_item","arguments":{"id":"9"}}})",
      session));
  EXPECT_EQ(called["id"].as_int64(), 5);
  EXPECT_EQ(json::serialize(called["result"].at("structuredContent")), R"({"id":7})");
  EXPECT_FALSE(called["result"].as_object().contains("isError"));
  json::object invalid = Answer(Post(
      R"({"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"alpha_get_item","arguments":{}}})",
      session));
  EXPECT_TRUE(invalid["result"].at("isError").as_bool());
  json::object unknown = Answer(
      Post(R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"zzz"}})", session));
  EXPECT_EQ(unknown["error"].at("code").as_int64(), -32602);

  http::Request del;
  del.method = "DELETE";
  del.target = "/v1/mcp";
  del.headers = {{"x-user-id", "u-1"}, {"mcp-session-id", session}};
  EXPECT_EQ(endpoint_.Handle(del, ws_).status, 204);
  EXPECT_EQ(Post(R"({"jsonrpc":"2.0","id":8,"method":"ping"})", session).status, 404);
}

TEST_F(McpEndpointTest, UrlElicitationForClientsThatDeclareIt) {
  std::string session = Initialize(R"({"elicitation":{"url":{}}})");
  json::object answer = Answer(Post(
      R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"dup","arguments":{}}})",
      session));
  const json::object& error = answer["error"].as_object();
  EXPECT_EQ(error.at("code").as_int64(), -32042);
  const json::object& item = error.at("data").at("elicitations").at(0).as_object();
  EXPECT_EQ(item.at("mode").as_string(), "url");
  EXPECT_TRUE(item.at("url").as_string().starts_with(std::string(kPublicUrl) + "/connect/"));
}

TEST_F(McpEndpointTest, OriginAndProtocolVersion) {
  EXPECT_EQ(Post(R"({"jsonrpc":"2.0","id":1,"method":"ping"})", "", "https://evil.test").status,
            403);
  std::string session = Initialize();
  EXPECT_EQ(Post(R"({"jsonrpc":"2.0","id":2,"method":"ping"})", session, kPublicUrl).status, 200);
  http::Request request;
  request.method = "POST";
  request.target = "/v1/mcp";
  request.body = R"({"jsonrpc":"2.0","id":2,"method":"ping"})";
  request.headers = {
      {"x-user-id", "u-1"}, {"mcp-session-id", session}, {"mcp-protocol-version", "1999-01-01"}};
  EXPECT_EQ(endpoint_.Handle(request, ws_).status, 400);
  request.headers = {{"mcp-session-id", session}};
  EXPECT_EQ(endpoint_.Handle(request, ws_).status, 400);  // no x-user-id
}

}  // namespace
}  // namespace tr

namespace tr {
namespace {

// A remote MCP server (no auth) behind the HTTP fake: initialize, tools/list in two pages,
// tools/call answered as SSE with notifications/tools/list_changed before the result.
class FakeMcpServer final : public net::HttpClient {
 public:
  Result<net::HttpResult> Send(const net::HttpCall& call) override {
    std::lock_guard lock(mu_);
    urls.push_back(call.url);
    if (call.method == "DELETE") {
      ++deletes;
      return net::HttpResult{200, {}, ""};
    }
    json::object request = json::parse(call.body).as_object();
    const std::string method(request.at("method").as_string());
    methods.push_back(method);
    if (!request.contains("id")) return net::HttpResult{202, {}, ""};
    json::object result;
    if (method == "initialize") {
      result = json::parse(R"({"protocolVersion":"2025-11-25","capabilities":{"tools":{}},
          "serverInfo":{"name":"fake","version":"1"}})")
                   .as_object();
    } else if (method == "tools/list") {
      if (failing) return net::HttpResult{500, {{"content-type", "text/plain"}}, "down"};
      const json::value* params = request.if_contains("params");
      const bool second = params && params->as_object().contains("cursor");
      result =
          second ? json::parse(R"({"tools":[{"name":"get-sum","inputSchema":{"type":"object"}}]})")
                       .as_object()
                 : json::parse(R"({"tools":[{"name":"echo","description":"Echoes",
                            "inputSchema":{"type":"object","properties":{"message":{}}}}],
                            "nextCursor":"p2"})")
                       .as_object();
    } else if (method == "tools/call") {
      arguments.push_back(request.at("params").as_object().at("arguments").as_object());
      result = json::parse(R"({"content":[{"type":"text","text":"hi"}],
          "structuredContent":{"n":1},"isError":true})")
                   .as_object();
      json::object answer{{"jsonrpc", "2.0"}, {"id", request.at("id")}, {"result", result}};
      return net::HttpResult{
          200,
          {{"content-type", "text/event-stream"}},
          "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\n"
          "data: " +
              json::serialize(answer) + "\n\n"};
    }
    json::object answer{{"jsonrpc", "2.0"}, {"id", request.at("id")}, {"result", result}};
    return net::HttpResult{200,
                           {{"content-type", "application/json"}, {"mcp-session-id", "s-1"}},
                           json::serialize(answer)};
  }
  size_t Count(std::string_view method) {
    std::lock_guard lock(mu_);
    return std::count(methods.begin(), methods.end(), method);
  }
  std::mutex mu_;
  std::vector<std::string> urls, methods;
  std::vector<json::object> arguments;
  size_t deletes = 0;
  bool failing = false;  // tools/list answers 500
};

class McpUpstreamToolsTest : public testing::Test {
 protected:
  McpUpstreamToolsTest() : catalog_(Load()) {
    dir_ = testing_support::MakeTempDir("mcp_tools");
    services_ = std::make_unique<testing_support::TestServices>(
        catalog_, dir_ / "toolregistry.db", clock_, keyring_, http_,
        ApiServiceOptions{kPublicUrl, 900'000});
    ws_ = services_->NewWorkspace("acme");
    EnableRequest request;
    request.workspace_id = ws_;
    request.integration_id = "remote";
    auto ci = services_->admin->EnableIntegration(request);
    if (!ci) throw std::runtime_error(ci.error().message());
    cid_ = ci->customer_integration_id;
  }
  ~McpUpstreamToolsTest() override {
    services_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  static Catalog Load() {
    auto loaded = Catalog::Load({{"remote.json", R"({"integrationId": "remote", "name": "Remote",
        "authTypes": ["NONE"], "mcp": {"url": "https://mcp.test/mcp"},
        "tools": {"names": {"get-sum": "sum"}}})"}});
    if (!loaded) throw std::runtime_error(loaded.error().message());
    return std::move(loaded.value());
  }
  void Connect(const std::string& user) {
    ConnectStep done = services_->connect->Start(services_->NewSession(ws_, cid_, user));
    ASSERT_TRUE(std::holds_alternative<FlowResult>(done));
  }
  std::vector<std::string> Names(const std::string& user) {
    auto list = services_->tools->List(ws_, user);
    EXPECT_TRUE(list) << list.error().message();
    std::vector<std::string> names;
    if (list) {
      for (const UserTool& t : *list) names.push_back(t.name);
    }
    return names;
  }

  Catalog catalog_;
  FakeClock clock_{kStart};
  crypto::Keyring keyring_{std::string(crypto::Keyring::kKeySize, 'k')};
  FakeMcpServer http_;
  std::filesystem::path dir_;
  std::unique_ptr<testing_support::TestServices> services_;
  std::string ws_, cid_;
};

TEST_F(McpUpstreamToolsTest, UnconnectedUsersSeeNoneAndGetTheConnectLink) {
  EXPECT_TRUE(Names("u-1").empty());
  auto outcome = services_->tools->Call(ws_, "remote_echo", "u-1", json::object());
  ASSERT_TRUE(outcome) << outcome.error().message();
  EXPECT_TRUE(std::holds_alternative<NotConnected>(*outcome));
  EXPECT_TRUE(http_.methods.empty());
  EXPECT_EQ(services_->tools->Call(ws_, "other_echo", "u-2", json::object()).error().code,
            Errc::kNotFound);
}

TEST_F(McpUpstreamToolsTest, ListedThroughCursorsCachedAndReadAgainOnListChanged) {
  Connect("u-1");
  EXPECT_EQ(Names("u-1"), (std::vector<std::string>{"remote_echo", "sum"}));
  EXPECT_EQ(http_.Count("initialize"), 1u);
  EXPECT_EQ(http_.Count("tools/list"), 2u);  // two pages
  EXPECT_EQ(Names("u-1").size(), 2u);
  EXPECT_EQ(http_.Count("tools/list"), 2u);               // cached
  EXPECT_EQ(http_.urls.front(), "https://mcp.test/mcp");  // the endpoint, no "/" added

  json::object arguments{{"message", "x"}, {"extra", json::array{1, 2}}};
  auto outcome = services_->tools->Call(ws_, "remote_echo", "u-1", arguments);
  ASSERT_TRUE(outcome) << outcome.error().message();
  const auto& result = std::get<ToolCallResult>(*outcome);
  EXPECT_TRUE(result.mcp_result);
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(
      json::serialize(*result.json),
      R"({"content":[{"type":"text","text":"hi"}],"structuredContent":{"n":1},"isError":true})");
  EXPECT_EQ(http_.arguments.back(), arguments);  // unchanged
  EXPECT_EQ(http_.Count("initialize"), 1u);      // one session for the user

  Names("u-1");  // list_changed came with the call's answer
  EXPECT_EQ(http_.Count("tools/list"), 4u);
  Names("u-1");
  EXPECT_EQ(http_.Count("tools/list"), 4u);
}

// McpUpstreams alone, on a steady clock the test moves: the tools are read again once they
// are 10 minutes old, and a session unused for 5 minutes is closed (DELETE) at the next use
// of the pool; a session in use stays.
TEST_F(McpUpstreamToolsTest, ToolsAgeOutAndIdleSessionsClose) {
  using std::chrono::minutes;
  using std::chrono::seconds;
  Connect("u-1");
  Connect("u-2");
  McpUpstreams::SteadyClock::time_point now{};
  McpUpstreams pool(*services_->proxy, [&now] { return now; });
  auto definition = catalog_.Find("remote");
  ASSERT_TRUE(definition);
  auto tools = [&](const std::string& user) {
    auto set = pool.Tools(ws_, cid_, user, definition);
    EXPECT_TRUE(set) << set.error().message();
  };

  tools("u-1");
  EXPECT_EQ(http_.Count("tools/list"), 2u);  // two pages
  now += minutes(4);
  tools("u-1");
  now += minutes(4);
  tools("u-1");
  EXPECT_EQ(http_.Count("tools/list"), 2u);  // 8 minutes old: cached
  now += minutes(2);
  tools("u-1");
  EXPECT_EQ(http_.Count("tools/list"), 4u);  // 10 minutes old: read again
  EXPECT_EQ(http_.Count("initialize"), 1u);  // in the same session

  now += minutes(3);
  tools("u-2");
  EXPECT_EQ(pool.size(), 2u);
  EXPECT_EQ(http_.Count("initialize"), 2u);
  now += minutes(2) + seconds(1);  // u-1 unused for 5 min 1 s, u-2 for 2 min 1 s
  tools("u-2");
  EXPECT_EQ(http_.deletes, 1u);
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(http_.Count("initialize"), 2u);  // u-2 kept its session
  now += minutes(6);
  tools("u-1");  // u-2's is closed; u-1 starts a new one
  EXPECT_EQ(http_.deletes, 2u);
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(http_.Count("initialize"), 3u);
}

// A failed tools/list is not repeated for a minute: without a list read before, the failure
// is answered; with one, that list is served until the server is asked again.
TEST_F(McpUpstreamToolsTest, AFailedListIsHeldForAMinute) {
  using std::chrono::minutes;
  using std::chrono::seconds;
  Connect("u-1");
  McpUpstreams::SteadyClock::time_point now{};
  McpUpstreams pool(*services_->proxy, [&now] { return now; });
  auto definition = catalog_.Find("remote");
  ASSERT_TRUE(definition);

  http_.failing = true;
  EXPECT_FALSE(pool.Tools(ws_, cid_, "u-1", definition));
  EXPECT_EQ(http_.Count("tools/list"), 1u);
  now += seconds(59);
  EXPECT_FALSE(pool.Tools(ws_, cid_, "u-1", definition));
  EXPECT_EQ(http_.Count("tools/list"), 1u);  // held: the server is not asked

  http_.failing = false;
  now += seconds(1);
  auto set = pool.Tools(ws_, cid_, "u-1", definition);
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ((*set)->tools.size(), 2u);
  EXPECT_EQ(http_.Count("tools/list"), 3u);  // asked again: two pages

  now += minutes(4);  // used every 4 minutes: the session stays open
  ASSERT_TRUE(pool.Tools(ws_, cid_, "u-1", definition));
  now += minutes(4);
  ASSERT_TRUE(pool.Tools(ws_, cid_, "u-1", definition));
  http_.failing = true;
  now += minutes(2);  // due again, and the server fails: the last list is served
  set = pool.Tools(ws_, cid_, "u-1", definition);
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ((*set)->tools.size(), 2u);
  EXPECT_EQ(http_.Count("tools/list"), 4u);
  now += seconds(30);
  ASSERT_TRUE(pool.Tools(ws_, cid_, "u-1", definition));
  EXPECT_EQ(http_.Count("tools/list"), 4u);
  http_.failing = false;
  now += seconds(30);
  ASSERT_TRUE(pool.Tools(ws_, cid_, "u-1", definition));
  EXPECT_EQ(http_.Count("tools/list"), 6u);
}

}  // namespace
}  // namespace tr
