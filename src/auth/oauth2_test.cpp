// Tests for reading OAuth token responses (auth/oauth2.h ParseTokenResponse): the cases the
// fuzzer (fuzz/oauth_token_fuzzer.cpp) found, and their neighbours.

#include "auth/oauth2.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace tr::auth {
namespace {

constexpr int64_t kTenYears = 315'360'000;

net::HttpResult Json(std::string body, int status = 200) {
  net::HttpResult result;
  result.status = status;
  result.headers = {{"content-type", "application/json"}};
  result.body = std::move(body);
  return result;
}

net::HttpResult Form(std::string body) {
  net::HttpResult result = Json(std::move(body));
  result.headers = {{"content-type", "application/x-www-form-urlencoded"}};
  return result;
}

TEST(ParseTokenResponseTest, ExpiresInIsClampedToTenYears) {
  struct Case {
    std::string expires_in;  // JSON
    std::optional<int64_t> seconds;
  } cases[] = {
      {"3600", 3600},
      {"\"3599\"", 3599},
      {"3600.9", 3600},
      {"0", 0},
      {"-5", 0},
      {"-1e300", 0},
      // Found by the fuzzer: a double out of int64's range was cast (undefined behaviour).
      {"5.5e104", kTenYears},
      {"1e19", kTenYears},
      {"1e999", kTenYears},  // infinity to Boost.JSON
      // Found by the fuzzer in CI: Boost.JSON reads this as NaN, and the cast of NaN is UB too.
      {"0e999", 0},
      {"-0e999", 0},
      {"18446744073709551615", kTenYears},  // a uint64: to_number<int64_t> threw
      {"9223372036854775807", kTenYears},   // now + this * 1000 overflowed
      {"\"99999999999999999999\"", kTenYears},
      {"\"-99999999999999999999\"", 0},
      {"\"12abc\"", std::nullopt},
      {"\"\"", std::nullopt},
      {"null", std::nullopt},
      {"[1]", std::nullopt},
  };
  for (const Case& c : cases) {
    auto tokens =
        ParseTokenResponse(Json(R"({"access_token":"at","expires_in":)" + c.expires_in + "}"));
    ASSERT_TRUE(tokens.ok()) << c.expires_in;
    EXPECT_EQ(tokens->expires_in_seconds, c.seconds) << c.expires_in;
  }
}

TEST(ParseTokenResponseTest, TokensWithControlCharactersAreRefused) {
  // A token goes into an Authorization header: CR/LF there would inject headers upstream.
  for (const char* body : {R"({"access_token":"at\r\nX-Injected: 1"})",
                           R"({"access_token":"at","refresh_token":"rt\n"})",
                           R"({"access_token":"at","token_type":"Bearer\r\nX: y"})",
                           R"({"access_token":"\u00e9t\u00e9"})"}) {
    auto tokens = ParseTokenResponse(Json(body));
    ASSERT_FALSE(tokens.ok()) << body;
    EXPECT_EQ(OAuthErrorCode(tokens.error()), "token_error");
  }
  auto form = ParseTokenResponse(Form("access_token=at%0D%0AX-Injected%3A+1&token_type=bearer"));
  EXPECT_FALSE(form.ok());
  auto fine = ParseTokenResponse(Form("access_token=a.b~c_d-e%2Bf%2F%3D&token_type=bearer"));
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ(fine->access_token, "a.b~c_d-e+f/=");
}

TEST(ParseTokenResponseTest, ErrorTextIsVisibleAscii) {
  auto tokens = ParseTokenResponse(
      Json(R"({"error":"invalid_grant\r\n","error_description":"bad\u0000 code \u00e9"})", 400));
  ASSERT_FALSE(tokens.ok());
  EXPECT_EQ(tokens.error().message(), "invalid_grant??: bad? code ??");
  EXPECT_EQ(OAuthErrorCode(tokens.error()), "invalid_grant??");
}

}  // namespace
}  // namespace tr::auth
