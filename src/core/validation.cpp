#include "core/validation.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace tr {

namespace {

// Validates UTF-8 (no overlongs, no surrogates, max U+10FFFF) and rejects C0/C1 controls.
bool IsCleanUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t len = Utf8SequenceLength(s, i);
    if (len == 0) return false;
    const auto lead = static_cast<unsigned char>(s[i]);
    if (len == 1 && (lead < 0x20 || lead == 0x7f)) return false;
    if (len == 2 && lead == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0) return false;
    i += len;
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

// "scheme://host[:port]" with the default port dropped, or an error naming `what`. A host
// is a name, an IPv4 or an IP literal: no wildcard or other sub-delimiter ("https://*.a.com").
Result<std::string> OriginOf(const boost::urls::url_view& url, std::string_view what) {
  std::string scheme = Lower(url.scheme());
  if (scheme != "http" && scheme != "https") {
    return Error(Errc::kInvalidArgument, fmt::format("{} must be an http or https URL", what));
  }
  if (!url.has_authority() || url.encoded_host().empty() ||
      url.encoded_host().find_first_of("!$&'()*+,;=") != std::string_view::npos) {
    return Error(Errc::kInvalidArgument,
                 fmt::format("{} must be an absolute URL with a host", what));
  }
  std::string origin = scheme + "://" + Lower(url.encoded_host());
  std::string_view port = url.port();
  unsigned number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (url.has_port() && (port.empty() || ec != std::errc() || end != port.data() + port.size() ||
                         number == 0 || number > 65535)) {
    return Error(Errc::kInvalidArgument, fmt::format("{} has a port outside 1-65535", what));
  }
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
    return Error(Errc::kInvalidArgument, "userId must be valid UTF-8 without control characters");
  }
  return Ok{};
}

Status RequireActiveIntegration(bool active) {
  if (!active) return Error(Errc::kInvalidArgument, "Integration is not active");
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
  return OriginOf(*parsed, "redirectUri");
}

Result<std::string> NormalizeOrigin(std::string_view origin) {
  auto parsed = boost::urls::parse_absolute_uri(origin);
  if (!parsed || parsed->has_query() || parsed->has_userinfo() ||
      !(parsed->path().empty() || parsed->path() == "/")) {
    return Error(Errc::kInvalidArgument,
                 "origin must look like https://app.example.com (scheme, host, optional port)");
  }
  return OriginOf(*parsed, "origin");
}

Status ValidatePublicUrl(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed || parsed->has_query() || parsed->has_userinfo()) {
    return Error(Errc::kInvalidArgument,
                 "--public-url must be an absolute http(s) URL without a query, e.g. "
                 "https://connect.example.com");
  }
  auto origin = OriginOf(*parsed, "--public-url");
  if (!origin) return origin.error();
  return Ok{};
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

bool QueryKeyIs(std::string_view pair, std::string_view name) {
  std::string key(pair.substr(0, pair.find('=')));
  std::replace(key.begin(), key.end(), '+', ' ');
  auto decoded = PercentDecode(key);
  return decoded && *decoded == name;
}

size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  if (lead < 0x80) return 1;
  size_t len;
  uint32_t cp;
  uint32_t min;
  if ((lead & 0xE0) == 0xC0) {
    len = 2;
    cp = lead & 0x1F;
    min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    len = 3;
    cp = lead & 0x0F;
    min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    len = 4;
    cp = lead & 0x07;
    min = 0x10000;
  } else {
    return 0;
  }
  if (len > s.size() - i) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

std::string ReplaceInvalidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t len = Utf8SequenceLength(text, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
  return out;
}

std::string SafeText(std::string_view text, size_t max) {
  if (text.size() > max) {
    size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut);
  }
  std::string out(text);
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return out;
}

bool IsTokenChar(char c) {
  static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  return alnum || kSymbols.find(c) != std::string_view::npos;
}

bool IsToken(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), IsTokenChar);
}

}  // namespace tr
