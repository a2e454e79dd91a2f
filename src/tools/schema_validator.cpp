#include "tools/schema_validator.h"

#include <exception>
#include <set>
#include <string_view>

#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace tr::tools {

namespace json = boost::json;

namespace {

// Deeper schemas are refused: valijson's parser recurses once per level. The OpenAPI reader
// cuts its output well above real documents' depth and below this.
constexpr int kMaxSchemaDepth = 200;

// Keywords whose value is one schema, a map of schemas, or an array of schemas.
constexpr std::string_view kSchemaKeywords[] = {"additionalProperties",
                                                "additionalItems",
                                                "not",
                                                "if",
                                                "then",
                                                "else",
                                                "contains",
                                                "propertyNames",
                                                "unevaluatedItems",
                                                "unevaluatedProperties"};
constexpr std::string_view kSchemaMapKeywords[] = {"properties", "patternProperties", "$defs",
                                                   "definitions", "dependentSchemas"};
constexpr std::string_view kSchemaArrayKeywords[] = {"allOf", "anyOf", "oneOf", "prefixItems"};

bool Copy(json::value& schema, int depth);

bool CopyObject(json::object& schema, int depth) {
  // See the header: no std::regex on caller-supplied strings.
  if (schema.contains("pattern") && schema.at("pattern").is_string()) schema.erase("pattern");
  if (schema.contains("format") && schema.at("format").is_string()) schema.erase("format");
  if (auto* pp = schema.if_contains("patternProperties"); pp && pp->is_object()) {
    schema.erase("patternProperties");
    schema.erase("additionalProperties");
  }
  // 2020-12 arrays -> Draft 7, which valijson knows: prefixItems is the old tuple `items`,
  // and `items` beside it the old additionalItems.
  if (auto* prefix = schema.if_contains("prefixItems"); prefix && prefix->is_array()) {
    json::value tuple = *prefix;
    schema.erase("prefixItems");
    if (auto* rest = schema.if_contains("items")) {
      json::value additional = *rest;  // copied first: inserting may move the entries
      schema["additionalItems"] = std::move(additional);
    }
    schema["items"] = std::move(tuple);
  }
  for (std::string_view key : kSchemaKeywords) {
    if (auto* sub = schema.if_contains(key); sub && !Copy(*sub, depth + 1)) return false;
  }
  if (auto* items = schema.if_contains("items")) {
    if (items->is_array()) {
      for (auto& sub : items->as_array()) {
        if (!Copy(sub, depth + 1)) return false;
      }
    } else if (!Copy(*items, depth + 1)) {
      return false;
    }
  }
  for (std::string_view key : kSchemaMapKeywords) {
    if (auto* map = schema.if_contains(key); map && map->is_object()) {
      for (auto& entry : map->as_object()) {
        if (!Copy(entry.value(), depth + 1)) return false;
      }
    }
  }
  for (std::string_view key : kSchemaArrayKeywords) {
    if (auto* list = schema.if_contains(key); list && list->is_array()) {
      for (auto& sub : list->as_array()) {
        if (!Copy(sub, depth + 1)) return false;
      }
    }
  }
  return true;
}

// Makes `schema` (a copy of the published one) into what valijson checks; false when it is
// nested deeper than kMaxSchemaDepth.
bool Copy(json::value& schema, int depth) {
  if (depth > kMaxSchemaDepth) return false;
  if (!schema.is_object()) return true;  // true / false schemas
  return CopyObject(schema.as_object(), depth);
}

// valijson's context ("<root>", "[body]", "[tags]", "[0]") -> "body.tags.0".
std::string PathOf(const std::vector<std::string>& context) {
  std::string path;
  for (const std::string& part : context) {
    if (part == "<root>") continue;
    std::string_view name = part;
    if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
      name = name.substr(1, name.size() - 2);
    }
    if (!path.empty()) path += '.';
    path += name;
  }
  return path;
}

// valijson reports each failure once where it happens and again at every enclosing
// property or item; the enclosing reports say nothing new.
bool IsEnclosingReport(std::string_view description) {
  return description.starts_with("Failed to validate against schema associated with property") ||
         description.starts_with("Failed to validate item #");
}

}  // namespace

SchemaValidator::SchemaValidator() = default;
SchemaValidator::~SchemaValidator() = default;

std::string SchemaValidator::CompileFrom(const json::object& schema) const {
  json::value checked(schema);
  if (!Copy(checked, 0)) return "inputSchema: nested too deeply";
  auto compiled = std::make_unique<valijson::Schema>();
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::BoostJsonAdapter adapter(checked);
    parser.populateSchema(adapter, *compiled);
  } catch (const std::exception& e) {
    return std::string("inputSchema: ") + e.what();
  }
  schema_ = std::move(compiled);
  return "";
}

Result<std::shared_ptr<const SchemaValidator>> SchemaValidator::Compile(
    const json::object& schema) {
  std::shared_ptr<SchemaValidator> validator(new SchemaValidator());
  std::call_once(validator->once_, [&] { validator->problem_ = validator->CompileFrom(schema); });
  if (!validator->problem_.empty()) return Error(Errc::kInvalidArgument, validator->problem_);
  return std::shared_ptr<const SchemaValidator>(std::move(validator));
}

std::shared_ptr<const SchemaValidator> SchemaValidator::Deferred() {
  return std::shared_ptr<const SchemaValidator>(new SchemaValidator());
}

std::vector<std::string> SchemaValidator::Check(const json::object& schema,
                                                const json::value& value) const {
  std::call_once(once_, [&] { problem_ = CompileFrom(schema); });
  if (!problem_.empty()) return {"arguments: cannot be checked: " + problem_};
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::BoostJsonAdapter target(value);
  std::vector<std::string> messages;
  try {
    if (validator.validate(*schema_, target, &results)) return messages;
  } catch (const std::exception& e) {
    messages.push_back(std::string("arguments: cannot be checked: ") + e.what());
    return messages;
  }
  std::set<std::string> seen;
  valijson::ValidationResults::Error error;
  while (results.popError(error)) {
    if (IsEnclosingReport(error.description)) continue;
    std::string path = PathOf(error.context);
    std::string message;
    constexpr std::string_view kMissing = "Missing required property '";
    if (std::string_view d = error.description; d.starts_with(kMissing) && d.ends_with("'.")) {
      std::string_view name = d.substr(kMissing.size(), d.size() - kMissing.size() - 2);
      message = (path.empty() ? "" : path + ".") + std::string(name) + ": required";
    } else {
      message = (path.empty() ? "arguments" : path) + ": " + error.description;
    }
    if (seen.insert(message).second) messages.push_back(std::move(message));
  }
  if (messages.empty()) messages.push_back("arguments: do not match the inputSchema");
  return messages;
}

Status CompileValidator(Tool& tool) {
  auto compiled = SchemaValidator::Compile(tool.input_schema);
  if (!compiled) return compiled.error();
  tool.validator = std::move(*compiled);
  return Ok{};
}

}  // namespace tr::tools
