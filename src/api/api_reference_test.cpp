// Tests for the HTML API reference (api/api_reference.h): the real spec/openapi.json renders
// with every path and operation, text from the document is escaped, $ref'd schemas are
// expanded by name, and malformed documents render without throwing.

#include "api/api_reference.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#ifndef TOOLREGISTRY_SOURCE_DIR
#define TOOLREGISTRY_SOURCE_DIR "."
#endif

namespace tr::api {
namespace {

namespace json = boost::json;

size_t Count(std::string_view haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string_view::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// The escaping the page applies to text from the document.
std::string Escaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

void ExpectWholePage(const std::string& page) {
  EXPECT_TRUE(page.starts_with("<!doctype html>")) << page.substr(0, 200);
  EXPECT_TRUE(page.ends_with("</html>"));
  EXPECT_EQ(Count(page, "<style"), 1u);
  EXPECT_EQ(Count(page, "<style>" + std::string(kReferenceStyle) + "</style>"), 1u);
  EXPECT_EQ(Count(page, "<script"), 0u);
  EXPECT_EQ(Count(page, " src="), 0u);
  EXPECT_EQ(Count(page, "href=\"http"), 0u);
  EXPECT_EQ(Count(page, "href=\"//"), 0u);
}

json::value ReadSpec() {
  std::ifstream in(TOOLREGISTRY_SOURCE_DIR "/spec/openapi.json");
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value doc = json::parse(text.str(), ec);
  EXPECT_FALSE(ec) << "cannot parse " TOOLREGISTRY_SOURCE_DIR "/spec/openapi.json: "
                   << ec.message();
  return doc;
}

TEST(ApiReferenceTest, RendersEveryPathOperationAndSchemaOfTheRealDocument) {
  json::value doc = ReadSpec();
  ASSERT_TRUE(doc.is_object());
  const std::string page = RenderApiReference(doc);
  ExpectWholePage(page);

  const json::object& paths = doc.at("paths").as_object();
  EXPECT_GE(paths.size(), 10u);
  size_t operations = 0;
  for (const auto& [path, item] : paths) {
    EXPECT_NE(page.find("<code class=\"path\">" + Escaped(path) + "</code>"), std::string::npos)
        << path;
    for (const auto& [method, op] : item.as_object()) {
      if (!op.is_object() || !op.as_object().contains("operationId")) continue;
      ++operations;
      std::string id(op.at("operationId").as_string());
      EXPECT_NE(page.find("<code>" + Escaped(id) + "</code>"), std::string::npos) << id;
      if (const json::value* summary = op.as_object().if_contains("summary")) {
        EXPECT_NE(page.find(Escaped(summary->as_string())), std::string::npos) << id;
      }
    }
  }
  EXPECT_GE(operations, 14u);
  for (const auto& [name, schema] : doc.at("components").at("schemas").as_object()) {
    EXPECT_NE(page.find("<h3>" + Escaped(name) + "</h3>"), std::string::npos) << name;
  }
  // The seed's three operations, with a request body property and response fields expanded.
  for (std::string_view id :
       {"IntegrationController_getAllIntegrations", "IntegrationController_getIntegrationUser",
        "IntegrationController_generateIntegrationUserAuthUrl"}) {
    EXPECT_NE(page.find(id), std::string::npos) << id;
  }
  EXPECT_NE(page.find("<code>redirectUri</code>"), std::string::npos);
  EXPECT_NE(page.find("<code>authorizeUrl</code> <span class=\"type\">string</span>"
                      "<span class=\"req\">required</span>"),
            std::string::npos);
  EXPECT_NE(page.find("x-api-key"), std::string::npos);
}

TEST(ApiReferenceTest, EscapesTextFromTheDocument) {
  const std::string evil = "<script>alert('x')</script>";
  json::value doc = json::parse(R"({
    "openapi": "3.0.3",
    "info": {"title": "T <script>alert('x')</script>", "version": "1", "description": "EVIL"},
    "servers": [{"url": "EVIL", "description": "EVIL"}],
    "paths": {
      "/p/<script>alert('x')</script>": {
        "get": {
          "summary": "EVIL", "description": "EVIL", "operationId": "EVIL",
          "parameters": [{"name": "EVIL", "in": "query", "description": "EVIL",
                          "schema": {"type": "string", "enum": ["EVIL"], "format": "EVIL"}}],
          "responses": {"200": {"description": "EVIL", "headers": {"EVIL": {}},
            "content": {"text/EVIL": {"schema": {"$ref": "#/components/schemas/EVIL"}}}}}
        }
      }
    },
    "components": {"schemas": {"EVIL": {"type": "object", "description": "EVIL",
      "properties": {"EVIL": {"type": "EVIL", "description": "EVIL", "example": "EVIL"}}}}}
  })");
  // Put the payload everywhere "EVIL" stands (keys included).
  std::string text = json::serialize(doc);
  for (size_t at; (at = text.find("EVIL")) != std::string::npos;) {
    text.replace(at, 4, evil);
  }
  const std::string page = RenderApiReference(json::parse(text));
  ExpectWholePage(page);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("'x'"), std::string::npos);
  EXPECT_GT(Count(page, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), 15u);
}

TEST(ApiReferenceTest, ExpandsReferencedSchemasByNameWithRequiredMarks) {
  json::value doc = json::parse(R"({
    "paths": {"/pets": {"post": {
      "requestBody": {"required": true, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Pet"}}}},
      "responses": {"201": {"description": "Created", "content": {"application/json": {
        "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}}}}}}}}},
    "components": {"schemas": {
      "Pet": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "description": "The `name`"},
        "born": {"type": "string", "format": "date-time", "nullable": true},
        "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
        "parent": {"$ref": "#/components/schemas/Pet"}}},
      "Tag": {"type": "object", "properties": {"label": {"type": "string"}},
              "additionalProperties": {"type": "integer"}}}}
  })");
  const std::string page = RenderApiReference(doc);
  ExpectWholePage(page);
  EXPECT_NE(page.find("Request body (required)"), std::string::npos);
  EXPECT_NE(page.find("<code>name</code> <span class=\"type\">string</span>"
                      "<span class=\"req\">required</span> &mdash; The <code>name</code>"),
            std::string::npos);
  EXPECT_NE(page.find("string (date-time), nullable"), std::string::npos);
  EXPECT_NE(page.find("array of <a href=\"#schema-Tag\">Tag</a>"), std::string::npos);
  EXPECT_NE(page.find("<section class=\"schema-def\" id=\"schema-Tag\">"), std::string::npos);
  // Tag's fields appear inside Pet where the operation first uses it (the body), in Pet's
  // definition and in Tag's; the response, using Pet again, shows the link only.
  EXPECT_EQ(Count(page, "<code>label</code>"), 3u);
  EXPECT_EQ(Count(page, "<em>any other property</em> <span class=\"type\">integer</span>"), 3u);
  EXPECT_NE(page.find("array of <a href=\"#schema-Pet\">Pet</a></span></div>"), std::string::npos);
  // Pet's self-reference is not expanded again inside Pet.
  EXPECT_EQ(Count(page, "<code>parent</code>"), 2u);
}

TEST(ApiReferenceTest, SurvivesMalformedDocuments) {
  const char* const kDocuments[] = {
      "null",
      "[]",
      "[{\"paths\": {}}]",
      "\"openapi\"",
      "42",
      "{}",
      R"({"info": 5, "servers": {}, "paths": [], "components": []})",
      R"({"info": {"title": 5, "version": null, "description": []}, "servers": [1, null, {"url": 2}]})",
      R"({"paths": {"/a": 5, "/b": null, "/c": [], "/d": {"get": [], "post": 5, "put": null}}})",
      R"({"paths": {"/a": {"parameters": 5, "get": {"parameters": {}, "responses": [],
          "requestBody": 5, "security": {}, "summary": 7, "operationId": []}}}})",
      R"({"paths": {"/a": {"get": {"parameters": [5, null, [], {"name": 5, "in": [], "schema": 3}],
          "requestBody": {"content": []},
          "responses": {"200": 7, "201": {"content": []}, "202": {"content": {"a/b": 5}},
                        "203": {"content": {"a/b": {"schema": []}}}, "204": {"headers": []}}}}}})",
      R"({"paths": {"/a": {"get": {"security": [5, [], {"x": 1}],
          "responses": {"200": {"$ref": "#/components/responses/Nope"},
                        "201": {"$ref": 5}, "202": {"$ref": "http://example.com/x"},
                        "203": {"$ref": "#/"}, "204": {"$ref": "#/components/schemas/A/~2"}}}}},
          "security": "all"})",
      R"({"components": {"securitySchemes": {"a": 5, "b": {"type": 1}, "c": {"$ref": "#/x"}},
          "schemas": {
          "A": {"$ref": "#/components/schemas/A"},
          "B": {"$ref": "#/components/schemas/C"}, "C": {"$ref": "#/components/schemas/B"},
          "D": {"properties": {"self": {"$ref": "#/components/schemas/D"}, "x": 5}},
          "E": {"oneOf": 5, "allOf": [5, null, {"$ref": "#/components/schemas/E"}],
                "anyOf": {}, "items": [], "required": {}, "enum": 5, "properties": []},
          "F": {"type": "array", "items": {"type": "array", "items": 5}},
          "G": {"additionalProperties": true, "properties": {"a": null}},
          "H": {"type": ["string", "null"], "format": 5, "nullable": "yes"},
          "I": 5, "J": null, "K": []}}})",
  };
  for (const char* text : kDocuments) {
    SCOPED_TRACE(text);
    json::value doc = json::parse(text);
    std::string page;
    EXPECT_NO_THROW(page = RenderApiReference(doc));
    ExpectWholePage(page);
  }
}

TEST(ApiReferenceTest, DeepAndHeavilySharedSchemasStayBounded) {
  // 1000 nested properties, and 30 schemas that each use the next one three times (3^30
  // expansions if nothing bounded them).
  std::string deep = "{\"type\": \"string\"}";
  for (int i = 0; i < 1000; ++i) deep = "{\"properties\": {\"p\": " + deep + "}}";
  std::string shared;
  for (int i = 0; i < 30; ++i) {
    std::string next = "{\"$ref\": \"#/components/schemas/S" + std::to_string(i + 1) + "\"}";
    shared += "\"S" + std::to_string(i) + "\": {\"properties\": {\"a\": " + next +
              ", \"b\": " + next + ", \"c\": " + next + "}},";
  }
  std::string text = R"({"paths": {"/x": {"post": {"requestBody": {"content": {"a/b": {"schema":
      {"$ref": "#/components/schemas/S0"}}}}, "responses": {"200": {"description": "ok",
      "content": {"a/b": {"schema": )" +
                     deep + R"(}}}}}}}, "components": {"schemas": {)" + shared +
                     R"("S30": {"type": "string"}}}})";
  boost::json::parse_options options;
  options.max_depth = 4096;
  json::value doc = json::parse(text, {}, options);
  std::string page;
  EXPECT_NO_THROW(page = RenderApiReference(doc));
  ExpectWholePage(page);
  EXPECT_LT(page.size(), 8u << 20);
}

}  // namespace
}  // namespace tr::api
