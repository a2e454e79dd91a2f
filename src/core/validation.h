// Checks on caller-supplied values that the contract constrains. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace tr {

// Upper bounds from CONTRACT section 2 and 3.
inline constexpr size_t kMaxUserIdBytes = 255;
inline constexpr size_t kMaxRedirectUriBytes = 2048;

// A userId after percent-decoding: 1..255 bytes of valid UTF-8, no control characters.
Status ValidateUserId(std::string_view user_id);

// An absolute http(s) URL with a host, at most 2048 bytes. On success, its origin.
Result<std::string> ValidateRedirectUri(std::string_view uri);

// The server's public URL: an absolute http(s) URL with a host and an optional path, without
// userinfo, query or fragment.
Status ValidatePublicUrl(std::string_view url);

// Normalises an origin given by an operator ("https://App.example.com:443/" ->
// "https://app.example.com"). Error when it is not an http(s) origin.
Result<std::string> NormalizeOrigin(std::string_view origin);

// Ok for an active customer integration; for a disabled one, the 400 "Integration is not
// active" that every caller-facing use of it answers (auth-url, credentials, proxy).
Status RequireActiveIntegration(bool active);

// Percent-decodes a path segment. nullopt on a malformed escape.
std::optional<std::string> PercentDecode(std::string_view text);

// Whether the key of a query's `pair` ("key=value" or "key"), form-decoded ('+' is a space),
// is `name`. A malformed escape names nothing.
bool QueryKeyIs(std::string_view pair, std::string_view name);

// Length of the well-formed UTF-8 sequence starting at text[i] (no overlongs, no surrogates,
// at most U+10FFFF), or 0. REQUIRES: i < text.size().
size_t Utf8SequenceLength(std::string_view text, size_t i);

// `text` with each byte that does not start a well-formed UTF-8 sequence replaced by U+FFFD,
// so that it can go into JSON (which must be UTF-8) as it is otherwise.
std::string ReplaceInvalidUtf8(std::string_view text);

// A peer's text (a provider's or an MCP server's) made fit for an error message: control
// characters replaced by spaces, cut to at most `max` bytes at a UTF-8 character boundary.
// REQUIRES: `text` is valid UTF-8 (as Boost.JSON strings are).
std::string SafeText(std::string_view text, size_t max);

// RFC 9110, section 5.6.2: a tchar, and a token (one or more tchars), which is what a field
// name or an auth scheme is.
bool IsTokenChar(char c);
bool IsToken(std::string_view text);

}  // namespace tr
