// AWS Signature Version 4: signs an outbound HttpCall with an access key so that an AWS
// service (STS here) accepts it. Pure functions of their arguments, no clock and no I/O: the
// caller passes the signing time. Thread-safe.
//
// What is signed: every header the call carries when SignV4() is called (except the
// hop-by-hop and proxy-rewritten ones listed in sigv4.cpp), plus host, x-amz-date and, with
// a session token, x-amz-security-token. Headers the transport adds later (content-length,
// user-agent, accept) are not signed, which AWS allows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "net/http_client.h"

namespace tr::auth {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // may be empty (long-term keys)
};

struct SigV4Params {
  std::string region;   // "us-east-1"
  std::string service;  // "sts", "iam", "s3"
  int64_t unix_seconds = 0;
  // Adds and signs x-amz-content-sha256 (S3 requires it; other services ignore it).
  bool sign_payload_header = false;
  // All services but S3: the path is normalised and each segment of the path as sent (already
  // percent-encoded once) is encoded again. S3: the path is signed exactly as sent.
  bool double_encode_path = true;
};

// Adds x-amz-date, host (if absent), x-amz-security-token (when creds has a session token),
// x-amz-content-sha256 (when params.sign_payload_header) and Authorization to `call`,
// replacing any earlier value of those headers. If the caller already set
// x-amz-content-sha256 (e.g. "UNSIGNED-PAYLOAD"), that value is the signed payload hash.
// REQUIRES: call.url is an absolute URL "scheme://host[:port][/path][?query]". A URL that is
// not one still yields a call, whose signature the service will reject.
void SignV4(net::HttpCall& call, const AwsCredentials& creds, const SigV4Params& params);

// The pieces of the computation, exposed for tests.

// "20150830T123600Z" for 1440938160.
std::string AmzDate(int64_t unix_seconds);

// RFC 3986 percent-encoding as AWS specifies it: A-Z a-z 0-9 - . _ ~ kept, every other byte
// as %XY with upper-case hex; '/' kept only when `keep_slash`.
std::string UriEncode(std::string_view bytes, bool keep_slash);

// The canonical request of `call` as it stands (its url, method, headers; no headers are
// added) with `payload_hash` as the last line. When `signed_headers` is not null it receives
// the "a;b;c" list of the headers that were included.
std::string CanonicalRequest(const net::HttpCall& call, bool double_encode_path,
                             std::string_view payload_hash, std::string* signed_headers = nullptr);

// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical_request>".
std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);

// The derived key, 32 raw bytes: HMAC chain over "AWS4"+secret, date (YYYYMMDD), region,
// service and "aws4_request".
std::string SigningKey(std::string_view secret_access_key, std::string_view date,
                       std::string_view region, std::string_view service);

}  // namespace tr::auth
