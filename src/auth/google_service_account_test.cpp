// Tests for auth/google_service_account.h: key-file validation, the signed JWT assertion
// (verified with the public half of a key generated here), the token request and the
// token endpoint's answers, hostile ones included. Hermetic: keys are generated in-process.

#include "auth/google_service_account.h"

#include <gtest/gtest.h>

#include <cctype>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "crypto/crypto.h"

namespace tr::auth {
namespace {

namespace json = boost::json;

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

constexpr char kEmail[] = "robot@my-project.iam.gserviceaccount.com";
constexpr char kKeyId[] = "0123456789abcdef0123456789abcdef01234567";
constexpr char kTokenUri[] = "https://oauth2.googleapis.com/token";
constexpr int64_t kNow = 1'700'000'000;

std::string ReadBio(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

enum class PemForm { kPkcs8, kTraditional, kEncrypted, kPublic };

std::string PemOf(EVP_PKEY* pkey, PemForm form) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  int ok = 0;
  switch (form) {
    case PemForm::kPkcs8:
      ok = PEM_write_bio_PrivateKey(bio.get(), pkey, nullptr, nullptr, 0, nullptr, nullptr);
      break;
    case PemForm::kTraditional:
      ok = PEM_write_bio_PrivateKey_traditional(bio.get(), pkey, nullptr, nullptr, 0, nullptr,
                                                nullptr);
      break;
    case PemForm::kEncrypted: {
      char password[] = "correct horse";
      ok = PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey, EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                         password);
      break;
    }
    case PemForm::kPublic:
      ok = PEM_write_bio_PUBKEY(bio.get(), pkey);
      break;
  }
  EXPECT_EQ(ok, 1);
  return ReadBio(bio.get());
}

// The public half only, as a verifier would hold it.
PkeyPtr PublicHalf(EVP_PKEY* pkey) {
  std::string pem = PemOf(pkey, PemForm::kPublic);
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return PkeyPtr(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
}

// Keys are generated once: RSA key generation is slow under sanitizers.
struct TestKeys {
  PkeyPtr rsa;  // 2048 bits
  PkeyPtr rsa_public;
  std::string rsa_pem;
  std::string rsa_traditional_pem;
  std::string rsa_encrypted_pem;
  std::string rsa_public_pem;
  std::string rsa1024_pem;
  std::string ec_pem;
};

const TestKeys& Keys() {
  static const TestKeys keys = [] {
    TestKeys k;
    k.rsa.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
    PkeyPtr rsa1024(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}));
    PkeyPtr ec(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    if (!k.rsa || !rsa1024 || !ec) std::abort();
    k.rsa_public = PublicHalf(k.rsa.get());
    k.rsa_pem = PemOf(k.rsa.get(), PemForm::kPkcs8);
    k.rsa_traditional_pem = PemOf(k.rsa.get(), PemForm::kTraditional);
    k.rsa_encrypted_pem = PemOf(k.rsa.get(), PemForm::kEncrypted);
    k.rsa_public_pem = PemOf(k.rsa.get(), PemForm::kPublic);
    k.rsa1024_pem = PemOf(rsa1024.get(), PemForm::kPkcs8);
    k.ec_pem = PemOf(ec.get(), PemForm::kPkcs8);
    return k;
  }();
  return keys;
}

// A key file as Google issues it.
json::object KeyFileObject() {
  return json::object{
      {"type", "service_account"},
      {"project_id", "my-project"},
      {"private_key_id", kKeyId},
      {"private_key", Keys().rsa_pem},
      {"client_email", kEmail},
      {"client_id", "123456789012345678901"},
      {"auth_uri", "https://accounts.google.com/o/oauth2/auth"},
      {"token_uri", kTokenUri},
      {"auth_provider_x509_cert_url", "https://www.googleapis.com/oauth2/v1/certs"},
      {"universe_domain", "googleapis.com"},
  };
}

ServiceAccountKey ValidKey() {
  Result<ServiceAccountKey> key =
      ParseServiceAccountKey(json::serialize(KeyFileObject()), kTokenUri);
  if (!key) std::abort();
  return *key;
}

std::optional<std::string> Base64UrlDecode(std::string text) {
  for (char& c : text) {
    if (c == '+' || c == '/' || c == '=') return std::nullopt;
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  return crypto::Base64Decode(text);
}

std::vector<std::string> Split(std::string_view text, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t end = text.find(sep, start);
    parts.emplace_back(text.substr(start, end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

bool VerifyRs256(EVP_PKEY* public_key, std::string_view data, std::string_view signature) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, public_key) != 1) return false;
  if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                          data.size()) == 1;
}

// The base64 body lines of a PEM.
std::vector<std::string> PemBodyLines(const std::string& pem) {
  std::vector<std::string> lines;
  for (std::string& line : Split(pem, '\n')) {
    if (!line.empty() && line.rfind("-----", 0) != 0 && line.find(':') == std::string::npos) {
      lines.push_back(line);
    }
  }
  return lines;
}

bool IsBase64Char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '-' ||
         c == '_' || c == '=';
}

// Asserts that `message` carries no part of any key used in these tests.
void ExpectNoKeyMaterial(const std::string& message) {
  EXPECT_EQ(message.find("PRIVATE KEY"), std::string::npos) << message;
  EXPECT_EQ(message.find("-----"), std::string::npos) << message;
  size_t run = 0;
  for (char c : message) {
    run = IsBase64Char(c) ? run + 1 : 0;
    EXPECT_LT(run, 20u) << "long base64-like run in: " << message;
  }
  const TestKeys& k = Keys();
  for (const std::string* pem :
       {&k.rsa_pem, &k.rsa_traditional_pem, &k.rsa_encrypted_pem, &k.rsa1024_pem, &k.ec_pem}) {
    for (const std::string& line : PemBodyLines(*pem)) {
      for (size_t i = 0; i + 12 <= line.size(); i += 4) {
        ASSERT_EQ(message.find(line.substr(i, 12)), std::string::npos) << message;
      }
    }
  }
}

// ---- ParseServiceAccountKey ----

TEST(ParseServiceAccountKeyTest, AcceptsGoogleKeyFile) {
  Result<ServiceAccountKey> key =
      ParseServiceAccountKey(json::serialize(KeyFileObject()), kTokenUri);
  ASSERT_TRUE(key.ok()) << key.error().message();
  EXPECT_EQ(key->client_email, kEmail);
  EXPECT_EQ(key->private_key_pem, Keys().rsa_pem);
  EXPECT_EQ(key->private_key_id, kKeyId);
  EXPECT_EQ(key->token_uri, kTokenUri);
  EXPECT_EQ(key->project_id, "my-project");
}

TEST(ParseServiceAccountKeyTest, OptionalFields) {
  json::object o = KeyFileObject();
  o.erase("private_key_id");
  o.erase("project_id");
  Result<ServiceAccountKey> key = ParseServiceAccountKey(json::serialize(o), kTokenUri);
  ASSERT_TRUE(key.ok()) << key.error().message();
  EXPECT_EQ(key->token_uri, kTokenUri);
  EXPECT_EQ(key->private_key_id, "");
  EXPECT_EQ(key->project_id, "");
}

TEST(ParseServiceAccountKeyTest, AcceptsTraditionalRsaPemAndAnHttpTokenUrlDeclaredSo) {
  json::object o = KeyFileObject();
  o["private_key"] = Keys().rsa_traditional_pem;
  o["token_uri"] = "http://127.0.0.1:8080/token";
  Result<ServiceAccountKey> key =
      ParseServiceAccountKey(json::serialize(o), "http://127.0.0.1:8080/token");
  ASSERT_TRUE(key.ok()) << key.error().message();
  EXPECT_EQ(key->token_uri, "http://127.0.0.1:8080/token");
}

struct RejectCase {
  std::string name;
  std::string json_text;
  std::string field;  // the message starts with "<field>:"
};

std::string With(std::string_view member, json::value value) {
  json::object o = KeyFileObject();
  o[member] = std::move(value);
  return json::serialize(o);
}

std::string Without(std::string_view member) {
  json::object o = KeyFileObject();
  o.erase(member);
  return json::serialize(o);
}

std::vector<RejectCase> RejectCases() {
  const TestKeys& k = Keys();
  // A real key cut short: still looks like PEM, no longer parses.
  std::vector<std::string> lines = Split(k.rsa_pem, '\n');
  std::string truncated_pem = lines[0] + "\n" + lines[1] + "\n" + lines[2] + "\n" + lines[3] +
                              "\n-----END PRIVATE KEY-----\n";
  json::object padded = KeyFileObject();
  padded["padding"] = std::string(kMaxServiceAccountKeyBytes, 'x');
  std::string deep = std::string(100, '[') + std::string(100, ']');

  return {
      {"NotJson", "{\"type\": \"service_account\", " + k.rsa_pem, "key file"},
      {"Empty", "", "key file"},
      {"Array", "[" + json::serialize(KeyFileObject()) + "]", "key file"},
      {"DeeplyNested", deep, "key file"},
      {"Oversize", json::serialize(padded), "key file"},
      {"TypeAuthorizedUser", With("type", "authorized_user"), "type"},
      {"TypeMissing", Without("type"), "type"},
      {"ClientEmailMissing", Without("client_email"), "client_email"},
      {"ClientEmailEmpty", With("client_email", ""), "client_email"},
      {"ClientEmailNoAt", With("client_email", "robot.example.com"), "client_email"},
      {"ClientEmailNumber", With("client_email", 42), "client_email"},
      {"PrivateKeyMissing", Without("private_key"), "private_key"},
      {"PrivateKeyNotString", With("private_key", json::array{1, 2}), "private_key"},
      {"PrivateKeyNotPem", With("private_key", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAo"),
       "private_key"},
      {"PrivateKeyTruncatedPem", With("private_key", json::string(truncated_pem)), "private_key"},
      {"PrivateKeyPublicOnly", With("private_key", json::string(k.rsa_public_pem)), "private_key"},
      {"PrivateKeyEncrypted", With("private_key", json::string(k.rsa_encrypted_pem)),
       "private_key"},
      {"PrivateKeyEc", With("private_key", json::string(k.ec_pem)), "private_key"},
      {"PrivateKeyRsa1024", With("private_key", json::string(k.rsa1024_pem)), "private_key"},
      {"TokenUriFtp", With("token_uri", "ftp://x"), "token_uri"},
      {"TokenUriRelative", With("token_uri", "/token"), "token_uri"},
      {"TokenUriNoHost", With("token_uri", "https:///token"), "token_uri"},
      {"TokenUriUserinfo", With("token_uri", "https://user:pw@host/token"), "token_uri"},
      {"TokenUriSpace", With("token_uri", "https://host/to ken"), "token_uri"},
      {"TokenUriBadPort", With("token_uri", "https://host:80a/token"), "token_uri"},
      {"TokenUriNumber", With("token_uri", 7), "token_uri"},
      {"TokenUriMissing", Without("token_uri"), "token_uri"},
      {"TokenUriNull", With("token_uri", nullptr), "token_uri"},
      {"PrivateKeyIdNumber", With("private_key_id", 7), "private_key_id"},
  };
}

TEST(ParseServiceAccountKeyTest, RejectsWithFieldNamedAndNoKeyMaterial) {
  for (const RejectCase& c : RejectCases()) {
    SCOPED_TRACE(c.name);
    Result<ServiceAccountKey> key = ParseServiceAccountKey(c.json_text, kTokenUri);
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.error().code, Errc::kInvalidArgument);
    const std::string& message = key.error().message();
    EXPECT_EQ(message.rfind(c.field + ":", 0), 0u) << message;
    ExpectNoKeyMaterial(message);
  }
}

// The key file is the user's; the URL the service posts to is the integration's. A key
// naming any other token_uri is refused before anything is sent, and the message never
// repeats the key's URL.
TEST(ParseServiceAccountKeyTest, TokenUriMustBeTheDeclaredTokenUrl) {
  for (std::string_view other :
       {"http://169.254.169.254/computeMetadata/v1/", "https://oauth2.googleapis.com/token/",
        "https://OAUTH2.googleapis.com/token", "https://oauth2.googleapis.com/token?x=1",
        "https://evil.example/token", "http://oauth2.googleapis.com/token"}) {
    SCOPED_TRACE(other);
    Result<ServiceAccountKey> key =
        ParseServiceAccountKey(With("token_uri", json::string(other)), kTokenUri);
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.error().code, Errc::kInvalidArgument);
    EXPECT_EQ(key.error().message(),
              "token_uri: must be " + std::string(kTokenUri) +
                  ", the token endpoint of this integration");
  }
  // A declared URL other than Google's is matched the same way.
  Result<ServiceAccountKey> google_key =
      ParseServiceAccountKey(json::serialize(KeyFileObject()), "https://token.example/token");
  ASSERT_FALSE(google_key.ok());
  EXPECT_EQ(google_key.error().message().find(kTokenUri), std::string::npos);
  // Without a token_uri there is nothing to match: Google's files always carry it.
  Result<ServiceAccountKey> missing = ParseServiceAccountKey(Without("token_uri"), kTokenUri);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message().rfind("token_uri:", 0), 0u) << missing.error().message();
}

// ---- MakeJwtAssertion ----

json::value DecodeJsonPart(const std::string& part) {
  std::optional<std::string> text = Base64UrlDecode(part);
  EXPECT_TRUE(text.has_value()) << part;
  boost::system::error_code ec;
  json::value v = json::parse(text.value_or(""), ec);
  EXPECT_FALSE(ec) << *text;
  return v;
}

TEST(MakeJwtAssertionTest, HeaderClaimsAndVerifiableSignature) {
  ServiceAccountKey key = ValidKey();
  Result<std::string> jwt = MakeJwtAssertion(key,
                                             {"https://www.googleapis.com/auth/cloud-platform",
                                              "https://www.googleapis.com/auth/drive.readonly"},
                                             kNow);
  ASSERT_TRUE(jwt.ok()) << jwt.error().message();

  std::vector<std::string> parts = Split(*jwt, '.');
  ASSERT_EQ(parts.size(), 3u);
  for (const std::string& part : parts) {
    ASSERT_FALSE(part.empty());
    for (char c : part) {
      ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << part;
    }
  }

  EXPECT_EQ(DecodeJsonPart(parts[0]),
            (json::value{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", kKeyId}}));
  EXPECT_EQ(DecodeJsonPart(parts[1]),
            (json::value{{"iss", kEmail},
                         {"scope",
                          "https://www.googleapis.com/auth/cloud-platform "
                          "https://www.googleapis.com/auth/drive.readonly"},
                         {"aud", kTokenUri},
                         {"iat", kNow},
                         {"exp", kNow + 3600}}));

  std::optional<std::string> signature = Base64UrlDecode(parts[2]);
  ASSERT_TRUE(signature.has_value());
  EXPECT_EQ(signature->size(), 256u);
  std::string signed_part = parts[0] + "." + parts[1];
  EXPECT_TRUE(VerifyRs256(Keys().rsa_public.get(), signed_part, *signature));

  // Any change to the signed part breaks the signature.
  json::object forged = DecodeJsonPart(parts[1]).as_object();
  forged["exp"] = kNow + 999999;
  std::string forged_part = parts[0] + "." + crypto::Base64UrlEncode(json::serialize(forged));
  EXPECT_FALSE(VerifyRs256(Keys().rsa_public.get(), forged_part, *signature));
}

TEST(MakeJwtAssertionTest, DeterministicPkcs1V15) {
  ServiceAccountKey key = ValidKey();
  Result<std::string> a = MakeJwtAssertion(key, {"s"}, kNow);
  Result<std::string> b = MakeJwtAssertion(key, {"s"}, kNow);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);  // PSS would differ on every call
}

TEST(MakeJwtAssertionTest, SubjectAddedAndEmptyKidOmitted) {
  ServiceAccountKey key = ValidKey();
  key.private_key_id = "";
  Result<std::string> jwt = MakeJwtAssertion(key, {"scope-a"}, kNow, "admin@example.com");
  ASSERT_TRUE(jwt.ok()) << jwt.error().message();
  std::vector<std::string> parts = Split(*jwt, '.');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(DecodeJsonPart(parts[0]), (json::value{{"alg", "RS256"}, {"typ", "JWT"}}));
  json::value claims = DecodeJsonPart(parts[1]);
  EXPECT_EQ(claims.at("sub"), "admin@example.com");
  EXPECT_EQ(claims.at("scope"), "scope-a");
}

TEST(MakeJwtAssertionTest, EscapesJsonInClaims) {
  ServiceAccountKey key = ValidKey();
  key.client_email = "we\"ird\\\n\u00e9@example.com";
  Result<std::string> jwt = MakeJwtAssertion(key, {"a"}, kNow, "x\"}, \"admin\": true, \"y@z");
  ASSERT_TRUE(jwt.ok());
  std::vector<std::string> parts = Split(*jwt, '.');
  ASSERT_EQ(parts.size(), 3u);
  json::value claims = DecodeJsonPart(parts[1]);
  EXPECT_EQ(std::string(claims.at("iss").as_string()), key.client_email);
  EXPECT_EQ(claims.at("sub"), "x\"}, \"admin\": true, \"y@z");
  EXPECT_EQ(claims.as_object().if_contains("admin"), nullptr);
}

TEST(MakeJwtAssertionTest, Errors) {
  ServiceAccountKey key = ValidKey();
  Result<std::string> no_scopes = MakeJwtAssertion(key, {}, kNow);
  ASSERT_FALSE(no_scopes.ok());
  EXPECT_EQ(no_scopes.error().code, Errc::kInvalidArgument);

  key.private_key_pem = Keys().ec_pem;
  Result<std::string> ec = MakeJwtAssertion(key, {"s"}, kNow);
  ASSERT_FALSE(ec.ok());
  EXPECT_EQ(ec.error().code, Errc::kInvalidArgument);
  ExpectNoKeyMaterial(ec.error().message());
}

// ---- BuildJwtBearerCall ----

std::string FormDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

TEST(BuildJwtBearerCallTest, PostsFormWithGrantTypeAndAssertion) {
  ServiceAccountKey key = ValidKey();
  Result<std::string> jwt = MakeJwtAssertion(key, {"s"}, kNow);
  ASSERT_TRUE(jwt.ok());
  net::HttpCall call = BuildJwtBearerCall(key, *jwt);
  EXPECT_EQ(call.method, "POST");
  EXPECT_EQ(call.url, kTokenUri);
  std::string content_type;
  for (const auto& [name, value] : call.headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "content-type") content_type = value;
  }
  EXPECT_EQ(content_type, "application/x-www-form-urlencoded");

  std::vector<std::string> fields = Split(call.body, '&');
  ASSERT_EQ(fields.size(), 2u) << call.body;
  EXPECT_EQ(fields[0], "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer");
  EXPECT_EQ(FormDecode(fields[0]), "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer");
  EXPECT_EQ(fields[1], "assertion=" + *jwt);  // base64url and '.' need no escaping
}

// ---- ParseTokenResponse ----

TEST(ParseTokenResponseTest, Ok) {
  Result<AccessToken> token = ParseTokenResponse(
      200, R"({"access_token":"ya29.c.b0Aaek","expires_in":3599,"token_type":"Bearer"})");
  ASSERT_TRUE(token.ok()) << token.error().message();
  EXPECT_EQ(token->access_token, "ya29.c.b0Aaek");
  EXPECT_EQ(token->token_type, "Bearer");
  EXPECT_EQ(token->expires_in_seconds, 3599);
}

TEST(ParseTokenResponseTest, DefaultsAndCaps) {
  Result<AccessToken> bare = ParseTokenResponse(200, R"({"access_token":"t"})");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->token_type, "Bearer");
  EXPECT_EQ(bare->expires_in_seconds, 3600);

  Result<AccessToken> as_string =
      ParseTokenResponse(200, R"({"access_token":"t","expires_in":"1800"})");
  ASSERT_TRUE(as_string.ok());
  EXPECT_EQ(as_string->expires_in_seconds, 1800);

  for (std::string_view big : {"1000000000000", "9999999999999999999"}) {  // int64, uint64
    Result<AccessToken> huge =
        ParseTokenResponse(200, R"({"access_token":"t","expires_in":)" + std::string(big) + "}");
    ASSERT_TRUE(huge.ok()) << big;
    EXPECT_EQ(huge->expires_in_seconds, 86400);
  }
}

// The message names a registered OAuth error code (RFC 6749 section 5.2) and nothing the
// endpoint wrote itself: it is shown on the connect form, and the endpoint may be anyone's.
TEST(ParseTokenResponseTest, OAuthErrorGivesOnlyTheRegisteredCode) {
  Result<AccessToken> token = ParseTokenResponse(
      400, R"({"error":"invalid_grant","error_description":"Invalid JWT Signature."})");
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(token.error().message(), "invalid_grant");

  Result<AccessToken> bare = ParseTokenResponse(401, R"({"error":"invalid_client"})");
  ASSERT_FALSE(bare.ok());
  EXPECT_EQ(bare.error().message(), "invalid_client");

  for (std::string_view code : {"invalid_request", "invalid_client", "invalid_grant",
                                "unauthorized_client", "unsupported_grant_type", "invalid_scope"}) {
    Result<AccessToken> known = ParseTokenResponse(
        400, json::serialize(json::object{{"error", code}, {"error_description", "MARKER"}}));
    ASSERT_FALSE(known.ok());
    EXPECT_EQ(known.error().message(), code);
  }
}

TEST(ParseTokenResponseTest, ErrorMessageNeverCarriesTheEndpointsOwnWords) {
  const struct {
    std::string name;
    int status;
    std::string body;
    std::string message;
  } kCases[] = {
      {"UnknownCode", 400, R"({"error":"MARKER","error_description":"x"})",
       "token endpoint answered 400"},
      {"CodeWithMarkup", 400, R"({"error":"<b>MARKER</b>"})", "token endpoint answered 400"},
      {"ControlCharacters", 400, R"({"error":"bad\nthing","error_description":"a\r\nb\u0000"})",
       "token endpoint answered 400"},
      {"LongDescription", 400,
       json::serialize(json::object{{"error", "e"}, {"error_description", std::string(300, 'M')}}),
       "token endpoint answered 400"},
      {"CodeLookalike", 401, R"({"error":"invalid_grant MARKER"})", "token endpoint answered 401"},
      {"UnknownCodeIn200", 200, R"({"error":"MARKER"})", "token endpoint answer: no access_token"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    Result<AccessToken> token = ParseTokenResponse(c.status, c.body);
    ASSERT_FALSE(token.ok());
    EXPECT_EQ(token.error().message(), c.message);
    EXPECT_EQ(token.error().message().find("MARKER"), std::string::npos);
  }
}

TEST(ParseTokenResponseTest, ServerErrorWithHtml) {
  Result<AccessToken> token = ParseTokenResponse(
      500, "<!DOCTYPE html><html><body><h1>500 Internal Server Error</h1></body></html>");
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().message(), "token endpoint answered 500");
}

struct GarbageCase {
  std::string name;
  int status;
  std::string body;
};

TEST(ParseTokenResponseTest, GarbageNeverCrashesAndNeverSucceeds) {
  const GarbageCase cases[] = {
      {"Empty200", 200, ""},
      {"Binary200", 200, std::string("\x00\xff\xfe{\"", 5)},
      {"Array200", 200, "[]"},
      {"String200", 200, "\"access_token\""},
      {"TokenNumber", 200, R"({"access_token":5})"},
      {"TokenEmpty", 200, R"({"access_token":""})"},
      {"TokenNull", 200, R"({"access_token":null})"},
      {"ExpiresNegative", 200, R"({"access_token":"t","expires_in":-5})"},
      {"ExpiresZero", 200, R"({"access_token":"t","expires_in":0})"},
      {"ExpiresFloat", 200, R"({"access_token":"t","expires_in":1.5e300})"},
      {"ExpiresWord", 200, R"({"access_token":"t","expires_in":"soon"})"},
      {"ExpiresLongDigits", 200, R"({"access_token":"t","expires_in":"99999999999999999999999"})"},
      {"TokenTypeNumber", 200, R"({"access_token":"t","token_type":7})"},
      {"ErrorIn200", 200, R"({"error":"invalid_scope"})"},
      {"DeepNesting", 200, std::string(100000, '[')},
      {"DeepObject", 400, std::string(50000, '{')},
      {"InvalidUtf8", 400, "{\"error\":\"\xc3\x28\"}"},
      {"ErrorObject", 400, R"({"error":{"code":400,"message":"x"}})"},
      {"Huge", 200, "{\"access_token\":\"" + std::string(70 * 1024, 'a') + "\"}"},
      {"NegativeStatus", -1, "{}"},
      {"Redirect", 302, "Location: http://evil"},
  };
  for (const GarbageCase& c : cases) {
    SCOPED_TRACE(c.name);
    Result<AccessToken> token = ParseTokenResponse(c.status, c.body);
    ASSERT_FALSE(token.ok());
    EXPECT_EQ(token.error().code, Errc::kInvalidArgument);
    EXPECT_FALSE(token.error().message().empty());
    EXPECT_LE(token.error().message().size(), 200u);
    for (char ch : token.error().message()) EXPECT_GE(static_cast<unsigned char>(ch), 0x20);
  }
  EXPECT_EQ(ParseTokenResponse(200, R"({"error":"invalid_scope"})").error().message(),
            "invalid_scope");
  EXPECT_EQ(ParseTokenResponse(302, "x").error().message(), "token endpoint answered 302");
}

}  // namespace
}  // namespace tr::auth
