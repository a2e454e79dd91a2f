// ClientSession against a real MCP server over loopback: npm
// @modelcontextprotocol/server-everything in its Streamable HTTP mode, through the real
// outbound client (libcurl). tests/blackbox/mcp_client_smoke.test.mjs starts the server and
// runs this test with TOOLREGISTRY_TEST_MCP_URL set; without it the test is skipped.

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include <boost/json/serialize.hpp>

#include "mcp/client_session.h"
#include "net/curl_http_client.h"

namespace tr::mcp {
namespace {

namespace json = boost::json;

TEST(McpEverythingSmoke, ListsAndCallsTools) {
  const char* url = std::getenv("TOOLREGISTRY_TEST_MCP_URL");
  if (url == nullptr || *url == '\0') GTEST_SKIP() << "TOOLREGISTRY_TEST_MCP_URL is not set";
  net::CurlOptions options;
  options.allow_private_network = true;
  net::CurlHttpClient http(options);
  HttpClientTransport transport(http, url);
  ClientSession session(transport);

  auto tools = session.ListTools();
  ASSERT_TRUE(tools.ok()) << tools.error().message();
  std::set<std::string> names;
  for (const json::object& tool : *tools) names.insert(std::string(tool.at("name").as_string()));
  for (const char* name : {"echo", "get-sum", "get-structured-content"}) {
    EXPECT_TRUE(names.count(name)) << name;
  }
  EXPECT_FALSE(session.session_id().empty());

  auto echo = session.CallTool("echo", json::object{{"message", "hello"}});
  ASSERT_TRUE(echo.ok()) << echo.error().message();
  EXPECT_NE(json::serialize(echo->at("content")).find("hello"), std::string::npos);

  auto sum = session.CallTool("get-sum", json::object{{"a", 2}, {"b", 40}});
  ASSERT_TRUE(sum.ok()) << sum.error().message();
  EXPECT_NE(json::serialize(sum->at("content")).find("42"), std::string::npos);

  auto weather = session.CallTool("get-structured-content", json::object{{"location", "Chicago"}});
  ASSERT_TRUE(weather.ok()) << weather.error().message();
  ASSERT_TRUE(weather->contains("structuredContent"));
  EXPECT_TRUE(weather->at("structuredContent").as_object().contains("temperature"));

  // An unknown tool: the server's answer passed on, as a result with isError or an error.
  auto unknown = session.CallTool("no-such-tool", {});
  if (unknown.ok()) {
    EXPECT_EQ(unknown->at("isError"), true);
  }

  EXPECT_TRUE(session.Close().ok());
  // After DELETE the session is gone; the next call starts a new one.
  auto again = session.CallTool("echo", json::object{{"message", "again"}});
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_TRUE(session.Close().ok());
}

}  // namespace
}  // namespace tr::mcp
