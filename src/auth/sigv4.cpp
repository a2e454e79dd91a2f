#include "auth/sigv4.h"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/clock.h"
#include "crypto/crypto.h"

namespace tr::auth {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

// Never signed: rewritten or dropped by proxies and transports (hop-by-hop headers, the
// user agent curl may replace), or the signature itself.
constexpr std::array<std::string_view, 11> kUnsignedHeaders = {
    "authorization", "connection",        "expect",  "keep-alive", "proxy-authorization", "te",
    "trailer",       "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id"};

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), LowerAscii);
  return out;
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// Trimmed, with each run of spaces and tabs inside turned into one space.
std::string TrimAll(std::string_view s) {
  s = Trim(s);
  std::string out;
  out.reserve(s.size());
  bool in_blank = false;
  for (char c : s) {
    if (IsBlank(c)) {
      in_blank = true;
      continue;
    }
    if (in_blank) out.push_back(' ');
    in_blank = false;
    out.push_back(c);
  }
  return out;
}

bool NameIs(std::string_view header_name, std::string_view lower_name) {
  return header_name.size() == lower_name.size() && Lower(header_name) == lower_name;
}

const std::string* FindHeader(const net::Headers& headers, std::string_view lower_name) {
  for (const auto& [name, value] : headers) {
    if (NameIs(name, lower_name)) return &value;
  }
  return nullptr;
}

struct UrlParts {
  std::string_view scheme;
  std::string_view authority;  // [userinfo@]host[:port]
  std::string_view path;       // as sent, possibly empty
  std::string_view query;      // without '?'
};

UrlParts SplitUrl(std::string_view url) {
  UrlParts parts;
  if (size_t hash = url.find('#'); hash != std::string_view::npos) url = url.substr(0, hash);
  if (size_t sep = url.find("://"); sep != std::string_view::npos) {
    parts.scheme = url.substr(0, sep);
    url.remove_prefix(sep + 3);
  }
  size_t authority_end = std::min(url.find_first_of("/?"), url.size());
  parts.authority = url.substr(0, authority_end);
  url.remove_prefix(authority_end);
  size_t question = std::min(url.find('?'), url.size());
  parts.path = url.substr(0, question);
  if (question < url.size()) parts.query = url.substr(question + 1);
  return parts;
}

// host[:port] as the Host header carries it: lower case, no userinfo, no default port.
std::string HostHeaderValue(const UrlParts& parts) {
  std::string_view authority = parts.authority;
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string host = Lower(authority);
  size_t bracket = host.rfind(']');  // an IPv6 literal's colons are not a port separator
  size_t colon = host.rfind(':');
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    std::string_view port = std::string_view(host).substr(colon + 1);
    std::string scheme = Lower(parts.scheme);
    if (port.empty() || (scheme == "http" && port == "80") ||
        (scheme == "https" && port == "443")) {
      host.resize(colon);
    }
  }
  return host;
}

// Dot segments resolved and empty segments dropped (AWS wants "//" collapsed too); a
// trailing slash is kept when any segment remains.
std::vector<std::string_view> NormalizedSegments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = std::min(path.find('/', start), path.size());
    std::string_view segment = path.substr(start, end - start);
    if (segment == "..") {
      if (!out.empty()) out.pop_back();
    } else if (!segment.empty() && segment != ".") {
      out.push_back(segment);
    }
    start = end + 1;
  }
  return out;
}

std::string CanonicalUri(std::string_view path, bool double_encode_path) {
  if (path.empty()) return "/";
  if (!double_encode_path) return std::string(path);
  std::string out = "/";
  std::vector<std::string_view> segments = NormalizedSegments(path);
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out.push_back('/');
    out += UriEncode(segments[i], /*keep_slash=*/false);
  }
  if (!segments.empty() && path.back() == '/') out.push_back('/');
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XY decoded; a '%' that does not start a valid escape stays as it is. '+' stays '+'.
std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// Each name and value decoded then encoded the AWS way, sorted by name then value.
std::string CanonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = std::min(query.find('&', start), query.size());
    std::string_view piece = query.substr(start, end - start);
    start = end + 1;
    if (piece.empty()) continue;
    size_t eq = std::min(piece.find('='), piece.size());
    std::string_view name = piece.substr(0, eq);
    std::string_view value = eq < piece.size() ? piece.substr(eq + 1) : std::string_view();
    pairs.emplace_back(UriEncode(PercentDecode(name), false),
                       UriEncode(PercentDecode(value), false));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [name, value] : pairs) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

}  // namespace

std::string AmzDate(int64_t unix_seconds) {
  const CivilTime t = UtcCivilTime(unix_seconds);
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", t.year, t.month, t.day, t.hour, t.minute,
                     t.second);
}

std::string UriEncode(std::string_view bytes, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string CanonicalRequest(const net::HttpCall& call, bool double_encode_path,
                             std::string_view payload_hash, std::string* signed_headers) {
  const UrlParts parts = SplitUrl(call.url);

  // Lower-cased names, sorted (stable, so repeated headers keep their order), then merged.
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : call.headers) {
    std::string lower = Lower(Trim(name));
    if (lower.empty() || std::find(kUnsignedHeaders.begin(), kUnsignedHeaders.end(), lower) !=
                             kUnsignedHeaders.end()) {
      continue;
    }
    headers.emplace_back(std::move(lower), TrimAll(value));
  }
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  std::string canonical_headers;
  std::string names;
  for (size_t i = 0; i < headers.size(); ++i) {
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      canonical_headers.pop_back();  // the '\n'
      canonical_headers += ',' + headers[i].second + '\n';
      continue;
    }
    if (!names.empty()) names.push_back(';');
    names += headers[i].first;
    canonical_headers += headers[i].first + ':' + headers[i].second + '\n';
  }

  std::string out = call.method;
  out += '\n' + CanonicalUri(parts.path, double_encode_path);
  out += '\n' + CanonicalQuery(parts.query);
  out += '\n' + canonical_headers;
  out += '\n' + names;
  out += '\n';
  out += payload_hash;
  if (signed_headers != nullptr) *signed_headers = std::move(names);
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  return fmt::format("{}\n{}\n{}\n{}", kAlgorithm, amz_date, scope,
                     crypto::HexEncode(crypto::Sha256(canonical_request)));
}

std::string SigningKey(std::string_view secret_access_key, std::string_view date,
                       std::string_view region, std::string_view service) {
  std::string key = crypto::HmacSha256("AWS4" + std::string(secret_access_key), date);
  key = crypto::HmacSha256(key, region);
  key = crypto::HmacSha256(key, service);
  return crypto::HmacSha256(key, "aws4_request");
}

void SignV4(net::HttpCall& call, const AwsCredentials& creds, const SigV4Params& params) {
  const std::string amz_date = AmzDate(params.unix_seconds);
  const std::string date = amz_date.substr(0, amz_date.find('T'));

  net::EraseHeader(call.headers, "authorization");
  if (FindHeader(call.headers, "host") == nullptr) {
    call.headers.emplace_back("Host", HostHeaderValue(SplitUrl(call.url)));
  }
  net::SetHeader(call.headers, "X-Amz-Date", amz_date);
  if (!creds.session_token.empty()) {
    net::SetHeader(call.headers, "X-Amz-Security-Token", creds.session_token);
  }
  std::string payload_hash;
  if (const std::string* given = FindHeader(call.headers, "x-amz-content-sha256")) {
    payload_hash = *given;
  } else {
    payload_hash = crypto::HexEncode(crypto::Sha256(call.body));
    if (params.sign_payload_header) {
      call.headers.emplace_back("X-Amz-Content-Sha256", payload_hash);
    }
  }

  std::string signed_headers;
  const std::string canonical =
      CanonicalRequest(call, params.double_encode_path, payload_hash, &signed_headers);
  const std::string scope =
      fmt::format("{}/{}/{}/aws4_request", date, params.region, params.service);
  const std::string signature = crypto::HexEncode(
      crypto::HmacSha256(SigningKey(creds.secret_access_key, date, params.region, params.service),
                         StringToSign(amz_date, scope, canonical)));
  call.headers.emplace_back(
      "Authorization",
      fmt::format("{} Credential={}/{}, SignedHeaders={}, Signature={}", kAlgorithm,
                  creds.access_key_id, scope, signed_headers, signature));
}

}  // namespace tr::auth
