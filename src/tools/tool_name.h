// Tool names (CONTRACT section 10): ^[A-Za-z0-9_-]{1,64}$, stable across restarts and nodes.
// Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

namespace tr::tools {

inline constexpr size_t kMaxToolNameLength = 64;

bool IsValidToolName(std::string_view name);

// `raw` with every character outside [A-Za-z0-9_-] turned into '_'; when that is longer than
// 64 characters, its first 55 and "_" + the first 8 hex digits of its SHA-256.
// "" stays "" (callers always pass a non-empty prefix).
std::string ToolName(std::string_view raw);

// The n-th (n >= 2) holder of a clashing name: name + "_<n>", the name cut so that the result
// has at most 64 characters.
std::string NumberedToolName(std::string_view name, int n);

}  // namespace tr::tools
