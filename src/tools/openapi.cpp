#include "tools/openapi.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>
#include <set>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "tools/openapi_schema.h"
#include "tools/schema_validator.h"
#include "tools/tool_name.h"

namespace tr::tools {

namespace json = boost::json;

namespace {

constexpr size_t kMaxDescription = 1024;  // CONTRACT section 10
constexpr std::string_view kMethods[] = {"get",     "put",  "post",  "delete",
                                         "options", "head", "patch", "trace"};

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}
std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view StringAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}
bool BoolAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_bool() && v->get_bool();
}

// The document's version: "3.0.3" (a number when YAML read `openapi: 3.1` plainly).
std::string VersionOf(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_number()) return json::serialize(v);
  return "";
}

// "3.0", "3.0.3" are version 3.0.
bool IsVersion(std::string_view version, std::string_view minor) {
  return version == minor || (version.starts_with(minor) && version.size() > minor.size() &&
                              version[minor.size()] == '.');
}

// Where auth goes, by location and name, per components.securitySchemes: the service adds
// it, so such parameters never reach a tool's schema.
struct AuthPlaces {
  std::set<std::string> headers;  // lower case
  std::set<std::string> query;
  std::set<std::string> cookies;
};

AuthPlaces FindAuthPlaces(const json::object& doc, const SchemaConverter& refs) {
  AuthPlaces places;
  places.headers.insert("authorization");
  const json::value* components = doc.if_contains("components");
  const json::value* schemes = components && components->is_object()
                                   ? components->get_object().if_contains("securitySchemes")
                                   : nullptr;
  if (!schemes || !schemes->is_object()) return places;
  for (const auto& entry : schemes->get_object()) {
    const json::value* scheme = refs.Follow(entry.value());
    if (!scheme || !scheme->is_object()) continue;
    const json::object& s = scheme->get_object();
    if (StringAt(s, "type") != "apiKey") continue;
    std::string name(StringAt(s, "name"));
    std::string_view in = StringAt(s, "in");
    if (in == "header") places.headers.insert(Lower(name));
    if (in == "query") places.query.insert(name);
    if (in == "cookie") places.cookies.insert(name);
  }
  return places;
}

// One parameter as read, before property names are chosen.
struct ReadParameter {
  Parameter param;
  json::value schema;
};

std::optional<ParamIn> ParseIn(std::string_view in) {
  if (in == "path") return ParamIn::kPath;
  if (in == "query") return ParamIn::kQuery;
  if (in == "header") return ParamIn::kHeader;
  return std::nullopt;
}

std::string_view InName(ParamIn in) {
  switch (in) {
    case ParamIn::kPath:
      return "path";
    case ParamIn::kQuery:
      return "query";
    case ParamIn::kHeader:
      return "header";
  }
  return "";
}

bool SameParameter(const Parameter& a, const Parameter& b) {
  if (a.in != b.in) return false;
  return a.in == ParamIn::kHeader ? Lower(a.name) == Lower(b.name) : a.name == b.name;
}

// JSON values that go together (one tool): made from a buffer, with more taken from the
// heap only past it, and dropped at once. Emptied by making the resource again: Boost 1.81's
// monotonic_resource::release() keeps doubling the size of the block it takes next.
class Arena {
 public:
  explicit Arena(size_t bytes) : bytes_(bytes) {}
  // A storage for values that replace everything made from the last one.
  json::storage_ptr Fresh() {
    if (!buffer_) buffer_ = std::make_unique<unsigned char[]>(bytes_);
    resource_.emplace(buffer_.get(), bytes_);
    return json::storage_ptr(&*resource_);
  }

 private:
  const size_t bytes_;
  std::unique_ptr<unsigned char[]> buffer_;
  std::optional<json::monotonic_resource> resource_;
};

// The converter's view of one document while it reads operations.
class Reader {
 public:
  // REQUIRES: document is an object; it outlives the reader.
  Reader(const json::value& document, bool openapi_30, std::string_view integration_id,
         std::string_view source, ToolSchemas schemas)
      : doc_(document.get_object()),
        converter_(document, openapi_30),
        integration_id_(integration_id),
        source_(source),
        schemas_(schemas) {}

  // Every selected tool to `sink`, names made unique in the document's order; the warnings.
  Result<std::vector<std::string>> ReadAll(const ToolSelection& selection, const ToolSink& sink);

 private:
  // Adds path-level or operation-level `parameters` to `params` (later ones replace earlier
  // ones with the same location and name).
  Status AddParameters(const json::value* list, std::string_view where,
                       std::vector<ReadParameter>& params);
  Result<std::optional<Tool>> ReadOperation(std::string_view path, std::string_view method,
                                            const json::object& op,
                                            std::vector<ReadParameter> params,
                                            const ToolSelection& selection);
  void Warn(std::string message) {
    if (warnings_.size() < 50) warnings_.push_back(std::move(message));
  }
  // `schema` as a tool's schema; {} when the schemas are skipped.
  json::value Schema(const json::value& schema) {
    return schemas_ == ToolSchemas::kSkip ? json::value(json::object())
                                          : converter_.Convert(schema);
  }
  // kConvertForSink: what follows is made in `arena`, emptied first (what it held before is
  // gone by then: the last tool, or the last path's parameters).
  void Use(Arena& arena) {
    if (schemas_ == ToolSchemas::kConvertForSink) converter_.UseStorage(arena.Fresh());
  }

  const json::object& doc_;
  SchemaConverter converter_;
  std::string integration_id_;
  std::string source_;
  const ToolSchemas schemas_;
  AuthPlaces auth_;
  std::vector<std::string> warnings_;
  // kConvertForSink: the parameters shared by one path's operations, and one tool.
  Arena path_arena_{256 << 10};
  Arena tool_arena_{1 << 20};
};

Status Reader::AddParameters(const json::value* list, std::string_view where,
                             std::vector<ReadParameter>& params) {
  if (!list) return Ok{};
  if (!list->is_array()) {
    return Error(Errc::kInvalidArgument,
                 source_ + ": " + std::string(where) + ".parameters: must be an array");
  }
  for (const auto& item : list->get_array()) {
    const json::value* resolved = converter_.Follow(item);
    if (!resolved || !resolved->is_object()) {
      Warn(std::string(where) +
           ": a parameter that is not an object or whose $ref does not resolve was left out");
      continue;
    }
    const json::object& p = resolved->get_object();
    std::string name(StringAt(p, "name"));
    std::string_view in_text = StringAt(p, "in");
    if (name.empty()) {
      Warn(std::string(where) + ": a parameter without a name was left out");
      continue;
    }
    if (in_text == "cookie") {
      if (!auth_.cookies.contains(name))
        Warn(std::string(where) + ": cookie parameter " + name + " is not supported; left out");
      continue;
    }
    auto in = ParseIn(in_text);
    if (!in) {
      Warn(std::string(where) + ": parameter " + name + " has an unknown location; left out");
      continue;
    }
    // OpenAPI: header parameters named Accept, Content-Type or Authorization are ignored.
    if (*in == ParamIn::kHeader && (auth_.headers.contains(Lower(name)) ||
                                    Lower(name) == "accept" || Lower(name) == "content-type")) {
      continue;
    }
    if (*in == ParamIn::kQuery && auth_.query.contains(name)) continue;

    ReadParameter read{Parameter{}, json::value(converter_.storage())};
    read.param.name = name;
    read.param.in = *in;
    read.param.style = std::string(StringAt(p, "style"));
    if (const json::value* explode = p.if_contains("explode"); explode && explode->is_bool()) {
      read.param.explode = explode->get_bool();
    } else {
      read.param.explode =
          read.param.style == "form" || (read.param.style.empty() && *in == ParamIn::kQuery);
    }
    read.param.required = *in == ParamIn::kPath || BoolAt(p, "required");
    if (const json::value* schema = p.if_contains("schema")) {
      read.schema = Schema(*schema);
    } else if (const json::value* content = p.if_contains("content");
               content && content->is_object() && !content->get_object().empty()) {
      read.param.json_content = true;
      const json::value& media = content->get_object().begin()->value();
      const json::value* schema =
          media.is_object() ? media.get_object().if_contains("schema") : nullptr;
      read.schema = schema ? Schema(*schema) : json::value(json::object());
    } else {
      read.schema = json::object();
    }
    std::string_view description = StringAt(p, "description");
    if (!description.empty() && read.schema.is_object() &&
        !read.schema.get_object().contains("description")) {
      read.schema.get_object()["description"] = CutUtf8(description, kMaxDescription);
    }
    auto same = std::find_if(params.begin(), params.end(), [&](const ReadParameter& r) {
      return SameParameter(r.param, read.param);
    });
    if (same != params.end()) {
      *same = std::move(read);
    } else {
      params.push_back(std::move(read));
    }
  }
  return Ok{};
}

// The request body's media type: JSON first, then a form, then whatever comes first.
const json::object::value_type* PickMediaType(const json::object& content) {
  const json::object::value_type* found = nullptr;
  int best = -1;
  for (const auto& entry : content) {
    std::string type = Lower(entry.key().substr(0, entry.key().find(';')));
    int rank = type == "application/json"                           ? 4
               : type.ends_with("+json") || type.ends_with("/json") ? 3
               : type == "application/x-www-form-urlencoded"        ? 2
                                                                    : 1;
    if (rank > best) {
      best = rank;
      found = &entry;
    }
  }
  return found;
}

bool IsStructured(std::string_view type) {
  type = type.substr(0, type.find(';'));
  return type == "application/json" || type.ends_with("+json") || type.ends_with("/json") ||
         type == "application/x-www-form-urlencoded";
}

std::string Describe(const json::object& op, std::string_view method, std::string_view path) {
  std::string summary(StringAt(op, "summary"));
  std::string description(StringAt(op, "description"));
  std::string text = summary;
  if (!description.empty() && description != summary) {
    text += text.empty() ? description : "\n\n" + description;
  }
  if (text.empty()) text = Upper(method) + " " + std::string(path);
  return CutUtf8(text, kMaxDescription);
}

Result<std::optional<Tool>> Reader::ReadOperation(std::string_view path, std::string_view method,
                                                  const json::object& op,
                                                  std::vector<ReadParameter> params,
                                                  const ToolSelection& selection) {
  std::string_view operation_id = StringAt(op, "operationId");
  std::string key =
      operation_id.empty() ? Upper(method) + " " + std::string(path) : std::string(operation_id);
  if (!selection.include.empty() && std::find(selection.include.begin(), selection.include.end(),
                                              key) == selection.include.end()) {
    return std::optional<Tool>();
  }
  if (std::find(selection.exclude.begin(), selection.exclude.end(), key) !=
      selection.exclude.end()) {
    return std::optional<Tool>();
  }
  converter_.StartTool();
  Use(tool_arena_);
  const json::storage_ptr& storage = converter_.storage();
  const std::string where = "paths." + std::string(path) + "." + std::string(method);
  if (auto added = AddParameters(op.if_contains("parameters"), where, params); !added) {
    return added.error();
  }

  // Template variables no parameter declares (common in real documents): required strings.
  for (size_t open = path.find('{'); open != std::string_view::npos;
       open = path.find('{', open + 1)) {
    size_t close = path.find('}', open);
    if (close == std::string_view::npos) break;
    std::string name(path.substr(open + 1, close - open - 1));
    bool declared = std::any_of(params.begin(), params.end(), [&](const ReadParameter& r) {
      return r.param.in == ParamIn::kPath && r.param.name == name;
    });
    if (!declared) {
      ReadParameter r;
      r.param.name = name;
      r.param.in = ParamIn::kPath;
      r.param.required = true;
      r.schema = json::object{{"type", "string"}};
      params.push_back(std::move(r));
    }
  }

  Tool tool{.input_schema = json::object(storage)};
  tool.key = key;
  tool.operation.method = Upper(method);
  tool.operation.path = std::string(path);
  tool.description = Describe(op, method, path);

  // The body, as the property "body".
  json::value body_schema(storage);
  bool body_required = false;
  if (const json::value* body_ref = op.if_contains("requestBody")) {
    const json::value* body = converter_.Follow(*body_ref);
    const json::value* content =
        body && body->is_object() ? body->get_object().if_contains("content") : nullptr;
    if (content && content->is_object() && !content->get_object().empty()) {
      const auto* media = PickMediaType(content->get_object());
      tool.operation.has_body = true;
      tool.operation.body_content_type = std::string(media->key());
      const json::value* schema =
          media->value().is_object() ? media->value().get_object().if_contains("schema") : nullptr;
      if (IsStructured(Lower(media->key()))) {
        body_schema = schema ? Schema(*schema) : json::value(json::object());
      } else {
        body_schema = json::object{{"type", "string"}};
      }
      body_required = BoolAt(body->get_object(), "required");
      std::string_view description = StringAt(body->get_object(), "description");
      if (!description.empty() && body_schema.is_object() &&
          !body_schema.get_object().contains("description")) {
        body_schema.get_object()["description"] = CutUtf8(description, kMaxDescription);
      }
    }
  }

  // Property names: a parameter keeps its name unless another location (or the body) has it
  // already; then it is prefixed with its location.
  std::set<std::string> taken;
  if (tool.operation.has_body) taken.insert("body");
  json::object properties(storage);
  json::array required(storage);
  for (int pass = 0; pass < 3; ++pass) {  // path, then query, then header keep names first
    for (auto& r : params) {
      if (static_cast<int>(r.param.in) != pass) continue;
      std::string property = r.param.name;
      if (taken.contains(property)) property = std::string(InName(r.param.in)) + "_" + r.param.name;
      for (int n = 2; taken.contains(property); ++n) {
        property = std::string(InName(r.param.in)) + "_" + r.param.name + "_" + std::to_string(n);
      }
      taken.insert(property);
      r.param.property = property;
      properties[property] = std::move(r.schema);
      if (r.param.required) required.push_back(json::string(property));
    }
  }
  // Keep the document's parameter order for the builder.
  for (auto& r : params) tool.operation.parameters.push_back(std::move(r.param));
  if (tool.operation.has_body) {
    properties["body"] = std::move(body_schema);
    if (body_required) required.push_back("body");
  }
  tool.input_schema["type"] = "object";
  tool.input_schema["properties"] = std::move(properties);
  if (!required.empty()) tool.input_schema["required"] = std::move(required);

  if (tool.operation.method == "GET" || tool.operation.method == "HEAD") {
    tool.annotations["readOnlyHint"] = true;
  } else if (tool.operation.method == "DELETE") {
    tool.annotations["destructiveHint"] = true;
  }

  if (auto named = selection.names.find(key); named != selection.names.end()) {
    tool.name = named->second;
  } else if (!operation_id.empty()) {
    tool.name = ToolName(integration_id_ + "_" + key);
  } else {
    tool.name = ToolName(integration_id_ + "_" + std::string(method) + "_" + std::string(path));
  }
  // Only tools that are kept are ever called: a sink's tools get none (one allocation less each).
  if (schemas_ == ToolSchemas::kConvert) tool.validator = SchemaValidator::Deferred();
  return std::optional<Tool>(std::move(tool));
}

Result<std::vector<std::string>> Reader::ReadAll(const ToolSelection& selection,
                                                 const ToolSink& sink) {
  auth_ = FindAuthPlaces(doc_, converter_);
  const json::value* paths = doc_.if_contains("paths");
  if (paths && !paths->is_object()) {
    return Error(Errc::kInvalidArgument, source_ + ": paths: must be an object");
  }
  std::set<std::string> keys_seen;
  std::set<std::string> names;  // given so far: a clash gets _2, _3 in the document's order
  if (paths) {
    for (const auto& [path, item_ref] : paths->get_object()) {
      const json::value* item = converter_.Follow(item_ref);
      if (!path.starts_with("/") || !item || !item->is_object()) {
        Warn("paths." + CutUtf8(path, 200) + ": not a path with an object; left out");
        continue;
      }
      const json::object& path_item = item->get_object();
      Use(path_arena_);
      std::vector<ReadParameter> shared;
      if (auto added = AddParameters(path_item.if_contains("parameters"),
                                     "paths." + std::string(path), shared);
          !added) {
        return added.error();
      }
      for (const auto& [method, op] : path_item) {
        if (std::find(std::begin(kMethods), std::end(kMethods), method) == std::end(kMethods))
          continue;
        if (!op.is_object()) {
          Warn("paths." + std::string(path) + "." + std::string(method) +
               ": not an object; left out");
          continue;
        }
        std::string_view operation_id = StringAt(op.get_object(), "operationId");
        keys_seen.insert(operation_id.empty() ? Upper(method) + " " + std::string(path)
                                              : std::string(operation_id));
        auto tool = ReadOperation(path, method, op.get_object(), shared, selection);
        if (!tool) return tool.error();
        if (!*tool) continue;
        const std::string wanted = (*tool)->name;
        for (int n = 2; names.contains((*tool)->name); ++n) {
          (*tool)->name = NumberedToolName(wanted, n);
        }
        names.insert((*tool)->name);
        sink(std::move(**tool));
      }
    }
  }

  // What the selection names must exist, and overrides must be valid names.
  const std::string where = selection.where.empty() ? source_ + ": tools" : selection.where;
  const std::pair<const std::vector<std::string>*, std::string_view> kLists[] = {
      {&selection.include, "include"}, {&selection.exclude, "exclude"}};
  for (const auto& [list, field] : kLists) {
    for (const auto& key : *list) {
      if (!keys_seen.contains(key)) {
        return Error(Errc::kInvalidArgument, where + "." + std::string(field) +
                                                 ": the document has no operation \"" + key + "\"");
      }
    }
  }
  for (const auto& [key, name] : selection.names) {
    if (!keys_seen.contains(key)) {
      return Error(Errc::kInvalidArgument,
                   where + ".names: the document has no operation \"" + key + "\"");
    }
    if (!IsValidToolName(name)) {
      return Error(Errc::kInvalidArgument,
                   where + ".names." + key + ": must match ^[A-Za-z0-9_-]{1,64}$");
    }
  }

  for (const auto& w : converter_.warnings()) warnings_.push_back(w);
  return std::move(warnings_);
}

}  // namespace

Status CheckOpenApiVersion(const json::value& document, std::string_view source) {
  const std::string prefix = std::string(source) + ": ";
  const json::object* doc = document.if_object();
  if (!doc) return Error(Errc::kInvalidArgument, prefix + "an OpenAPI document must be an object");
  if (doc->contains("swagger")) {
    return Error(Errc::kInvalidArgument,
                 prefix +
                     "Swagger 2.0 is not supported: convert the document to OpenAPI 3.0 or 3.1 "
                     "first (for example with swagger2openapi)");
  }
  const json::value* version_value = doc->if_contains("openapi");
  if (!version_value) {
    return Error(Errc::kInvalidArgument,
                 prefix + "not an OpenAPI document (no \"openapi\" version field)");
  }
  std::string version = VersionOf(*version_value);
  if (!IsVersion(version, "3.0") && !IsVersion(version, "3.1")) {
    return Error(Errc::kInvalidArgument, prefix + "OpenAPI " + CutUtf8(version, 20) +
                                             " is not supported (3.0 and 3.1 are)");
  }
  return Ok{};
}

Result<std::vector<std::string>> ReadTools(const json::value& document,
                                           std::string_view integration_id,
                                           const ToolSelection& selection, std::string_view source,
                                           ToolSchemas schemas, const ToolSink& sink) {
  if (auto s = CheckOpenApiVersion(document, source); !s) return s.error();
  const bool v30 = IsVersion(VersionOf(document.get_object().at("openapi")), "3.0");
  Reader reader(document, v30, integration_id, source, schemas);
  return reader.ReadAll(selection, sink);
}

Result<ToolSet> ToolsFromOpenApi(const json::value& document, std::string_view integration_id,
                                 const ToolSelection& selection, std::string_view source) {
  ToolSet set;
  auto warnings = ReadTools(document, integration_id, selection, source, ToolSchemas::kConvert,
                            [&set](Tool&& tool) { set.tools.push_back(std::move(tool)); });
  if (!warnings) return warnings.error();
  set.warnings = std::move(*warnings);
  return set;
}

}  // namespace tr::tools
