#include "net/http_client.h"

#include <algorithm>
#include <cstring>

#include "core/validation.h"

namespace tr::net {

std::string StreamedResult::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

std::optional<size_t> StringBodyReader::Read(char* out, size_t max) {
  size_t n = std::min(max, body_.size() - offset_);
  std::memcpy(out, body_.data() + offset_, n);
  offset_ += n;
  return n;
}

std::optional<std::string> ReadWhole(http::BodyReader& reader, size_t limit) {
  std::string body;
  char piece[16 << 10];
  while (true) {
    std::optional<size_t> n = reader.Read(piece, sizeof piece);
    if (!n || body.size() + *n > limit) return std::nullopt;
    if (*n == 0) return body;
    body.append(piece, *n);
  }
}

void HttpClient::StartStream(HttpCall call, StreamReady, StreamDone done) {
  done(Stream(call));
}

Result<StreamedResult> HttpClient::Stream(const HttpCall& call) {
  HttpCall whole = call;
  if (call.body_reader) {
    std::optional<std::string> body = ReadWhole(*call.body_reader, 64 << 20);
    if (!body) return Error(Errc::kUnavailable, "request body could not be read");
    whole.body = std::move(*body);
    whole.body_reader = nullptr;
  }
  auto result = Send(whole);
  if (!result) return result.error();
  return StreamedResult{result->status, std::move(result->headers),
                        std::make_unique<StringBodyReader>(std::move(result->body)), true};
}

void EraseHeader(Headers& headers, std::string_view name) {
  std::erase_if(headers, [&](const auto& h) { return http::EqualsIgnoreCase(h.first, name); });
}

void SetHeader(Headers& headers, std::string_view name, std::string value) {
  EraseHeader(headers, name);
  headers.emplace_back(std::string(name), std::move(value));
}

std::string WithoutQueryParam(std::string_view url, std::string_view name) {
  const size_t question = url.find('?');
  if (question == std::string_view::npos) return std::string(url);
  const size_t hash = url.find('#', question);
  std::string_view query =
      url.substr(question + 1, hash == std::string_view::npos ? hash : hash - question - 1);
  std::string out(url.substr(0, question));
  char separator = '?';
  while (true) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (!pair.empty() && !QueryKeyIs(pair, name)) {
      out += separator;
      out += pair;
      separator = '&';
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  if (hash != std::string_view::npos) out += url.substr(hash);
  return out;
}

std::string FormEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size() * 3);
  for (unsigned char c : value) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string FormBody(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string body;
  for (const auto& [name, value] : fields) {
    if (!body.empty()) body.push_back('&');
    body += FormEncode(name);
    body.push_back('=');
    body += FormEncode(value);
  }
  return body;
}

}  // namespace tr::net
