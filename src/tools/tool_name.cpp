#include "tools/tool_name.h"

#include <algorithm>

#include "core/validation.h"
#include "crypto/crypto.h"

namespace tr::tools {

namespace {

bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Hex digits of the hash a cut name ends with: 32 bits tell apart the few names a document
// has with the same 55-character start.
constexpr size_t kHashDigits = 8;

}  // namespace

bool IsValidToolName(std::string_view name) {
  if (name.empty() || name.size() > kMaxToolNameLength) return false;
  for (char c : name) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

std::string ToolName(std::string_view raw) {
  // One '_' for each other character: a UTF-8 sequence is one character ("ü" is "_", not
  // "__"); a byte that starts no valid sequence is one too.
  std::string name;
  name.reserve(raw.size());
  for (size_t i = 0; i < raw.size();) {
    if (IsNameChar(raw[i])) {
      name.push_back(raw[i++]);
      continue;
    }
    name.push_back('_');
    i += std::max<size_t>(1, Utf8SequenceLength(raw, i));
  }
  if (name.size() <= kMaxToolNameLength) return name;
  std::string hash = crypto::HexEncode(crypto::Sha256(name)).substr(0, kHashDigits);
  return name.substr(0, kMaxToolNameLength - kHashDigits - 1) + "_" + hash;
}

std::string NumberedToolName(std::string_view name, int n) {
  std::string suffix = "_" + std::to_string(n);
  std::string_view base = name.substr(0, kMaxToolNameLength - suffix.size());
  return std::string(base) + suffix;
}

}  // namespace tr::tools
