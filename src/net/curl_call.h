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
// Connecting (DNS, TCP, TLS, or waiting for a pooled connection) takes at most this long.
constexpr std::chrono::milliseconds kConnectTimeout{5000};

using HeaderList = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

// The SSRF check's state for one call (OnOpenSocket's data); read once the call ended.
struct SocketGuard {
  bool allow_private = false;
  bool refused = false;
};

// One line of a response head into `head`. True on the blank line that ends the head of
// a final (not 1xx) response.
bool OnHeadLine(std::string_view line, HttpResult& head);

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

}  // namespace tr::net::curl
