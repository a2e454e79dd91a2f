#include "core/mcp_upstreams.h"

#include <gtest/gtest.h>

#include <map>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace tr {
namespace {

namespace json = boost::json;

std::vector<json::object> UpstreamTools(std::string_view text) {
  std::vector<json::object> tools;
  const json::value parsed = json::parse(text);
  for (const auto& t : parsed.as_array()) tools.push_back(t.as_object());
  return tools;
}

IntegrationDefinition Definition(std::string_view tools = "") {
  std::string text = R"({"integrationId":"ev-x","name":"E","authTypes":["NONE"],
                         "mcp":{"url":"http://127.0.0.1:9/mcp"})";
  if (!tools.empty()) text += std::string(R"(,"tools":)") + std::string(tools);
  text += "}";
  auto def = ParseIntegrationDefinition(text, "ev.json");
  if (!def) throw std::runtime_error(def.error().message());
  return std::move(*def);
}

// CONTRACT section 11: <integrationId>_<upstream name> under section 10's rules.
TEST(McpToolSetTest, NamesSchemasAndDescriptions) {
  auto set = McpToolSet(UpstreamTools(R"([
      {"name":"echo","description":"Echoes","inputSchema":{"type":"object","properties":{"m":{}}},
       "annotations":{"readOnlyHint":true}},
      {"name":"get sum"},
      {"description":"no name"},
      {"name":")" + std::string(80, 'a') +
                                      R"("},
      {"name":"d","description":")" + std::string(2000, 'x') +
                                      R"("}])"),
                        Definition());
  ASSERT_EQ(set.tools.size(), 4u);
  EXPECT_EQ(set.warnings.size(), 1u);
  EXPECT_EQ(set.tools[0].name, "ev-x_echo");
  EXPECT_EQ(set.tools[0].key, "echo");
  EXPECT_EQ(set.tools[0].description, "Echoes");
  EXPECT_TRUE(set.tools[0].input_schema.contains("properties"));
  EXPECT_EQ(set.tools[0].annotations.at("readOnlyHint"), true);
  EXPECT_EQ(set.tools[1].name, "ev-x_get_sum");
  EXPECT_EQ(set.tools[1].key, "get sum");
  EXPECT_EQ(json::serialize(set.tools[1].input_schema), R"({"type":"object"})");
  EXPECT_EQ(set.tools[2].name.size(), 64u);
  EXPECT_EQ(set.tools[3].description.size(), 1024u);
}

TEST(McpToolSetTest, IncludeExcludeNamesAndClashes) {
  const auto upstream = UpstreamTools(R"([{"name":"a"},{"name":"b"},{"name":"c!"},{"name":"c?"}])");
  auto included = McpToolSet(upstream, Definition(R"({"include":["a","c!","c?","zz"]})"));
  ASSERT_EQ(included.tools.size(), 3u);
  EXPECT_EQ(included.tools[1].name, "ev-x_c_");
  EXPECT_EQ(included.tools[2].name, "ev-x_c__2");  // "c!" and "c?" sanitise alike
  auto renamed =
      McpToolSet(upstream, Definition(R"({"exclude":["b","c?"],"names":{"a":"first"}})"));
  ASSERT_EQ(renamed.tools.size(), 2u);
  EXPECT_EQ(renamed.tools[0].name, "first");
  EXPECT_EQ(renamed.tools[1].name, "ev-x_c_");
}

// CONTRACT section 10: "a clash gets _2, _3 in a stable order". The order is the upstream
// names', so a server that lists its tools in another order keeps every name on its tool.
TEST(McpToolSetTest, ClashesAreNumberedInTheOrderOfTheUpstreamNames) {
  auto forward =
      McpToolSet(UpstreamTools(R"([{"name":"a.b"},{"name":"a/b"},{"name":"a b"}])"), Definition());
  auto reversed =
      McpToolSet(UpstreamTools(R"([{"name":"a b"},{"name":"a/b"},{"name":"a.b"}])"), Definition());
  std::map<std::string, std::string> by_key;
  for (const auto& tool : forward.tools) by_key[tool.key] = tool.name;
  EXPECT_EQ(by_key.at("a b"), "ev-x_a_b");  // ' ' sorts before '.' and '/'
  EXPECT_EQ(by_key.at("a.b"), "ev-x_a_b_2");
  EXPECT_EQ(by_key.at("a/b"), "ev-x_a_b_3");
  for (const auto& tool : reversed.tools) EXPECT_EQ(tool.name, by_key.at(tool.key)) << tool.key;
}

TEST(McpToolSetTest, DefinitionToolsObject) {
  EXPECT_EQ(Definition(R"({"names":{"a":"x"}})").mcp->tools.names.at("a"), "x");
  const std::string base = R"({"integrationId":"e","name":"E","authTypes":["NONE"],
                               "mcp":{"url":"http://127.0.0.1:9/mcp"},"tools":)";
  auto openapi = ParseIntegrationDefinition(base + R"({"openapi":{}}})", "e.json");
  ASSERT_FALSE(openapi.ok());
  EXPECT_TRUE(openapi.error().message().starts_with("e.json: tools.openapi: unknown field"))
      << openapi.error().message();
  auto bad_name = ParseIntegrationDefinition(base + R"({"names":{"a":"no spaces"}}})", "e.json");
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.error().message(), "e.json: tools.names.a: must match ^[A-Za-z0-9_-]{1,64}$");
}

}  // namespace
}  // namespace tr
