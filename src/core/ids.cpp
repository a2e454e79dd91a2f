#include "core/ids.h"

#include <cstdio>

#include "crypto/crypto.h"

namespace tr {

std::string NewUuidV4() {
  std::string b = crypto::RandomBytes(16);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  std::string hex = crypto::HexEncode(b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

bool IsUuidV4(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return s[14] == '4' && (s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b');
}

std::string NewApiKey() {
  return std::string(kApiKeyPrefix) + crypto::Base64UrlEncode(crypto::RandomBytes(32));
}

std::string NewToken() { return crypto::Base64UrlEncode(crypto::RandomBytes(32)); }

namespace {

constexpr size_t kTimePrefixLength = 12;
constexpr size_t kRandomPartLength = 43;  // NewToken() and DeriveFromToken(): 32 bytes, base64url

// The time prefix of a session token or state: present when `text` is a prefix followed by
// a token's length (a token, or a value derived from one). Empty otherwise.
std::string_view TimePrefix(std::string_view text) {
  if (text.size() != kTimePrefixLength + kRandomPartLength) return {};
  std::string_view prefix = text.substr(0, kTimePrefixLength);
  for (char c : prefix) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return {};
  }
  return prefix;
}

}  // namespace

std::string NewSessionToken(int64_t now_millis) {
  char prefix[kTimePrefixLength + 1];
  std::snprintf(prefix, sizeof prefix, "%012llx",
                static_cast<unsigned long long>(now_millis) & 0xffffffffffffULL);
  return prefix + NewToken();
}

std::string SessionKey(std::string_view token) {
  return std::string(TimePrefix(token)) + HashSecret(token);
}

std::string SessionState(std::string_view token) {
  return std::string(TimePrefix(token)) + DeriveFromToken(token, kOAuthStatePurpose);
}

std::string DeriveFromToken(std::string_view token, std::string_view purpose) {
  return crypto::Base64UrlEncode(crypto::HmacSha256(token, purpose));
}

std::string HashSecret(std::string_view secret) {
  return crypto::HexEncode(crypto::Sha256(secret));
}

}  // namespace tr
