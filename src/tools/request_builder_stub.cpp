// TEMPORARY stand-in for BuildRequest until the openapi branch's request_builder.cpp is
// merged: required checks only, scalar parameters, JSON body.
#include "tools/request_builder.h"

#include <boost/json/serialize.hpp>

namespace tr::tools {

namespace json = boost::json;

namespace {

std::string Scalar(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  return json::serialize(v);
}

std::string Encode(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

}  // namespace

Result<BuiltRequest> BuildRequest(const Tool& tool, const json::object& arguments) {
  std::vector<std::string> problems;
  BuiltRequest built;
  built.method = tool.operation.method;
  std::string path = tool.operation.path;
  std::string query;
  for (const Parameter& p : tool.operation.parameters) {
    const json::value* v = arguments.if_contains(p.property);
    if (!v) {
      if (p.required) problems.push_back(p.property + ": required");
      continue;
    }
    if (p.in == ParamIn::kPath) {
      size_t at = path.find("{" + p.name + "}");
      if (at != std::string::npos) path.replace(at, p.name.size() + 2, Encode(Scalar(*v)));
    } else if (p.in == ParamIn::kQuery) {
      query += (query.empty() ? "?" : "&") + Encode(p.name) + "=" + Encode(Scalar(*v));
    } else {
      built.headers.emplace_back(p.name, Scalar(*v));
    }
  }
  if (tool.operation.has_body) {
    if (const json::value* body = arguments.if_contains("body")) {
      built.body = json::serialize(*body);
      built.headers.emplace_back("Content-Type", "application/json");
    }
  }
  if (!problems.empty()) return Error(Errc::kInvalidArgument, std::move(problems));
  built.path_and_query = path + query;
  return built;
}

}  // namespace tr::tools
