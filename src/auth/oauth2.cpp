#include "auth/oauth2.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/url.hpp>

#include "crypto/crypto.h"

namespace tr::auth {

namespace json = boost::json;

namespace {

// An error description from a provider is shown in logs and pages: keep it short.
constexpr size_t kMaxDescription = 200;
// The longest token lifetime kept: a larger expires_in is taken as this, so that the expiry
// (now + expires_in * 1000 ms) cannot overflow. Ten years.
constexpr int64_t kMaxExpiresInSeconds = 10LL * 365 * 24 * 3600;

std::string JoinScopes(const std::vector<std::string>& scopes, const std::string& separator) {
  std::string joined;
  for (const auto& s : scopes) {
    if (!joined.empty()) joined += separator;
    joined += s;
  }
  return joined;
}

void AddClientAuth(const OAuth2Config& config, const OAuthClient& client, net::HttpCall& call,
                   std::vector<std::pair<std::string, std::string>>& form) {
  if (config.token_endpoint_auth_method == "client_secret_basic") {
    // RFC 6749 section 2.3.1: id and secret are form-encoded before the Basic encoding.
    std::string credentials =
        net::FormEncode(client.client_id) + ":" + net::FormEncode(client.client_secret);
    call.headers.emplace_back("Authorization", "Basic " + crypto::Base64Encode(credentials));
  } else if (config.token_endpoint_auth_method == "none") {
    form.emplace_back("client_id", client.client_id);  // a public client (RFC 6749 2.3)
  } else {
    form.emplace_back("client_id", client.client_id);
    form.emplace_back("client_secret", client.client_secret);
  }
}

net::HttpCall TokenCall(const OAuth2Config& config, const OAuthClient& client,
                        std::vector<std::pair<std::string, std::string>> form,
                        const std::string& url) {
  net::HttpCall call;
  call.method = "POST";
  call.url = url;
  call.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  call.headers.emplace_back("Accept", "application/json");
  AddClientAuth(config, client, call, form);
  call.body = net::FormBody(form);
  return call;
}

// Reads a flat object of the token response, from JSON or from a form-encoded body.
std::optional<json::object> ReadBody(const net::HttpResult& response) {
  boost::system::error_code ec;
  json::value v = json::parse(response.body, ec);
  if (!ec) {
    if (!v.is_object()) return std::nullopt;
    return v.get_object();
  }
  if (response.Header("content-type").find("x-www-form-urlencoded") == std::string::npos) {
    return std::nullopt;
  }
  auto params = boost::urls::parse_query(response.body);
  if (!params) return std::nullopt;
  json::object out;
  // Decoded, '+' as a space (application/x-www-form-urlencoded). Before, the values were kept
  // percent-encoded: a token with an escaped character was stored and used escaped.
  const boost::urls::encoding_opts form(/*space_as_plus=*/true);
  for (auto param : *params) out[param.key.decode(form)] = param.value.decode(form);
  return out;
}

std::string StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// True when `text` is made of VSCHAR (%x20-7E), as RFC 6749 (appendix A) requires of
// tokens: a token goes into an Authorization header, where CR or LF would inject headers.
bool IsVisibleAscii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// `text` with every character outside VSCHAR replaced by '?': the error and its description
// (RFC 6749 5.2 allows VSCHAR only) go into messages and logs.
std::string VisibleAscii(std::string text) {
  for (char& c : text) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return text;
}

// expires_in as a number of seconds in [0, kMaxExpiresInSeconds] (a negative one is 0, a
// larger one the maximum), from a JSON number or a string of digits; nullopt otherwise.
std::optional<int64_t> ExpiresIn(const json::value& v) {
  auto clamp = [](int64_t s) { return std::clamp<int64_t>(s, 0, kMaxExpiresInSeconds); };
  if (v.is_int64()) return clamp(v.get_int64());
  if (v.is_uint64()) return kMaxExpiresInSeconds;  // above INT64_MAX
  if (v.is_double()) {
    // Not always finite: Boost.JSON reads 1e999 as infinity and 0e999 as NaN (0 times an
    // infinite power of ten). NaN is 0 here, the value the text stands for.
    double d = v.get_double();
    if (std::isnan(d) || d <= 0) return 0;
    return d >= static_cast<double>(kMaxExpiresInSeconds) ? kMaxExpiresInSeconds
                                                          : static_cast<int64_t>(d);
  }
  if (v.is_string()) {  // some providers send a string
    std::string_view text = v.get_string();
    int64_t seconds = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec == std::errc::result_out_of_range)
      return text.starts_with('-') ? 0 : kMaxExpiresInSeconds;
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return clamp(seconds);
  }
  return std::nullopt;
}

}  // namespace

std::string PkceChallenge(const std::string& verifier) {
  return crypto::Base64UrlEncode(crypto::Sha256(verifier));
}

std::string BuildAuthorizationUrl(const OAuth2Config& config, const OAuthClient& client,
                                  const std::vector<std::string>& scopes, const std::string& state,
                                  const std::string& pkce_verifier) {
  boost::urls::url url(config.authorization_url);
  auto params = url.params();
  params.set("response_type", "code");
  params.set("client_id", client.client_id);
  params.set("redirect_uri", client.redirect_uri);
  std::string scope = JoinScopes(scopes, config.scope_separator);
  if (!scope.empty()) params.set("scope", scope);
  params.set("state", state);
  if (config.pkce) {
    params.set("code_challenge", PkceChallenge(pkce_verifier));
    params.set("code_challenge_method", "S256");
  }
  if (!config.resource.empty()) params.set("resource", config.resource);
  for (const auto& [key, value] : config.authorization_params) params.set(key, value);
  return std::string(url.buffer());
}

net::HttpCall BuildCodeExchangeCall(const OAuth2Config& config, const OAuthClient& client,
                                    const std::string& code, const std::string& pkce_verifier) {
  std::vector<std::pair<std::string, std::string>> form{
      {"grant_type", "authorization_code"}, {"code", code}, {"redirect_uri", client.redirect_uri}};
  if (config.pkce) form.emplace_back("code_verifier", pkce_verifier);
  if (!config.resource.empty()) form.emplace_back("resource", config.resource);
  return TokenCall(config, client, std::move(form), config.token_url);
}

net::HttpCall BuildRefreshCall(const OAuth2Config& config, const OAuthClient& client,
                               const std::string& refresh_token) {
  std::vector<std::pair<std::string, std::string>> form{{"grant_type", "refresh_token"},
                                                        {"refresh_token", refresh_token}};
  if (!config.resource.empty()) form.emplace_back("resource", config.resource);
  return TokenCall(config, client, std::move(form), config.token_url);
}

net::HttpCall BuildRevocationCall(const OAuth2Config& config, const OAuthClient& client,
                                  const std::string& token, const std::string& token_type_hint) {
  return TokenCall(config, client, {{"token", token}, {"token_type_hint", token_type_hint}},
                   config.revocation_url);
}

Result<OAuthTokens> ParseTokenResponse(const net::HttpResult& response) {
  std::optional<json::object> body = ReadBody(response);
  if (body && (response.status != 200 || body->contains("error"))) {
    std::string error = VisibleAscii(StringField(*body, "error").substr(0, kMaxDescription));
    std::string description =
        VisibleAscii(StringField(*body, "error_description").substr(0, kMaxDescription));
    if (error.empty()) error = "token_error";
    return Error(Errc::kInvalidArgument, description.empty() ? error : error + ": " + description);
  }
  if (!body || response.status != 200) {
    return Error(Errc::kInvalidArgument,
                 "token_error: the token endpoint answered " + std::to_string(response.status));
  }
  OAuthTokens tokens;
  tokens.access_token = StringField(*body, "access_token");
  if (tokens.access_token.empty()) {
    return Error(Errc::kInvalidArgument, "token_error: no access_token in the token response");
  }
  tokens.refresh_token = StringField(*body, "refresh_token");
  if (std::string type = StringField(*body, "token_type"); !type.empty()) tokens.token_type = type;
  if (!IsVisibleAscii(tokens.access_token) || !IsVisibleAscii(tokens.refresh_token) ||
      !IsVisibleAscii(tokens.token_type)) {
    return Error(Errc::kInvalidArgument, "token_error: a token holds characters tokens may not");
  }
  tokens.scope = StringField(*body, "scope");
  if (const json::value* v = body->if_contains("expires_in"))
    tokens.expires_in_seconds = ExpiresIn(*v);
  return tokens;
}

std::string OAuthErrorCode(const Error& error) {
  const std::string& m = error.message();
  size_t colon = m.find(':');
  return m.substr(0, colon);
}

}  // namespace tr::auth
