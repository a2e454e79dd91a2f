#include "net/curl_call.h"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <fmt/format.h>

#include "net/address_guard.h"

namespace tr::net::curl {

namespace {

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

bool OnHeadLine(std::string_view line, HttpResult& head) {
  if (line.starts_with("HTTP/")) {
    head.headers.clear();  // a new response (after 100 Continue)
    size_t space = line.find(' ');
    head.status = space == std::string_view::npos
                      ? 0
                      : std::atoi(std::string(line.substr(space + 1, 3)).c_str());
    return false;
  }
  if (line == "\r\n" || line == "\n") return head.status >= 200;
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  head.headers.emplace_back(std::move(name), std::string(value));
  return false;
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
