#include "net/curl_stream.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>

#include <curl/curl.h>

#include "net/curl_call.h"
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

// The answer's body waiting for its reader, at most (once the request body is sent).
constexpr size_t kStreamQueueBytes = 256 << 10;
// A streamed request body is read by the caller ahead of curl by at most this much.
constexpr size_t kUploadAheadBytes = 256 << 10;
constexpr size_t kUploadPieceBytes = 64 << 10;
// curl's receive buffer: one body callback's worth at most.
constexpr long kReceiveBufferBytes = 128 << 10;

// A streamed call, shared by the loop thread (its callbacks), the caller (until the head is
// in and the request body handed over) and then the body's reader. No callback waits: a
// full queue pauses the transfer (the reader resumes it), and so does a request body that
// the caller has not read yet (the caller resumes it).
struct StreamTransfer final : Transfer {
  using Transfer::Transfer;
  using Transfer::WakeLater;
  void Done(CURLcode code) override {
    {
      std::lock_guard lock(mu);
      finished = true;
      rc = code;
      cv.notify_all();
    }
    if (on_ready) DeliverIfReady();
  }
  // The callbacks change the state under `mu` and ask for a Wake() once curl is done.
  void Wake() override {
    cv.notify_all();
    if (on_ready) DeliverIfReady();
  }
  // A body of a known length has ended once it is all received, before curl says so.
  // REQUIRES: mu held.
  bool ReceivedWhole() const { return body_length && received >= *body_length; }
  // For StartStream: runs `on_ready` once the head and as much of the body as `ready` asks
  // for are in, or the call ended. On the loop thread (or the caller's, when the loop had stopped).
  void DeliverIfReady();

  // StartStream's: the call's own copy of its body, what runs once ready (then cleared),
  // and what the body's reader needs.
  std::string owned_body;
  StreamReady ready;
  HttpClient::StreamDone on_ready;
  std::weak_ptr<StreamTransfer> self;
  std::shared_ptr<TransferLoop> loop;
  // The most body that waits for its reader before the transfer pauses.
  size_t queue_bytes = kStreamQueueBytes;

  HeaderList headers{nullptr, curl_slist_free_all};
  SocketGuard guard;  // the loop thread's; read once finished
  // A request body given whole: read in place (the caller waits until it is sent).
  std::string_view whole_body;
  size_t whole_sent = 0;               // Guarded by mu
  http::BodyReader* upload = nullptr;  // a request body read in pieces, by the caller
  std::optional<uint64_t> upload_length;
  bool head_request = false;

  std::mutex mu;
  std::condition_variable cv;
  HttpResult head;              // status and headers (body unused). Guarded by mu
  bool head_done = false;       // the final response head is in. Guarded by mu
  bool finished = false;        // Done() ran. Guarded by mu
  CURLcode rc = CURLE_OK;       // Guarded by mu
  bool handed_off = false;      // the reader has the body; the queue is bounded. Guarded by mu
  bool too_large = false;       // too much body before the hand-off. Guarded by mu
  bool invalid_head = false;    // the answer's head broke HTTP's syntax. Guarded by mu
  size_t head_bytes = 0;        // of the heads so far. Guarded by mu
  bool cancelled = false;       // the reader was dropped. Guarded by mu
  bool receive_paused = false;  // the body callback paused the transfer. Guarded by mu
  std::optional<uint64_t> body_length;  // the response body's, when known. Guarded by mu
  uint64_t received = 0;                // body bytes received. Guarded by mu
  // The body received and not yet read: body_buffer[body_offset..], `queued` bytes.
  std::string body_buffer;  // Guarded by mu
  size_t body_offset = 0;   // Guarded by mu
  size_t queued = 0;        // Guarded by mu
  // The request body read ahead of curl: upload_buffer[upload_offset..].
  std::string upload_buffer;   // Guarded by mu
  size_t upload_offset = 0;    // Guarded by mu
  uint64_t upload_read = 0;    // bytes read from `upload`. Guarded by mu
  uint64_t upload_sent = 0;    // bytes handed to curl. Guarded by mu
  bool upload_end = false;     // `upload` said its end. Guarded by mu
  bool upload_broken = false;  // `upload` broke off. Guarded by mu
  bool upload_paused = false;  // the read callback paused the transfer. Guarded by mu
  bool upload_done = false;    // the whole body went to curl (or there is none). Guarded by mu
};

size_t OnStreamHeader(char* data, size_t size, size_t count, void* user) {
  auto* s = static_cast<StreamTransfer*>(user);
  std::lock_guard lock(s->mu);
  // Trailers after a chunked body come here too: the head is already handed over.
  if (s->head_done) return size * count;
  const HeadLine line = OnHeadLine(std::string_view(data, size * count), s->head, s->head_bytes);
  if (line == HeadLine::kInvalid) {
    s->invalid_head = true;
    return 0;  // aborts the transfer
  }
  if (line == HeadLine::kEnd) {
    s->head_done = true;
    const int status = s->head.status;
    if (s->head_request || status == 204 || status == 304) {
      s->body_length = 0;
    } else if (std::string length = s->head.Header("content-length"); !length.empty()) {
      s->body_length = std::strtoull(length.c_str(), nullptr, 10);
    }
    s->WakeLater();
  }
  return size * count;
}

size_t OnStreamBody(char* data, size_t size, size_t count, void* user) {
  auto* s = static_cast<StreamTransfer*>(user);
  size_t n = size * count;
  std::lock_guard lock(s->mu);
  if (s->cancelled) return 0;
  // While the request body is still being sent, the answer is not paused (an upstream may
  // read no more of the request until its answer is read): up to kMaxResponseBytes of it
  // wait for the caller. Once the body is sent, the queue holds curl back, whether the
  // caller has taken the head yet or not.
  const bool sending = !s->handed_off && !s->upload_done;
  if (sending && s->queued + n > kMaxResponseBytes) {
    s->too_large = true;
    return 0;
  }
  if (!sending && s->queued >= s->queue_bytes) {
    s->receive_paused = true;
    return CURL_WRITEFUNC_PAUSE;  // curl keeps `data` and offers it again on resume
  }
  // One buffer, its read part dropped now and then, rather than an allocation per piece.
  if (s->body_offset > 0 && s->body_offset >= s->body_buffer.size() / 2) {
    s->body_buffer.erase(0, s->body_offset);
    s->body_offset = 0;
  }
  s->body_buffer.append(data, n);
  s->queued += n;
  s->received += n;
  s->WakeLater();
  return n;
}

size_t OnStreamUpload(char* out, size_t size, size_t count, void* user) {
  auto* s = static_cast<StreamTransfer*>(user);
  std::lock_guard lock(s->mu);
  const size_t held = s->upload_buffer.size() - s->upload_offset;
  if (held == 0) {
    if (s->upload_broken) return CURL_READFUNC_ABORT;
    if (s->upload_end) {
      s->upload_done = true;
      s->WakeLater();
      return 0;
    }
    s->upload_paused = true;
    s->WakeLater();
    return CURL_READFUNC_PAUSE;
  }
  size_t n = std::min(held, size * count);
  std::memcpy(out, s->upload_buffer.data() + s->upload_offset, n);
  s->upload_offset += n;
  if (s->upload_offset == s->upload_buffer.size()) {
    s->upload_buffer.clear();
    s->upload_offset = 0;
  }
  s->upload_sent += n;
  // With a known length curl stops asking once it has it, so the end is seen either way.
  if (s->upload_length && s->upload_sent >= *s->upload_length) s->upload_done = true;
  s->WakeLater();  // room for more, or done
  return n;
}

// A request body given whole, read in place.
size_t OnWholeUpload(char* out, size_t size, size_t count, void* user) {
  auto* s = static_cast<StreamTransfer*>(user);
  std::lock_guard lock(s->mu);
  size_t n = std::min(size * count, s->whole_body.size() - s->whole_sent);
  std::memcpy(out, s->whole_body.data() + s->whole_sent, n);
  s->whole_sent += n;
  if (s->whole_sent == s->whole_body.size()) {
    s->upload_done = true;
    s->WakeLater();
  }
  return n;
}

// curl rewinds a body to send it again on a new connection when a reused one turned out to
// be closed. A body given whole can; a streamed one only if nothing of it was sent yet.
int OnUploadSeek(void* user, curl_off_t offset, int origin) {
  auto* s = static_cast<StreamTransfer*>(user);
  std::lock_guard lock(s->mu);
  if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
  if (!s->upload) {
    if (static_cast<uint64_t>(offset) > s->whole_body.size()) return CURL_SEEKFUNC_FAIL;
    s->whole_sent = static_cast<size_t>(offset);
    s->upload_done = s->whole_sent == s->whole_body.size();
    return CURL_SEEKFUNC_OK;
  }
  return offset == 0 && s->upload_sent == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_CANTSEEK;
}

// A streamed call's response body. Dropping it abandons the call if it still runs.
class CurlBodyReader final : public http::BodyReader {
 public:
  CurlBodyReader(std::shared_ptr<StreamTransfer> transfer, std::shared_ptr<TransferLoop> loop)
      : s_(std::move(transfer)), loop_(std::move(loop)) {}
  ~CurlBodyReader() override {
    bool running;
    {
      std::lock_guard lock(s_->mu);
      s_->cancelled = true;
      // A body received whole ends its transfer by itself (its connection goes back to the
      // pool); only a transfer still receiving is ended, and its connection closed.
      running = !s_->finished && !s_->ReceivedWhole();
    }
    if (running) loop_->Cancel(s_);
  }

  std::optional<size_t> Read(char* out, size_t max) override {
    std::unique_lock lock(s_->mu);
    s_->cv.wait(lock, [&] { return Answers(); });
    return Take(lock, out, max);
  }

  std::optional<size_t> ReadNow(char* out, size_t max) override {
    std::unique_lock lock(s_->mu);
    if (!Answers()) return kWouldWait;
    return Take(lock, out, max);
  }

 private:
  // Whether Read() has its answer. REQUIRES: s_->mu held.
  bool Answers() const { return s_->queued > 0 || s_->finished || s_->ReceivedWhole(); }

  // Read()'s answer, once Answers(). REQUIRES: `lock` holds s_->mu; it is released.
  std::optional<size_t> Take(std::unique_lock<std::mutex>& lock, char* out, size_t max) {
    if (s_->queued == 0) {
      if (s_->ReceivedWhole()) return 0;
      if (s_->rc != CURLE_OK || s_->too_large) return std::nullopt;
      return 0;
    }
    const size_t n = std::min(max, s_->queued);
    std::memcpy(out, s_->body_buffer.data() + s_->body_offset, n);
    s_->body_offset += n;
    s_->queued -= n;
    if (s_->queued == 0) {
      s_->body_buffer.clear();
      s_->body_offset = 0;
    }
    const bool resume = s_->receive_paused && s_->queued < s_->queue_bytes;
    if (resume) s_->receive_paused = false;
    lock.unlock();
    if (resume) loop_->Resume(s_);
    return n;
  }

  std::shared_ptr<StreamTransfer> s_;
  std::shared_ptr<TransferLoop> loop_;
};

// Reads the caller's request body into `s` ahead of curl while the call starts, until the
// head is in and the body has gone to curl whole, or the transfer ended. Runs on the
// caller's thread: the reader blocks, and nothing may block the loop thread.
void FeedUntilHead(StreamTransfer& s, TransferLoop& loop,
                   const std::shared_ptr<StreamTransfer>& self) {
  std::string piece;
  std::unique_lock lock(s.mu);
  while (!s.finished && !(s.head_done && s.upload_done)) {
    const bool want = s.upload && !s.upload_end && !s.upload_broken &&
                      s.upload_buffer.size() - s.upload_offset < kUploadAheadBytes;
    if (!want) {
      s.cv.wait(lock);
      continue;
    }
    size_t max = kUploadPieceBytes;
    if (s.upload_length) max = std::min<uint64_t>(max, *s.upload_length - s.upload_read);
    lock.unlock();
    piece.resize(max);
    std::optional<size_t> n =
        max == 0 ? std::optional<size_t>(0) : s.upload->Read(piece.data(), max);
    lock.lock();
    if (!n) {
      s.upload_broken = true;
    } else if (*n == 0) {
      s.upload_end = true;
    } else {
      s.upload_buffer.append(piece.data(), *n);
      s.upload_read += *n;
      if (s.upload_length && s.upload_read >= *s.upload_length) s.upload_end = true;
    }
    if (s.upload_paused) {
      s.upload_paused = false;
      lock.unlock();
      loop.Resume(self);
      lock.lock();
    }
  }
}

// Sets up `t`'s easy handle for `call`, whose body (given whole) curl reads in place from
// `whole`. False when there is no easy handle.
bool SetUp(StreamTransfer& t, const HttpCall& call, std::string_view whole,
           const CurlOptions& options) {
  t.head_request = call.method == "HEAD";
  CURL* h = t.easy();
  if (!h) return false;
  StreamTransfer* const user = &t;
  bool has_body = false;
  bool chunked = false;
  if (call.body_reader) {
    t.upload = call.body_reader;
    t.upload_length = call.body_length;
    has_body = call.body_length != uint64_t{0};
    chunked = has_body && !call.body_length;
  } else if (!whole.empty() || call.method == "POST" || call.method == "PUT") {
    t.whole_body = whole;
    has_body = !whole.empty();
  }
  const bool given_whole =
      !t.upload && (!whole.empty() || call.method == "POST" || call.method == "PUT");
  // A POST or PUT without a body still goes as curl's POST, which would add a form type.
  t.headers = SetCommonOptions(h, call, has_body || given_whole, chunked, t.guard, options);
  if (t.upload || given_whole) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, t.upload ? OnStreamUpload : OnWholeUpload);
    curl_easy_setopt(h, CURLOPT_READDATA, user);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, OnUploadSeek);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, user);
    const std::optional<uint64_t> length = t.upload ? t.upload_length : t.whole_body.size();
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(length ? static_cast<curl_off_t>(*length) : -1));
    // POST sets the method curl uses for its own logic; the request line keeps ours.
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call.method.c_str());
  }
  t.upload_done = !has_body;
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnStreamBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, user);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnStreamHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, user);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                   std::max<long>(1, static_cast<long>(call.stall_timeout.count() / 1000)));
  return true;
}

}  // namespace

void StreamTransfer::DeliverIfReady() {
  std::optional<Result<StreamedResult>> out;
  {
    std::lock_guard lock(mu);
    if (!head_done) {
      if (!finished) return;
      out.emplace(CallFailed(rc, guard, too_large, invalid_head));
    } else {
      const bool whole = finished || ReceivedWhole();
      const bool declared_short = body_length && *body_length <= ready.bytes;
      if (!whole && !upload_done) return;
      if (!whole && !(ready.only_declared && !declared_short) && queued < ready.bytes) return;
      handed_off = true;
      out.emplace(StreamedResult{head.status, std::move(head.headers), nullptr});
      (*out)->whole = whole;
    }
  }
  HttpClient::StreamDone done = std::move(on_ready);
  on_ready = nullptr;
  if (*out) (*out)->body = std::make_unique<CurlBodyReader>(self.lock(), loop);
  loop.reset();
  done(std::move(*out));
}

Result<StreamedResult> StreamOnLoop(const HttpCall& call, const CurlOptions& options,
                                    const std::shared_ptr<TransferLoop>& loop) {
  auto t = std::make_shared<StreamTransfer>(*loop);
  if (!SetUp(*t, call, call.body, options)) return Error(Errc::kInternal, "cannot create an HTTP client");
  loop->Prepare(*t);
  loop->Start(t, ConnectTimeout(call));

  // The caller's request body is read here, or curl reads `call.body` in place: either must
  // be handed over whole before the caller goes on (the server may reuse its connection;
  // `call` ends), unless the call ended.
  FeedUntilHead(*t, *loop, t);
  std::unique_lock lock(t->mu);
  if (!t->head_done) {
    return CallFailed(t->rc, t->guard, t->too_large, t->invalid_head);
  }
  t->handed_off = true;
  StreamedResult result{t->head.status, std::move(t->head.headers), nullptr};
  lock.unlock();
  result.body = std::make_unique<CurlBodyReader>(std::move(t), loop);
  return result;
}

void StartStreamOnLoop(HttpCall call, StreamReady ready, const CurlOptions& options,
                       const std::shared_ptr<TransferLoop>& loop, HttpClient::StreamDone done) {
  auto t = std::make_shared<StreamTransfer>(*loop);
  t->owned_body = std::move(call.body);
  if (!SetUp(*t, call, t->owned_body, options)) {
    done(Error(Errc::kInternal, "cannot create an HTTP client"));
    return;
  }
  t->ready = ready;
  t->queue_bytes = std::max(kStreamQueueBytes, ready.bytes);
  t->self = t;
  t->loop = loop;
  t->on_ready = std::move(done);
  loop->Prepare(*t);
  loop->Start(t, ConnectTimeout(call));
}

}  // namespace tr::net
