// Tests of the parts that several threads use at once, written to be run under
// ThreadSanitizer (make tsan-test) as well as in the ordinary unit-test binary: the rate
// limiter, the keyring reloading a key file while others decrypt, the single-flight OAuth
// refresh, and the webhook dispatcher delivering while connect flows enqueue events. The
// SqliteStore writer (group commit) has its own concurrent tests in sqlite_store_test.cpp.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "core/rate_limiter.h"
#include "core/test_services.h"
#include "core/test_support.h"
#include "core/webhook_dispatcher.h"
#include "crypto/keyring.h"
#include "net/http_client.h"

namespace tr {
namespace {

namespace fs = std::filesystem;

constexpr int kThreads = 8;
constexpr int64_t kStart = 1757202316580;  // 2025-09-06T23:45:16.580Z
constexpr char kPublicUrl[] = "https://registry.example.test";

// Runs `body(i)` on kThreads threads at once and joins them.
template <typename Body>
void RunThreads(Body body) {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < kThreads) std::this_thread::yield();  // start together
      body(i);
    });
  }
  for (auto& thread : threads) thread.join();
}

TEST(ConcurrencyTest, RateLimiterGivesOutExactlyTheBurst) {
  FakeClock clock(kStart);
  RateLimiter limiter(clock, 1, 100);
  std::atomic<int> allowed{0};
  RunThreads([&](int) {
    for (int k = 0; k < 50; ++k) {
      if (limiter.Acquire("key") == 0) ++allowed;
      (void)limiter.Peek("key");
      (void)limiter.Acquire("other-" + std::to_string(k));
    }
  });
  EXPECT_EQ(allowed.load(), 100);
}

TEST(ConcurrencyTest, KeyringReloadsWhileOthersDecrypt) {
  const std::string old_key(crypto::Keyring::kKeySize, 'a');
  const std::string new_key(crypto::Keyring::kKeySize, 'b');
  crypto::Keyring writer(new_key);
  crypto::Sealed sealed = writer.Seal("secret", "ad");

  crypto::Keyring keyring(old_key);  // does not know new_key until it reloads
  std::atomic<int> reloads{0};
  keyring.SetReloader([&] {
    ++reloads;
    return std::vector<std::string>{new_key, old_key};
  });
  std::atomic<int> opened{0};
  RunThreads([&](int i) {
    for (int k = 0; k < 20; ++k) {
      if (keyring.Open(sealed.key_id, sealed.blob, "ad") == "secret") ++opened;
      if (i % 2 == 0) {
        crypto::Sealed mine = keyring.Seal("mine", "ad");
        EXPECT_EQ(keyring.Open(mine.key_id, mine.blob, "ad"), "mine");
      }
      (void)keyring.current_key_id();
    }
  });
  EXPECT_EQ(opened.load(), kThreads * 20);
  EXPECT_GE(reloads.load(), 1);
  EXPECT_EQ(keyring.current_key_id(), crypto::Keyring::KeyId(new_key));
}

// A provider and a webhook receiver: token calls answer fresh tokens, everything else 200.
// Counts token refreshes and webhook deliveries; thread-safe.
class FakeProvider final : public net::HttpClient {
 public:
  Result<net::HttpResult> Send(const net::HttpCall& call) override {
    net::HttpResult result;
    result.status = 200;
    result.headers = {{"content-type", "application/json"}};
    std::lock_guard lock(mu_);
    if (call.body.find("grant_type=refresh_token") != std::string::npos) {
      ++refreshes_;
      result.body = R"({"access_token":"at-)" + std::to_string(refreshes_) +
                    R"(","refresh_token":"rt-2","expires_in":3600})";
    } else if (call.body.find("grant_type=authorization_code") != std::string::npos) {
      result.body = R"({"access_token":"at-0","refresh_token":"rt-1","expires_in":3600})";
    } else if (call.url.starts_with("https://hooks.example.test/")) {
      ++webhooks_;
      cv_.notify_all();
      result.body = "{}";
    } else {
      result.body = "{}";
    }
    return result;
  }
  int refreshes() {
    std::lock_guard lock(mu_);
    return refreshes_;
  }
  // True once `count` webhooks arrived, false after 60 s without them.
  bool WaitForWebhooks(int count) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return webhooks_ >= count; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int refreshes_ = 0;  // Guarded by mu_
  int webhooks_ = 0;   // Guarded by mu_
};

class ServicesTest : public testing::Test {
 protected:
  ServicesTest()
      : dir_(testing_support::MakeTempDir("concurrency")),
        services_(testing_support::EmbeddedCatalog(), dir_ / "toolregistry.db", clock_, keyring_,
                  http_, ApiServiceOptions{kPublicUrl, 900'000}),
        workspace_id_(services_.NewWorkspace("acme")) {}
  ~ServicesTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  fs::path dir_;
  FakeClock clock_{kStart};
  crypto::Keyring keyring_{std::string(crypto::Keyring::kKeySize, 'k')};
  FakeProvider http_;
  testing_support::TestServices services_;
  std::string workspace_id_;
};

TEST_F(ServicesTest, ConcurrentReadsOfAnExpiredTokenRefreshOnce) {
  const std::string cid = services_.Enable(workspace_id_, "github");
  ASSERT_TRUE(services_.ConnectOAuth(workspace_id_, cid, "u-1"));
  clock_.Advance(3'600'000);  // the access token has expired
  std::atomic<int> fresh{0};
  RunThreads([&](int) {
    auto creds = services_.credentials->GetCredentials(workspace_id_, cid, "u-1");
    ASSERT_TRUE(creds.ok()) << creds.error().message();
    if (creds->contains("accessToken") && creds->at("accessToken").as_string() == "at-1") ++fresh;
  });
  EXPECT_EQ(http_.refreshes(), 1);
  EXPECT_EQ(fresh.load(), kThreads);
}

TEST_F(ServicesTest, WebhooksAreDeliveredWhileConnectsRun) {
  ASSERT_TRUE(services_.admin->SetWebhook(workspace_id_, "https://hooks.example.test/tr").ok());
  const std::string cid = services_.Enable(workspace_id_, "stripe");
  WebhookOptions options;
  options.poll_interval = std::chrono::milliseconds(5);
  options.threads = 4;
  WebhookDispatcher dispatcher(*services_.store, keyring_, clock_, http_, options);
  dispatcher.Start();
  std::atomic<int> connected{0};
  RunThreads([&](int i) {
    for (int k = 0; k < 3; ++k) {
      std::string user_id = "u-" + std::to_string(i) + "-" + std::to_string(k);
      if (services_.ConnectApiToken(workspace_id_, cid, user_id, "sk_test_1")) ++connected;
    }
  });
  EXPECT_EQ(connected.load(), kThreads * 3);
  EXPECT_TRUE(http_.WaitForWebhooks(kThreads * 3));
  dispatcher.Stop();
}

}  // namespace
}  // namespace tr
