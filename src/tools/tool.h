// A tool: one operation of an integration's API that an agent may call for one end user
// (CONTRACT section 10). Tools come from an OpenAPI document (tools/openapi.h) or, for a
// remote MCP server, from its tools/list. Immutable values, shared by every thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

namespace tr::tools {

class SchemaValidator;  // tools/schema_validator.h

enum class ParamIn { kPath, kQuery, kHeader };

// One OpenAPI parameter of an operation, as the request builder needs it.
struct Parameter {
  std::string name;      // as the upstream expects it
  std::string property;  // its property in inputSchema: `name`, or "path_"/"query_"/"header_"
                         // + name when two locations use the same name
  ParamIn in = ParamIn::kQuery;
  std::string style;     // OpenAPI style; empty: the location's default (simple / form)
  bool explode = false;  // the OpenAPI reader sets the style's default (true for form)
  bool required = false;
  bool json_content = false;  // declared with `content` instead of `schema`: sent as JSON text
};

// What the upstream request is made of.
struct Operation {
  std::string method;  // upper case: GET, POST, ...
  std::string path;    // the path template, e.g. "/repos/{owner}/{repo}/issues"
  std::vector<Parameter> parameters;
  bool has_body = false;          // the property "body" carries the request body
  std::string body_content_type;  // e.g. "application/json"
};

struct Tool {
  // The tool's name before per-user uniqueness (`names` override, else
  // <integrationId>_<operationId>, else <integrationId>_<method>_<path>, sanitised and cut).
  std::string name;
  std::string key;          // the operationId (or "<METHOD> <path>" without one): what include,
                            // exclude and names refer to
  std::string description;  // at most 1,024 characters
  boost::json::object input_schema;  // JSON Schema 2020-12, no $ref left
  boost::json::object annotations;   // readOnlyHint / destructiveHint, when they apply
  Operation operation;
  // input_schema compiled for checking arguments; null: BuildRequest compiles it per call
  // (see CompileValidator in tools/schema_validator.h).
  std::shared_ptr<const SchemaValidator> validator;
};

// Every tool of one integration definition, in the document's order.
struct ToolSet {
  std::vector<Tool> tools;
  // What the reader left out without refusing the document (tools/openapi.h), for people.
  std::vector<std::string> warnings;
};

}  // namespace tr::tools
