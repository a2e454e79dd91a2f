#include "api/form_data.h"

#include <algorithm>

#include "core/validation.h"
#include "http/message.h"

namespace tr::api {

namespace {

std::string_view TrimView(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of parameter `name` in a header value like `form-data; name="x"; filename="y"`.
std::optional<std::string> HeaderParam(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while ((pos = header.find(';', pos)) != std::string_view::npos) {
    ++pos;
    std::string_view rest = TrimView(header.substr(pos));
    size_t eq = rest.find('=');
    if (eq == std::string_view::npos) continue;
    if (!http::EqualsIgnoreCase(TrimView(rest.substr(0, eq)), name)) continue;
    std::string_view value = rest.substr(eq + 1);
    if (!value.empty() && value.front() == '"') {
      size_t close = value.find('"', 1);
      if (close == std::string_view::npos) return std::nullopt;
      return std::string(value.substr(1, close - 1));
    }
    return std::string(TrimView(value.substr(0, value.find(';'))));
  }
  return std::nullopt;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && http::EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

}  // namespace

std::optional<FormValues> ParseUrlEncoded(std::string_view body) {
  FormValues values;
  while (!body.empty()) {
    size_t amp = body.find('&');
    std::string pair(body.substr(0, amp));
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    std::replace(pair.begin(), pair.end(), '+', ' ');
    size_t eq = pair.find('=');
    auto key = PercentDecode(std::string_view(pair).substr(0, eq));
    auto value = PercentDecode(eq == std::string::npos ? "" : std::string_view(pair).substr(eq + 1));
    if (!key || !value) return std::nullopt;
    values[*key] = std::move(*value);
  }
  return values;
}

std::optional<FormValues> ParseMultipart(std::string_view content_type, std::string_view body) {
  auto boundary = HeaderParam(content_type, "boundary");
  if (!boundary || boundary->empty() || boundary->size() > 200) return std::nullopt;
  const std::string delimiter = "--" + *boundary;
  FormValues values;
  size_t pos = body.find(delimiter);
  if (pos == std::string_view::npos) return std::nullopt;
  while (true) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") return values;  // the closing delimiter
    if (body.substr(pos, 2) != "\r\n") return std::nullopt;
    pos += 2;
    size_t head_end = body.find("\r\n\r\n", pos);
    if (head_end == std::string_view::npos) return std::nullopt;
    std::string_view head = body.substr(pos, head_end - pos);
    size_t next = body.find("\r\n" + delimiter, head_end + 4);
    if (next == std::string_view::npos) return std::nullopt;
    std::string_view content = body.substr(head_end + 4, next - head_end - 4);
    std::optional<std::string> name;
    while (!head.empty()) {
      size_t eol = head.find("\r\n");
      std::string_view line = head.substr(0, eol);
      head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
      if (StartsWithIgnoreCase(line, "content-disposition:")) name = HeaderParam(line, "name");
    }
    if (!name) return std::nullopt;
    values[*name] = std::string(content);
    pos = next + 2;
  }
}

std::optional<FormValues> ParseForm(std::string_view content_type, std::string_view body) {
  std::string_view type = TrimView(content_type.substr(0, content_type.find(';')));
  if (http::EqualsIgnoreCase(type, "application/x-www-form-urlencoded")) {
    return ParseUrlEncoded(body);
  }
  if (http::EqualsIgnoreCase(type, "multipart/form-data")) return ParseMultipart(content_type, body);
  return std::nullopt;
}

}  // namespace tr::api
