// What every outbound call on libcurl shares, for CurlHttpClient's two kinds of call
// (net/curl_http_client.cpp, net/curl_stream.cpp): the request's options (method, URL,
// headers, TLS, timeouts), the address check on every new connection, the parsing of a
// response head, and the errors. Internal to src/net/.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <curl/curl.h>

#include "core/result.h"
#include "net/curl_http_client.h"
#include "net/http_client.h"

namespace tr::net::curl {

// No provider answer we read whole needs more; bounds memory per call. A streamed call
// holds at most this much before its reader takes over (while it still sends its body).
constexpr size_t kMaxResponseBytes = 4 << 20;
// The most bytes of response heads (the final one and any interim 1xx before it) a call
// takes; a provider's head is a few KiB.
constexpr size_t kMaxHeadBytes = 64 << 10;
// Connecting (DNS, TCP, TLS, or waiting for a pooled connection) takes at most this long.
constexpr std::chrono::milliseconds kConnectTimeout{5000};

using HeaderList = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

// The SSRF check's state for one call (OnOpenSocket's data); read once the call ended.
struct SocketGuard {
  bool allow_private = false;
  bool refused = false;
};

// One line of a response head into `head`: kEnd on the blank line that ends the head of a
// final (not 1xx) response; kInvalid for a line that breaks HTTP's syntax (a status out of
// 100..599, a field name that is not a token, a control byte other than HTAB anywhere, a
// folded line, a Content-Length that is not digits or disagrees with another, or one beside
// a Transfer-Encoding). An answer with an invalid head is refused whole, as nginx refuses it: a
// bare CR passed on could split the caller's answer in two.
// `head_bytes` counts the lines of the call's heads, interim ones included; past
// kMaxHeadBytes the head is invalid too, so that an upstream cannot fill memory with fields.
enum class HeadLine { kMore, kEnd, kInvalid };
HeadLine OnHeadLine(std::string_view line, HttpResult& head, size_t& head_bytes);

// The call's connect timeout: kConnectTimeout, or the whole call's when shorter.
std::chrono::milliseconds ConnectTimeout(const HttpCall& call);

// Sets the options every call shares on `h`, `guard` as the address check's state. The
// header list returned must outlive the transfer.
HeaderList SetCommonOptions(CURL* h, const HttpCall& call, bool has_body, bool chunked,
                            SocketGuard& guard, const CurlOptions& options);

// The message of a call refused by the address check.
std::string Refused();

// The error of a call that got no answer: kGatewayTimeout for a timeout, else kUnavailable.
Error Failed(CURLcode rc);

// The error of a call that ended before its answer was handed over: refused by the address
// check, an invalid head, too large, or curl's `rc` (Failed()).
Error CallFailed(CURLcode rc, const SocketGuard& guard, bool too_large, bool invalid_head);

}  // namespace tr::net::curl
