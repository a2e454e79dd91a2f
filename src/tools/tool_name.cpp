#include "tools/tool_name.h"

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
  std::string name(raw);
  for (char& c : name) {
    if (!IsNameChar(c)) c = '_';
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
