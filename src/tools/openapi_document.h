// Loading an OpenAPI document: JSON or YAML text -> one boost::json::value, within limits
// that keep a hostile document from exhausting the stack or the memory (nesting depth, YAML
// alias expansion). Pure functions; any thread.
#pragma once

#include <string_view>

#include <boost/json/value.hpp>

#include "core/result.h"

namespace tr::tools {

// Deepest nesting a document may have; real documents stay far below it.
inline constexpr int kMaxDocumentDepth = 200;

// The document in `text`: JSON when it starts with '{' (after white space), else YAML
// (YAML 1.2 core schema: plain true/false, null/~, numbers; quoted scalars stay strings).
// kInvalidArgument naming `source` and the problem ("spec.yaml: YAML: line 3: ...") when it
// does not parse, nests deeper than kMaxDocumentDepth or expands past its alias budget.
Result<boost::json::value> ParseDocumentText(std::string_view text, std::string_view source);

}  // namespace tr::tools
