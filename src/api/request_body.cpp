#include "api/request_body.h"

#include <algorithm>
#include <cmath>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace tr::api {

namespace json = boost::json;

namespace {

// Tool arguments carry upstream request bodies, which nest deeper than our own bodies.
constexpr unsigned kMaxToolArgumentsDepth = 64;

}  // namespace

bool HasNonFiniteNumber(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_:
      return !std::isfinite(v.get_double());
    case json::kind::array:
      return std::any_of(v.get_array().begin(), v.get_array().end(),
                         [](const json::value& item) { return HasNonFiniteNumber(item); });
    case json::kind::object:
      return std::any_of(v.get_object().begin(), v.get_object().end(),
                         [](const auto& entry) { return HasNonFiniteNumber(entry.value()); });
    default:
      return false;
  }
}

Result<std::optional<std::string>> ParseAuthUrlBody(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return std::optional<std::string>();
  }
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec, {}, options);
  if (ec) return Error(Errc::kInvalidArgument, "Request body is not valid JSON");
  if (!doc.is_object()) return Error(Errc::kInvalidArgument, "Request body must be a JSON object");
  const json::value* v = doc.get_object().if_contains("redirectUri");
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return Error(Errc::kInvalidArgument, "redirectUri must be a string");
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<ToolCallBody> ParseToolCallBody(std::string_view body) {
  json::parse_options options;
  options.max_depth = kMaxToolArgumentsDepth;
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec, {}, options);
  if (ec) return Error(Errc::kInvalidArgument, "Request body is not valid JSON");
  if (!doc.is_object()) return Error(Errc::kInvalidArgument, "Request body must be a JSON object");
  if (HasNonFiniteNumber(doc)) {
    return Error(Errc::kInvalidArgument, "Request body holds a number beyond a double's range");
  }
  ToolCallBody call;
  std::vector<std::string> problems;
  const json::value* user_id = doc.get_object().if_contains("userId");
  if (user_id == nullptr || !user_id->is_string()) {
    problems.push_back("userId must be a string");
  } else {
    call.user_id = std::string(user_id->get_string());
  }
  const json::value* arguments = doc.get_object().if_contains("arguments");
  if (arguments != nullptr && !arguments->is_null()) {
    if (!arguments->is_object()) {
      problems.push_back("arguments must be an object");
    } else {
      call.arguments = arguments->get_object();
    }
  }
  if (!problems.empty()) return Error(Errc::kInvalidArgument, std::move(problems));
  return call;
}

}  // namespace tr::api
