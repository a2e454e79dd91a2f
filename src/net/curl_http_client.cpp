#include "net/curl_http_client.h"

#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>

#include <curl/curl.h>

#include "net/curl_call.h"
#include "net/curl_stream.h"
#include "net/transfer_loop.h"

namespace tr::net {

using curl::CallFailed;
using curl::ConnectTimeout;
using curl::HeaderList;
using curl::HeadLine;
using curl::kMaxResponseBytes;
using curl::OnHeadLine;
using curl::SetCommonOptions;
using curl::SocketGuard;

namespace {

// The caller waits for Done(); until then only the loop thread touches the rest.
struct WholeTransfer final : Transfer {
  using Transfer::Transfer;
  void Done(CURLcode code) override {
    std::lock_guard lock(mu);
    rc = code;
    done = true;
    cv.notify_all();
  }

  HeaderList headers{nullptr, curl_slist_free_all};
  SocketGuard guard;
  HttpResult result;
  bool too_large = false;
  bool invalid_head = false;
  size_t head_bytes = 0;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;       // Guarded by mu
  CURLcode rc = CURLE_OK;  // Guarded by mu
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<WholeTransfer*>(user);
  size_t n = size * count;
  if (t->result.body.size() + n > kMaxResponseBytes) {
    t->too_large = true;
    return 0;  // aborts the transfer
  }
  t->result.body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<WholeTransfer*>(user);
  if (OnHeadLine(std::string_view(data, size * count), t->result, t->head_bytes) ==
      HeadLine::kInvalid) {
    t->invalid_head = true;
    return 0;  // aborts the transfer
  }
  return size * count;
}

}  // namespace

std::string CaFileFromEnvironment() {
  for (const char* name : {"CURL_CA_BUNDLE", "SSL_CERT_FILE"}) {
    if (const char* value = std::getenv(name); value && *value) return value;
  }
  return {};
}

CurlHttpClient::CurlHttpClient(CurlOptions options)
    : options_(std::move(options)),
      loop_(std::make_shared<TransferLoop>(PoolLimits{options_.max_connections_per_origin,
                                                      options_.max_connections,
                                                      options_.idle_connection_timeout})) {}

CurlHttpClient::~CurlHttpClient() = default;

Result<HttpResult> CurlHttpClient::Send(const HttpCall& call) {
  auto t = std::make_shared<WholeTransfer>(*loop_);
  CURL* h = t->easy();
  if (!h) return Error(Errc::kInternal, "cannot create an HTTP client");
  const bool has_body = !call.body.empty() || call.method == "POST" || call.method == "PUT";
  t->headers = SetCommonOptions(h, call, has_body, /*chunked=*/false, t->guard, options_);
  if (has_body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, call.body.data());  // `call` outlives the wait
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size()));
  }
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, t.get());
  loop_->Prepare(*t);
  loop_->Start(t, ConnectTimeout(call));

  std::unique_lock lock(t->mu);
  t->cv.wait(lock, [&] { return t->done; });
  if (t->rc != CURLE_OK) {
    return CallFailed(t->rc, t->guard, t->too_large, t->invalid_head);
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  t->result.status = static_cast<int>(status);
  return std::move(t->result);
}

Result<StreamedResult> CurlHttpClient::Stream(const HttpCall& call) {
  return StreamOnLoop(call, options_, loop_);
}

void CurlHttpClient::StartStream(HttpCall call, StreamReady ready, StreamDone done) {
  StartStreamOnLoop(std::move(call), ready, options_, loop_, std::move(done));
}

}  // namespace tr::net
