#include "http/message.h"

#include <cstring>

namespace tr::http {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string JsonEscape(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out;
}

std::string Response::Text() const {
  std::string text = body;
  if (shared_body) text += *shared_body;
  text += body_end;
  return text;
}

void Deferred::Resolve(Response response) {
  std::function<void(Response)> then;
  {
    std::lock_guard lock(mu_);
    if (!then_) {
      response_ = std::move(response);
      resolved_cv_.notify_all();
      return;
    }
    then = std::move(then_);
  }
  then(std::move(response));
}

void Deferred::When(std::function<void(Response)> then) {
  std::optional<Response> response;
  {
    std::lock_guard lock(mu_);
    if (!response_) {
      then_ = std::move(then);
      return;
    }
    response = std::move(response_);
    response_.reset();
  }
  then(std::move(*response));
}

std::optional<Response> Deferred::TakeIfResolved() {
  std::lock_guard lock(mu_);
  std::optional<Response> response = std::move(response_);
  response_.reset();
  return response;
}

Response Deferred::Settle(Response placeholder, Response later) {
  if (later.route.empty()) later.route = std::move(placeholder.route);
  if (!later.hold) later.hold = std::move(placeholder.hold);
  return later;
}

Response Deferred::Wait() {
  std::unique_lock lock(mu_);
  resolved_cv_.wait(lock, [&] { return response_.has_value(); });
  Response response = std::move(*response_);
  response_.reset();
  return response;
}

namespace {

// What a streamed answer delivered before it broke off: those bytes, then the break.
class BrokenAfter final : public BodyReader {
 public:
  explicit BrokenAfter(std::string held) : held_(std::move(held)) {}
  std::optional<size_t> Read(char* out, size_t max) override {
    if (offset_ == held_.size()) return std::nullopt;
    size_t n = std::min(max, held_.size() - offset_);
    std::memcpy(out, held_.data() + offset_, n);
    offset_ += n;
    return n;
  }

 private:
  std::string held_;
  size_t offset_ = 0;
};

}  // namespace

void ReadSmallStream(Response& response, uint64_t max_bytes, bool head_request) {
  const int status = response.status;
  if (!response.stream || !response.stream_length || *response.stream_length > max_bytes ||
      head_request || status == 204 || status == 304 || status < 200) {
    return;
  }
  std::string body(*response.stream_length, '\0');
  size_t got = 0;
  while (got < body.size()) {
    std::optional<size_t> n = response.stream->Read(body.data() + got, body.size() - got);
    if (!n || *n == 0) break;
    got += *n;
  }
  if (got < body.size()) {
    body.resize(got);
    response.stream = std::make_shared<BrokenAfter>(std::move(body));
    return;
  }
  response.stream.reset();  // the transfer has delivered everything: dropping it is free
  response.stream_length.reset();
  response.body = std::move(body);
}

std::string_view Request::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

std::string_view StatusText(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

}  // namespace tr::http
