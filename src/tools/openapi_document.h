// Loading an OpenAPI document: JSON or YAML text -> one boost::json::value, within limits
// that keep a hostile document from exhausting the stack or the memory (nesting depth, YAML
// alias expansion). Pure functions; any thread.
#pragma once

#include <cstddef>
#include <string_view>

#include <boost/json/memory_resource.hpp>
#include <boost/json/value.hpp>

#include "core/result.h"

namespace tr::tools {

// Deepest nesting a document may have; real documents stay far below it.
inline constexpr int kMaxDocumentDepth = 200;

// The document in `text`: JSON when it starts with '{' (after white space), else YAML
// (YAML 1.2 core schema: plain true/false, null/~, numbers; quoted scalars stay strings).
// kInvalidArgument naming `source` and the problem ("spec.yaml: YAML: line 3: ...") when it
// does not parse, nests deeper than kMaxDocumentDepth or expands past its alias budget.
// A JSON document's tree lives in one arena whose blocks come from LargeBlocks().
Result<boost::json::value> ParseDocumentText(std::string_view text, std::string_view source);

// The upstream of a document's arena. Blocks of kHugePageBytes and more are mapped on their
// own, starting on a huge-page boundary, and their whole huge pages marked MADV_HUGEPAGE: a
// 45 MB document's tree then takes a few hundred page faults instead of tens of thousands
// (docs/performance.md, "The OpenAPI corpus"). Smaller blocks come from the heap; a mapping
// that fails throws std::bad_alloc, as the heap would. Where the kernel has transparent huge
// pages off, the advice does nothing and the blocks are ordinary pages. Thread-safe; lives
// forever.
inline constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;
boost::json::memory_resource* LargeBlocks();

}  // namespace tr::tools
