#include "tools/openapi_schema.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <span>
#include <utility>

#include <boost/json/object.hpp>

#include "core/validation.h"

namespace tr::tools {

namespace json = boost::json;

namespace {

// Longest title or description a schema keeps.
constexpr size_t kMaxSchemaText = 1024;
constexpr size_t kMaxWarnings = 50;

constexpr std::string_view kTypes[] = {"string", "number", "integer", "boolean",
                                       "array",  "object", "null"};
constexpr std::string_view kTextKeywords[] = {"title", "description"};
constexpr std::string_view kStringKeywords[] = {"format", "pattern", "contentMediaType",
                                                "contentEncoding"};
constexpr std::string_view kCountKeywords[] = {"maxLength",   "minLength",     "maxItems",
                                               "minItems",    "maxProperties", "minProperties",
                                               "minContains", "maxContains"};
constexpr std::string_view kBoolKeywords[] = {"uniqueItems", "deprecated", "readOnly", "writeOnly"};
constexpr std::string_view kSchemaKeywords[] = {"additionalProperties",
                                                "not",
                                                "propertyNames",
                                                "contains",
                                                "if",
                                                "then",
                                                "else",
                                                "unevaluatedItems",
                                                "unevaluatedProperties"};
constexpr std::string_view kSchemaMapKeywords[] = {"properties", "patternProperties",
                                                   "dependentSchemas"};
constexpr std::string_view kSchemaListKeywords[] = {"allOf", "anyOf", "oneOf", "prefixItems"};

bool In(std::string_view key, std::span<const std::string_view> set) {
  return std::find(set.begin(), set.end(), key) != set.end();
}

std::optional<std::string_view> TypeName(const json::value& v) {
  if (!v.is_string()) return std::nullopt;
  std::string_view name = v.get_string();
  if (name == "file") return "string";  // Swagger's upload type, seen in 3.0 documents
  if (In(name, kTypes)) return name;
  return std::nullopt;
}

// `type` as 2020-12 accepts it: one valid name or a non-empty array of distinct ones.
std::optional<json::value> ConvertType(const json::value& v) {
  if (auto one = TypeName(v)) return json::value(json::string(*one));
  if (!v.is_array()) return std::nullopt;
  json::array names;
  for (const auto& item : v.get_array()) {
    auto name = TypeName(item);
    if (!name) continue;
    json::value candidate = json::string(*name);
    if (std::find(names.begin(), names.end(), candidate) == names.end()) names.push_back(candidate);
  }
  if (names.empty()) return std::nullopt;
  if (names.size() == 1) return names[0];
  return json::value(std::move(names));
}

std::optional<json::value> Count(const json::value& v) {
  if (v.is_int64() && v.get_int64() >= 0) return v;
  if (v.is_uint64()) return v;
  if (v.is_double() && v.get_double() >= 0 && v.get_double() < 9e15 &&
      std::floor(v.get_double()) == v.get_double()) {
    return json::value(static_cast<int64_t>(v.get_double()));
  }
  return std::nullopt;
}

// The strings of `list`, each once (2020-12 wants `required` items unique).
json::array DistinctStrings(const json::array& list) {
  json::array names;
  for (const auto& name : list) {
    if (name.is_string() && std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  }
  return names;
}

// "#/components/schemas/A~1B" -> the JSON pointer "/components/schemas/A~1B", with the
// fragment's percent-escapes decoded; nullopt for any other kind of reference.
std::optional<std::string> LocalPointer(std::string_view ref) {
  if (!ref.starts_with("#")) return std::nullopt;
  ref.remove_prefix(1);
  if (!ref.empty() && ref.front() != '/') return std::nullopt;
  return PercentDecode(ref);
}

}  // namespace

std::string CutUtf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t end = max_bytes;
  // Step back over continuation bytes (10xxxxxx) to the start of the cut sequence.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

void SchemaConverter::Warn(std::string message) {
  if (warnings_.size() < kMaxWarnings) warnings_.push_back(std::move(message));
}

const json::value* SchemaConverter::Lookup(std::string_view ref) const {
  auto pointer = LocalPointer(ref);
  if (!pointer) return nullptr;
  if (pointer->empty()) return &document_;
  json::error_code ec;
  return document_.find_pointer(*pointer, ec);
}

const json::value* SchemaConverter::Follow(const json::value& maybe_ref) const {
  const json::value* v = &maybe_ref;
  for (int hops = 0; hops < 16; ++hops) {
    const json::object* o = v->if_object();
    const json::value* ref = o ? o->if_contains("$ref") : nullptr;
    if (!ref) return v;
    if (!ref->is_string()) return nullptr;
    v = Lookup(ref->get_string());
    if (!v) return nullptr;
  }
  return nullptr;
}

json::value SchemaConverter::Convert(const json::value& schema) {
  expanding_.clear();
  return ConvertAt(schema, 0);
}

json::value SchemaConverter::ConvertAt(const json::value& schema, int depth) {
  if (schema.is_bool()) return schema;
  const json::object* o = schema.if_object();
  if (!o || depth > kMaxSchemaDepth || budget_ == 0) return json::object(sp_);
  --budget_;
  if (const json::value* ref = o->if_contains("$ref"); ref && ref->is_string()) {
    return ConvertRef(*o, ref->get_string(), depth);
  }
  return ConvertObject(*o, depth);
}

json::value SchemaConverter::ConvertRef(const json::object& schema, std::string_view ref,
                                        int depth) {
  // A ref to a schema being inlined is a recursion: cut it off with {} (any value).
  if (std::find(expanding_.begin(), expanding_.end(), ref) != expanding_.end()) {
    return json::object(sp_);
  }
  const json::value* target = Lookup(ref);
  if (!target) {
    Warn("$ref " + CutUtf8(ref, 200) + " is not a local reference that resolves; cut off with {}");
    return json::object(sp_);
  }
  expanding_.emplace_back(ref);
  json::value resolved = ConvertAt(*target, depth + 1);
  expanding_.pop_back();
  // 3.0 ignores a $ref's siblings; 3.1 applies them too (annotations are laid over the
  // target, assertions joined with allOf).
  if (openapi_30_ || schema.size() == 1) return resolved;
  json::object siblings(schema, sp_);
  siblings.erase("$ref");
  json::value rest = ConvertObject(siblings, depth);
  if (rest.get_object().empty()) return resolved;
  const bool annotations_only =
      std::all_of(rest.get_object().begin(), rest.get_object().end(), [](const auto& kv) {
        return In(kv.key(), kTextKeywords) || kv.key() == "deprecated" || kv.key() == "default";
      });
  if (annotations_only && resolved.is_object()) {
    for (const auto& kv : rest.get_object()) resolved.get_object()[kv.key()] = kv.value();
    return resolved;
  }
  return Joined("allOf", std::move(resolved), std::move(rest));
}

json::value SchemaConverter::Joined(std::string_view keyword, json::value first,
                                    json::value second) {
  json::array both(sp_);
  both.push_back(std::move(first));
  both.push_back(std::move(second));
  json::object joined(sp_);
  joined[keyword] = std::move(both);
  return joined;
}

json::value SchemaConverter::ConvertObject(const json::object& in, int depth) {
  json::object out(sp_);
  for (const auto& [key, v] : in) {
    if (budget_ == 0) break;
    if (key == "type") {
      if (auto type = ConvertType(v)) out[key] = std::move(*type);
    } else if (In(key, kTextKeywords)) {
      if (v.is_string()) out[key] = CutUtf8(v.get_string(), kMaxSchemaText);
    } else if (In(key, kStringKeywords)) {
      if (v.is_string()) out[key] = v;
    } else if (key == "multipleOf") {
      if (v.is_number() && v.to_number<double>() > 0) out[key] = v;
    } else if (key == "maximum" || key == "minimum") {
      if (v.is_number()) out[key] = v;
    } else if (key == "exclusiveMaximum" || key == "exclusiveMinimum") {
      if (v.is_number()) out[key] = v;  // 3.1; 3.0's booleans below
    } else if (In(key, kCountKeywords)) {
      if (auto n = Count(v)) out[key] = std::move(*n);
    } else if (In(key, kBoolKeywords)) {
      if (v.is_bool()) out[key] = v;
    } else if (key == "default" || key == "const") {
      out[key] = v;
    } else if (key == "enum") {
      if (v.is_array()) {
        budget_ -= std::min(budget_, v.get_array().size());
        out[key] = v;
      }
    } else if (key == "required") {
      if (v.is_array()) out[key] = DistinctStrings(v.get_array());
    } else if (key == "dependentRequired") {
      if (!v.is_object()) continue;
      json::object deps(sp_);
      for (const auto& [name, list] : v.get_object()) {
        if (list.is_array()) deps[name] = DistinctStrings(list.get_array());
      }
      out[key] = std::move(deps);
    } else if (In(key, kSchemaKeywords)) {
      if (v.is_object() || v.is_bool()) out[key] = ConvertAt(v, depth + 1);
    } else if (key == "items") {
      if (v.is_array()) {  // the old tuple form
        json::array list(sp_);
        for (const auto& item : v.get_array()) list.push_back(ConvertAt(item, depth + 1));
        out["prefixItems"] = std::move(list);
      } else if (v.is_object() || v.is_bool()) {
        out[key] = ConvertAt(v, depth + 1);
      }
    } else if (In(key, kSchemaMapKeywords)) {
      if (!v.is_object()) continue;
      json::object map(sp_);
      for (const auto& [name, sub] : v.get_object()) {
        if (budget_ == 0) break;
        map[name] = ConvertAt(sub, depth + 1);
      }
      out[key] = std::move(map);
    } else if (In(key, kSchemaListKeywords)) {
      if (!v.is_array() || v.get_array().empty()) continue;
      json::array list(sp_);
      for (const auto& sub : v.get_array()) list.push_back(ConvertAt(sub, depth + 1));
      out[key] = std::move(list);
    }
    // Anything else (x-*, discriminator, xml, example, externalDocs, nullable, $id, ...) has
    // no meaning for checking arguments.
  }

  // 3.0 exclusiveMinimum: true means "minimum is exclusive".
  constexpr std::pair<std::string_view, std::string_view> kExclusive[] = {
      {"exclusiveMinimum", "minimum"}, {"exclusiveMaximum", "maximum"}};
  for (const auto& [exclusive, bound] : kExclusive) {
    const json::value* flag = in.if_contains(exclusive);
    if (!flag || !flag->is_bool()) continue;
    if (json::value* limit = out.if_contains(bound); flag->get_bool() && limit) {
      json::value number = *limit;  // copied first: inserting may move the entries
      out.erase(bound);
      out[exclusive] = std::move(number);
    }
  }

  // `nullable: true` (3.0; some 3.1 documents keep it too).
  if (const json::value* nullable = in.if_contains("nullable");
      nullable && nullable->is_bool() && nullable->get_bool()) {
    if (json::value* type = out.if_contains("type")) {
      json::array types = type->is_array() ? type->get_array() : json::array{*type};
      if (std::find(types.begin(), types.end(), json::value("null")) == types.end()) {
        types.push_back("null");
      }
      *type = std::move(types);
      if (json::value* e = out.if_contains("enum");
          e && std::find(e->get_array().begin(), e->get_array().end(), json::value(nullptr)) ==
                   e->get_array().end()) {
        e->get_array().push_back(nullptr);
      }
    } else if (out.contains("allOf") || out.contains("oneOf") || out.contains("anyOf") ||
               out.contains("enum")) {
      json::object null_type(sp_);
      null_type["type"] = "null";
      return Joined("anyOf", std::move(out), std::move(null_type));
    }
  }
  return out;
}

}  // namespace tr::tools
