#include "net/curl_http_client.h"

#include <sys/socket.h>

#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/address_guard.h"

namespace tr::net {

namespace {

// No provider answer we read whole needs more; bounds memory per call. A streamed call
// holds at most this much before its reader takes over, and kStreamQueueBytes after.
constexpr size_t kMaxResponseBytes = 4 << 20;
constexpr size_t kStreamQueueBytes = 256 << 10;

using EasyHandle = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
using HeaderList = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

// The SSRF check's state for one call: see OnOpenSocket.
struct SocketGuard {
  bool allow_private = false;
  bool refused = false;
};

// Called for every socket curl opens, with the resolved address: the SSRF check.
curl_socket_t OnOpenSocket(void* user, curlsocktype, curl_sockaddr* address) {
  auto* guard = static_cast<SocketGuard*>(user);
  if (!guard->allow_private && !IsPublicAddress(&address->addr)) {
    guard->refused = true;
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype, address->protocol);
}

// One line of a response head into `head`. True on the blank line that ends the head of
// a final (not 1xx) response.
bool OnHeadLine(std::string_view line, HttpResult& head) {
  if (line.starts_with("HTTP/")) {
    head.headers.clear();  // a new response (after 100 Continue)
    size_t space = line.find(' ');
    head.status = space == std::string_view::npos ? 0 : std::atoi(std::string(line.substr(space + 1, 3)).c_str());
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

bool HasHeader(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (http::EqualsIgnoreCase(k, name)) return true;
  }
  return false;
}

// The options every call shares: method, URL, headers, TLS, timeouts, the SSRF check.
// Curl's own defaults are switched off where they would change the request: no
// form-urlencoded content type we were not asked for, no Expect: 100-continue wait.
HeaderList SetCommonOptions(CURL* h, const HttpCall& call, bool has_body, bool chunked,
                            SocketGuard& guard, const CurlOptions& options) {
  curl_slist* list = nullptr;
  for (const auto& [name, value] : call.headers) {
    list = curl_slist_append(list, (name + ": " + value).c_str());
  }
  if (has_body && !HasHeader(call.headers, "content-type")) list = curl_slist_append(list, "Content-Type:");
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
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(call.timeout.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, std::min<long>(5000, call.timeout.count()));
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

// --- Send: both bodies whole --------------------------------------------------------

struct Transfer {
  HttpResult result;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (t->result.body.size() + n > kMaxResponseBytes) {
    t->too_large = true;
    return 0;  // aborts the transfer
  }
  t->result.body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  OnHeadLine(std::string_view(data, size * count), static_cast<Transfer*>(user)->result);
  return size * count;
}

// --- Stream: both bodies in pieces --------------------------------------------------

// Shared by a streamed call's curl thread and its caller (then the body's reader). curl
// runs on a thread of its own, so that the caller can return once the head is in while
// the body still arrives; pieces cross through a bounded queue.
struct StreamState {
  std::mutex mu;
  std::condition_variable cv;
  HttpResult head;           // status and headers (body unused). Guarded by mu
  bool head_done = false;    // the final response head is in. Guarded by mu
  bool upload_done = false;  // the request body is sent (or there is none). Guarded by mu
  bool finished = false;     // curl_easy_perform returned. Guarded by mu
  CURLcode rc = CURLE_OK;    // Guarded by mu
  bool handed_off = false;   // the caller has the head; the body may block. Guarded by mu
  bool too_large = false;    // too much body before the hand-off. Guarded by mu
  std::deque<std::string> pieces;  // Guarded by mu
  size_t offset = 0;               // read so far of pieces.front(). Guarded by mu
  size_t queued = 0;               // bytes in pieces. Guarded by mu
  std::atomic<bool> cancelled{false};  // the reader was dropped
  SocketGuard guard;                   // the curl thread's only
  http::BodyReader* upload = nullptr;  // the request body; the curl thread's only
  std::optional<uint64_t> upload_length;
  uint64_t uploaded = 0;
  std::unique_ptr<http::BodyReader> owned_upload;  // when the body was given whole
};

size_t OnStreamHeader(char* data, size_t size, size_t count, void* user) {
  auto* s = static_cast<StreamState*>(user);
  std::lock_guard lock(s->mu);
  // Trailers after a chunked body come here too: the head is already handed over.
  if (!s->head_done && OnHeadLine(std::string_view(data, size * count), s->head)) {
    s->head_done = true;
    s->cv.notify_all();
  }
  return size * count;
}

size_t OnStreamBody(char* data, size_t size, size_t count, void* user) {
  auto* s = static_cast<StreamState*>(user);
  size_t n = size * count;
  std::unique_lock lock(s->mu);
  if (!s->handed_off && s->queued + n > kMaxResponseBytes) {
    s->too_large = true;
    return 0;
  }
  // Before the hand-off nobody reads yet, so only after it may the queue hold curl back.
  s->cv.wait(lock, [&] { return !s->handed_off || s->cancelled || s->queued < kStreamQueueBytes; });
  if (s->cancelled) return 0;
  s->pieces.emplace_back(data, n);
  s->queued += n;
  s->cv.notify_all();
  return n;
}

size_t OnStreamUpload(char* out, size_t size, size_t count, void* user) {
  auto* s = static_cast<StreamState*>(user);
  std::optional<size_t> n = s->upload->Read(out, size * count);
  if (!n) return CURL_READFUNC_ABORT;
  s->uploaded += *n;
  // With a known length curl stops asking once it has it, so the end is seen either way.
  if (*n == 0 || (s->upload_length && s->uploaded >= *s->upload_length)) {
    std::lock_guard lock(s->mu);
    s->upload_done = true;
    s->cv.notify_all();
  }
  return *n;
}

int OnStreamProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<StreamState*>(user)->cancelled ? 1 : 0;  // non-zero aborts
}

// A streamed call's response body. Dropping it abandons the call; its curl thread then
// stops at its next callback and ends by itself.
class CurlBodyReader final : public http::BodyReader {
 public:
  explicit CurlBodyReader(std::shared_ptr<StreamState> state) : s_(std::move(state)) {}
  ~CurlBodyReader() override {
    s_->cancelled = true;
    std::lock_guard lock(s_->mu);
    s_->cv.notify_all();
  }

  std::optional<size_t> Read(char* out, size_t max) override {
    std::unique_lock lock(s_->mu);
    s_->cv.wait(lock, [&] { return !s_->pieces.empty() || s_->finished; });
    if (s_->pieces.empty()) {
      if (s_->rc != CURLE_OK || s_->too_large) return std::nullopt;
      return 0;
    }
    const std::string& front = s_->pieces.front();
    size_t n = std::min(max, front.size() - s_->offset);
    std::memcpy(out, front.data() + s_->offset, n);
    s_->offset += n;
    s_->queued -= n;
    if (s_->offset == front.size()) {
      s_->pieces.pop_front();
      s_->offset = 0;
    }
    s_->cv.notify_all();
    return n;
  }

 private:
  std::shared_ptr<StreamState> s_;
};

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

CurlHttpClient::CurlHttpClient(CurlOptions options) : options_(std::move(options)) { GlobalInit(); }

Result<HttpResult> CurlHttpClient::Send(const HttpCall& call) {
  EasyHandle curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Error(Errc::kInternal, "cannot create an HTTP client");
  CURL* h = curl.get();
  const bool has_body = !call.body.empty() || call.method == "POST" || call.method == "PUT";
  SocketGuard guard;
  HeaderList headers = SetCommonOptions(h, call, has_body, /*chunked=*/false, guard, options_);
  if (has_body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, call.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size()));
  }
  Transfer t;
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);

  CURLcode rc = curl_easy_perform(h);
  if (guard.refused) return Error(Errc::kUnavailable, Refused());
  if (t.too_large) return Error(Errc::kUnavailable, "response too large");
  if (rc != CURLE_OK) return Failed(rc);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  t.result.status = static_cast<int>(status);
  return std::move(t.result);
}

Result<StreamedResult> CurlHttpClient::Stream(const HttpCall& call) {
  EasyHandle curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Error(Errc::kInternal, "cannot create an HTTP client");
  CURL* h = curl.get();
  auto state = std::make_shared<StreamState>();
  if (call.body_reader) {
    state->upload = call.body_reader;
    state->upload_length = call.body_length;
  } else if (!call.body.empty() || call.method == "POST" || call.method == "PUT") {
    state->owned_upload = std::make_unique<StringBodyReader>(call.body);
    state->upload = state->owned_upload.get();
    state->upload_length = call.body.size();
  }
  const bool has_body = state->upload && state->upload_length != uint64_t{0};
  HeaderList headers = SetCommonOptions(h, call, has_body, has_body && !state->upload_length,
                                        state->guard, options_);
  if (state->upload) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, OnStreamUpload);
    curl_easy_setopt(h, CURLOPT_READDATA, state.get());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(state->upload_length ? *state->upload_length : -1));
    // POST sets the method curl uses for its own logic; the request line keeps ours.
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call.method.c_str());
  }
  state->upload_done = !has_body;
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnStreamBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, state.get());
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnStreamHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, state.get());
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, OnStreamProgress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, state.get());
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                   std::max<long>(1, static_cast<long>(call.stall_timeout.count() / 1000)));

  std::thread([state, curl = std::move(curl), headers = std::move(headers)] {
    CURLcode rc = curl_easy_perform(curl.get());
    std::lock_guard lock(state->mu);
    state->finished = true;
    state->rc = rc;
    state->cv.notify_all();
  }).detach();

  // The caller's request body is read on the curl thread: it must be sent whole before
  // the caller goes on (the server may reuse its connection then), unless the call ended.
  std::unique_lock lock(state->mu);
  state->cv.wait(lock, [&] { return (state->head_done && state->upload_done) || state->finished; });
  if (!state->head_done) {
    if (state->guard.refused) return Error(Errc::kUnavailable, Refused());
    if (state->too_large) return Error(Errc::kUnavailable, "response too large");
    return Failed(state->rc);
  }
  state->handed_off = true;
  StreamedResult result{state->head.status, std::move(state->head.headers), nullptr};
  lock.unlock();
  result.body = std::make_unique<CurlBodyReader>(std::move(state));
  return result;
}

}  // namespace tr::net
