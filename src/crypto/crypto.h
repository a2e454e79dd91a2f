// Primitive cryptography on OpenSSL 3: a CSPRNG, SHA-256, and the text encodings used for
// tokens and keys. All functions are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tr::crypto {

// `n` bytes from OpenSSL's CSPRNG. Aborts the process if the CSPRNG fails (never expected;
// continuing without randomness would be worse).
std::string RandomBytes(size_t n);

// SHA-256 of `data`, 32 raw bytes.
std::string Sha256(std::string_view data);

// HMAC-SHA256 of `data` under `key`, 32 raw bytes.
std::string HmacSha256(std::string_view key, std::string_view data);

std::string HexEncode(std::string_view bytes);
std::string Base64Encode(std::string_view bytes);
// Standard alphabet, padding optional. nullopt on a malformed input.
std::optional<std::string> Base64Decode(std::string_view text);
// URL-safe alphabet, no padding (RFC 4648 section 5).
std::string Base64UrlEncode(std::string_view bytes);

// Compares in time independent of where the inputs differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace tr::crypto
