// Tests for tools/openapi.h, tools/openapi_document.h, tools/openapi_schema.h and
// tools/tool_name.h: OpenAPI documents -> tools as CONTRACT section 10 shapes them.

#include "tools/openapi.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "tools/openapi_document.h"
#include "tools/request_builder.h"
#include "tools/tool_name.h"

namespace tr::tools {
namespace {

namespace json = boost::json;

constexpr std::string_view kPetstore = R"({
  "openapi": "3.0.3",
  "info": {"title": "Pets", "version": "1"},
  "components": {
    "securitySchemes": {
      "key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
      "qkey": {"type": "apiKey", "in": "query", "name": "api_key"},
      "bearer": {"type": "http", "scheme": "bearer"}
    },
    "parameters": {
      "Limit": {"name": "limit", "in": "query", "description": "How many",
                "schema": {"type": "integer", "minimum": 1, "exclusiveMinimum": true}}
    },
    "schemas": {
      "Node": {"type": "object", "properties": {"name": {"type": "string"},
               "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}},
      "Pet": {"type": "object", "required": ["name"], "x-internal": 1, "discriminator": {"propertyName": "kind"},
              "properties": {"name": {"type": "string", "nullable": true, "example": "rex"},
                             "tag": {"allOf": [{"$ref": "#/components/schemas/Tag"}], "nullable": true},
                             "kind": {"type": "string", "enum": ["cat", "dog"], "nullable": true},
                             "upload": {"type": "file"}}},
      "Tag": {"type": "string", "maxLength": 10.0}
    },
    "requestBodies": {
      "PetBody": {"required": true, "description": "The pet",
                  "content": {"application/xml": {"schema": {"type": "string"}},
                              "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}
    }
  },
  "paths": {
    "/pets/{petId}": {
      "parameters": [{"name": "petId", "in": "path", "required": true, "schema": {"type": "string"}},
                     {"name": "X-Trace", "in": "header", "schema": {"type": "string"}}],
      "get": {"operationId": "getPet", "summary": "Get a pet", "description": "By id.",
              "parameters": [{"name": "X-Trace", "in": "header", "required": true, "schema": {"type": "integer"}},
                             {"name": "petId", "in": "query", "schema": {"type": "string"}},
                             {"name": "X-Api-Key", "in": "header", "schema": {"type": "string"}},
                             {"name": "api_key", "in": "query", "schema": {"type": "string"}},
                             {"name": "Accept", "in": "header", "schema": {"type": "string"}},
                             {"name": "session", "in": "cookie", "schema": {"type": "string"}},
                             {"$ref": "#/components/parameters/Limit"}]},
      "put": {"operationId": "updatePet", "requestBody": {"$ref": "#/components/requestBodies/PetBody"}},
      "delete": {"operationId": "deletePet"}
    },
    "/trees/{treeId}/{leaf}": {
      "post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}},
               "parameters": [{"name": "treeId", "in": "path", "required": true, "schema": {"type": "integer"}},
                              {"name": "body", "in": "query", "schema": {"type": "string"}}]}
    },
    "/upload": {
      "post": {"operationId": "upload", "requestBody": {"content": {"application/octet-stream": {}}}}
    }
  }
})";

ToolSet Read(std::string_view text, const ToolSelection& selection = {}) {
  auto doc = ParseDocumentText(text, "spec.json");
  EXPECT_TRUE(doc.ok()) << (doc.ok() ? "" : doc.error().message());
  auto set = ToolsFromOpenApi(*doc, "pets", selection, "spec.json");
  EXPECT_TRUE(set.ok()) << (set.ok() ? "" : set.error().message());
  return set.ok() ? std::move(*set) : ToolSet{};
}

std::string ErrorOf(std::string_view text, const ToolSelection& selection = {}) {
  auto doc = ParseDocumentText(text, "spec");
  if (!doc) return doc.error().message();
  auto set = ToolsFromOpenApi(*doc, "pets", selection, "spec");
  return set.ok() ? "" : set.error().message();
}

TEST(OpenApiTest, LargeBlocksAreHugePageAlignedAndSmallOnesFromTheHeap) {
  boost::json::memory_resource* blocks = LargeBlocks();
  // The arena's blocks are a power of two and its own header: the sizes it asks for.
  for (size_t bytes : {size_t{1024} + 32, kHugePageBytes - 1, kHugePageBytes + 32,
                       4 * kHugePageBytes + 32, size_t{3} << 20}) {
    void* p = blocks->allocate(bytes, alignof(std::max_align_t));
    ASSERT_NE(p, nullptr);
    const auto address = reinterpret_cast<std::uintptr_t>(p);
    EXPECT_EQ(address % alignof(std::max_align_t), 0u) << bytes;
    if (bytes >= kHugePageBytes) {
      EXPECT_EQ(address % kHugePageBytes, 0u) << bytes;
    }
    std::memset(p, 0xab, bytes);  // every byte is writable (ASan and a fault would tell)
    blocks->deallocate(p, bytes, alignof(std::max_align_t));
  }
}

TEST(OpenApiTest, ALargeDocumentParsesInItsArenaAsItDoesOnTheHeap) {
  // Tens of thousands of operations: a text past one huge page, its tree (larger than the
  // text) on blocks of LargeBlocks() that are mapped.
  std::string text = R"({"openapi":"3.0.0","servers":[{"url":"https://x.test"}],"paths":{)";
  for (int i = 0; i < 30000; ++i) {
    text += (i ? "," : "") + fmt::format(R"("/p{0}":{{"get":{{"operationId":"op{0}",)"
                                         R"("parameters":[{{"name":"q","in":"query"}}]}}}})",
                                         i);
  }
  text += "}}";
  ASSERT_GT(text.size(), kHugePageBytes);
  auto doc = ParseDocumentText(text, "spec.json");
  ASSERT_TRUE(doc.ok()) << doc.error().message();
  EXPECT_EQ(*doc, boost::json::parse(text));
  auto set = ToolsFromOpenApi(*doc, "big", {}, "spec.json");
  ASSERT_TRUE(set.ok()) << set.error().message();
  EXPECT_EQ(set->tools.size(), 30000u);
}

TEST(OpenApiTest, NamesDescriptionsAndAnnotations) {
  ToolSet set = Read(kPetstore);
  std::vector<std::string> names;
  for (const auto& t : set.tools) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"pets_getPet", "pets_updatePet", "pets_deletePet",
                                             "pets_post__trees__treeId___leaf_", "pets_upload"}));
  const Tool& get = set.tools[0];
  EXPECT_EQ(get.key, "getPet");
  EXPECT_EQ(get.description, "Get a pet\n\nBy id.");
  EXPECT_EQ(json::serialize(get.annotations), R"({"readOnlyHint":true})");
  EXPECT_EQ(json::serialize(set.tools[1].annotations), "{}");
  EXPECT_EQ(json::serialize(set.tools[2].annotations), R"({"destructiveHint":true})");
  EXPECT_EQ(set.tools[2].description, "DELETE /pets/{petId}");
  EXPECT_EQ(set.tools[3].key, "POST /trees/{treeId}/{leaf}");
}

TEST(OpenApiTest, ParametersMergedAuthLeftOutNamesPrefixedOnClash) {
  ToolSet set = Read(kPetstore);
  const Tool& get = set.tools[0];
  EXPECT_EQ(json::serialize(get.input_schema),
            R"({"type":"object","properties":{"petId":{"type":"string"},)"
            R"("query_petId":{"type":"string"},)"
            R"("limit":{"type":"integer","exclusiveMinimum":1,"description":"How many"},)"
            R"("X-Trace":{"type":"integer"}},"required":["petId","X-Trace"]})");
  ASSERT_EQ(get.operation.parameters.size(), 4u);
  EXPECT_EQ(get.operation.parameters[1].name, "X-Trace");  // the operation's replaced the path's
  EXPECT_EQ(get.operation.parameters[2].property, "query_petId");
  EXPECT_TRUE(get.operation.parameters[3].explode);  // query default: form, exploded
  EXPECT_FALSE(get.operation.parameters[0].explode);
  EXPECT_FALSE(set.warnings.empty());  // the cookie parameter
}

TEST(OpenApiTest, BodiesRefsRecursionAndNullable) {
  ToolSet set = Read(kPetstore);
  const Tool& put = set.tools[1];
  EXPECT_TRUE(put.operation.has_body);
  EXPECT_EQ(put.operation.body_content_type, "application/json");
  EXPECT_EQ(json::serialize(put.input_schema.at("properties").at("body")),
            R"({"type":"object","required":["name"],"properties":{)"
            R"("name":{"type":["string","null"]},)"
            R"("tag":{"anyOf":[{"allOf":[{"type":"string","maxLength":10}]},{"type":"null"}]},)"
            R"("kind":{"type":["string","null"],"enum":["cat","dog",null]},)"
            R"("upload":{"type":"string"}},"description":"The pet"})");
  EXPECT_EQ(json::serialize(put.input_schema.at("required")), R"(["petId","body"])");

  const Tool& tree = set.tools[3];
  // Recursion cut with {} one level down; the query parameter "body" is prefixed.
  EXPECT_EQ(
      json::serialize(tree.input_schema.at("properties")),
      R"({"treeId":{"type":"integer"},"leaf":{"type":"string"},"query_body":{"type":"string"},)"
      R"("body":{"type":"object","properties":{"name":{"type":"string"},)"
      R"("children":{"type":"array","items":{}}}}})");
  auto built = BuildRequest(tree, json::parse(R"({"treeId":1,"leaf":"a/b","query_body":"q",
      "body":{"name":"x","children":[{"anything":true}]}})")
                                      .as_object());
  ASSERT_TRUE(built.ok()) << built.error().message();
  EXPECT_EQ(built->path_and_query, "/trees/1/a%2Fb?body=q");

  const Tool& upload = set.tools[4];
  EXPECT_EQ(upload.operation.body_content_type, "application/octet-stream");
  EXPECT_EQ(json::serialize(upload.input_schema.at("properties").at("body")),
            R"({"type":"string"})");
}

TEST(OpenApiTest, IncludeExcludeAndNames) {
  ToolSelection selection;
  selection.include = {"getPet", "deletePet", "upload"};
  selection.exclude = {"upload"};
  selection.names = {{"deletePet", "remove_pet"}};
  ToolSet set = Read(kPetstore, selection);
  ASSERT_EQ(set.tools.size(), 2u);
  EXPECT_EQ(set.tools[0].name, "pets_getPet");
  EXPECT_EQ(set.tools[1].name, "remove_pet");

  EXPECT_EQ(ErrorOf(kPetstore, ToolSelection{{"nope"}, {}, {}}),
            "spec: tools.include: the document has no operation \"nope\"");
  EXPECT_EQ(ErrorOf(kPetstore, ToolSelection{{}, {}, {{"getPet", "bad name"}}}),
            "spec: tools.names.getPet: must match ^[A-Za-z0-9_-]{1,64}$");
}

TEST(OpenApiTest, YamlThreeOne) {
  ToolSet set = Read(R"(
openapi: 3.1.0
info: {title: T, version: "1"}
paths:
  /items:
    get:
      operationId: list items!
      summary: 'List'
      parameters:
        - name: tags
          in: query
          style: form
          explode: false
          schema: {type: [array, "null"], items: {type: string, enum: ["yes", no, "123"]}}
        - name: n
          in: query
          schema: {type: integer, exclusiveMinimum: 0, default: 10}
)");
  ASSERT_EQ(set.tools.size(), 1u);
  EXPECT_EQ(set.tools[0].name, "pets_list_items_");
  EXPECT_EQ(json::serialize(set.tools[0].input_schema),
            R"({"type":"object","properties":{"tags":{"type":["array","null"],)"
            R"("items":{"type":"string","enum":["yes","no","123"]}},)"
            R"("n":{"type":"integer","exclusiveMinimum":0,"default":10}}})");
  auto built =
      BuildRequest(set.tools[0], json::parse(R"({"tags":["yes","no"],"n":3})").as_object());
  ASSERT_TRUE(built.ok());
  EXPECT_EQ(built->path_and_query, "/items?tags=yes,no&n=3");
}

TEST(OpenApiTest, RefusedDocuments) {
  EXPECT_EQ(ErrorOf(R"({"swagger": "2.0", "paths": {}})"),
            "spec: Swagger 2.0 is not supported: convert the document to OpenAPI 3.0 or 3.1 "
            "first (for example with swagger2openapi)");
  EXPECT_EQ(ErrorOf(R"({"openapi": "4.0.0"})"),
            "spec: OpenAPI 4.0.0 is not supported (3.0 and 3.1 are)");
  EXPECT_EQ(ErrorOf(R"({"info": {}})"),
            "spec: not an OpenAPI document (no \"openapi\" version field)");
  EXPECT_EQ(ErrorOf(R"({"openapi": "3.0.0", "paths": []})"), "spec: paths: must be an object");
  EXPECT_EQ(ErrorOf("[1,2"), "spec: not valid YAML (line 1: end of sequence flow not found)");
  EXPECT_EQ(ErrorOf("{\"a\": "), "spec: not valid JSON (incomplete JSON)");
  EXPECT_EQ(ErrorOf("a: [1\n"), "spec: not valid YAML (line 2: end of sequence flow not found)");
}

TEST(OpenApiTest, HostileDocumentsAreBounded) {
  // Nesting past the limit, in JSON and in YAML.
  std::string deep =
      R"({"openapi":"3.0.0","x":)" + std::string(5000, '[') + std::string(5000, ']') + "}";
  EXPECT_NE(ErrorOf(deep), "");
  EXPECT_NE(ErrorOf("openapi: 3.0.0\nx: " + std::string(5000, '[') + std::string(5000, ']')), "");
  // A billion laughs.
  std::string laughs = "openapi: 3.0.0\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    laughs += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j)
      laughs += std::string(j ? ", " : "") + "*a" + std::to_string(i - 1);
    laughs += "]\n";
  }
  EXPECT_EQ(ErrorOf(laughs), "spec: YAML aliases expand past the size limit");
  // Refs that loop, point nowhere, or outside; a schema that inlines itself exponentially.
  std::string refs = R"({"openapi":"3.0.0","components":{"schemas":{
      "A":{"$ref":"#/components/schemas/B"},"B":{"$ref":"#/components/schemas/A"},)";
  for (int i = 0; i < 40; ++i) {
    refs += "\"E" + std::to_string(i) +
            "\":{\"type\":\"object\",\"properties\":{\"l\":{\"$ref\":\"#/components/schemas/E" +
            std::to_string(i + 1) + "\"},\"r\":{\"$ref\":\"#/components/schemas/E" +
            std::to_string(i + 1) + "\"}}},";
  }
  refs += R"("E40":{"type":"string"}}},
    "paths":{"/a":{"post":{"operationId":"a","parameters":[
        {"name":"p","in":"query","schema":{"$ref":"#/components/schemas/A"}},
        {"name":"q","in":"query","schema":{"$ref":"other.json#/X"}},
        {"name":"r","in":"query","schema":{"$ref":"#/nowhere"}},
        {"$ref":"#/nowhere"}],
      "requestBody":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/E0"}}}}}}}})";
  ToolSet set = Read(refs);
  ASSERT_EQ(set.tools.size(), 1u);
  const auto& props = set.tools[0].input_schema.at("properties").as_object();
  EXPECT_EQ(json::serialize(props.at("p")), "{}");
  EXPECT_EQ(json::serialize(props.at("q")), "{}");
  EXPECT_LT(json::serialize(props.at("body")).size(), 200'000u);
  EXPECT_GE(set.warnings.size(), 3u);
}

TEST(ToolNameTest, SanitisedCutAndNumbered) {
  EXPECT_EQ(ToolName("github_repos/list-for-user"), "github_repos_list-for-user");
  // One '_' per character, not per UTF-8 byte; a stray byte is one character.
  EXPECT_EQ(ToolName("x_\xc3\xbcn\xc3\xaf"
                     "code"),
            "x__n_code");                              // "ünïcode"
  EXPECT_EQ(ToolName("x_\xf0\x9f\x98\x80!"), "x___");  // an emoji and "!"
  EXPECT_EQ(ToolName("x_\xff\xc3"), "x___");
  std::string long_name = ToolName("x_" + std::string(100, 'a'));
  EXPECT_EQ(long_name.size(), 64u);
  EXPECT_TRUE(IsValidToolName(long_name));
  EXPECT_EQ(long_name.substr(0, 56), "x_" + std::string(53, 'a') + "_");
  EXPECT_NE(long_name, ToolName("x_" + std::string(101, 'a')));
  EXPECT_EQ(NumberedToolName("a", 2), "a_2");
  EXPECT_EQ(NumberedToolName(std::string(64, 'b'), 12), std::string(61, 'b') + "_12");
  EXPECT_FALSE(IsValidToolName(""));
  EXPECT_FALSE(IsValidToolName("a b"));
}

TEST(OpenApiTest, ClashingNamesGetNumbers) {
  ToolSet set = Read(R"({"openapi":"3.0.0","paths":{
      "/a":{"get":{"operationId":"x.y"},"post":{"operationId":"x_y"},"put":{"operationId":"x y"}}}})");
  ASSERT_EQ(set.tools.size(), 3u);
  EXPECT_EQ(set.tools[0].name, "pets_x_y");
  EXPECT_EQ(set.tools[1].name, "pets_x_y_2");
  EXPECT_EQ(set.tools[2].name, "pets_x_y_3");
}

// ReadTools hands the tools over one by one, as ToolsFromOpenApi collects them; kSkip makes
// the same tools (names, operations) without schemas, and fails where the conversion fails.
TEST(OpenApiTest, ReadToolsStreamsTheSameToolsAndSkipsSchemasOnAsk) {
  auto doc = ParseDocumentText(kPetstore, "spec.json");
  ASSERT_TRUE(doc.ok());
  ToolSet whole = Read(kPetstore);
  for (ToolSchemas schemas : {ToolSchemas::kConvert, ToolSchemas::kSkip}) {
    std::vector<Tool> seen;
    auto warnings = ReadTools(*doc, "pets", {}, "spec.json", schemas,
                              [&seen](Tool&& tool) { seen.push_back(std::move(tool)); });
    ASSERT_TRUE(warnings.ok());
    ASSERT_EQ(seen.size(), whole.tools.size());
    for (size_t i = 0; i < seen.size(); ++i) {
      EXPECT_EQ(seen[i].name, whole.tools[i].name);
      EXPECT_EQ(seen[i].operation.parameters.size(), whole.tools[i].operation.parameters.size());
      if (schemas == ToolSchemas::kConvert) {
        EXPECT_EQ(seen[i].input_schema, whole.tools[i].input_schema);
        EXPECT_TRUE(seen[i].validator);
      } else {
        EXPECT_FALSE(seen[i].validator);
      }
    }
  }
  auto bad = ParseDocumentText(R"({"openapi":"3.0.0","paths":[]})", "spec");
  ASSERT_TRUE(bad.ok());
  auto refused = ReadTools(*bad, "pets", {}, "spec", ToolSchemas::kSkip, [](Tool&&) {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message(), "spec: paths: must be an object");
}

// kConvertForSink makes each tool's values in an arena emptied before the next one: the
// schemas a sink sees are those kConvert makes, also for path-level parameters shared by
// several operations, and for tools larger than the arena's own buffer (1 MiB).
TEST(OpenApiTest, ReadToolsForASinkMakesTheSameSchemasInAnArena) {
  std::string big_properties;
  for (int i = 0; i < 1500; ++i) {
    big_properties += (i ? "," : "") + std::string("\"p") + std::to_string(i) +
                      "\":{\"type\":\"string\",\"description\":\"" + std::string(900, 'd') + "\"}";
  }
  const std::string text = R"({"openapi":"3.1.0","paths":{
      "/things/{id}":{"parameters":[{"name":"id","in":"path","schema":{"$ref":"#/components/schemas/Id"}},
                                    {"name":"trace","in":"header","schema":{"type":"string"}}],
        "get":{"operationId":"getThing","parameters":[{"name":"fields","in":"query",
               "schema":{"type":"array","items":{"type":"string","nullable":true}}}]},
        "put":{"operationId":"putThing","requestBody":{"required":true,"content":{"application/json":
               {"schema":{"$ref":"#/components/schemas/Thing","description":"the thing"}}}}},
        "delete":{"operationId":"deleteThing"}},
      "/big":{"post":{"operationId":"big","requestBody":{"content":{"application/json":
               {"schema":{"$ref":"#/components/schemas/Big"}}}}},
              "put":{"operationId":"big2","requestBody":{"content":{"application/json":
               {"schema":{"$ref":"#/components/schemas/Big"}}}}}}},
    "components":{"schemas":{
      "Id":{"type":"string","minLength":1},
      "Thing":{"type":"object","properties":{"id":{"$ref":"#/components/schemas/Id"},
               "parent":{"$ref":"#/components/schemas/Thing"},
               "kind":{"anyOf":[{"type":"integer"},{"type":"null"}]}},"required":["id","id"]},
      "Big":{"type":"object","properties":{)" +
                           big_properties + R"(}}}}})";
  auto doc = ParseDocumentText(text, "spec.json");
  ASSERT_TRUE(doc.ok());
  auto whole = ToolsFromOpenApi(*doc, "things", {}, "spec.json");
  ASSERT_TRUE(whole.ok());
  std::vector<std::string> seen;
  auto warnings = ReadTools(*doc, "things", {}, "spec.json", ToolSchemas::kConvertForSink,
                            [&seen](Tool&& tool) {
                              // Not the heap's: made in the reader's arena.
                              EXPECT_FALSE(tool.input_schema.storage() == json::storage_ptr());
                              EXPECT_FALSE(tool.validator);
                              seen.push_back(tool.name + " " + json::serialize(tool.input_schema));
                            });
  ASSERT_TRUE(warnings.ok());
  ASSERT_EQ(seen.size(), 5u);
  ASSERT_EQ(whole->tools.size(), seen.size());
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i], whole->tools[i].name + " " + json::serialize(whole->tools[i].input_schema));
  }
  EXPECT_GT(seen[3].size(), size_t{1} << 20);  // past the arena's buffer
  EXPECT_NE(seen[0].find(R"("id":{"type":"string","minLength":1)"), std::string::npos) << seen[0];
}

}  // namespace
}  // namespace tr::tools
