// Identifiers and bearer secrets: UUIDs for objects, random tokens for API keys and connect
// sessions. All random material comes from the OpenSSL CSPRNG. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tr {

// A random lowercase UUID v4, e.g. "3f1c0c9e-7b7a-4c53-9a2e-0c1d2b3a4f5e".
std::string NewUuidV4();
// True for a lowercase UUID v4 in canonical form (version nibble 4, variant 8-b).
bool IsUuidV4(std::string_view text);

// "sk_live_" followed by 32 random bytes in base64url (43 characters).
std::string NewApiKey();
inline constexpr std::string_view kApiKeyPrefix = "sk_live_";

// 32 random bytes in base64url (43 characters): PKCE verifiers, and random ids.
std::string NewToken();

// A connect-session token: the creation time in milliseconds as 12 lowercase hex digits, then
// NewToken(). The prefix is public (the session's creation time) and orders tokens by time:
// stored under SessionKey(token), new sessions go to the end of their indexes, one page per
// batch of them, instead of each to a random page of an index as large as the table.
std::string NewSessionToken(int64_t now_millis);
// The key a session is stored and found under: the token's time prefix, then
// HashSecret(token). Without the prefix (a token made before it existed, or any other string):
// HashSecret(token) alone.
std::string SessionKey(std::string_view token);
// A session's OAuth state: the token's time prefix (if any), then
// DeriveFromToken(token, kOAuthStatePurpose). Stored under SessionKey(state), like the token.
std::string SessionState(std::string_view token);

// A value derived from a session token for one purpose (e.g. "oauth-state"): base64url of
// HMAC-SHA256 keyed with the token. Unpredictable without the token, so only its hash
// needs storing.
std::string DeriveFromToken(std::string_view token, std::string_view purpose);
inline constexpr std::string_view kOAuthStatePurpose = "oauth-state";

// What we store for an API key or a session token: SHA-256, hex.
std::string HashSecret(std::string_view secret);

}  // namespace tr
