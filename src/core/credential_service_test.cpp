// Tests for CredentialService (core/credential_service.h) with the services of one server
// (core/test_services.h) on a real SqliteStore in a temporary folder, a FakeClock and a fake
// provider (AWS STS, OAuth token endpoint) standing in for the outbound HTTP client. Two
// CredentialServices on one store stand for two nodes.

#include "core/credential_service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "core/test_services.h"
#include "core/test_support.h"
#include "net/http_client.h"

namespace tr {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kStart = 1757202316580;  // 2025-09-06T23:45:16.580Z
constexpr char kPublicUrl[] = "https://registry.example.test";
constexpr char kRoleA[] = "arn:aws:iam::123456789012:role/RoleA";
constexpr char kRoleB[] = "arn:aws:iam::123456789012:role/RoleB";

// AWS STS and an OAuth token endpoint. AssumeRole answers new keys ("AK-<n>") for an hour
// after kStart; the authorization-code grant answers the refresh token "rt-<n>"; a refresh
// fails with invalid_client while its token is in `refusing`. Thread-safe.
class FakeProvider final : public net::HttpClient {
 public:
  Result<net::HttpResult> Send(const net::HttpCall& call) override {
    std::lock_guard lock(mu_);
    calls_.push_back(call.body);
    net::HttpResult result;
    result.status = 200;
    result.headers = {{"content-type", "application/json"}};
    if (call.body.starts_with("Action=AssumeRole")) {
      result.headers = {{"content-type", "text/xml"}};
      result.body =
          "<AssumeRoleResponse><AssumeRoleResult><AssumedRoleUser><Arn>arn:aws:sts::123456789012:"
          "assumed-role/r/s</Arn></AssumedRoleUser><Credentials><AccessKeyId>AK-" +
          std::to_string(++mints_) +
          "</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>session"
          "</SessionToken><Expiration>2025-09-07T00:45:16Z</Expiration></Credentials>"
          "</AssumeRoleResult></AssumeRoleResponse>";
    } else if (call.body.find("grant_type=authorization_code") != std::string::npos) {
      result.body = R"({"access_token":"at-0","refresh_token":"rt-)" + std::to_string(++codes_) +
                    R"(","expires_in":3600})";
    } else if (call.body.find("grant_type=refresh_token") != std::string::npos) {
      for (const std::string& token : refusing_) {
        if (call.body.find("refresh_token=" + token) != std::string::npos) {
          ++refused_[token];
          result.status = 400;
          result.body = R"({"error":"invalid_client"})";
          return result;
        }
      }
      result.body = R"({"access_token":"at-new","expires_in":3600})";
    } else {
      result.body = "{}";
    }
    return result;
  }
  void Refuse(const std::string& refresh_token) {
    std::lock_guard lock(mu_);
    refusing_.push_back(refresh_token);
  }
  void Accept() {
    std::lock_guard lock(mu_);
    refusing_.clear();
  }
  int refused(const std::string& refresh_token) {
    std::lock_guard lock(mu_);
    return refused_[refresh_token];
  }
  // The AssumeRole calls so far that asked for `role_arn`.
  int AssumeRoleCalls(const std::string& role_arn) {
    std::lock_guard lock(mu_);
    // The role's name ends the RoleArn parameter ("RoleArn" itself starts with "RoleA").
    const std::string param = role_arn.substr(role_arn.rfind('/') + 1) + "&";
    int n = 0;
    for (const std::string& body : calls_) {
      if (body.starts_with("Action=AssumeRole") && body.find(param) != std::string::npos) ++n;
    }
    return n;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> calls_;      // Guarded by mu_
  std::vector<std::string> refusing_;   // Guarded by mu_
  std::map<std::string, int> refused_;  // Guarded by mu_
  int mints_ = 0;                       // Guarded by mu_
  int codes_ = 0;                       // Guarded by mu_
};

// One server's services (node 1) and a second CredentialService on the same store (node 2).
class CredentialServiceTest : public testing::Test {
 protected:
  CredentialServiceTest()
      : dir_(testing_support::MakeTempDir("credential_service")),
        services_(testing_support::EmbeddedCatalog(), dir_ / "toolregistry.db", clock_, keyring_,
                  http_, ApiServiceOptions{kPublicUrl, 900'000}, Options("node-1")),
        node2_(*services_.store, *services_.directory, keyring_, clock_, http_, Options("node-2")),
        workspace_id_(services_.NewWorkspace("acme")) {}
  ~CredentialServiceTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static CredentialOptions Options(const std::string& node_id) {
    CredentialOptions options;
    options.aws.access_key_id = "AKIDSERVICE";
    options.aws.secret_access_key = "service-secret";
    options.node_id = node_id;
    return options;
  }

  std::string AccessKeyOf(CredentialService& node, const std::string& cid,
                          const std::string& user_id) {
    auto creds = node.GetCredentials(workspace_id_, cid, user_id);
    EXPECT_TRUE(creds.ok()) << (creds.ok() ? "" : creds.error().message());
    if (!creds.ok() || !creds->contains("accessKeyId")) return "";
    return std::string(creds->at("accessKeyId").as_string());
  }

  // Events of `type` in the outbox.
  int64_t Events(const std::string& type) {
    return testing_support::QueryInt(
        (dir_ / "toolregistry.db").string(),
        "SELECT COUNT(*) FROM webhook_outbox WHERE type = '" + type + "'");
  }

  fs::path dir_;
  FakeClock clock_{kStart};
  crypto::Keyring keyring_{std::string(crypto::Keyring::kKeySize, 'k')};
  FakeProvider http_;
  testing_support::TestServices services_;
  CredentialService& node1_ = *services_.credentials;
  CredentialService node2_;
  std::string workspace_id_;
};

TEST_F(CredentialServiceTest, MintedAwsKeysAreCachedUntilTheUserReconnects) {
  const std::string cid = services_.Enable(workspace_id_, "aws");
  ASSERT_TRUE(services_.ConnectAwsRole(workspace_id_, cid, "u-1", kRoleA));
  const std::string first = AccessKeyOf(node1_, cid, "u-1");
  const std::string first_on_2 = AccessKeyOf(node2_, cid, "u-1");
  ASSERT_FALSE(first.empty());
  clock_.Advance(60'000);
  EXPECT_EQ(AccessKeyOf(node1_, cid, "u-1"), first);  // cached
  EXPECT_EQ(AccessKeyOf(node2_, cid, "u-1"), first_on_2);
  const int role_a_mints = http_.AssumeRoleCalls(kRoleA);

  // The re-connect runs on neither node's CredentialService: both must see it in the store.
  ASSERT_TRUE(services_.ConnectAwsRole(workspace_id_, cid, "u-1", kRoleB));
  const int role_b_verifications = http_.AssumeRoleCalls(kRoleB);
  const std::string after = AccessKeyOf(node1_, cid, "u-1");
  const std::string after_on_2 = AccessKeyOf(node2_, cid, "u-1");
  EXPECT_NE(after, first);
  EXPECT_NE(after_on_2, first_on_2);
  EXPECT_NE(after_on_2, first);
  EXPECT_EQ(http_.AssumeRoleCalls(kRoleA), role_a_mints);  // nothing minted for the old role
  EXPECT_EQ(http_.AssumeRoleCalls(kRoleB), role_b_verifications + 2);  // one mint per node
  EXPECT_EQ(AccessKeyOf(node1_, cid, "u-1"), after);                   // and cached again
}

TEST_F(CredentialServiceTest, ADeletedUserGetsNoMintedKeysOnAnyNode) {
  const std::string cid = services_.Enable(workspace_id_, "aws");
  ASSERT_TRUE(services_.ConnectAwsRole(workspace_id_, cid, "u-1", kRoleA));
  ASSERT_FALSE(AccessKeyOf(node1_, cid, "u-1").empty());
  ASSERT_FALSE(AccessKeyOf(node2_, cid, "u-1").empty());
  ASSERT_TRUE(node1_.Disconnect(workspace_id_, cid, "u-1").ok());
  for (CredentialService* node : {&node1_, &node2_}) {
    auto creds = node->GetCredentials(workspace_id_, cid, "u-1");
    ASSERT_FALSE(creds.ok());
    EXPECT_EQ(creds.error().code, Errc::kNotFound);
  }
}

// A user whose refresh keeps failing (not invalid_grant) is left alone by the sweep for a
// minute, then two, four... up to an hour; one user.refresh_failed per streak.
TEST_F(CredentialServiceTest, SweepBacksOffFromAFailingUserAndReportsTheStreakOnce) {
  ASSERT_TRUE(services_.admin->SetWebhook(workspace_id_, "https://hooks.example.test/tr").ok());
  const std::string cid = services_.Enable(workspace_id_, "github");
  ASSERT_TRUE(services_.ConnectOAuth(workspace_id_, cid, "u-failing"));  // refresh token rt-1
  clock_.Advance(1);
  ASSERT_TRUE(services_.ConnectOAuth(
      workspace_id_, cid, "u-other"));  // rt-2: expires 1 ms later, second in the sweep's line
  http_.Refuse("rt-1");
  clock_.Advance(3'600'000 - 60'000);  // both tokens within the refresh margin

  EXPECT_EQ(node1_.SweepOnce(), 2);
  EXPECT_EQ(http_.refused("rt-1"), 1);
  EXPECT_EQ(Events("user.refresh_failed"), 1);
  // u-other was refreshed; u-failing waits a minute: the next sweeps find nobody due.
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(10'000);
    EXPECT_EQ(node1_.SweepOnce(), 0);
  }
  EXPECT_EQ(http_.refused("rt-1"), 1);

  clock_.Advance(30'000);            // a minute after the failure: due again
  EXPECT_EQ(node2_.SweepOnce(), 1);  // the backoff is in the store: any node honours it
  EXPECT_EQ(http_.refused("rt-1"), 2);
  clock_.Advance(60'000);  // the second wait is two minutes
  EXPECT_EQ(node1_.SweepOnce(), 0);
  clock_.Advance(60'000);
  EXPECT_EQ(node1_.SweepOnce(), 1);
  EXPECT_EQ(http_.refused("rt-1"), 3);
  EXPECT_EQ(Events("user.refresh_failed"), 1);  // one per streak

  auto user = services_.store->FindUser(cid, "u-failing");
  ASSERT_TRUE(user.ok() && user->has_value());
  EXPECT_EQ((*user)->refresh_failures, 3);
  EXPECT_EQ((*user)->next_refresh_at, clock_.NowMillis() + 4 * 60'000);
  for (int failures = 4; failures <= 10; ++failures) {
    clock_.Set(*(*user)->next_refresh_at);
    EXPECT_GE(node1_.SweepOnce(), 1);  // u-other's token may be due again too
    EXPECT_EQ(http_.refused("rt-1"), failures);
    user = services_.store->FindUser(cid, "u-failing");
    ASSERT_TRUE(user.ok() && user->has_value());
  }
  EXPECT_EQ((*user)->next_refresh_at, clock_.NowMillis() + 3'600'000);  // capped at an hour

  // A success ends the streak; the next failure starts a new one, reported again.
  http_.Accept();
  clock_.Set(*(*user)->next_refresh_at);
  EXPECT_GE(node1_.SweepOnce(), 1);
  user = services_.store->FindUser(cid, "u-failing");
  ASSERT_TRUE(user.ok() && user->has_value());
  EXPECT_EQ((*user)->refresh_failures, 0);
  EXPECT_EQ((*user)->next_refresh_at, std::nullopt);
  http_.Refuse("rt-1");
  clock_.Advance(3'600'000 - 60'000);
  EXPECT_GE(node1_.SweepOnce(), 1);
  EXPECT_EQ(Events("user.refresh_failed"), 2);
}

// A read within the refresh margin whose refresh fails (not for good) gets the token the user
// has while it works; once it has expired, the read fails.
TEST_F(CredentialServiceTest, AReadKeepsAWorkingTokenWhenTheRefreshFails) {
  const std::string cid = services_.Enable(workspace_id_, "github");
  ASSERT_TRUE(services_.ConnectOAuth(workspace_id_, cid, "u-1"));  // at-0, rt-1, an hour
  http_.Refuse("rt-1");
  clock_.Advance(3'600'000 - 60'000);
  auto creds = node1_.GetCredentials(workspace_id_, cid, "u-1");
  ASSERT_TRUE(creds.ok()) << creds.error().message();
  EXPECT_EQ(creds->at("accessToken").as_string(), "at-0");
  EXPECT_EQ(http_.refused("rt-1"), 1);

  clock_.Advance(60'000);  // expired
  auto expired = node1_.GetCredentials(workspace_id_, cid, "u-1");
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, Errc::kUnavailable);

  http_.Accept();
  creds = node1_.GetCredentials(workspace_id_, cid, "u-1");
  ASSERT_TRUE(creds.ok()) << creds.error().message();
  EXPECT_EQ(creds->at("accessToken").as_string(), "at-new");
}

}  // namespace
}  // namespace tr
