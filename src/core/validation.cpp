#include "core/validation.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace tr {

namespace {

// Validates UTF-8 (no overlongs, no surrogates, max U+10FFFF) and rejects C0/C1 controls.
bool IsCleanUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    uint32_t cp;
    int extra;
    if (c < 0x80) {
      cp = c;
      extra = 0;
    } else if ((c & 0xe0) == 0xc0) {
      cp = c & 0x1f;
      extra = 1;
    } else if ((c & 0xf0) == 0xe0) {
      cp = c & 0x0f;
      extra = 2;
    } else if ((c & 0xf8) == 0xf0) {
      cp = c & 0x07;
      extra = 3;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) return false;
    i += extra + 1;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// "scheme://host[:port]" with the default port dropped, or an error.
Result<std::string> OriginOf(const boost::urls::url_view& url) {
  std::string scheme = Lower(url.scheme());
  if (scheme != "http" && scheme != "https") {
    return Error(Errc::kInvalidArgument, "redirectUri must be an http or https URL");
  }
  if (!url.has_authority() || url.encoded_host().empty()) {
    return Error(Errc::kInvalidArgument, "redirectUri must be an absolute URL with a host");
  }
  std::string origin = scheme + "://" + Lower(url.encoded_host());
  std::string_view port = url.port();
  bool default_port = (scheme == "http" && port == "80") || (scheme == "https" && port == "443");
  if (!port.empty() && !default_port) origin += ":" + std::string(port);
  return origin;
}

}  // namespace

Status ValidateUserId(std::string_view user_id) {
  if (user_id.empty() || user_id.size() > kMaxUserIdBytes) {
    return Error(Errc::kInvalidArgument, "userId must be 1 to 255 bytes");
  }
  if (!IsCleanUtf8(user_id)) {
    return Error(Errc::kInvalidArgument,
                 "userId must be valid UTF-8 without control characters");
  }
  return Ok{};
}

Result<std::string> ValidateRedirectUri(std::string_view uri) {
  if (uri.size() > kMaxRedirectUriBytes) {
    return Error(Errc::kInvalidArgument, "redirectUri must be at most 2048 bytes");
  }
  // parse_uri: an absolute URI that may carry a fragment (kept when we redirect).
  auto parsed = boost::urls::parse_uri(uri);
  if (!parsed) {
    return Error(Errc::kInvalidArgument, "redirectUri must be an absolute http or https URL");
  }
  return OriginOf(*parsed);
}

Result<std::string> NormalizeOrigin(std::string_view origin) {
  auto parsed = boost::urls::parse_absolute_uri(origin);
  if (!parsed || parsed->has_query() || parsed->has_userinfo() ||
      !(parsed->path().empty() || parsed->path() == "/")) {
    return Error(Errc::kInvalidArgument,
                 "origin must look like https://app.example.com (scheme, host, optional port)");
  }
  return OriginOf(*parsed);
}

std::optional<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    int hi = HexValue(text[i + 1]);
    int lo = HexValue(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

}  // namespace tr
