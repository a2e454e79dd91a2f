// Tests for auth/aws_sts.h: role ARN validation, the signed AssumeRole request, and reading
// STS answers, including the documented example and hostile or truncated bodies.

#include "auth/aws_sts.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "crypto/crypto.h"

namespace tr::auth {
namespace {

using namespace std::string_literals;

constexpr int64_t k20150830T123600Z = 1440938160;

// The example response of AssumeRole in the AWS STS API reference
// (docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html), as published, with the
// session token wrapped over several lines.
constexpr std::string_view kDocumentedResponse =
    R"(<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<AssumeRoleResult>
<SourceIdentity>Alice</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/TestAR</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:TestAR</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>
       AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW
       LWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGd
       QrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU
       9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz
       +scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==
      </SessionToken>
      <Expiration>2019-11-09T13:34:41Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>)";

constexpr std::string_view kDocumentedToken =
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW"
    "LWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGd"
    "QrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU"
    "9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz"
    "+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

// A minimal well-formed answer with the given credentials block.
std::string Answer(std::string_view credentials) {
  return "<AssumeRoleResponse><AssumeRoleResult><AssumedRoleUser><Arn>arn:aws:sts::123456789012:"
         "assumed-role/r/s</Arn></AssumedRoleUser><Credentials>"s +
         std::string(credentials) + "</Credentials></AssumeRoleResult></AssumeRoleResponse>";
}

std::string Header(const net::HttpCall& call, std::string_view name) {
  for (const auto& [k, v] : call.headers) {
    if (k == name) return v;
  }
  return "<absent>";
}

// --- IsValidRoleArn -------------------------------------------------------------------------

TEST(IsValidRoleArnTest, Table) {
  const std::string kPrefix = "arn:aws:iam::123456789012:role/";
  std::string long_path_2048 = kPrefix;
  for (int i = 0; i < 1008; ++i) long_path_2048 += "a/";
  long_path_2048 += "x";
  ASSERT_EQ(long_path_2048.size(), 2048u);

  struct Case {
    std::string arn;
    bool valid;
  };
  const Case kCases[] = {
      {"arn:aws:iam::123456789012:role/MyRole", true},
      {"arn:aws:iam::123456789012:role/a/b/MyRole", true},
      {"arn:aws:iam::123456789012:role/service-role/My+=,.@-_Role9", true},
      {"arn:aws-cn:iam::123456789012:role/MyRole", true},
      {"arn:aws-us-gov:iam::123456789012:role/MyRole", true},
      {"arn:aws-iso-b:iam::123456789012:role/MyRole", true},
      {kPrefix + std::string(64, 'n'), true},
      {long_path_2048, true},
      {long_path_2048 + "y", false},  // 2049 bytes
      {kPrefix + std::string(65, 'n'), false},
      {"arn:aws:iam::123456789012:user/MyRole", false},
      {"arn:aws:iam::12345678901:role/MyRole", false},    // 11 digits
      {"arn:aws:iam::1234567890123:role/MyRole", false},  // 13 digits
      {"arn:aws:iam::12345678901a:role/MyRole", false},
      {"arn:aws:iam::123456789012:role/", false},      // empty name
      {"arn:aws:iam::123456789012:role/a/", false},    // empty name after a path
      {"arn:aws:iam::123456789012:role/a//b", false},  // empty path segment
      {"arn:aws:iam::123456789012:role//b", false},
      {"arn:aws:iam::123456789012:role", false},
      {"arn:aws:iam::123456789012:role/My Role", false},
      {" arn:aws:iam::123456789012:role/MyRole", false},
      {"arn:aws:iam::123456789012:role/MyRole ", false},
      {"arn:aws:iam::123456789012:role/MyRole\n", false},
      {"arn:aws:iam::123456789012:role/My\0Role"s, false},
      {"arn:aws:iam::123456789012:role/R\xc3\xb4le", false},
      {"arn:aws:iam::123456789012:role/My:Role", false},
      {"arn:aws:iam:us-east-1:123456789012:role/MyRole", false},  // IAM has no region
      {"arn:aws:sts::123456789012:assumed-role/demo/TestAR", false},
      {"arn:aws:s3:::bucket", false},
      {"arn:AWS:iam::123456789012:role/MyRole", false},
      {"arn:aws-:iam::123456789012:role/MyRole", false},
      {"arn:azure:iam::123456789012:role/MyRole", false},
      {"arn::iam::123456789012:role/MyRole", false},
      {"ARN:aws:iam::123456789012:role/MyRole", false},
      {"arn:aws:iam::123456789012", false},
      {"arn:", false},
      {"", false},
      {"garbage", false},
      {"arn:aws:iam::123456789012:role/../x", true},  // dots are name characters; harmless here
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(IsValidRoleArn(c.arn), c.valid) << c.arn;
  }
}

// --- BuildAssumeRoleCall --------------------------------------------------------------------

TEST(BuildAssumeRoleCallTest, BodyHeadersAndSignature) {
  const AwsCredentials caller{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  const AssumeRoleRequest req{.role_arn = "arn:aws:iam::123456789012:role/a/demo",
                              .external_id = "ext id+1",
                              .role_session_name = "toolregistry@tenant",
                              .duration_seconds = 900};
  const net::HttpCall call =
      BuildAssumeRoleCall("https://sts.amazonaws.com", "us-east-1", req, caller, k20150830T123600Z);

  EXPECT_EQ(call.method, "POST");
  EXPECT_EQ(call.url, "https://sts.amazonaws.com/");
  EXPECT_EQ(call.body,
            "Action=AssumeRole&Version=2011-06-15"
            "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fa%2Fdemo"
            "&RoleSessionName=toolregistry%40tenant&ExternalId=ext%20id%2B1&DurationSeconds=900");
  EXPECT_EQ(Header(call, "Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(Header(call, "Host"), "sts.amazonaws.com");
  EXPECT_EQ(Header(call, "X-Amz-Date"), "20150830T123600Z");
  EXPECT_EQ(Header(call, "X-Amz-Security-Token"), "<absent>");

  const std::string authorization = Header(call, "Authorization");
  const std::string kExpectedStart =
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request, "
      "SignedHeaders=content-type;host;x-amz-date, Signature=";
  ASSERT_TRUE(authorization.starts_with(kExpectedStart)) << authorization;
  const std::string signature = authorization.substr(kExpectedStart.size());
  EXPECT_EQ(signature.size(), 64u);
  EXPECT_EQ(signature.find_first_not_of("0123456789abcdef"), std::string::npos);

  // The signature is over this exact body: recomputing it from the published steps agrees.
  const std::string creq =
      CanonicalRequest(call, true, crypto::HexEncode(crypto::Sha256(call.body)));
  const std::string expected = crypto::HexEncode(crypto::HmacSha256(
      SigningKey(caller.secret_access_key, "20150830", "us-east-1", "sts"),
      StringToSign("20150830T123600Z", "20150830/us-east-1/sts/aws4_request", creq)));
  EXPECT_EQ(signature, expected);
}

TEST(BuildAssumeRoleCallTest, LocalEndpointSessionTokenAndNoExternalId) {
  const AwsCredentials caller{"ASIAEXAMPLE", "secret", "session-token"};
  const AssumeRoleRequest req{.role_arn = "arn:aws:iam::123456789012:role/MyRole",
                              .role_session_name = "s"};
  const net::HttpCall call =
      BuildAssumeRoleCall("http://127.0.0.1:1234", "eu-west-1", req, caller, 0);

  EXPECT_EQ(call.url, "http://127.0.0.1:1234/");
  EXPECT_EQ(call.body,
            "Action=AssumeRole&Version=2011-06-15"
            "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2FMyRole"
            "&RoleSessionName=s&DurationSeconds=3600");
  EXPECT_EQ(Header(call, "Host"), "127.0.0.1:1234");
  EXPECT_EQ(Header(call, "X-Amz-Security-Token"), "session-token");
  EXPECT_TRUE(Header(call, "Authorization")
                  .starts_with("AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/19700101/eu-west-1/sts/"
                               "aws4_request, SignedHeaders=content-type;host;x-amz-date;"
                               "x-amz-security-token, Signature="));

  EXPECT_EQ(BuildAssumeRoleCall("http://127.0.0.1:1234/sts", "r", req, caller, 0).url,
            "http://127.0.0.1:1234/sts");
}

// --- ParseAssumeRoleResponse ----------------------------------------------------------------

TEST(ParseAssumeRoleResponseTest, DocumentedExample) {
  const Result<TemporaryCredentials> parsed = ParseAssumeRoleResponse(200, kDocumentedResponse);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->access_key_id, "ASIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(parsed->secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
  EXPECT_EQ(parsed->session_token, kDocumentedToken);
  EXPECT_EQ(parsed->expiration_unix_millis, 1573306481000);  // 2019-11-09T13:34:41Z
  EXPECT_EQ(parsed->assumed_role_arn, "arn:aws:sts::123456789012:assumed-role/demo/TestAR");
}

TEST(ParseAssumeRoleResponseTest, FractionalExpirationEntitiesAndAttributes) {
  const std::string body =
      "<?xml version=\"1.0\"?>\n<AssumeRoleResponse xmlns='x'><AssumeRoleResult>"
      "<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/a&amp;b</Arn>"
      "</AssumedRoleUser><Credentials><AccessKeyId >AK</AccessKeyId >"
      "<SecretAccessKey>S&#x2F;K&#43;</SecretAccessKey><SessionToken>T</SessionToken>"
      "<Expiration>2011-07-15T23:28:33.359Z</Expiration></Credentials></AssumeRoleResult>"
      "</AssumeRoleResponse>";
  const Result<TemporaryCredentials> parsed = ParseAssumeRoleResponse(200, body);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->access_key_id, "AK");
  EXPECT_EQ(parsed->secret_access_key, "S/K+");
  EXPECT_EQ(parsed->expiration_unix_millis, 1310772513359);
  EXPECT_EQ(parsed->assumed_role_arn, "arn:aws:sts::123456789012:assumed-role/r/a&b");
}

TEST(ParseAssumeRoleResponseTest, AccessDenied) {
  const std::string body = R"(<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>AccessDenied</Code>
    <Message>User: arn:aws:iam::123456789012:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/demo</Message>
  </Error>
  <RequestId>4ba3a4b5-0000-4000-8000-000000000000</RequestId>
</ErrorResponse>)";
  const Result<TemporaryCredentials> parsed = ParseAssumeRoleResponse(403, body);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(parsed.error().message(),
            "AccessDenied: User: arn:aws:iam::123456789012:user/alice is not authorized to "
            "perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/demo");

  // The same answer with a 200 status is still an error.
  const Result<TemporaryCredentials> with_200 = ParseAssumeRoleResponse(200, body);
  ASSERT_FALSE(with_200.ok());
  EXPECT_EQ(with_200.error().code, Errc::kInvalidArgument);
}

TEST(ParseAssumeRoleResponseTest, ErrorMessagesAreUnescapedCleanedAndCut) {
  struct Case {
    std::string name;
    int status;
    std::string error;  // the <Error> content
    std::string message;
  };
  const Case kCases[] = {
      {"entities", 400,
       "<Code>Bad</Code><Message>&lt;b&gt; &amp; &quot;q&quot; &apos;a&apos; "
       "&#233;&#x1F600;</Message>",
       "Bad: <b> & \"q\" 'a' \xc3\xa9\xf0\x9f\x98\x80"},
      {"no message", 400, "<Code>Throttling</Code>", "Throttling"},
      {"empty message", 400, "<Code>Throttling</Code><Message/>", "Throttling"},
      {"control characters", 400, "<Code>X</Code><Message>a\nb\tc&#x7F;d\xc2\x85</Message>",
       "X: a b c d "},
      {"invalid UTF-8", 400, "<Code>X</Code><Message>a\xff\xc3(b\xed\xa0\x80</Message>",
       "X: a?"
       "?(b?"
       "??"},  // split: "??(" would read as a trigraph
      {"long", 400, "<Code>X</Code><Message>" + std::string(300, 'm') + "</Message>",
       "X: " + std::string(197, 'm')},
      {"cut before a character", 400,
       "<Code>X</Code><Message>" + std::string(196, 'm') + "\xe2\x82\xac</Message>",
       "X: " + std::string(196, 'm')},
      {"status 500", 500, "<Code>InternalFailure</Code><Message>oops</Message>",
       "InternalFailure: oops"},
  };
  for (const Case& c : kCases) {
    const Result<TemporaryCredentials> parsed = ParseAssumeRoleResponse(
        c.status, "<ErrorResponse><Error>" + c.error + "</Error></ErrorResponse>");
    ASSERT_FALSE(parsed.ok()) << c.name;
    EXPECT_EQ(parsed.error().code, Errc::kInvalidArgument) << c.name;
    EXPECT_EQ(parsed.error().message(), c.message) << c.name;
    EXPECT_LE(parsed.error().message().size(), kMaxStsErrorMessageBytes) << c.name;
  }
}

void ExpectMalformed(int status, std::string_view body, const std::string& what) {
  const Result<TemporaryCredentials> parsed = ParseAssumeRoleResponse(status, body);
  ASSERT_FALSE(parsed.ok()) << what;
  EXPECT_EQ(parsed.error().code, Errc::kUnavailable) << what;
  EXPECT_EQ(parsed.error().message(), "malformed STS response") << what;
}

TEST(ParseAssumeRoleResponseTest, MalformedTable) {
  std::string many_open_attrs;
  for (int i = 0; i < 50'000; ++i) many_open_attrs += "<AssumeRoleResponse a=\"";
  std::string many_end_tags = "<AssumeRoleResponse>";
  for (int i = 0; i < 50'000; ++i) many_end_tags += "</AssumeRoleResponse   x";

  struct Case {
    std::string name;
    int status;
    std::string body;
  };
  const Case kCases[] = {
      {"empty", 200, ""},
      {"not XML", 200, "hello"},
      {"HTML error page", 502, "<html><body>Bad Gateway</body></html>"},
      {"empty error page", 503, ""},
      {"error without code", 400,
       "<ErrorResponse><Error><Message>m</Message></Error></ErrorResponse>"},
      {"error with empty code", 400,
       "<ErrorResponse><Error><Code> </Code></Error></ErrorResponse>"},
      {"error with bad entity", 400,
       "<ErrorResponse><Error><Code>&bogus;</Code></Error></ErrorResponse>"},
      {"unclosed tags", 200, "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>AK"},
      {"unclosed start tag", 200, "<AssumeRoleResponse"},
      {"unclosed attribute", 200, "<AssumeRoleResponse a=\">...</AssumeRoleResponse>"},
      {"no root", 200, "<AssumeRoleResult></AssumeRoleResult>"},
      {"missing token", 200,
       Answer("<AccessKeyId>AK</AccessKeyId><SecretAccessKey>SK</SecretAccessKey>"
              "<Expiration>2011-07-15T23:28:33Z</Expiration>")},
      {"empty token", 200,
       Answer("<AccessKeyId>AK</AccessKeyId><SecretAccessKey>SK</SecretAccessKey>"
              "<SessionToken> \n </SessionToken><Expiration>2011-07-15T23:28:33Z</Expiration>")},
      {"nested element in a leaf", 200,
       Answer("<AccessKeyId><b>AK</b></AccessKeyId><SecretAccessKey>SK</SecretAccessKey>"
              "<SessionToken>T</SessionToken><Expiration>2011-07-15T23:28:33Z</Expiration>")},
      {"entity cut at the end", 200,
       Answer("<AccessKeyId>AK&amp</AccessKeyId><SecretAccessKey>SK</SecretAccessKey>"
              "<SessionToken>T</SessionToken><Expiration>2011-07-15T23:28:33Z</Expiration>")},
      {"lone ampersand", 200,
       Answer("<AccessKeyId>A&K</AccessKeyId><SecretAccessKey>SK</SecretAccessKey>"
              "<SessionToken>T</SessionToken><Expiration>2011-07-15T23:28:33Z</Expiration>")},
      {"bad date", 200,
       Answer("<AccessKeyId>AK</AccessKeyId><SecretAccessKey>SK</SecretAccessKey>"
              "<SessionToken>T</SessionToken><Expiration>2019-02-29T00:00:00Z</Expiration>")},
      {"1 MB of '<'", 200, std::string(1'000'000, '<')},
      {"1 MB of '&'", 200,
       Answer("<AccessKeyId>" + std::string(1'000'000, '&') + "</AccessKeyId>")},
      {"over the size limit", 200, std::string(kMaxStsResponseBytes + 1, '<')},
      {"many unclosed attributes", 200, many_open_attrs},
      {"many near-miss end tags", 200, many_end_tags},
      {"NUL bytes", 200, std::string(1000, '\0')},
  };
  for (const Case& c : kCases) ExpectMalformed(c.status, c.body, c.name);
}

TEST(ParseAssumeRoleResponseTest, EveryTruncationOfTheDocumentedExampleFails) {
  for (size_t n = 0; n < kDocumentedResponse.size(); ++n) {
    const Result<TemporaryCredentials> parsed =
        ParseAssumeRoleResponse(200, kDocumentedResponse.substr(0, n));
    EXPECT_FALSE(parsed.ok()) << n;
  }
}

// A cheap, deterministic stand-in for the fuzzer: random edits of the documented answer must
// never crash (the sanitizers watch) and must either parse or fail cleanly.
TEST(ParseAssumeRoleResponseTest, RandomEditsDoNotCrash) {
  std::mt19937 rng(20150830);
  const std::string kAlphabet = "<>/&;#x\"'= AZaz09\n\0\xff"s;
  for (int round = 0; round < 20'000; ++round) {
    std::string body(kDocumentedResponse);
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      const size_t at = rng() % body.size();
      const char ch = kAlphabet[rng() % kAlphabet.size()];
      switch (rng() % 4) {
        case 0:
          body[at] = ch;
          break;
        case 1:
          body.insert(body.begin() + static_cast<std::ptrdiff_t>(at), ch);
          break;
        case 2:
          body.erase(at, 1 + rng() % 16);
          break;
        default:
          body.resize(at);
          break;
      }
    }
    const Result<TemporaryCredentials> parsed = ParseAssumeRoleResponse(200, body);
    if (!parsed.ok()) {
      EXPECT_TRUE(parsed.error().code == Errc::kUnavailable ||
                  parsed.error().code == Errc::kInvalidArgument);
    }
  }
}

// --- The XML pieces -------------------------------------------------------------------------

TEST(FindXmlElementTest, Table) {
  struct Case {
    std::string xml;
    std::string name;
    std::optional<std::string> content;
  };
  const Case kCases[] = {
      {"<a>x</a>", "a", "x"},
      {"<a b=\"1\">x</a>", "a", "x"},
      {"<a b='>'>x</a>", "a", "x"},
      {"<a\n>x</a >", "a", "x"},
      {"<a/>", "a", ""},
      {"<a />", "a", ""},
      {"<ab>1</ab><a>2</a>", "a", "2"},
      {"<a>1</ab></a>", "a", "1</ab>"},
      {"<a>1</a><a>2</a>", "a", "1"},
      {"<p><a>1</a></p>", "a", "1"},
      {"<a>", "a", std::nullopt},
      {"<a>x</a", "a", std::nullopt},
      {"<a>x</a x>", "a", std::nullopt},
      {"<a", "a", std::nullopt},
      {"<a b='", "a", std::nullopt},
      {"<", "a", std::nullopt},
      {"", "a", std::nullopt},
      {"<b>x</b>", "a", std::nullopt},
      {"<a>x</a>", "", std::nullopt},
  };
  for (const Case& c : kCases) {
    std::optional<std::string_view> found = FindXmlElement(c.xml, c.name);
    ASSERT_EQ(found.has_value(), c.content.has_value()) << c.xml;
    if (found) {
      EXPECT_EQ(*found, *c.content) << c.xml;
    }
  }
}

TEST(XmlUnescapeTest, Table) {
  struct Case {
    std::string text;
    std::optional<std::string> out;
  };
  const Case kCases[] = {
      {"plain", "plain"},
      {"", ""},
      {"&amp;&lt;&gt;&quot;&apos;", "&<>\"'"},
      {"&#65;&#x41;&#X41;", std::nullopt},  // XML spells hex references with a lower-case x
      {"&#65;&#x41;&#x00041;", "AAA"},
      {"&#xe9;&#x20AC;&#x10FFFF;", "\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf"},
      {"&#x110000;", std::nullopt},
      {"&#99999999999999;", std::nullopt},
      {"&#0;", std::nullopt},
      {"&#xD800;", std::nullopt},
      {"&#xFFFE;", std::nullopt},
      {"&#;", std::nullopt},
      {"&#x;", std::nullopt},
      {"&#12a;", std::nullopt},
      {"&nbsp;", std::nullopt},
      {"&;", std::nullopt},
      {"&", std::nullopt},
      {"x&amp", std::nullopt},
      {"&#x41", std::nullopt},
      {"&#x00000000000000041;", std::nullopt},  // longer than any sane reference
      {"a<b", std::nullopt},
      {"a>b", "a>b"},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(XmlUnescape(c.text), c.out) << c.text;
  }
}

TEST(ParseIso8601UtcMillisTest, Table) {
  struct Case {
    std::string text;
    std::optional<int64_t> millis;
  };
  const Case kCases[] = {
      {"2011-07-15T23:28:33.359Z", 1310772513359},
      {"2011-07-15T23:28:33Z", 1310772513000},
      {"2011-07-15T23:28:33.3Z", 1310772513300},
      {"2011-07-15T23:28:33.123456789Z", 1310772513123},
      {"1970-01-01T00:00:00Z", 0},
      {"2024-02-29T00:00:00Z", 1709164800000},
      {"2023-02-29T00:00:00Z", std::nullopt},
      {"2011-07-15T23:28:33.1234567890Z", std::nullopt},
      {"2011-07-15T23:28:33.Z", std::nullopt},
      {"2011-07-15T23:28:33", std::nullopt},
      {"2011-07-15T23:28:33+00:00", std::nullopt},
      {"2011-07-15 23:28:33Z", std::nullopt},
      {"2011-13-15T23:28:33Z", std::nullopt},
      {"2011-00-15T23:28:33Z", std::nullopt},
      {"2011-07-32T23:28:33Z", std::nullopt},
      {"2011-07-15T24:00:00Z", std::nullopt},
      {"2011-07-15T23:60:00Z", std::nullopt},
      {"2011-07-15T23:28:60Z", std::nullopt},
      {"2011-07-15T23:28:33ZZ", std::nullopt},
      {"2011-7-15T23:28:33Z", std::nullopt},
      {"+011-07-15T23:28:33Z", std::nullopt},
      {"", std::nullopt},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(ParseIso8601UtcMillis(c.text), c.millis) << c.text;
  }
}

}  // namespace
}  // namespace tr::auth
