#include "auth/aws_sts.h"

#include <algorithm>
#include <cstdint>
#include <ctime>

#include <fmt/format.h>

#include "core/validation.h"

namespace tr::auth {
namespace {

constexpr std::string_view kFormContentType = "application/x-www-form-urlencoded; charset=utf-8";
constexpr size_t kMaxRoleNameBytes = 64;  // IAM's limit on a role name
// Longest entity body we accept between '&' and ';' ("#x10FFFF" with a few leading zeros).
constexpr size_t kMaxEntityBytes = 16;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLowerAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z'); }
bool IsXmlSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool IsRoleNameChar(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '+' ||
         c == '=' || c == ',' || c == '.' || c == '@' || c == '-';
}

// "aws", or "aws" followed by one or more "-word" (lower-case letters and digits).
bool IsValidPartition(std::string_view partition) {
  if (!partition.starts_with("aws")) return false;
  partition.remove_prefix(3);
  while (!partition.empty()) {
    if (partition.front() != '-') return false;
    partition.remove_prefix(1);
    size_t n = 0;
    while (n < partition.size() && IsLowerAlnum(partition[n])) ++n;
    if (n == 0) return false;
    partition.remove_prefix(n);
  }
  return true;
}

std::string_view TrimXmlSpace(std::string_view s) {
  while (!s.empty() && IsXmlSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsXmlSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string WithoutXmlSpace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (!IsXmlSpace(c)) out.push_back(c);
  }
  return out;
}

// The unescaped text of the leaf element `name` inside `xml`.
std::optional<std::string> LeafText(std::string_view xml, std::string_view name) {
  std::optional<std::string_view> raw = FindXmlElement(xml, name);
  if (!raw) return std::nullopt;
  return XmlUnescape(*raw);
}

bool IsXmlChar(uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// "#65" or "#x41" (the part between '&' and ';') as a code point; nullopt when malformed,
// out of range or not an XML Char.
std::optional<uint32_t> CharacterReference(std::string_view entity) {
  entity.remove_prefix(1);  // '#'
  const bool hex = !entity.empty() && entity.front() == 'x';
  if (hex) entity.remove_prefix(1);
  if (entity.empty()) return std::nullopt;
  uint32_t cp = 0;
  for (char c : entity) {
    uint32_t digit;
    if (IsDigit(c)) {
      digit = static_cast<uint32_t>(c - '0');
    } else if (hex && c >= 'a' && c <= 'f') {
      digit = static_cast<uint32_t>(c - 'a' + 10);
    } else if (hex && c >= 'A' && c <= 'F') {
      digit = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    cp = cp * (hex ? 16 : 10) + digit;
    if (cp > 0x10FFFF) return std::nullopt;  // also keeps the next step from overflowing
  }
  if (!IsXmlChar(cp)) return std::nullopt;
  return cp;
}

// `text` made safe to show and log: invalid UTF-8 bytes become '?', control characters
// (C0, DEL, C1) become ' ', and it is cut to `max_bytes` without splitting a character.
std::string PublicText(std::string_view text, size_t max_bytes) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const size_t len = Utf8SequenceLength(text, i);
    std::string_view piece = "?";
    if (len == 1) {
      const auto c = static_cast<unsigned char>(text[i]);
      piece = (c < 0x20 || c == 0x7F) ? std::string_view(" ") : text.substr(i, 1);
    } else if (len == 2 && static_cast<unsigned char>(text[i]) == 0xC2 &&
               static_cast<unsigned char>(text[i + 1]) < 0xA0) {
      piece = " ";  // U+0080..U+009F
    } else if (len > 1) {
      piece = text.substr(i, len);
    }
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
    i += len == 0 ? 1 : len;
  }
  return out;
}

Error Malformed() { return Error(Errc::kUnavailable, "malformed STS response"); }

// The Error/Code and Error/Message of an error answer, whatever its status.
Result<TemporaryCredentials> ParseError(std::string_view body) {
  std::optional<std::string_view> scope = FindXmlElement(body, "ErrorResponse");
  std::optional<std::string_view> error = FindXmlElement(scope ? *scope : body, "Error");
  if (!error) return Malformed();
  std::optional<std::string> code = LeafText(*error, "Code");
  if (!code || TrimXmlSpace(*code).empty()) return Malformed();
  std::string text(TrimXmlSpace(*code));
  if (std::optional<std::string> message = LeafText(*error, "Message")) {
    if (std::string_view trimmed = TrimXmlSpace(*message); !trimmed.empty()) {
      text += ": ";
      text += trimmed;
    }
  }
  return Error(Errc::kInvalidArgument, PublicText(text, kMaxStsErrorMessageBytes));
}

}  // namespace

bool IsValidRoleArn(std::string_view arn) {
  if (arn.size() > kMaxRoleArnBytes || !arn.starts_with("arn:")) return false;
  arn.remove_prefix(4);
  const size_t colon = arn.find(':');
  if (colon == std::string_view::npos || !IsValidPartition(arn.substr(0, colon))) return false;
  arn.remove_prefix(colon + 1);
  if (!arn.starts_with("iam::")) return false;  // IAM is global: no region
  arn.remove_prefix(5);
  if (arn.size() < 13 || arn[12] != ':') return false;
  for (size_t i = 0; i < 12; ++i) {
    if (!IsDigit(arn[i])) return false;
  }
  arn.remove_prefix(13);
  if (!arn.starts_with("role/")) return false;
  arn.remove_prefix(5);
  // Path segments then the name, each non-empty.
  while (true) {
    const size_t slash = std::min(arn.find('/'), arn.size());
    const std::string_view segment = arn.substr(0, slash);
    if (segment.empty()) return false;
    for (char c : segment) {
      if (!IsRoleNameChar(c)) return false;
    }
    if (slash == arn.size()) return segment.size() <= kMaxRoleNameBytes;
    arn.remove_prefix(slash + 1);
  }
}

net::HttpCall BuildAssumeRoleCall(const std::string& endpoint, const std::string& region,
                                  const AssumeRoleRequest& req, const AwsCredentials& caller,
                                  int64_t unix_seconds) {
  net::HttpCall call;
  call.method = "POST";
  call.url = endpoint;
  const size_t scheme_end = endpoint.find("://");
  const size_t authority_start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  if (endpoint.find_first_of("/?", authority_start) == std::string::npos) call.url += '/';

  call.body = "Action=AssumeRole&Version=2011-06-15&RoleArn=" + UriEncode(req.role_arn, false) +
              "&RoleSessionName=" + UriEncode(req.role_session_name, false);
  if (!req.external_id.empty()) call.body += "&ExternalId=" + UriEncode(req.external_id, false);
  call.body += fmt::format("&DurationSeconds={}", req.duration_seconds);
  call.headers.emplace_back("Content-Type", std::string(kFormContentType));

  SignV4(call, caller,
         SigV4Params{.region = region, .service = "sts", .unix_seconds = unix_seconds});
  return call;
}

Result<TemporaryCredentials> ParseAssumeRoleResponse(int status, std::string_view body) {
  if (body.size() > kMaxStsResponseBytes) return Malformed();
  if (status != 200 || FindXmlElement(body, "ErrorResponse")) return ParseError(body);

  std::optional<std::string_view> root = FindXmlElement(body, "AssumeRoleResponse");
  if (!root) return Malformed();
  std::optional<std::string_view> result = FindXmlElement(*root, "AssumeRoleResult");
  if (!result) return Malformed();
  std::optional<std::string_view> credentials = FindXmlElement(*result, "Credentials");
  std::optional<std::string_view> user = FindXmlElement(*result, "AssumedRoleUser");
  if (!credentials || !user) return Malformed();

  std::optional<std::string> access_key_id = LeafText(*credentials, "AccessKeyId");
  std::optional<std::string> secret_access_key = LeafText(*credentials, "SecretAccessKey");
  std::optional<std::string> session_token = LeafText(*credentials, "SessionToken");
  std::optional<std::string> expiration = LeafText(*credentials, "Expiration");
  std::optional<std::string> arn = LeafText(*user, "Arn");
  if (!access_key_id || !secret_access_key || !session_token || !expiration || !arn) {
    return Malformed();
  }
  std::optional<int64_t> expiration_millis = ParseIso8601UtcMillis(TrimXmlSpace(*expiration));
  if (!expiration_millis) return Malformed();

  // Keys and tokens never contain whitespace; the documented example wraps the token over
  // several lines, and a newline must never reach a header.
  TemporaryCredentials out{
      .access_key_id = WithoutXmlSpace(*access_key_id),
      .secret_access_key = WithoutXmlSpace(*secret_access_key),
      .session_token = WithoutXmlSpace(*session_token),
      .expiration_unix_millis = *expiration_millis,
      .assumed_role_arn = std::string(TrimXmlSpace(*arn)),
  };
  if (out.access_key_id.empty() || out.secret_access_key.empty() || out.session_token.empty() ||
      out.assumed_role_arn.empty()) {
    return Malformed();
  }
  return out;
}

std::optional<std::string_view> FindXmlElement(std::string_view xml, std::string_view name) {
  if (name.empty()) return std::nullopt;
  // The first start tag "<name" followed by '>', '/' or whitespace.
  size_t content_start = 0;
  for (size_t pos = 0;;) {
    const size_t lt = xml.find('<', pos);
    if (lt == std::string_view::npos) return std::nullopt;
    pos = lt + 1;
    if (xml.substr(lt + 1, name.size()) != name) continue;
    const size_t after = lt + 1 + name.size();
    if (after >= xml.size()) return std::nullopt;
    if (xml[after] == '>') {
      content_start = after + 1;
      break;
    }
    if (xml[after] != '/' && !IsXmlSpace(xml[after])) continue;  // a longer name
    // Attributes: the tag ends at the first '>' outside quotes.
    char quote = 0;
    size_t i = after;
    for (; i < xml.size(); ++i) {
      const char c = xml[i];
      if (quote != 0) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '>') {
        break;
      }
    }
    if (i == xml.size()) return std::nullopt;
    if (xml[i - 1] == '/') return std::string_view();  // <name/>
    content_start = i + 1;
    break;
  }
  // The first end tag "</name" [whitespace] ">" after it.
  for (size_t pos = content_start;;) {
    const size_t close = xml.find("</", pos);
    if (close == std::string_view::npos) return std::nullopt;
    pos = close + 2;
    if (xml.substr(close + 2, name.size()) != name) continue;
    size_t j = close + 2 + name.size();
    while (j < xml.size() && IsXmlSpace(xml[j])) ++j;
    if (j == xml.size()) return std::nullopt;
    if (xml[j] == '>') return xml.substr(content_start, close - content_start);
  }
}

std::optional<std::string> XmlUnescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '<') return std::nullopt;
    if (c != '&') {
      out.push_back(c);
      ++i;
      continue;
    }
    const std::string_view window = text.substr(i + 1, kMaxEntityBytes + 1);
    const size_t semi = window.find(';');
    if (semi == std::string_view::npos) return std::nullopt;
    const std::string_view entity = window.substr(0, semi);
    if (entity == "amp") {
      out.push_back('&');
    } else if (entity == "lt") {
      out.push_back('<');
    } else if (entity == "gt") {
      out.push_back('>');
    } else if (entity == "quot") {
      out.push_back('"');
    } else if (entity == "apos") {
      out.push_back('\'');
    } else if (entity.starts_with('#')) {
      std::optional<uint32_t> cp = CharacterReference(entity);
      if (!cp) return std::nullopt;
      AppendUtf8(out, *cp);
    } else {
      return std::nullopt;
    }
    i += 1 + semi + 1;
  }
  return out;
}

std::optional<int64_t> ParseIso8601UtcMillis(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z
  if (text.size() < 20) return std::nullopt;
  auto number = [&](size_t at, size_t len) -> std::optional<int> {
    int v = 0;
    for (size_t k = at; k < at + len; ++k) {
      if (!IsDigit(text[k])) return std::nullopt;
      v = v * 10 + (text[k] - '0');
    }
    return v;
  };
  if (text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  const std::optional<int> year = number(0, 4), month = number(5, 2), day = number(8, 2),
                           hour = number(11, 2), minute = number(14, 2), second = number(17, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;

  int millis = 0;
  size_t i = 19;
  if (text[i] == '.') {
    ++i;
    size_t digits = 0;
    while (i < text.size() && IsDigit(text[i])) {
      if (digits < 3) millis = millis * 10 + (text[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0 || digits > 9) return std::nullopt;
    for (size_t k = digits; k < 3; ++k) millis *= 10;
  }
  if (i + 1 != text.size() || text[i] != 'Z') return std::nullopt;

  static constexpr int kDaysInMonth[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (*month < 1 || *month > 12 || *hour > 23 || *minute > 59 || *second > 59) {
    return std::nullopt;
  }
  const bool leap = (*year % 4 == 0 && *year % 100 != 0) || *year % 400 == 0;
  const int month_days = kDaysInMonth[*month - 1] + ((*month == 2 && leap) ? 1 : 0);
  if (*day < 1 || *day > month_days) return std::nullopt;

  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = *month - 1;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  const time_t seconds = timegm(&tm);
  return static_cast<int64_t>(seconds) * 1000 + millis;
}

}  // namespace tr::auth
