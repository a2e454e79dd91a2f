#include "api/request_body.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace tr::api {

namespace json = boost::json;

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

}  // namespace tr::api
