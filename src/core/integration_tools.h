// The `tools` object of an integration definition (CONTRACT section 10) -> its ToolSet:
//   "tools": {"openapi": <document object | JSON or YAML text | path next to the definition>,
//             "include": [...], "exclude": [...], "names": {...}}
// A string is document text when it starts with '{' or spans lines, else a relative path.
// Pure functions (file access only through the loader); any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "core/result.h"
#include "tools/openapi.h"
#include "tools/tool.h"

namespace tr {

// Reads a file a definition names by a relative path (tools.openapi): its text, or an error
// whose message names the problem. An empty loader refuses paths.
using DefinitionFileLoader = std::function<Result<std::string>(std::string_view relative_path)>;

// The tools `tools` defines for `integration_id`. kInvalidArgument "<source>: tools...: ..."
// when the object, the document or the selection is wrong.
Result<std::shared_ptr<const tools::ToolSet>> ReadIntegrationTools(
    const boost::json::value& tools, std::string_view integration_id, std::string_view source,
    const DefinitionFileLoader& loader);

// The `tools` object of a remote MCP server's definition (CONTRACT section 11): include,
// exclude and names only, keyed by the upstream's tool names (which the definition cannot
// check: they come from the server's tools/list). kInvalidArgument as ReadIntegrationTools.
Result<tools::ToolSelection> ReadMcpToolSelection(const boost::json::value& tools,
                                                  std::string_view source);

// `definition` with a tools.openapi path replaced by the text of the file it names, so that
// the stored definition stands alone; whether it replaced one.
Result<bool> InlineToolsDocument(boost::json::object& definition, std::string_view source,
                                 const DefinitionFileLoader& loader);

// A loader for files under `dir` (no absolute paths, no ".." segments), at most 64 MiB.
DefinitionFileLoader DirectoryLoader(std::string dir);

}  // namespace tr
