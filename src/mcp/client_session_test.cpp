#include "mcp/client_session.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "mcp/rpc_answer.h"

namespace tr::mcp {
namespace {

namespace json = boost::json;

struct Sent {
  std::string method;
  net::Headers headers;
  std::string body;

  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return {};
  }
  json::object Message() const { return json::parse(body).as_object(); }
};

// A small MCP server behind the Transport seam: sessions, paging, SSE or JSON answers.
class FakeServer final : public Transport {
 public:
  bool sse = false;   // answer requests as text/event-stream
  int page_size = 2;  // tools per tools/list page
  int tool_count = 5;
  std::string version = "2025-11-25";  // what initialize answers
  int force_status = 0;                // answer every request with this status when set
  std::vector<Sent> sent;
  int sessions_made = 0;
  std::string live_session;

  Result<net::StreamedResult> Send(std::string_view method, const net::Headers& headers,
                                   const std::string& body) override {
    std::lock_guard lock(mu_);
    sent.push_back({std::string(method), headers, body});
    const Sent& s = sent.back();
    if (force_status) return Answer(force_status, {}, "");
    if (method == "DELETE") {
      if (s.Header("MCP-Session-Id") != live_session) return Answer(404, {}, "");
      live_session.clear();
      return Answer(200, {}, "");
    }
    json::object msg = s.Message();
    std::string rpc_method(msg["method"].as_string());
    if (rpc_method == "initialize") {
      live_session = "session-" + std::to_string(++sessions_made);
      json::object result{{"protocolVersion", version},
                          {"capabilities", {{"tools", {{"listChanged", true}}}}},
                          {"serverInfo", {{"name", "fake"}, {"version", "1"}}}};
      return Reply(msg, result, {{"mcp-session-id", live_session}});
    }
    if (s.Header("MCP-Session-Id") != live_session) return Answer(404, {}, "");
    if (s.Header("MCP-Protocol-Version") != version) return Answer(400, {}, "");
    if (!msg.contains("id")) return Answer(202, {}, "");
    if (rpc_method == "tools/list") {
      int start = 0;
      if (auto* p = msg.if_contains("params")) {
        if (auto* c = p->as_object().if_contains("cursor"))
          start = std::stoi(std::string(c->as_string()));
      }
      json::array tools;
      for (int i = start; i < std::min(start + page_size, tool_count); ++i) {
        tools.push_back(json::object{{"name", "tool" + std::to_string(i)},
                                     {"inputSchema", {{"type", "object"}}}});
      }
      json::object result{{"tools", tools}};
      if (start + page_size < tool_count) result["nextCursor"] = std::to_string(start + page_size);
      return Reply(msg, result, {});
    }
    if (rpc_method == "tools/call") {
      json::object params = msg["params"].as_object();
      if (params["name"] != "echo") {
        json::object error{{"code", -32602}, {"message", "Unknown tool: x\n"}};
        return Answer(
            200, {{"content-type", "application/json"}},
            json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", msg["id"]}, {"error", error}}));
      }
      json::object result{{"content", json::array{json::object{{"type", "text"}, {"text", "hi"}}}},
                          {"structuredContent", params["arguments"]},
                          {"isError", false}};
      return Reply(msg, result, {});
    }
    return Answer(400, {}, "");
  }

 private:
  std::mutex mu_;  // calls may come from several threads

  Result<net::StreamedResult> Reply(const json::object& request, const json::object& result,
                                    net::Headers headers) {
    json::object response{{"jsonrpc", "2.0"}, {"id", request.at("id")}, {"result", result}};
    std::string text = json::serialize(response);
    if (sse) {
      headers.emplace_back("content-type", "text/event-stream");
      // A notification and a keep-alive comment before the response, CRLF line ends.
      std::string body =
          ": ping\r\nevent: message\r\ndata: "
          "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\r\n\r\n"
          "id: 7\r\ndata: " +
          text + "\r\n\r\n";
      return Answer(200, headers, body);
    }
    headers.emplace_back("content-type", "application/json");
    return Answer(200, headers, text);
  }
  static Result<net::StreamedResult> Answer(int status, net::Headers headers, std::string body) {
    return net::StreamedResult{status, std::move(headers),
                               std::make_unique<net::StringBodyReader>(std::move(body))};
  }
};

TEST(McpClientSession, InitializesThenListsEveryPage) {
  FakeServer server;
  ClientSession session(server);
  auto tools = session.ListTools();
  ASSERT_TRUE(tools.ok()) << tools.error().message();
  ASSERT_EQ(tools->size(), 5u);
  EXPECT_EQ((*tools)[4].at("name"), "tool4");
  EXPECT_EQ(session.session_id(), "session-1");
  EXPECT_EQ(session.protocol_version(), "2025-11-25");

  // initialize, notifications/initialized, then three pages.
  ASSERT_EQ(server.sent.size(), 5u);
  json::object init = server.sent[0].Message();
  EXPECT_EQ(init["method"], "initialize");
  EXPECT_EQ(init["params"].at("protocolVersion"), "2025-11-25");
  EXPECT_EQ(init["params"].at("clientInfo").at("name"), "toolregistry");
  EXPECT_EQ(server.sent[0].Header("MCP-Session-Id"), "");
  EXPECT_EQ(server.sent[0].Header("Accept"), "application/json, text/event-stream");
  EXPECT_EQ(server.sent[1].Message()["method"], "notifications/initialized");
  EXPECT_EQ(server.sent[1].Header("MCP-Session-Id"), "session-1");
  EXPECT_EQ(server.sent[2].Header("MCP-Protocol-Version"), "2025-11-25");
  EXPECT_EQ(server.sent[3].Message()["params"].at("cursor"), "2");
}

TEST(McpClientSession, ReadsSseAnswersAndReportsNotifications) {
  FakeServer server;
  server.sse = true;
  std::vector<std::string> notifications;
  ClientSessionOptions options;
  options.on_notification = [&](const std::string& m) { notifications.push_back(m); };
  ClientSession session(server, options);
  auto result = session.CallTool("echo", json::object{{"message", "hi"}});
  ASSERT_TRUE(result.ok()) << result.error().message();
  EXPECT_EQ(result->at("structuredContent").at("message"), "hi");
  EXPECT_EQ(result->at("isError"), false);
  ASSERT_FALSE(notifications.empty());
  EXPECT_EQ(notifications[0], "notifications/tools/list_changed");
}

TEST(McpClientSession, ReinitializesOnceWhenTheServerForgetsTheSession) {
  FakeServer server;
  ClientSession session(server);
  ASSERT_TRUE(session.Initialize().ok());
  server.live_session = "another";  // the server restarted
  auto result = session.CallTool("echo", {});
  ASSERT_TRUE(result.ok()) << result.error().message();
  EXPECT_EQ(server.sessions_made, 2);
  EXPECT_EQ(session.session_id(), "session-2");
}

// Calls that all meet the 404 of one lost session start one new session between them.
TEST(McpClientSession, ConcurrentCallsReinitializeOnce) {
  FakeServer server;
  ClientSession session(server);
  ASSERT_TRUE(session.Initialize().ok());
  server.live_session = "restarted";
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (session.CallTool("echo", json::object{{"message", "x"}}).ok()) ++ok;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(server.sessions_made, 2);
}

TEST(McpClientSession, MapsErrors) {
  FakeServer server;
  ClientSession session(server);
  auto unknown = session.CallTool("nope", {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(unknown.error().message(), "the MCP server answered error -32602: Unknown tool: x ");

  FakeServer old_server;
  old_server.version = "2024-11-05";
  ClientSession old_session(old_server);
  auto refused = old_session.Initialize();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("2024-11-05"), std::string::npos);

  FakeServer locked;
  locked.force_status = 401;
  ClientSession locked_session(locked);
  auto denied = locked_session.ListTools();
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, Errc::kBadGateway);
  EXPECT_EQ(denied.error().message(), "the MCP server refused the credentials (HTTP 401)");
}

TEST(McpClientSession, CloseDeletesTheSession) {
  FakeServer server;
  ClientSession session(server);
  ASSERT_TRUE(session.Initialize().ok());
  ASSERT_TRUE(session.Close().ok());
  EXPECT_EQ(server.sent.back().method, "DELETE");
  EXPECT_EQ(server.sent.back().Header("MCP-Session-Id"), "session-1");
  EXPECT_EQ(server.live_session, "");
  EXPECT_EQ(session.session_id(), "");
  // The next call starts a new session.
  ASSERT_TRUE(session.ListTools().ok());
  EXPECT_EQ(server.sessions_made, 2);
}

TEST(McpClientSession, StopsAtACursorLoop) {
  class Looping final : public Transport {
   public:
    Result<net::StreamedResult> Send(std::string_view, const net::Headers&,
                                     const std::string& body) override {
      json::object msg = json::parse(body).as_object();
      json::object result;
      if (msg["method"] == "initialize") result = {{"protocolVersion", "2025-06-18"}};
      if (msg["method"] == "tools/list")
        result = {{"tools", json::array{}}, {"nextCursor", "same"}};
      if (!msg.contains("id")) return Answer(202, "");
      return Answer(200, json::serialize(json::object{
                             {"jsonrpc", "2.0"}, {"id", msg["id"]}, {"result", result}}));
    }
    static Result<net::StreamedResult> Answer(int status, std::string body) {
      return net::StreamedResult{status,
                                 {{"content-type", "application/json"}},
                                 std::make_unique<net::StringBodyReader>(std::move(body))};
    }
  } looping;
  ClientSession session(looping);
  auto tools = session.ListTools();
  ASSERT_FALSE(tools.ok());
  EXPECT_EQ(tools.error().message(), "the MCP server's tools/list cursors go round in a loop");
}

TEST(McpRpcAnswer, RefusesAnAnswerOverTheLimit) {
  std::string big = "data: " + std::string(2000, 'x') + "\n\n";
  net::StringBodyReader body(big);
  auto answer = ReadRpcAnswer("text/event-stream", body, {1, 1000, nullptr});
  ASSERT_FALSE(answer.ok());
  EXPECT_NE(answer.error().message().find("over"), std::string::npos);
}

TEST(McpRpcAnswer, FindsItsResponseInABatchAndSkipsOthers) {
  std::string text =
      R"([{"jsonrpc":"2.0","id":3,"result":{"a":1}},{"jsonrpc":"2.0","id":4,"result":{"b":2}}])";
  net::StringBodyReader body(text);
  auto answer = ReadRpcAnswer("application/json; charset=utf-8", body, {4, 1 << 20, nullptr});
  ASSERT_TRUE(answer.ok()) << answer.error().message();
  EXPECT_EQ(answer->at("b"), 2);

  net::StringBodyReader none(R"({"jsonrpc":"2.0","id":9,"result":{}})");
  auto missing = ReadRpcAnswer("application/json", none, {4, 1 << 20, nullptr});
  ASSERT_FALSE(missing.ok());
  net::StringBodyReader html("<html>");
  EXPECT_FALSE(ReadRpcAnswer("text/html", html, {4, 1 << 20, nullptr}).ok());
}

TEST(McpSseParser, JoinsDataLinesAndHandlesEveryLineEnd) {
  std::vector<std::pair<std::string, std::string>> events;
  SseParser parser(
      [&](std::string_view type, std::string_view data) { events.emplace_back(type, data); });
  parser.Feed("event: custom\ndata: a\rdata:b\r");
  parser.Feed("\n\r\ndata: c\n\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].first, "custom");
  EXPECT_EQ(events[0].second, "a\nb");
  EXPECT_EQ(events[1].first, "message");
  EXPECT_EQ(events[1].second, "c");
}

}  // namespace
}  // namespace tr::mcp
