#include "auth/google_service_account.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>
#include <string>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include "core/validation.h"
#include "crypto/crypto.h"

namespace tr::auth {
namespace json = boost::json;

namespace {

// A key file and a token answer are flat objects; nothing legitimate nests deeper.
constexpr size_t kMaxJsonDepth = 16;
// Longest token_uri accepted.
constexpr size_t kMaxTokenUriBytes = 2048;
// Token answers are well under 4 KiB; a larger body is not read as JSON.
constexpr size_t kMaxTokenResponseBytes = 64 * 1024;
// An access token is never trusted for longer than this, whatever the endpoint says.
constexpr int64_t kMaxExpiresInSeconds = 24 * 3600;

struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

Error Invalid(std::string message) { return Error(Errc::kInvalidArgument, std::move(message)); }

// Refuses encrypted PEMs instead of letting OpenSSL prompt on the terminal.
int NoPassphrase(char*, int, int, void*) { return -1; }

// The RSA private key in `pem`, or an error naming "private_key". Clears OpenSSL's
// thread-local error queue on failure so no detail lingers there.
Result<PkeyPtr> LoadRsaPrivateKey(std::string_view pem) {
  if (pem.empty() || pem.size() > kMaxServiceAccountKeyBytes) {
    return Invalid("private_key: not an RSA private key in PEM form");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr pkey;
  if (bio) pkey.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!pkey || EVP_PKEY_is_a(pkey.get(), "RSA") != 1) {
    ERR_clear_error();
    return Invalid("private_key: not an RSA private key in PEM form");
  }
  int bits = EVP_PKEY_get_bits(pkey.get());
  if (bits < kMinRsaKeyBits) return Invalid("private_key: RSA key shorter than 2048 bits");
  if (bits > kMaxRsaKeyBits) return Invalid("private_key: RSA key longer than 8192 bits");
  return pkey;
}

// RSASSA-PKCS1-v1_5 over SHA-256 of `data`.
Result<std::string> SignRs256(EVP_PKEY* pkey, std::string_view data) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  int max_len = EVP_PKEY_get_size(pkey);
  if (!ctx || max_len <= 0 ||
      EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, pkey) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) {
    ERR_clear_error();
    return Error(Errc::kInternal, "could not sign the service-account assertion");
  }
  std::string signature(static_cast<size_t>(max_len), '\0');
  size_t len = signature.size();
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    ERR_clear_error();
    return Error(Errc::kInternal, "could not sign the service-account assertion");
  }
  signature.resize(len);
  return signature;
}

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char p, char t) {
           return p == std::tolower(static_cast<unsigned char>(t));
         });
}

// An absolute http(s) URL with a host, an optional numeric port, no userinfo, printable
// ASCII only.
bool IsAbsoluteHttpUrl(std::string_view url) {
  if (url.size() > kMaxTokenUriBytes) return false;
  for (char c : url) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
  }
  size_t scheme_len = 0;
  if (StartsWithNoCase(url, "https://")) {
    scheme_len = 8;
  } else if (StartsWithNoCase(url, "http://")) {
    scheme_len = 7;
  } else {
    return false;
  }
  std::string_view rest = url.substr(scheme_len);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) return false;
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {  // IPv6 literal
    size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port = after.substr(1);
      if (port.empty()) return false;
    }
  } else if (size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return false;
  }
  if (host.empty() || port.size() > 5) return false;
  return std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The member `name` of `o` as a string: nullopt when absent or null, an error when another
// type.
Result<std::optional<std::string>> OptionalString(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return Invalid(std::string(name) + ": must be a string");
  return std::optional<std::string>(std::string(v->get_string()));
}

std::optional<json::value> ParseJson(std::string_view text) {
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, {}, options);
  if (ec) return std::nullopt;
  return v;
}

// The "error" of an OAuth error answer when it is one of the codes RFC 6749 section 5.2
// registers for token requests, else nullopt. Only a code from this fixed list is repeated:
// the rest of an answer (error_description, any other code) is the endpoint's own text, and
// the message ends up on the connect form.
std::optional<std::string> OAuthErrorOf(const json::value& body) {
  static constexpr std::string_view kRegistered[] = {
      "invalid_request",     "invalid_client",         "invalid_grant",
      "unauthorized_client", "unsupported_grant_type", "invalid_scope"};
  const json::object* o = body.if_object();
  if (o == nullptr) return std::nullopt;
  const json::value* error = o->if_contains("error");
  if (error == nullptr || !error->is_string()) return std::nullopt;
  for (std::string_view code : kRegistered) {
    if (error->get_string() == code) return std::string(code);
  }
  return std::nullopt;
}

// "expires_in" as seconds: a positive integer or a string of digits; defaults to 3600.
std::optional<int64_t> ExpiresInOf(const json::object& o) {
  const json::value* v = o.if_contains("expires_in");
  if (v == nullptr || v->is_null()) return 3600;
  int64_t seconds = 0;
  if (v->is_int64()) {
    seconds = v->get_int64();
  } else if (v->is_uint64()) {
    seconds = kMaxExpiresInSeconds;  // beyond int64: capped below anyway
  } else if (v->is_string()) {
    const json::string& s = v->get_string();
    if (s.empty() || s.size() > 9 ||
        !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    seconds = std::stoll(std::string(s));
  } else {
    return std::nullopt;
  }
  if (seconds <= 0) return std::nullopt;
  return std::min(seconds, kMaxExpiresInSeconds);
}

}  // namespace

Result<ServiceAccountKey> ParseServiceAccountKey(std::string_view json_text,
                                                 std::string_view token_url) {
  if (json_text.size() > kMaxServiceAccountKeyBytes) {
    return Invalid("key file: larger than 64 KiB");
  }
  std::optional<json::value> parsed = ParseJson(json_text);
  if (!parsed) return Invalid("key file: not valid JSON");
  const json::object* o = parsed->if_object();
  if (o == nullptr) return Invalid("key file: must be a JSON object");

  const json::value* type = o->if_contains("type");
  if (type == nullptr || !type->is_string() || type->get_string() != "service_account") {
    return Invalid("type: must be \"service_account\"");
  }

  ServiceAccountKey key;
  const json::value* email = o->if_contains("client_email");
  if (email == nullptr || !email->is_string() || email->get_string().empty() ||
      email->get_string().find('@') == json::string::npos) {
    return Invalid("client_email: must be a non-empty string containing '@'");
  }
  key.client_email = std::string(email->get_string());

  const json::value* pem = o->if_contains("private_key");
  if (pem == nullptr || !pem->is_string()) {
    return Invalid("private_key: not an RSA private key in PEM form");
  }
  if (Result<PkeyPtr> loaded = LoadRsaPrivateKey(pem->get_string()); !loaded) {
    return loaded.error();
  }
  key.private_key_pem = std::string(pem->get_string());

  // The service posts the signed assertion to token_uri and reads the answer: taken from
  // the user's file, it would let whoever holds a connect link choose where the server
  // sends requests. So it must name the integration's own token endpoint (a file from
  // Google always carries it), and the message never repeats what the file said.
  Result<std::optional<std::string>> token_uri = OptionalString(*o, "token_uri");
  if (!token_uri) return token_uri.error();
  if (!token_uri->has_value() || !IsAbsoluteHttpUrl(**token_uri)) {
    return Invalid("token_uri: must be an absolute http(s) URL");
  }
  if (**token_uri != token_url) {
    return Invalid(fmt::format("token_uri: must be {}, the token endpoint of this integration",
                               token_url));
  }
  key.token_uri = std::move(**token_uri);

  Result<std::optional<std::string>> key_id = OptionalString(*o, "private_key_id");
  if (!key_id) return key_id.error();
  key.private_key_id = key_id->value_or("");

  Result<std::optional<std::string>> project_id = OptionalString(*o, "project_id");
  if (!project_id) return project_id.error();
  key.project_id = project_id->value_or("");
  return key;
}

Result<std::string> MakeJwtAssertion(const ServiceAccountKey& key,
                                     const std::vector<std::string>& scopes,
                                     int64_t now_unix_seconds, const std::string& subject) {
  if (scopes.empty()) return Invalid("scopes: at least one scope is required");
  Result<PkeyPtr> pkey = LoadRsaPrivateKey(key.private_key_pem);
  if (!pkey) return pkey.error();

  json::object header;
  header["alg"] = "RS256";
  header["typ"] = "JWT";
  if (!key.private_key_id.empty()) header["kid"] = key.private_key_id;

  std::string scope;
  for (const std::string& s : scopes) {
    if (!scope.empty()) scope.push_back(' ');
    scope += s;
  }
  json::object claims;
  claims["iss"] = key.client_email;
  claims["scope"] = scope;
  claims["aud"] = key.token_uri;
  claims["iat"] = now_unix_seconds;
  claims["exp"] = now_unix_seconds + kAssertionLifetimeSeconds;
  if (!subject.empty()) claims["sub"] = subject;

  std::string signing_input = crypto::Base64UrlEncode(json::serialize(header)) + "." +
                              crypto::Base64UrlEncode(json::serialize(claims));
  Result<std::string> signature = SignRs256(pkey->get(), signing_input);
  if (!signature) return signature.error();
  return signing_input + "." + crypto::Base64UrlEncode(*signature);
}

net::HttpCall BuildJwtBearerCall(const ServiceAccountKey& key, const std::string& assertion) {
  net::HttpCall call;
  call.method = "POST";
  call.url = key.token_uri;
  call.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                  {"Accept", "application/json"}};
  call.body =
      net::FormBody({{"grant_type", std::string(kJwtBearerGrantType)}, {"assertion", assertion}});
  return call;
}

Result<AccessToken> ParseTokenResponse(int status, std::string_view body) {
  std::optional<json::value> parsed;
  if (body.size() <= kMaxTokenResponseBytes) parsed = ParseJson(body);
  if (status != 200) {
    std::optional<std::string> oauth_error = parsed ? OAuthErrorOf(*parsed) : std::nullopt;
    return Invalid(oauth_error ? *oauth_error
                               : "token endpoint answered " + std::to_string(status));
  }
  const json::object* o = parsed ? parsed->if_object() : nullptr;
  if (o == nullptr) return Invalid("token endpoint answer: not a JSON object");
  const json::value* access_token = o->if_contains("access_token");
  if (access_token == nullptr || !access_token->is_string() || access_token->get_string().empty()) {
    std::optional<std::string> oauth_error = OAuthErrorOf(*parsed);
    return Invalid(oauth_error ? *oauth_error : "token endpoint answer: no access_token");
  }
  AccessToken token;
  token.access_token = std::string(access_token->get_string());

  const json::value* token_type = o->if_contains("token_type");
  if (token_type == nullptr || token_type->is_null()) {
    token.token_type = "Bearer";
  } else if (token_type->is_string() && !token_type->get_string().empty()) {
    token.token_type = SafeText(token_type->get_string(), 64);
  } else {
    return Invalid("token endpoint answer: token_type is not a string");
  }

  std::optional<int64_t> expires_in = ExpiresInOf(*o);
  if (!expires_in) return Invalid("token endpoint answer: expires_in is not a positive integer");
  token.expires_in_seconds = *expires_in;
  return token;
}

}  // namespace tr::auth
