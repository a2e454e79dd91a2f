// Tests for core/validation.h (caller-supplied values) and core/ids.h (identifiers and
// bearer secrets).

#include "core/validation.h"

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/ids.h"

namespace tr {
namespace {

using namespace std::string_literals;

struct UserIdCase {
  std::string name;
  std::string user_id;
  bool ok;
};

std::string Repeat(std::string_view piece, size_t times) {
  std::string out;
  for (size_t i = 0; i < times; ++i) out += piece;
  return out;
}

TEST(ValidateUserIdTest, Table) {
  const UserIdCase kCases[] = {
      {"one byte", "a", true},
      {"255 bytes", std::string(255, 'a'), true},
      {"255 bytes of 3-byte characters", Repeat("\xe2\x82\xac", 85), true},
      {"256 bytes", std::string(256, 'a'), false},
      {"256 bytes with multibyte characters", Repeat("\xe2\x82\xac", 85) + "a", false},
      {"empty", "", false},
      {"slash", "a/b", true},
      {"spaces", "john doe ", true},
      {"email-like", "user@example.com", true},
      {"u umlaut", "\xc3\xbc", true},
      {"emoji", "\xf0\x9f\x98\x80", true},
      {"no-break space U+00A0", "a\xc2\xa0" "b", true},
      {"highest code point U+10FFFF", "\xf4\x8f\xbf\xbf", true},
      {"C0 control U+0001", "a\x01" "b", false},
      {"tab", "a\tb", false},
      {"newline", "a\nb", false},
      {"NUL", "a\0b"s, false},
      {"DEL U+007F", "a\x7f", false},
      {"C1 control U+0085", "a\xc2\x85", false},
      {"C1 control U+009F", "\xc2\x9f", false},
      {"invalid byte 0xff", "a\xff", false},
      {"lone continuation byte", "\x80", false},
      {"truncated 2-byte sequence", "a\xc3", false},
      {"truncated 4-byte sequence", "\xf0\x9f\x98", false},
      {"overlong '/' in 2 bytes", "\xc0\xaf", false},
      {"overlong '/' in 3 bytes", "\xe0\x80\xaf", false},
      {"overlong in 4 bytes", "\xf0\x82\x82\xac", false},
      {"surrogate U+D800", "\xed\xa0\x80", false},
      {"surrogate U+DFFF", "\xed\xbf\xbf", false},
      {"above U+10FFFF", "\xf4\x90\x80\x80", false},
      {"5-byte lead", "\xf8\x88\x80\x80\x80", false},
  };
  for (const UserIdCase& c : kCases) {
    SCOPED_TRACE(c.name);
    Status status = ValidateUserId(c.user_id);
    EXPECT_EQ(status.ok(), c.ok);
    if (!status.ok()) {
      EXPECT_EQ(status.error().code, Errc::kInvalidArgument);
      EXPECT_NE(status.error().message().find("userId"), std::string::npos);
    }
  }
}

struct RedirectCase {
  std::string uri;
  std::optional<std::string> origin;  // nullopt: must be refused
};

TEST(ValidateRedirectUriTest, Table) {
  const std::string at_limit = "https://example.com/" + std::string(2048 - 20, 'a');
  ASSERT_EQ(at_limit.size(), 2048u);
  const RedirectCase kCases[] = {
      {"https://app.example.com/callback?x=1", "https://app.example.com"},
      {"http://localhost:3000/cb", "http://localhost:3000"},
      {"https://App.Example.COM:443/cb", "https://app.example.com"},
      {"http://example.com:80/", "http://example.com"},
      {"https://example.com:80/", "https://example.com:80"},
      {"http://example.com:443/", "http://example.com:443"},
      {"https://example.com:8443", "https://example.com:8443"},
      {"HTTPS://example.com/", "https://example.com"},
      {"http://127.0.0.1:5000/done", "http://127.0.0.1:5000"},
      {"http://[::1]:3000/cb", "http://[::1]:3000"},
      {at_limit, "https://example.com"},
      {at_limit + "a", std::nullopt},
      {"/callback", std::nullopt},
      {"callback", std::nullopt},
      {"example.com/cb", std::nullopt},
      {"//example.com/cb", std::nullopt},
      {"ftp://example.com/", std::nullopt},
      {"javascript:alert(1)", std::nullopt},
      {"mailto:someone@example.com", std::nullopt},
      {"data:text/html,hi", std::nullopt},
      {"https:///path", std::nullopt},
      {"https:example.com", std::nullopt},
      {"https://", std::nullopt},
      {"", std::nullopt},
      {"https://*.example.com/x", std::nullopt},
      {"https://a,b.example.com/x", std::nullopt},
      {"https://[::1]:99999/", std::nullopt},
      {"https://example.com:0/", std::nullopt},
      {"https://example.com:65535/", "https://example.com:65535"},
  };
  for (const RedirectCase& c : kCases) {
    SCOPED_TRACE(c.uri.substr(0, 60));
    auto origin = ValidateRedirectUri(c.uri);
    ASSERT_EQ(origin.ok(), c.origin.has_value());
    if (origin.ok()) {
      EXPECT_EQ(*origin, *c.origin);
    } else {
      EXPECT_EQ(origin.error().code, Errc::kInvalidArgument);
    }
  }
}

// CONTRACT section 4: on finish the service redirects to redirectUri "its fragment kept", so
// a redirectUri with a fragment is a valid absolute http(s) URL.
TEST(ValidateRedirectUriTest, AcceptsAFragment) {
  auto origin = ValidateRedirectUri("https://app.example.com/cb#done");
  ASSERT_TRUE(origin.ok()) << origin.error().message();
  EXPECT_EQ(*origin, "https://app.example.com");
}

TEST(NormalizeOriginTest, Table) {
  const RedirectCase kCases[] = {
      {"https://App.example.com:443/", "https://app.example.com"},
      {"https://app.example.com", "https://app.example.com"},
      {"http://localhost:8080", "http://localhost:8080"},
      {"http://Example.com:80", "http://example.com"},
      {"HTTP://example.com", "http://example.com"},
      {"http://[::1]:3000", "http://[::1]:3000"},
      {"https://app.example.com/path", std::nullopt},
      {"https://app.example.com/?x=1", std::nullopt},
      {"https://app.example.com?x=1", std::nullopt},
      {"https://user@app.example.com", std::nullopt},
      {"ftp://example.com", std::nullopt},
      {"app.example.com", std::nullopt},
      {"https://", std::nullopt},
      {"", std::nullopt},
      {"https://*.example.com", std::nullopt},
      {"https://example.com:70000", std::nullopt},
  };
  for (const RedirectCase& c : kCases) {
    SCOPED_TRACE(c.uri);
    auto origin = NormalizeOrigin(c.uri);
    ASSERT_EQ(origin.ok(), c.origin.has_value());
    if (origin.ok()) {
      EXPECT_EQ(*origin, *c.origin);
    } else {
      EXPECT_EQ(origin.error().code, Errc::kInvalidArgument);
    }
  }
}

TEST(NormalizeOriginTest, ErrorsNameTheOrigin) {
  auto origin = NormalizeOrigin("ftp://x.example");
  ASSERT_FALSE(origin.ok());
  EXPECT_EQ(origin.error().message(), "origin must be an http or https URL");
}

TEST(ValidatePublicUrlTest, AnAbsoluteHttpUrlWithAnOptionalPath) {
  for (const char* good : {"https://connect.example.com", "http://127.0.0.1:8080/",
                           "https://example.com/base/", "http://[::1]:9000"}) {
    EXPECT_TRUE(ValidatePublicUrl(good).ok()) << good;
  }
  for (const char* bad :
       {"not a url", "javascript:alert(1)", "ftp://x", "https://a.com/?q=1", "https://u:p@a.com",
        "https://a.com/#f", "/connect", "https://*.a.com", "http://a.com:99999"}) {
    EXPECT_FALSE(ValidatePublicUrl(bad).ok()) << bad;
  }
}

TEST(NormalizeOriginTest, MatchesTheOriginOfARedirectUri) {
  auto allowed = NormalizeOrigin("https://App.Example.com:443/");
  auto origin = ValidateRedirectUri("https://app.example.com/oauth/done?x=1");
  ASSERT_TRUE(allowed.ok());
  ASSERT_TRUE(origin.ok());
  EXPECT_EQ(*allowed, *origin);
}

struct DecodeCase {
  std::string text;
  std::optional<std::string> decoded;
};

TEST(PercentDecodeTest, Table) {
  const DecodeCase kCases[] = {
      {"", ""},
      {"abc", "abc"},
      {"a%2Fb", "a/b"},
      {"a%2fb", "a/b"},
      {"%20", " "},
      {"john%20doe", "john doe"},
      {"100%25", "100%"},
      {"%C3%BC", "\xc3\xbc"},
      {"a+b", "a+b"},  // a path segment: '+' is not a space
      {"%00", "\0"s},
      {"%", std::nullopt},
      {"%4", std::nullopt},
      {"%zz", std::nullopt},
      {"a%", std::nullopt},
      {"a%2", std::nullopt},
      {"%g0", std::nullopt},
      {"%0g", std::nullopt},
      {"%%20", std::nullopt},
  };
  for (const DecodeCase& c : kCases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(PercentDecode(c.text), c.decoded);
  }
}

TEST(IsUuidV4Test, Table) {
  const struct {
    std::string_view text;
    bool valid;
  } kCases[] = {
      {"3f1c0c9e-7b7a-4c53-9a2e-0c1d2b3a4f5e", true},
      {"3f1c0c9e-7b7a-4c53-8a2e-0c1d2b3a4f5e", true},
      {"3f1c0c9e-7b7a-4c53-aa2e-0c1d2b3a4f5e", true},
      {"3f1c0c9e-7b7a-4c53-ba2e-0c1d2b3a4f5e", true},
      {"00000000-0000-4000-8000-000000000000", true},
      {"3F1C0C9E-7B7A-4C53-9A2E-0C1D2B3A4F5E", false},  // uppercase
      {"3f1c0c9e-7b7a-4c53-9A2E-0c1d2b3a4f5e", false},  // partly uppercase
      {"3f1c0c9e-7b7a-1c53-9a2e-0c1d2b3a4f5e", false},  // version 1
      {"3f1c0c9e-7b7a-5c53-9a2e-0c1d2b3a4f5e", false},  // version 5
      {"3f1c0c9e-7b7a-4c53-ca2e-0c1d2b3a4f5e", false},  // variant c
      {"3f1c0c9e-7b7a-4c53-7a2e-0c1d2b3a4f5e", false},  // variant 7
      {"3f1c0c9e-7b7a-4c53-9a2e-0c1d2b3a4f5", false},   // 35 chars
      {"3f1c0c9e-7b7a-4c53-9a2e-0c1d2b3a4f5e0", false}, // 37 chars
      {"3f1c0c9e7b7a4c539a2e0c1d2b3a4f5e", false},      // no hyphens
      {"3f1c0c9e7-b7a-4c53-9a2e-0c1d2b3a4f5e", false},  // hyphen misplaced
      {"3f1c0c9g-7b7a-4c53-9a2e-0c1d2b3a4f5e", false},  // not hex
      {"{3f1c0c9e-7b7a-4c53-9a2e-0c1d2b3a4f5e}", false},
      {"", false},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(IsUuidV4(c.text), c.valid) << c.text;
  }
}

TEST(IdsTest, NewUuidV4IsValidAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    std::string id = NewUuidV4();
    EXPECT_TRUE(IsUuidV4(id)) << id;
    EXPECT_TRUE(seen.insert(id).second) << id;
  }
}

bool IsBase64Url(std::string_view text) {
  return text.find_first_not_of(
             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
         std::string_view::npos;
}

TEST(IdsTest, NewApiKeyHasPrefixAndLength) {
  std::string key = NewApiKey();
  ASSERT_TRUE(key.starts_with("sk_live_")) << key;
  EXPECT_EQ(key.size(), kApiKeyPrefix.size() + 43);
  EXPECT_TRUE(IsBase64Url(key.substr(kApiKeyPrefix.size()))) << key;
  EXPECT_NE(NewApiKey(), key);
}

TEST(IdsTest, NewTokenIsLongUrlSafeAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string token = NewToken();
    EXPECT_GE(token.size(), 43u);
    EXPECT_TRUE(IsBase64Url(token)) << token;
    EXPECT_TRUE(seen.insert(token).second) << token;
  }
}

TEST(IdsTest, HashSecretIsHexSha256) {
  EXPECT_EQ(HashSecret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(IdsTest, DeriveFromTokenDependsOnTokenAndPurpose) {
  std::string a = DeriveFromToken("token-a", kOAuthStatePurpose);
  EXPECT_EQ(a, DeriveFromToken("token-a", kOAuthStatePurpose));
  EXPECT_NE(a, DeriveFromToken("token-b", kOAuthStatePurpose));
  EXPECT_NE(a, DeriveFromToken("token-a", "csrf"));
  EXPECT_EQ(a.size(), 43u);
  EXPECT_TRUE(IsBase64Url(a));
}

TEST(IdsTest, SessionTokensLeadWithTheirTimeAndKeyByHash) {
  const std::string token = NewSessionToken(0x123456789a);
  EXPECT_EQ(token.substr(0, 12), "00123456789a");
  EXPECT_EQ(token.size(), 12u + 43u);
  EXPECT_TRUE(IsBase64Url(token.substr(12))) << token;
  EXPECT_NE(token, NewSessionToken(0x123456789a)) << "the rest is random";
  // Later tokens sort after earlier ones, and so do their keys and states' keys.
  const std::string later = NewSessionToken(0x123456789b);
  EXPECT_LT(token, later);
  EXPECT_LT(SessionKey(token), SessionKey(later));
  EXPECT_LT(SessionKey(SessionState(token)), SessionKey(SessionState(later)));

  // Key: the public time prefix, then the hash of the whole token; the secret part never.
  EXPECT_EQ(SessionKey(token), token.substr(0, 12) + HashSecret(token));
  EXPECT_EQ(SessionKey(token).find(token.substr(12)), std::string::npos);
  // State: prefixed the same way, derived from the token, distinct from it and from its CSRF.
  const std::string state = SessionState(token);
  EXPECT_EQ(state, token.substr(0, 12) + DeriveFromToken(token, kOAuthStatePurpose));
  EXPECT_NE(state, token);
  EXPECT_EQ(SessionKey(state), state.substr(0, 12) + HashSecret(state));

  // A token from before the prefix existed (43 characters) keys and derives as it did then,
  // so that sessions stored before an upgrade still open.
  const std::string old_token = NewToken();
  EXPECT_EQ(SessionKey(old_token), HashSecret(old_token));
  EXPECT_EQ(SessionState(old_token), DeriveFromToken(old_token, kOAuthStatePurpose));
  // Anything else that is not a prefixed token: the plain hash.
  const std::string not_hex = "zzzzzzzzzzzz" + NewToken();
  EXPECT_EQ(SessionKey(not_hex), HashSecret(not_hex));
  EXPECT_EQ(SessionKey(""), HashSecret(""));
}

TEST(ReplaceInvalidUtf8Test, KeepsUtf8AndReplacesEachBadByte) {
  const struct {
    std::string_view in;
    std::string_view out;
  } kCases[] = {
      {"", ""},
      {"plain ascii", "plain ascii"},
      {"\xc3\xbc \xe2\x82\xac \xf0\x9f\x98\x80", "\xc3\xbc \xe2\x82\xac \xf0\x9f\x98\x80"},
      {"a\xff" "b", "a\xef\xbf\xbd" "b"},
      {"\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd"},           // overlong NUL
      {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},  // a surrogate
      {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},  // > U+10FFFF
      {"end\xe2\x82", "end\xef\xbf\xbd\xef\xbf\xbd"},     // truncated
  };
  for (const auto& c : kCases) EXPECT_EQ(ReplaceInvalidUtf8(c.in), c.out) << c.in;
}

}  // namespace
}  // namespace tr
