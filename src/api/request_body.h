// Decoding of the JSON request bodies of the public API. Pure functions; the router turns
// an error into a 400 with its message.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/result.h"

namespace tr::api {

// JSON nesting deeper than any valid body needs; bounds the parser's work.
inline constexpr unsigned kMaxJsonDepth = 32;

// Whether `v` holds a number JSON cannot carry back out: one beyond a double's range, which
// the parser reads as infinite ("1e400") and the serializer would write as "Infinity".
bool HasNonFiniteNumber(const boost::json::value& v);

// The body of POST .../auth-url: empty (only whitespace) or a JSON object whose optional
// "redirectUri" is a string or null. On success, the redirect URI (nullopt when absent or
// null), not yet validated (ValidateRedirectUri does that). Error(kInvalidArgument, message)
// when the body is not JSON, not an object, or redirectUri is neither a string nor null.
Result<std::optional<std::string>> ParseAuthUrlBody(std::string_view body);

// The body of POST /v1/tools/{name}/call: {"userId": string, "arguments": object}, the
// arguments optional (then {}). Error(kInvalidArgument, messages) otherwise. The userId is
// checked by the tool service.
struct ToolCallBody {
  std::string user_id;
  boost::json::object arguments;
};
Result<ToolCallBody> ParseToolCallBody(std::string_view body);

}  // namespace tr::api
