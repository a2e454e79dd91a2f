#include "tools/request_builder.h"

#include <string_view>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "auth/sigv4.h"
#include "tools/schema_validator.h"

namespace tr::tools {

namespace json = boost::json;

namespace {

// RFC 3986 unreserved characters kept, every other byte %XY: a value can never add a path
// segment, a query parameter or a separator of its style.
std::string Encode(std::string_view text) { return auth::UriEncode(text, false); }

// A scalar as OpenAPI writes it: strings as they are, numbers and booleans in JSON, null as
// nothing. Arrays and objects nested in a styled value have no OpenAPI form: JSON text.
std::string Scalar(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return std::string(v.get_string());
    case json::kind::null:
      return "";
    default:
      return json::serialize(v);
  }
}

using Encoder = std::string (*)(std::string_view);
std::string Verbatim(std::string_view text) { return std::string(text); }

// `v`'s items (an array) or keys and values (an object, as k,v or k=v) joined by `sep`;
// a scalar alone.
std::string Joined(const json::value& v, std::string_view sep, bool pairs_with_equals,
                   Encoder enc) {
  std::string out;
  if (v.is_array()) {
    bool first = true;
    for (const auto& item : v.get_array()) {
      if (!first) out += sep;
      first = false;
      out += enc(Scalar(item));
    }
  } else if (v.is_object()) {
    bool first = true;
    for (const auto& [key, item] : v.get_object()) {
      if (!first) out += sep;
      first = false;
      out += enc(key);
      out += pairs_with_equals ? std::string_view("=") : sep;
      out += enc(Scalar(item));
    }
  } else {
    out = enc(Scalar(v));
  }
  return out;
}

// A path parameter in its style (default simple; label and matrix as OpenAPI defines).
std::string PathValue(const Parameter& p, const json::value& v) {
  if (p.json_content) return Encode(json::serialize(v));
  if (p.style == "label") {
    const bool list = v.is_array() || v.is_object();
    return "." + Joined(v, p.explode && list ? "." : ",", p.explode, Encode);
  }
  if (p.style == "matrix") {
    const std::string name = Encode(p.name);
    if (v.is_object()) {
      return p.explode ? ";" + Joined(v, ";", true, Encode)
                       : ";" + name + "=" + Joined(v, ",", false, Encode);
    }
    if (v.is_array() && p.explode) {
      std::string out;
      for (const auto& item : v.get_array()) out += ";" + name + "=" + Encode(Scalar(item));
      return out;
    }
    std::string value = Joined(v, ",", false, Encode);
    return value.empty() ? ";" + name : ";" + name + "=" + value;
  }
  return Joined(v, ",", p.explode, Encode);
}

void AddQuery(std::string& query, std::string_view encoded_name, std::string_view encoded_value) {
  query += query.empty() ? '?' : '&';
  query += encoded_name;
  query += '=';
  query += encoded_value;
}

// deepObject: name[key]=value, nested objects as name[a][b], arrays as name[a][0] (the
// spelling Rails, PHP and Stripe read; OpenAPI leaves nesting undefined).
void AddDeepObject(std::string& query, const std::string& prefix, const json::value& v, int depth) {
  if (depth < 32 && v.is_object()) {
    for (const auto& [key, item] : v.get_object()) {
      AddDeepObject(query, prefix + "[" + Encode(key) + "]", item, depth + 1);
    }
  } else if (depth < 32 && v.is_array()) {
    size_t index = 0;
    for (const auto& item : v.get_array()) {
      AddDeepObject(query, prefix + "[" + std::to_string(index++) + "]", item, depth + 1);
    }
  } else if (!v.is_null()) {
    AddQuery(query, prefix, Encode(Scalar(v)));
  }
}

// A query parameter in its style (default form, exploded as the reader sets it).
void AddQueryValue(std::string& query, const Parameter& p, const json::value& v) {
  const std::string name = Encode(p.name);
  if (p.json_content) return AddQuery(query, name, Encode(json::serialize(v)));
  if (p.style == "deepObject" && v.is_object()) return AddDeepObject(query, name, v, 0);
  if (v.is_array() && (p.style == "spaceDelimited" || p.style == "pipeDelimited") && !p.explode) {
    return AddQuery(query, name,
                    Joined(v, p.style == "pipeDelimited" ? "|" : "%20", false, Encode));
  }
  if (!p.explode || !(v.is_array() || v.is_object())) {
    return AddQuery(query, name, Joined(v, ",", false, Encode));
  }
  if (v.is_array()) {
    for (const auto& item : v.get_array()) AddQuery(query, name, Encode(Scalar(item)));
    return;
  }
  for (const auto& [key, item] : v.get_object()) AddQuery(query, Encode(key), Encode(Scalar(item)));
}

bool IsJsonMediaType(std::string_view type) {
  type = type.substr(0, type.find(';'));
  return type == "application/json" || type.ends_with("+json");
}

// The body of a form: `body`'s properties as name=value, arrays repeated.
std::string FormBody(const json::object& body) {
  std::string out;
  auto add = [&out](std::string_view key, const json::value& v) {
    if (!out.empty()) out += '&';
    out += Encode(key) + "=" + Encode(Scalar(v));
  };
  for (const auto& [key, v] : body) {
    if (v.is_array()) {
      for (const auto& item : v.get_array()) add(key, item);
    } else if (!v.is_null()) {
      add(key, v);
    }
  }
  return out;
}

// The literal parts of a path template: characters a path may hold kept, others escaped.
void AppendLiteralPath(std::string& out, std::string_view text) {
  static constexpr std::string_view kKept = "-._~!$&'()*+,;=:@/%";
  for (unsigned char c : text) {
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (alnum || kKept.find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += Encode(std::string_view(reinterpret_cast<const char*>(&c), 1));
    }
  }
}

const Parameter* FindParameter(const Operation& op, ParamIn in, std::string_view name) {
  for (const auto& p : op.parameters) {
    if (p.in == in && p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace

Result<BuiltRequest> BuildRequest(const Tool& tool, const json::object& arguments) {
  std::shared_ptr<const SchemaValidator> validator = tool.validator;
  if (!validator) {
    auto compiled = SchemaValidator::Compile(tool.input_schema);
    if (!compiled)
      return Error(Errc::kInternal, "tool " + tool.name + ": " + compiled.error().message());
    validator = std::move(*compiled);
  }
  if (auto problems = validator->Check(tool.input_schema, json::value(arguments));
      !problems.empty()) {
    return Error(Errc::kInvalidArgument, std::move(problems));
  }

  const Operation& op = tool.operation;
  BuiltRequest out;
  out.method = op.method;
  std::vector<std::string> problems;

  // The path: each {name} of the template replaced by its parameter's value.
  std::string_view tmpl = op.path;
  if (tmpl.empty() || tmpl.front() != '/') out.path_and_query = "/";
  while (!tmpl.empty()) {
    size_t open = tmpl.find('{');
    size_t close = open == std::string_view::npos ? open : tmpl.find('}', open);
    if (close == std::string_view::npos) {
      AppendLiteralPath(out.path_and_query, tmpl);
      break;
    }
    AppendLiteralPath(out.path_and_query, tmpl.substr(0, open));
    std::string_view name = tmpl.substr(open + 1, close - open - 1);
    tmpl.remove_prefix(close + 1);
    const Parameter* p = FindParameter(op, ParamIn::kPath, name);
    if (!p) {
      return Error(Errc::kInternal, "tool " + tool.name + ": the path names {" + std::string(name) +
                                        "}, which no parameter declares");
    }
    const json::value* v = arguments.if_contains(p->property);
    if (!v || v->is_null()) {
      problems.push_back(p->property + ": required");
      continue;
    }
    out.path_and_query += PathValue(*p, *v);
  }

  std::string query;
  for (const Parameter& p : op.parameters) {
    const json::value* v = arguments.if_contains(p.property);
    if (p.in == ParamIn::kPath) continue;
    if (!v || v->is_null()) {
      if (p.required) problems.push_back(p.property + ": required");
      continue;
    }
    if (p.in == ParamIn::kQuery) {
      AddQueryValue(query, p, *v);
      continue;
    }
    std::string value = p.json_content ? json::serialize(*v) : Joined(*v, ",", p.explode, Verbatim);
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      problems.push_back(p.property + ": a header value may not contain line breaks or NUL");
      continue;
    }
    out.headers.emplace_back(p.name, std::move(value));
  }
  out.path_and_query += query;

  if (const json::value* body = arguments.if_contains("body"); op.has_body && body) {
    const std::string type =
        op.body_content_type.empty() ? "application/json" : op.body_content_type;
    if (IsJsonMediaType(type)) {
      out.body = json::serialize(*body);
    } else if (type == "application/x-www-form-urlencoded" && body->is_object()) {
      out.body = FormBody(body->get_object());
    } else if (body->is_string()) {
      out.body = std::string(body->get_string());
    } else {
      out.body = json::serialize(*body);
    }
    out.headers.emplace_back("Content-Type", type);
  }
  if (!problems.empty()) return Error(Errc::kInvalidArgument, std::move(problems));
  return out;
}

}  // namespace tr::tools
