// Fuzz target: reading an OAuth token endpoint's answer (auth/oauth2.h ParseTokenResponse),
// JSON or form-encoded. The first input byte picks the status and the Content-Type; the rest
// is the body.
//
// Checked: a success has an access token; an error's message is not empty and never holds
// the access or refresh token the body carried.

#include <cstdint>
#include <string>
#include <string_view>

#include "auth/oauth2.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tr;
  using fuzz::Check;
  if (size == 0) return -1;
  static constexpr int kStatuses[] = {200, 200, 400, 401, 500, 201, 302, 429};
  static constexpr const char* kTypes[] = {"application/json",
                                           "application/x-www-form-urlencoded",
                                           "text/plain",
                                           "",
                                           "application/json; charset=utf-8",
                                           "application/x-www-form-urlencoded; charset=utf-8",
                                           "text/html",
                                           "APPLICATION/JSON"};
  net::HttpResult response;
  response.status = kStatuses[data[0] & 7];
  if (const char* type = kTypes[(data[0] >> 3) & 7]; *type) {
    response.headers = {{"content-type", type}};
  }
  response.body.assign(reinterpret_cast<const char*>(data) + 1, size - 1);

  auto tokens = auth::ParseTokenResponse(response);
  if (tokens) {
    Check(!tokens->access_token.empty(), "access token");
    for (const std::string* token : {&tokens->access_token, &tokens->refresh_token}) {
      for (char c : *token) Check(c >= 0x20 && c <= 0x7e, "tokens are VSCHAR", *token);
    }
    if (tokens->expires_in_seconds) {
      // Ten years at most, so that now + expires_in * 1000 cannot overflow.
      Check(*tokens->expires_in_seconds >= 0 && *tokens->expires_in_seconds <= 315'360'000,
            "expires_in in range");
    }
  } else {
    const std::string& message = tokens.error().message();
    Check(!message.empty(), "error message");
    for (char c : message) Check(c >= 0x20 && c <= 0x7e, "message is VSCHAR", message);
    (void)auth::OAuthErrorCode(tokens.error());
  }
  return 0;
}
