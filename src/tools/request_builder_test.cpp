// Tests for tools/request_builder.h and tools/schema_validator.h: argument checking and the
// OpenAPI parameter styles.

#include "tools/request_builder.h"

#include <gtest/gtest.h>

#include <string>

#include <boost/json/parse.hpp>

#include "tools/schema_validator.h"

namespace tr::tools {
namespace {

namespace json = boost::json;

Parameter Param(std::string name, ParamIn in, std::string style = "", bool explode = false) {
  Parameter p;
  p.property = name;
  p.name = std::move(name);
  p.in = in;
  p.style = std::move(style);
  p.explode = explode;
  return p;
}

Tool MakeTool(std::string path, std::vector<Parameter> params, std::string schema = "{}") {
  Tool tool;
  tool.name = "t";
  tool.operation.method = "GET";
  tool.operation.path = std::move(path);
  tool.operation.parameters = std::move(params);
  tool.input_schema = json::parse(schema).as_object();
  EXPECT_TRUE(CompileValidator(tool).ok());
  return tool;
}

std::string PathAndQuery(const Tool& tool, std::string_view args) {
  auto built = BuildRequest(tool, json::parse(args).as_object());
  EXPECT_TRUE(built.ok()) << (built.ok() ? "" : built.error().message());
  return built.ok() ? built->path_and_query : "";
}

struct StyleCase {
  std::string name;
  Parameter param;
  std::string args;
  std::string expected;
};

TEST(RequestBuilderTest, PathStyles) {
  const StyleCase kCases[] = {
      {"simple string, encoded", Param("id", ParamIn::kPath), R"({"id":"a b/c?"})",
       "/x/a%20b%2Fc%3F"},
      {"simple number", Param("id", ParamIn::kPath), R"({"id":5})", "/x/5"},
      {"simple array", Param("id", ParamIn::kPath), R"({"id":[3,"a,b"]})", "/x/3,a%2Cb"},
      {"simple object", Param("id", ParamIn::kPath), R"({"id":{"role":"admin","n":5}})",
       "/x/role,admin,n,5"},
      {"simple object exploded", Param("id", ParamIn::kPath, "simple", true),
       R"({"id":{"role":"admin","n":5}})", "/x/role=admin,n=5"},
      {"label", Param("id", ParamIn::kPath, "label"), R"({"id":[3,4]})", "/x/.3,4"},
      {"label exploded", Param("id", ParamIn::kPath, "label", true), R"({"id":[3,4]})", "/x/.3.4"},
      {"matrix scalar", Param("id", ParamIn::kPath, "matrix"), R"({"id":5})", "/x/;id=5"},
      {"matrix array exploded", Param("id", ParamIn::kPath, "matrix", true), R"({"id":[3,4]})",
       "/x/;id=3;id=4"},
      {"matrix object", Param("id", ParamIn::kPath, "matrix"), R"({"id":{"a":1}})", "/x/;id=a,1"},
      {"matrix object exploded", Param("id", ParamIn::kPath, "matrix", true), R"({"id":{"a":1}})",
       "/x/;a=1"},
  };
  for (const auto& c : kCases) {
    Tool tool = MakeTool("/x/{id}", {c.param});
    EXPECT_EQ(PathAndQuery(tool, c.args), c.expected) << c.name;
  }
}

TEST(RequestBuilderTest, QueryStyles) {
  const StyleCase kCases[] = {
      {"form exploded scalar", Param("q", ParamIn::kQuery, "", true), R"({"q":"a&b=c"})",
       "/x?q=a%26b%3Dc"},
      {"form exploded array", Param("q", ParamIn::kQuery, "form", true), R"({"q":[1,2]})",
       "/x?q=1&q=2"},
      {"form exploded object", Param("q", ParamIn::kQuery, "form", true),
       R"({"q":{"a":1,"b":"x y"}})", "/x?a=1&b=x%20y"},
      {"form array", Param("q", ParamIn::kQuery, "form", false), R"({"q":[1,2]})", "/x?q=1,2"},
      {"form object", Param("q", ParamIn::kQuery, "form", false), R"({"q":{"a":1}})", "/x?q=a,1"},
      {"spaceDelimited", Param("q", ParamIn::kQuery, "spaceDelimited"), R"({"q":[1,2]})",
       "/x?q=1%202"},
      {"pipeDelimited", Param("q", ParamIn::kQuery, "pipeDelimited"), R"({"q":[1,2]})", "/x?q=1|2"},
      {"deepObject", Param("q", ParamIn::kQuery, "deepObject", true),
       R"({"q":{"a":1,"b":{"c":"d"},"e":[1,2]}})", "/x?q[a]=1&q[b][c]=d&q[e][0]=1&q[e][1]=2"},
      {"boolean", Param("q", ParamIn::kQuery, "", true), R"({"q":true})", "/x?q=true"},
      {"null leaves it out", Param("q", ParamIn::kQuery, "", true), R"({"q":null})", "/x"},
      {"absent leaves it out", Param("q", ParamIn::kQuery, "", true), R"({})", "/x"},
  };
  for (const auto& c : kCases) {
    Tool tool = MakeTool("/x", {c.param});
    EXPECT_EQ(PathAndQuery(tool, c.args), c.expected) << c.name;
  }
}

TEST(RequestBuilderTest, PathQueryHeaderAndBodyTogether) {
  Parameter owner = Param("owner", ParamIn::kPath);
  Parameter query_id = Param("id", ParamIn::kQuery, "", true);
  query_id.property = "query_id";
  Parameter trace = Param("X-Trace", ParamIn::kHeader);
  Parameter tags = Param("X-Tags", ParamIn::kHeader);
  Tool tool = MakeTool("/repos/{owner}/issues", {owner, query_id, trace, tags},
                       R"({"type":"object","required":["owner","body"],
                           "properties":{"owner":{"type":"string"},"body":{"type":"object"}}})");
  tool.operation.method = "POST";
  tool.operation.has_body = true;
  tool.operation.body_content_type = "application/json";
  auto built = BuildRequest(tool, json::parse(R"({"owner":"o w","query_id":7,"X-Trace":"t1",
      "X-Tags":["a","b"],"body":{"title":"Hi"}})")
                                      .as_object());
  ASSERT_TRUE(built.ok()) << built.error().message();
  EXPECT_EQ(built->method, "POST");
  EXPECT_EQ(built->path_and_query, "/repos/o%20w/issues?id=7");
  using H = std::pair<std::string, std::string>;
  EXPECT_EQ(
      built->headers,
      (std::vector<H>{{"X-Trace", "t1"}, {"X-Tags", "a,b"}, {"Content-Type", "application/json"}}));
  EXPECT_EQ(built->body, R"({"title":"Hi"})");
}

TEST(RequestBuilderTest, OtherBodyTypes) {
  Tool tool = MakeTool("/x", {});
  tool.operation.has_body = true;
  tool.operation.body_content_type = "application/x-www-form-urlencoded";
  auto form = BuildRequest(tool, json::parse(R"({"body":{"a":"x y","b":[1,2]}})").as_object());
  ASSERT_TRUE(form.ok());
  EXPECT_EQ(form->body, "a=x%20y&b=1&b=2");
  tool.operation.body_content_type = "text/plain";
  auto text = BuildRequest(tool, json::parse(R"({"body":"hello"})").as_object());
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->body, "hello");
  EXPECT_EQ(text->headers.back().second, "text/plain");
  auto none = BuildRequest(tool, json::object());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->body.empty());
  EXPECT_TRUE(none->headers.empty());
}

TEST(RequestBuilderTest, InvalidArgumentsListEveryProblemAndBuildNothing) {
  Tool tool = MakeTool("/x/{id}", {Param("id", ParamIn::kPath)}, R"({
      "type":"object","required":["id","body"],
      "properties":{"id":{"type":"integer"},"n":{"type":["integer","null"]},
        "body":{"type":"object","required":["title"],
                "properties":{"title":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}}}}}})");
  tool.operation.has_body = true;
  auto built = BuildRequest(tool, json::parse(R"({"n":1.5,"body":{"tags":[1]}})").as_object());
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error().code, Errc::kInvalidArgument);
  const auto& m = built.error().messages;
  auto has = [&](std::string_view text) { return std::find(m.begin(), m.end(), text) != m.end(); };
  EXPECT_TRUE(has("id: required"));
  EXPECT_TRUE(has("body.title: required"));
  EXPECT_TRUE(has("n: Value type not permitted by 'type' constraint."));
  EXPECT_TRUE(has("body.tags.0: Value type not permitted by 'type' constraint."));
  EXPECT_EQ(m.size(), 4u);
}

TEST(RequestBuilderTest, HeaderValuesWithLineBreaksAreRefused) {
  Tool tool = MakeTool("/x", {Param("X-A", ParamIn::kHeader)});
  auto built = BuildRequest(tool, json::parse(R"({"X-A":"a\r\nInjected: 1"})").as_object());
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error().code, Errc::kInvalidArgument);
}

TEST(RequestBuilderTest, UncompiledToolsAreCheckedToo) {
  Tool tool;
  tool.operation.method = "GET";
  tool.operation.path = "/x";
  tool.input_schema = json::parse(R"({"type":"object","required":["a"]})").as_object();
  auto built = BuildRequest(tool, json::object());
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error().message(), "a: required");
}

// Patterns and formats go through std::regex, which overflows the stack on long strings:
// the compiled copy leaves them out (see schema_validator.h).
TEST(RequestBuilderTest, LongStringsAgainstPatternsDoNotCrash) {
  Tool tool = MakeTool("/x", {Param("q", ParamIn::kQuery, "", true)},
                       R"({"type":"object","properties":{"q":{"type":"string","pattern":"^[a-z]+$",
                           "format":"date-time"}},"patternProperties":{"^x":{"type":"string"}},
                           "additionalProperties":false})");
  json::object args;
  args["q"] = std::string(300000, 'a');
  args["x1"] = "y";
  auto built = BuildRequest(tool, args);
  ASSERT_TRUE(built.ok()) << built.error().message();
  EXPECT_EQ(built->path_and_query.size(), std::string_view("/x?q=").size() + 300000u);
}

TEST(RequestBuilderTest, PrefixItemsAreCheckedAsTuples) {
  Tool tool = MakeTool("/x", {}, R"({"type":"object","properties":{"p":{"type":"array",
      "prefixItems":[{"type":"integer"}],"items":{"type":"string"}}}})");
  EXPECT_TRUE(BuildRequest(tool, json::parse(R"({"p":[1,"a","b"]})").as_object()).ok());
  EXPECT_FALSE(BuildRequest(tool, json::parse(R"({"p":["a"]})").as_object()).ok());
  EXPECT_FALSE(BuildRequest(tool, json::parse(R"({"p":[1,2]})").as_object()).ok());
}

TEST(SchemaValidatorTest, DeepSchemasAreRefused) {
  std::string deep;
  for (int i = 0; i < 300; ++i) deep += R"({"not":)";
  deep += "{}";
  for (int i = 0; i < 300; ++i) deep += "}";
  json::parse_options options;
  options.max_depth = 1000;
  EXPECT_FALSE(SchemaValidator::Compile(json::parse(deep, {}, options).as_object()).ok());
}

}  // namespace
}  // namespace tr::tools
