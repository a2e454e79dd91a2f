// AWS STS AssumeRole, without the transport: builds the signed request and reads the answer.
// The caller sends the call through its net::HttpClient. Pure functions, thread-safe.
//
// The answer is read with a minimal XML element extractor (below), not an XML library: STS
// answers are small and flat, and the extractor is written to be safe on any input (no
// out-of-bounds reads, no unbounded work: linear in the body size per lookup).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "auth/sigv4.h"
#include "core/result.h"
#include "net/http_client.h"

namespace tr::auth {

// STS answers are a few KB; a body this big is not one, and is not read.
inline constexpr size_t kMaxStsResponseBytes = 1 << 20;
// Longest public message kept from an STS error ("<Code>: <Message>").
inline constexpr size_t kMaxStsErrorMessageBytes = 200;
// An ARN longer than this is refused (IAM's own limit on ARNs).
inline constexpr size_t kMaxRoleArnBytes = 2048;

struct AssumeRoleRequest {
  std::string role_arn;
  std::string external_id;  // omitted from the request when empty
  std::string role_session_name;
  int duration_seconds = 3600;
};

struct TemporaryCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  int64_t expiration_unix_millis = 0;
  std::string assumed_role_arn;
};

// True for "arn:<partition>:iam::<12 digits>:role/<path/><name>": partition "aws" or
// "aws-<word>[-<word>...]" (aws-cn, aws-us-gov, ...); each '/'-separated path segment and
// the name non-empty and made of [A-Za-z0-9_+=,.@-]; the name at most 64 bytes; the whole
// ARN at most kMaxRoleArnBytes.
bool IsValidRoleArn(std::string_view arn);

// The signed POST to `endpoint` ("https://sts.amazonaws.com", or a test server
// "http://127.0.0.1:1234"; a path is kept, "/" added when there is none) with the form body
// Action=AssumeRole&Version=2011-06-15&RoleArn=..&RoleSessionName=..[&ExternalId=..]
// &DurationSeconds=.., signed with SigV4 for service "sts" in `region` at `unix_seconds`.
// REQUIRES: the caller has validated the request (IsValidRoleArn and so on); nothing is
// checked here.
net::HttpCall BuildAssumeRoleCall(const std::string& endpoint, const std::string& region,
                                  const AssumeRoleRequest& req, const AwsCredentials& caller,
                                  int64_t unix_seconds);

// The credentials in a 200 AssumeRoleResponse. On an ErrorResponse, or any status other than
// 200 whose body carries Error/Code, Error(kInvalidArgument, "<Code>: <Message>") with the
// text unescaped, control characters and invalid UTF-8 replaced, and cut to
// kMaxStsErrorMessageBytes. On anything else (malformed or truncated XML, a missing field,
// a bad Expiration, a body over kMaxStsResponseBytes) Error(kUnavailable,
// "malformed STS response").
Result<TemporaryCredentials> ParseAssumeRoleResponse(int status, std::string_view body);

// The XML reading used above, exposed for tests and fuzzing.

// The raw content of the first element named `name` in `xml` (the text between its start
// tag, attributes allowed, and the first matching end tag; "" for <name/>). nullopt when
// there is none, or when that first element's start or end tag is not closed.
std::optional<std::string_view> FindXmlElement(std::string_view xml, std::string_view name);

// `text` with the five predefined entities and &#N; / &#xH; character references replaced
// (references encoded as UTF-8). nullopt on an unknown or unterminated entity, a reference
// to a code point XML does not allow, or a raw '<' (the element was not a leaf).
std::optional<std::string> XmlUnescape(std::string_view text);

// Milliseconds since the epoch for "2011-07-15T23:28:33.359Z" or "2019-11-09T13:34:41Z"
// (UTC only, 1 to 9 fraction digits, fields range-checked). nullopt otherwise.
std::optional<int64_t> ParseIso8601UtcMillis(std::string_view text);

}  // namespace tr::auth
