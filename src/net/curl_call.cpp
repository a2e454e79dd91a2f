#include "net/curl_call.h"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <fmt/format.h>

#include "core/validation.h"
#include "net/address_guard.h"

namespace tr::net::curl {

namespace {

bool AllDigits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A control byte other than HTAB (bare CR and LF, NUL, DEL): never in a status line or a
// field, where a client could take it for the end of a line.
bool HasControl(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && c != '\t') || c == 0x7f;
  });
}

// RFC 9112, section 6.3: a Content-Length is digits, and every one the head repeats says the
// same; beside a Transfer-Encoding it may be an attempt at response splitting. A proxy
// answers such an upstream 502 (nginx does too); curl would guess.
bool FramingIsValid(const HttpResult& head) {
  std::string_view length;
  bool chunked = false;
  for (const auto& [name, value] : head.headers) {
    if (name == "transfer-encoding") chunked = true;
    if (name != "content-length") continue;
    if (value.empty() || value.size() > 18 || !AllDigits(value)) return false;
    if (!length.empty() && length != value) return false;
    length = value;
  }
  return !(chunked && !length.empty());
}

// Called for every socket curl opens, with the resolved address: the SSRF check. A pooled
// connection was checked when it was opened, and curl reuses it for the same origin only.
curl_socket_t OnOpenSocket(void* user, curlsocktype, curl_sockaddr* address) {
  auto* guard = static_cast<SocketGuard*>(user);
  if (!guard->allow_private && !IsPublicAddress(&address->addr)) {
    guard->refused = true;
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype, address->protocol);
}

bool HasHeader(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (http::EqualsIgnoreCase(k, name)) return true;
  }
  return false;
}

}  // namespace

HeadLine OnHeadLine(std::string_view line, HttpResult& head, size_t& head_bytes) {
  head_bytes += line.size();
  if (head_bytes > kMaxHeadBytes) return HeadLine::kInvalid;
  // curl hands over each line with its end: CRLF, or a lone LF that it also takes as one.
  if (line.ends_with('\n')) line.remove_suffix(1);
  if (line.ends_with('\r')) line.remove_suffix(1);
  if (HasControl(line)) return HeadLine::kInvalid;
  if (line.starts_with("HTTP/")) {
    // "HTTP/1.1 200 OK", "HTTP/2 200": a status of three digits, 100 to 599.
    head.headers.clear();  // a new response (after 100 Continue)
    size_t space = line.find(' ');
    std::string_view code =
        space == std::string_view::npos ? std::string_view() : line.substr(space + 1, 3);
    if (code.size() != 3 || !AllDigits(code) ||
        (line.size() > space + 4 && line[space + 4] != ' ')) {
      return HeadLine::kInvalid;
    }
    head.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    return head.status >= 100 && head.status <= 599 ? HeadLine::kMore : HeadLine::kInvalid;
  }
  if (line.empty()) {
    if (head.status < 200) return HeadLine::kMore;
    return FramingIsValid(head) ? HeadLine::kEnd : HeadLine::kInvalid;
  }
  // A field: a token, a colon, the value. A line folded onto the last (obs-fold) is refused,
  // as RFC 9112 lets a proxy do, rather than guessed at.
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) return HeadLine::kInvalid;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  head.headers.emplace_back(std::move(name), std::string(value));
  return HeadLine::kMore;
}

Error CallFailed(CURLcode rc, const SocketGuard& guard, bool too_large, bool invalid_head) {
  if (guard.refused) return Error(Errc::kUnavailable, Refused());
  // Some heads curl refuses before OnHeadLine sees them: a status line it cannot read
  // ("HTTP/1.1 000", HTTP/0.9) and a line over its own 100 KiB bound, which curl 7.88 reports
  // as out of memory. Every URL we call is http(s), so the protocol code means the answer.
  if (rc == CURLE_WEIRD_SERVER_REPLY || rc == CURLE_UNSUPPORTED_PROTOCOL ||
      rc == CURLE_OUT_OF_MEMORY) {
    invalid_head = true;
  }
  if (invalid_head) {
    return Error(Errc::kUnavailable, "the answer's head is not valid HTTP/1.1 (RFC 9112)");
  }
  if (too_large) return Error(Errc::kUnavailable, "response too large");
  // Ended without a final head: an answer that switched protocols (101), say.
  if (rc == CURLE_OK) return Error(Errc::kUnavailable, "the answer has no final head");
  return Failed(rc);
}

std::chrono::milliseconds ConnectTimeout(const HttpCall& call) {
  return std::min(kConnectTimeout, call.timeout);
}

// Curl's own defaults are switched off where they would change the request: no
// form-urlencoded content type we were not asked for, no Expect: 100-continue wait.
HeaderList SetCommonOptions(CURL* h, const HttpCall& call, bool has_body, bool chunked,
                            SocketGuard& guard, const CurlOptions& options) {
  curl_slist* list = nullptr;
  for (const auto& [name, value] : call.headers) {
    list = curl_slist_append(list, (name + ": " + value).c_str());
  }
  if (has_body && !HasHeader(call.headers, "content-type"))
    list = curl_slist_append(list, "Content-Type:");
  if (chunked) list = curl_slist_append(list, "Transfer-Encoding: chunked");
  list = curl_slist_append(list, "Expect:");
  HeaderList headers(list, curl_slist_free_all);
  curl_easy_setopt(h, CURLOPT_URL, call.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call.method.c_str());
  if (call.method == "HEAD") curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options.ca_file.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(call.timeout.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(ConnectTimeout(call).count()));
  curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, OnOpenSocket);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &guard);
  guard.allow_private = options.allow_private_network;
  return headers;
}

std::string Refused() {
  return "refused to connect to a private or loopback address (see --allow-private-network)";
}

// curl's messages name the failure only, never the URL (which may carry a token), the
// request's headers or its body. A timeout has its own code: the proxy answers it with 504.
Error Failed(CURLcode rc) {
  return Error(rc == CURLE_OPERATION_TIMEDOUT ? Errc::kGatewayTimeout : Errc::kUnavailable,
               fmt::format("HTTP call failed: {}", curl_easy_strerror(rc)));
}

}  // namespace tr::net::curl
