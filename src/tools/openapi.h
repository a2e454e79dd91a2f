// The OpenAPI reader: an OpenAPI 3.0 or 3.1 document -> the tools of one integration
// (CONTRACT section 10, "Where tools come from" and "Shape of a tool"). One conversion for
// catalog definitions, custom definitions and `integration import-openapi`.
// Pure functions; any thread.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "core/result.h"
#include "tools/tool.h"

namespace tr::tools {

// The `tools` object of a definition, less its document: which operations become tools and
// under which names. Keys are operationIds, or "<METHOD> <path>" for an operation without one.
struct ToolSelection {
  std::vector<std::string> include;  // empty: every operation
  std::vector<std::string> exclude;
  std::map<std::string, std::string> names;  // key -> tool name (must be a valid name)
  std::string where;  // how errors name the selection ("custom.json: tools"); empty: the
                      // document's source + ": tools"
};

// Ok when `document` is an OpenAPI 3.0 or 3.1 document; else kInvalidArgument naming
// `source` and what it is (Swagger 2.0 is refused by name).
Status CheckOpenApiVersion(const boost::json::value& document, std::string_view source);

// Every selected operation of `document` as a tool, in the document's order, names unique
// within the set (a clash gets _2, _3 in that order), each with a
// validator compiled on first use.
// kInvalidArgument, messages prefixed with `source`, when the document is not OpenAPI 3.0 or
// 3.1 (Swagger 2.0 is refused by name), is malformed where it matters (paths, an operation's
// parameters), or when `selection` names an operation the document lacks or an invalid name.
// What is left out but does not stop the import (cookie parameters, non-local $refs) is
// listed in ToolSet::warnings.
Result<ToolSet> ToolsFromOpenApi(const boost::json::value& document,
                                 std::string_view integration_id, const ToolSelection& selection,
                                 std::string_view source);

// Receives each tool as ReadTools makes it.
using ToolSink = std::function<void(Tool&& tool)>;

// Whether ReadTools converts the schemas. kSkip checks everything else (the document's
// shape, names, the selection) for a fraction of the time; the tools' input_schema is then
// empty and they have no validator. kConvertForSink converts them for a sink that is done
// with each tool when it returns (it prints it): a tool's JSON values are then made in an
// arena that is freed whole before the next tool, instead of one heap allocation each, and
// get no validator (they are never called). Such a sink must keep none of them.
enum class ToolSchemas { kConvert, kConvertForSink, kSkip };

// ToolsFromOpenApi one tool at a time, for documents whose tools are too large to hold
// together (`integration import-openapi` prints each and drops it): every selected tool goes
// to `sink` in the document's order, its name already unique. The warnings; errors as
// ToolsFromOpenApi, after which `sink` may have had some of the tools.
Result<std::vector<std::string>> ReadTools(const boost::json::value& document,
                                           std::string_view integration_id,
                                           const ToolSelection& selection, std::string_view source,
                                           ToolSchemas schemas, const ToolSink& sink);

}  // namespace tr::tools
