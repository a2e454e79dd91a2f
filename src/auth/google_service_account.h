// Google service accounts: validating an uploaded JSON key file, signing the RS256 JWT
// assertion of RFC 7523 with it, and the token-endpoint exchange (request and answer) that
// turns the assertion into an access token. Pure functions: no I/O, no clock (the caller
// passes `now`), no logging; the HTTP call itself goes through net::HttpClient.
// Thread-safe: every function may be called from any thread concurrently.
//
// Key material never appears in an Error message: messages are fixed texts naming the field.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "net/http_client.h"

namespace tr::auth {

// Largest key file accepted; Google's are about 2.3 KiB.
inline constexpr size_t kMaxServiceAccountKeyBytes = 64 * 1024;
// RSA modulus bounds: Google issues 2048-bit keys; the upper bound keeps a hostile key from
// making every signature expensive.
inline constexpr int kMinRsaKeyBits = 2048;
inline constexpr int kMaxRsaKeyBits = 8192;
// Lifetime of an assertion; Google's maximum.
inline constexpr int64_t kAssertionLifetimeSeconds = 3600;
inline constexpr std::string_view kJwtBearerGrantType =
    "urn:ietf:params:oauth:grant-type:jwt-bearer";

struct ServiceAccountKey {
  std::string client_email;
  std::string private_key_pem;  // secret
  std::string private_key_id;   // "" when the file had none
  std::string token_uri;
  std::string project_id;  // "" when the file had none
};

// Validates a pasted or uploaded key file: a JSON object (at most 64 KiB) with "type" equal to
// "service_account"; "client_email" a non-empty string containing '@'; "private_key" a PEM
// that OpenSSL parses as an unencrypted RSA private key of 2048..8192 bits; "token_uri"
// exactly `token_url`, the token endpoint the integration declares (the key file is the
// user's, so the URL the service posts to must not be); "private_key_id" and "project_id"
// optional strings. Other members are ignored.
// On failure Errc::kInvalidArgument with a message naming the field, e.g.
// "private_key: not an RSA private key in PEM form". It never repeats the key's own values.
Result<ServiceAccountKey> ParseServiceAccountKey(std::string_view json_text,
                                                 std::string_view token_url);

// The signed assertion "header.claims.signature" (base64url, no padding): header
// {"alg":"RS256","typ":"JWT","kid":private_key_id} (kid omitted when empty), claims
// {"iss":client_email,"scope":scopes joined by " ","aud":token_uri,"iat":now,
// "exp":now+3600} plus "sub":subject when `subject` is non-empty (domain-wide delegation).
// Signature RSASSA-PKCS1-v1_5 with SHA-256.
// Errc::kInvalidArgument when `scopes` is empty or the key's PEM is not acceptable (see
// ParseServiceAccountKey); Errc::kInternal when OpenSSL fails to sign.
Result<std::string> MakeJwtAssertion(const ServiceAccountKey& key,
                                     const std::vector<std::string>& scopes,
                                     int64_t now_unix_seconds, const std::string& subject = "");

// POST key.token_uri, application/x-www-form-urlencoded,
// grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<assertion>.
net::HttpCall BuildJwtBearerCall(const ServiceAccountKey& key, const std::string& assertion);

struct AccessToken {
  std::string access_token;  // secret
  std::string token_type;
  int64_t expires_in_seconds = 3600;
};

// Reads the token endpoint's answer. Status 200 with a JSON object holding a non-empty string
// "access_token" gives an AccessToken ("token_type" defaults to "Bearer"; "expires_in"
// defaults to 3600 and is capped at one day). Otherwise Errc::kInvalidArgument whose message
// is the answer's "error" when it is a code registered by RFC 6749 section 5.2
// ("invalid_grant"), else a fixed text ("token endpoint answered 400"): never the endpoint's
// own words, since the message is shown on the connect form. Any input is safe to pass.
Result<AccessToken> ParseTokenResponse(int status, std::string_view body);

}  // namespace tr::auth
