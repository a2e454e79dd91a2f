// A tool call's arguments -> the upstream request (CONTRACT section 10, "Calling a tool"):
// the arguments are checked against the tool's inputSchema, then path parameters are
// percent-encoded into the path template, query and header parameters written in their
// OpenAPI styles (defaults: form, explode for query; simple for path and header), and the
// property `body` becomes the request body (JSON). Pure functions; no I/O.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "core/result.h"
#include "tools/tool.h"

namespace tr::tools {

struct BuiltRequest {
  std::string method;          // the operation's, upper case
  std::string path_and_query;  // relative to the integration's apiBaseUrl, starting with '/'
  std::vector<std::pair<std::string, std::string>> headers;  // header parameters, and
                                                             // Content-Type with a body
  std::string body;                                          // empty without one
};

// kInvalidArgument, with one message per problem ("body.title: required", ...), when the
// arguments do not satisfy tool.input_schema; nothing is built then.
Result<BuiltRequest> BuildRequest(const Tool& tool, const boost::json::object& arguments);

}  // namespace tr::tools
