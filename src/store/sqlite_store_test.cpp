// Tests for SqliteStore (store/sqlite_store.h) against a real SQLite file in a fresh
// temporary folder per test.

#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/ids.h"

namespace tr {
namespace {

namespace fs = std::filesystem;

// A fresh folder under the test temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::path(testing::TempDir()) / "sqlite_store_XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// Runs a one-value query on its own read-only connection: a view of the file that does not
// go through the store.
int64_t QueryInt(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  int64_t value = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      value = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return value;
}

Workspace MakeWorkspace(const std::string& id, int64_t created_at = 1000) {
  return Workspace{id, "name of " + id, created_at};
}

CustomerIntegration MakeCustomerIntegration(const std::string& workspace_id,
                                            const std::string& id, int64_t created_at,
                                            bool active = true) {
  CustomerIntegration ci;
  ci.customer_integration_id = id;
  ci.workspace_id = workspace_id;
  ci.integration_id = "github";
  ci.auth_type = AuthType::kApiToken;
  ci.active = active;
  ci.external_id = "external-" + id;
  ci.created_at = created_at;
  ci.updated_at = created_at;
  return ci;
}

IntegrationUser MakeUser(const std::string& cid, const std::string& user_id, int64_t now,
                         bool active = false) {
  IntegrationUser user;
  user.customer_integration_id = cid;
  user.user_id = user_id;
  user.active = active;
  user.created_at = user.updated_at = now;
  return user;
}

// A session with unique hashes (both are unique columns).
ConnectSession MakeSession(const std::string& cid, const std::string& user_id, int64_t now) {
  ConnectSession s;
  s.token_hash = HashSecret(NewToken());
  s.customer_integration_id = cid;
  s.user_id = user_id;
  s.state_hash = HashSecret(NewToken());
  s.pkce_verifier = SealedSecret{"keyid", "sealed-verifier"};
  s.created_at = now;
  s.expires_at = now + 900'000;
  return s;
}

class SqliteStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("toolregistry.db");
    auto opened = SqliteStore::Open(path_);
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    store_ = std::move(opened.value());
  }

  // Creates workspace `ws` and customer integration `cid` in it.
  void CreateIntegration(const std::string& ws, const std::string& cid) {
    ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace(ws)).ok());
    ASSERT_TRUE(store_->CreateCustomerIntegration(MakeCustomerIntegration(ws, cid, 1000)).ok());
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteStoreTest, OpenAppliesMigrationsAndReopens) {
  // Every migration applied, each once (the count grows as migrations are added).
  const int64_t versions = QueryInt(path_, "SELECT MAX(version) FROM schema_migrations");
  EXPECT_GE(versions, 1);
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM schema_migrations"), versions);
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'connect_sessions'"),
            1);
  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-1")).ok());

  // A second store on the same file while the first is open.
  auto second = SqliteStore::Open(path_);
  ASSERT_TRUE(second.ok()) << second.error().message();
  auto seen = (*second)->FindWorkspace("ws-1");
  ASSERT_TRUE(seen.ok());
  EXPECT_TRUE(seen->has_value());
  second.value().reset();

  // Closed and opened again: the data is there and no migration ran twice.
  store_.reset();
  auto reopened = SqliteStore::Open(path_);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message();
  auto found = (*reopened)->FindWorkspace("ws-1");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->name, "name of ws-1");
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM schema_migrations"), versions);
}

TEST_F(SqliteStoreTest, OpenInAMissingFolderIsUnavailable) {
  auto opened = SqliteStore::Open(dir_.File("no/such/folder/db.sqlite"));
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, Errc::kUnavailable);
}

TEST_F(SqliteStoreTest, WorkspaceCreateAndFind) {
  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-1", 1234)).ok());
  auto found = store_->FindWorkspace("ws-1");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->workspace_id, "ws-1");
  EXPECT_EQ((*found)->name, "name of ws-1");
  EXPECT_EQ((*found)->created_at, 1234);

  auto missing = store_->FindWorkspace("ws-2");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  Status duplicate = store_->CreateWorkspace(MakeWorkspace("ws-1"));
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().code, Errc::kConflict);
}

TEST_F(SqliteStoreTest, ApiKeyCreateFindRevoke) {
  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-1")).ok());
  ApiKeyRecord key{"key-1", "ws-1", HashSecret("sk_live_x"), 1000, std::nullopt};
  ASSERT_TRUE(store_->CreateApiKey(key).ok());

  auto found = store_->FindApiKeyByHash(HashSecret("sk_live_x"));
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->key_id, "key-1");
  EXPECT_EQ((*found)->workspace_id, "ws-1");
  EXPECT_EQ((*found)->key_hash, HashSecret("sk_live_x"));
  EXPECT_EQ((*found)->created_at, 1000);
  EXPECT_FALSE((*found)->revoked_at.has_value());

  auto unknown_hash = store_->FindApiKeyByHash(HashSecret("sk_live_y"));
  ASSERT_TRUE(unknown_hash.ok());
  EXPECT_FALSE(unknown_hash->has_value());

  ASSERT_TRUE(store_->RevokeApiKey("key-1", 2000).ok());
  auto revoked = store_->FindApiKeyByHash(HashSecret("sk_live_x"));
  ASSERT_TRUE(revoked.ok() && revoked->has_value());
  EXPECT_EQ((*revoked)->revoked_at, 2000);

  // Revoking again succeeds and keeps the first time.
  ASSERT_TRUE(store_->RevokeApiKey("key-1", 3000).ok());
  auto again = store_->FindApiKeyByHash(HashSecret("sk_live_x"));
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->revoked_at, 2000);

  Status unknown = store_->RevokeApiKey("key-404", 2000);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::kNotFound);
}

TEST_F(SqliteStoreTest, ApiKeyForAnUnknownWorkspaceIsRefused) {
  Status s = store_->CreateApiKey({"key-1", "ws-404", HashSecret("k"), 1000, std::nullopt});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kConflict);
}

TEST_F(SqliteStoreTest, CustomerIntegrationRoundTripsEveryField) {
  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-1")).ok());
  CustomerIntegration ci = MakeCustomerIntegration("ws-1", "ci-1", 1000);
  ci.integration_id = "acme";
  ci.source = IntegrationSource::kCustom;
  ci.auth_type = AuthType::kOAuth2;
  ci.client_id = "client-id";
  ci.client_secret = SealedSecret{"key-id", std::string("\x00\x01sealed\xff", 9)};
  ci.scopes = std::vector<std::string>{"a", "b c"};
  ci.updated_at = 1500;
  ASSERT_TRUE(store_->CreateCustomerIntegration(ci).ok());
  ASSERT_TRUE(store_->CreateCustomerIntegration(MakeCustomerIntegration("ws-1", "ci-2", 1000)).ok());

  auto found = store_->FindCustomerIntegration("ci-1");
  ASSERT_TRUE(found.ok() && found->has_value());
  const CustomerIntegration& got = **found;
  EXPECT_EQ(got.customer_integration_id, "ci-1");
  EXPECT_EQ(got.workspace_id, "ws-1");
  EXPECT_EQ(got.integration_id, "acme");
  EXPECT_EQ(got.source, IntegrationSource::kCustom);
  EXPECT_EQ(got.auth_type, AuthType::kOAuth2);
  EXPECT_TRUE(got.active);
  EXPECT_EQ(got.client_id, "client-id");
  EXPECT_EQ(got.client_secret.key_id, "key-id");
  EXPECT_EQ(got.client_secret.blob, ci.client_secret.blob);
  EXPECT_EQ(got.scopes, ci.scopes);
  EXPECT_EQ(got.external_id, "external-ci-1");
  EXPECT_EQ(got.created_at, 1000);
  EXPECT_EQ(got.updated_at, 1500);

  auto plain = store_->FindCustomerIntegration("ci-2");
  ASSERT_TRUE(plain.ok() && plain->has_value());
  EXPECT_EQ((*plain)->source, IntegrationSource::kCatalog);
  EXPECT_EQ((*plain)->auth_type, AuthType::kApiToken);
  EXPECT_FALSE((*plain)->scopes.has_value());
  EXPECT_TRUE((*plain)->client_secret.empty());

  auto missing = store_->FindCustomerIntegration("ci-404");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

std::vector<std::string> Ids(const std::vector<CustomerIntegration>& list) {
  std::vector<std::string> ids;
  for (const auto& ci : list) ids.push_back(ci.customer_integration_id);
  return ids;
}

TEST_F(SqliteStoreTest, ListCustomerIntegrationsOrdersAndFilters) {
  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-1")).ok());
  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-2")).ok());
  // Inserted out of order; "b" and "c" share a created_at, so the id breaks the tie.
  for (const auto& [id, created_at, active] :
       std::vector<std::tuple<std::string, int64_t, bool>>{
           {"d", 300, true}, {"c", 100, false}, {"b", 100, true}, {"a", 200, true}, {"e", 50, false}}) {
    ASSERT_TRUE(
        store_->CreateCustomerIntegration(MakeCustomerIntegration("ws-1", id, created_at, active))
            .ok());
  }
  ASSERT_TRUE(store_->CreateCustomerIntegration(MakeCustomerIntegration("ws-2", "z", 10)).ok());

  auto all = store_->ListCustomerIntegrations("ws-1", std::nullopt);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Ids(*all), (std::vector<std::string>{"e", "b", "c", "a", "d"}));

  auto active = store_->ListCustomerIntegrations("ws-1", true);
  ASSERT_TRUE(active.ok());
  EXPECT_EQ(Ids(*active), (std::vector<std::string>{"b", "a", "d"}));

  auto inactive = store_->ListCustomerIntegrations("ws-1", false);
  ASSERT_TRUE(inactive.ok());
  EXPECT_EQ(Ids(*inactive), (std::vector<std::string>{"e", "c"}));

  auto other = store_->ListCustomerIntegrations("ws-2", std::nullopt);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(Ids(*other), (std::vector<std::string>{"z"}));

  auto empty = store_->ListCustomerIntegrations("ws-404", true);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_F(SqliteStoreTest, SetCustomerIntegrationActive) {
  CreateIntegration("ws-1", "ci-1");
  ASSERT_TRUE(store_->SetCustomerIntegrationActive("ci-1", false, 2000).ok());
  auto found = store_->FindCustomerIntegration("ci-1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_FALSE((*found)->active);
  EXPECT_EQ((*found)->updated_at, 2000);

  // Setting the value it already has changes nothing, not even updated_at.
  ASSERT_TRUE(store_->SetCustomerIntegrationActive("ci-1", false, 3000).ok());
  found = store_->FindCustomerIntegration("ci-1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->updated_at, 2000);

  ASSERT_TRUE(store_->SetCustomerIntegrationActive("ci-1", true, 4000).ok());
  found = store_->FindCustomerIntegration("ci-1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_TRUE((*found)->active);
  EXPECT_EQ((*found)->updated_at, 4000);

  Status unknown = store_->SetCustomerIntegrationActive("ci-404", true, 5000);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::kNotFound);
}

TEST_F(SqliteStoreTest, CreateUserAndSessionKeepsAnExistingUser) {
  CreateIntegration("ws-1", "ci-1");
  ASSERT_TRUE(
      store_->CreateUserAndSession(MakeUser("ci-1", "u-1", 1000), MakeSession("ci-1", "u-1", 1000))
          .ok());
  auto first = store_->FindUser("ci-1", "u-1");
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->customer_integration_id, "ci-1");
  EXPECT_EQ((*first)->user_id, "u-1");
  EXPECT_FALSE((*first)->active);
  EXPECT_EQ((*first)->created_at, 1000);
  EXPECT_EQ((*first)->updated_at, 1000);
  EXPECT_TRUE((*first)->credentials.empty());

  // The second call brings a different user value; the stored one must stay as it is.
  ASSERT_TRUE(store_->CreateUserAndSession(MakeUser("ci-1", "u-1", 5000, /*active=*/true),
                                           MakeSession("ci-1", "u-1", 5000))
                  .ok());
  auto second = store_->FindUser("ci-1", "u-1");
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_FALSE((*second)->active);
  EXPECT_EQ((*second)->created_at, 1000);
  EXPECT_EQ((*second)->updated_at, 1000);

  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM integration_users"), 1);
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM connect_sessions"), 2);
}

TEST_F(SqliteStoreTest, CreateUserAndSessionForAnActiveUser) {
  CreateIntegration("ws-1", "ci-1");
  ASSERT_TRUE(store_->CreateUserAndSession(MakeUser("ci-1", "u-1", 1000, /*active=*/true),
                                           MakeSession("ci-1", "u-1", 1000))
                  .ok());
  auto user = store_->FindUser("ci-1", "u-1");
  ASSERT_TRUE(user.ok() && user->has_value());
  EXPECT_TRUE((*user)->active);
}

TEST_F(SqliteStoreTest, CreateUserAndSessionIsAtomic) {
  CreateIntegration("ws-1", "ci-1");
  ConnectSession session = MakeSession("ci-1", "u-1", 1000);
  ASSERT_TRUE(store_->CreateUserAndSession(MakeUser("ci-1", "u-1", 1000), session).ok());

  // The user insert succeeds, then the session insert hits the unique token hash: the
  // whole write is undone.
  ConnectSession clash = session;
  clash.user_id = "u-2";
  clash.state_hash = HashSecret(NewToken());
  Status s = store_->CreateUserAndSession(MakeUser("ci-1", "u-2", 2000), clash);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kConflict);
  auto user = store_->FindUser("ci-1", "u-2");
  ASSERT_TRUE(user.ok());
  EXPECT_FALSE(user->has_value());
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM integration_users"), 1);
}

TEST_F(SqliteStoreTest, FindUser) {
  CreateIntegration("ws-1", "ci-1");
  const std::string unicode = "a/b \xc3\xbc\xf0\x9f\x98\x80";
  ASSERT_TRUE(store_->CreateUserAndSession(MakeUser("ci-1", unicode, 1000),
                                           MakeSession("ci-1", unicode, 1000))
                  .ok());
  auto found = store_->FindUser("ci-1", unicode);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->user_id, unicode);

  for (const auto& [cid, user_id] : {std::pair<std::string, std::string>{"ci-1", "a/b"},
                                     {"ci-1", "A/B \xc3\xbc\xf0\x9f\x98\x80"},
                                     {"ci-2", unicode}}) {
    auto missing = store_->FindUser(cid, user_id);
    ASSERT_TRUE(missing.ok());
    EXPECT_FALSE(missing->has_value()) << cid << " " << user_id;
  }
}

TEST_F(SqliteStoreTest, UserForAnUnknownCustomerIntegrationIsRefused) {
  Status s = store_->CreateUserAndSession(MakeUser("ci-404", "u-1", 1000),
                                          MakeSession("ci-404", "u-1", 1000));
  ASSERT_FALSE(s.ok());
  auto user = store_->FindUser("ci-404", "u-1");
  ASSERT_TRUE(user.ok());
  EXPECT_FALSE(user->has_value());  // the failed write left nothing behind
}

TEST_F(SqliteStoreTest, BootstrapOnceClaimsExactlyOnce) {
  auto first = store_->BootstrapOnce(MakeWorkspace("ws-boot-1"),
                                     {"key-1", "ws-boot-1", HashSecret("k1"), 1000, std::nullopt});
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  auto second = store_->BootstrapOnce(MakeWorkspace("ws-boot-2"),
                                      {"key-2", "ws-boot-2", HashSecret("k2"), 1000, std::nullopt});
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(*second);

  auto ws1 = store_->FindWorkspace("ws-boot-1");
  ASSERT_TRUE(ws1.ok());
  EXPECT_TRUE(ws1->has_value());
  auto key1 = store_->FindApiKeyByHash(HashSecret("k1"));
  ASSERT_TRUE(key1.ok());
  EXPECT_TRUE(key1->has_value());
  auto ws2 = store_->FindWorkspace("ws-boot-2");
  ASSERT_TRUE(ws2.ok());
  EXPECT_FALSE(ws2->has_value());
  auto key2 = store_->FindApiKeyByHash(HashSecret("k2"));
  ASSERT_TRUE(key2.ok());
  EXPECT_FALSE(key2->has_value());

  // Still claimed after reopening.
  store_.reset();
  auto reopened = SqliteStore::Open(path_);
  ASSERT_TRUE(reopened.ok());
  auto third = (*reopened)->BootstrapOnce(
      MakeWorkspace("ws-boot-3"), {"key-3", "ws-boot-3", HashSecret("k3"), 1000, std::nullopt});
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(*third);
}

TEST_F(SqliteStoreTest, RedirectOrigins) {
  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-1")).ok());
  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-2")).ok());
  auto none = store_->ListRedirectOrigins("ws-1");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  ASSERT_TRUE(store_->AddRedirectOrigin("ws-1", "https://b.example.com").ok());
  ASSERT_TRUE(store_->AddRedirectOrigin("ws-1", "https://a.example.com").ok());
  ASSERT_TRUE(store_->AddRedirectOrigin("ws-1", "https://b.example.com").ok());  // no duplicate
  ASSERT_TRUE(store_->AddRedirectOrigin("ws-2", "http://localhost:3000").ok());

  auto origins = store_->ListRedirectOrigins("ws-1");
  ASSERT_TRUE(origins.ok());
  EXPECT_EQ(*origins, (std::vector<std::string>{"https://a.example.com", "https://b.example.com"}));
  auto other = store_->ListRedirectOrigins("ws-2");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(*other, (std::vector<std::string>{"http://localhost:3000"}));
}

TEST_F(SqliteStoreTest, CustomIntegrationUpsert) {
  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-1")).ok());
  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-2")).ok());
  ASSERT_TRUE(store_->PutCustomIntegration({"ws-1", "acme", "{\"v\":1}", 1000, 1000}).ok());
  auto first = store_->FindCustomIntegration("ws-1", "acme");
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->definition_json, "{\"v\":1}");
  EXPECT_EQ((*first)->created_at, 1000);
  EXPECT_EQ((*first)->updated_at, 1000);

  ASSERT_TRUE(store_->PutCustomIntegration({"ws-1", "acme", "{\"v\":2}", 2000, 2000}).ok());
  auto second = store_->FindCustomIntegration("ws-1", "acme");
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->workspace_id, "ws-1");
  EXPECT_EQ((*second)->integration_id, "acme");
  EXPECT_EQ((*second)->definition_json, "{\"v\":2}");
  EXPECT_EQ((*second)->created_at, 1000);  // the first definition's
  EXPECT_EQ((*second)->updated_at, 2000);
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM custom_integrations"), 1);

  auto other = store_->FindCustomIntegration("ws-2", "acme");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
}

// The caller's created_at is stored as given (a regression test: it once took updated_at).
TEST_F(SqliteStoreTest, CustomIntegrationKeepsTheGivenCreatedAt) {
  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-1")).ok());
  ASSERT_TRUE(store_->PutCustomIntegration({"ws-1", "acme", "{}", 1000, 1500}).ok());
  auto found = store_->FindCustomIntegration("ws-1", "acme");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->created_at, 1000);
  EXPECT_EQ((*found)->updated_at, 1500);
}

TEST_F(SqliteStoreTest, ConcurrentWritesAllCommit) {
  CreateIntegration("ws-1", "ci-1");
  constexpr int kThreads = 16;
  constexpr int kPerThread = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string user_id = fmt::format("user-{}-{}", t, i);
        Status s = store_->CreateUserAndSession(MakeUser("ci-1", user_id, 1000 + i),
                                                MakeSession("ci-1", user_id, 1000 + i));
        if (!s.ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);

  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      auto user = store_->FindUser("ci-1", fmt::format("user-{}-{}", t, i));
      ASSERT_TRUE(user.ok());
      ASSERT_TRUE(user->has_value()) << t << " " << i;
      EXPECT_EQ((*user)->created_at, 1000 + i);
    }
  }
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM integration_users"), kThreads * kPerThread);
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM connect_sessions"), kThreads * kPerThread);
}

// Writers race so that failing and succeeding writes share group-commit batches; each
// failure must roll back only its own savepoint.
TEST_F(SqliteStoreTest, AFailingWriteDoesNotFailItsBatch) {
  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("dup")).ok());
  constexpr int kThreads = 16;
  constexpr int kPerThread = 20;
  std::atomic<int> unexpected{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        bool duplicate = (t + i) % 4 == 0;
        std::string id = duplicate ? "dup" : fmt::format("ws-{}-{}", t, i);
        Status s = store_->CreateWorkspace(MakeWorkspace(id));
        if (duplicate && !s.ok() && s.error().code == Errc::kConflict) {
          ++conflicts;
        } else if (duplicate || !s.ok()) {
          ++unexpected;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(conflicts.load(), kThreads * kPerThread / 4);

  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      if ((t + i) % 4 == 0) continue;
      auto ws = store_->FindWorkspace(fmt::format("ws-{}-{}", t, i));
      ASSERT_TRUE(ws.ok());
      EXPECT_TRUE(ws->has_value()) << t << " " << i;
    }
  }
  EXPECT_EQ(QueryInt(path_, "SELECT COUNT(*) FROM workspaces"),
            1 + kThreads * kPerThread - kThreads * kPerThread / 4);
}

TEST_F(SqliteStoreTest, ConcurrentReadsAndWrites) {
  CreateIntegration("ws-1", "ci-1");
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string user_id = fmt::format("user-{}-{}", t, i);
        if (!store_->CreateUserAndSession(MakeUser("ci-1", user_id, 1000),
                                          MakeSession("ci-1", user_id, 1000))
                 .ok()) {
          ++failures;
        }
        auto user = store_->FindUser("ci-1", user_id);  // read-your-write
        if (!user.ok() || !user->has_value()) ++failures;
        if (!store_->ListCustomerIntegrations("ws-1", true).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(SqliteStoreTest, ChangeStampMovesWithEveryConfigurationChangeOfAnyConnection) {
  std::optional<uint64_t> stamp = store_->ChangeStamp();
  ASSERT_TRUE(stamp.has_value());
  EXPECT_EQ(store_->ChangeStamp(), stamp) << "no change, no move";
  // Each change must move the stamp; returns the new one.
  auto moved = [&](const char* what) {
    std::optional<uint64_t> now = store_->ChangeStamp();
    EXPECT_TRUE(now.has_value() && now != stamp) << what;
    stamp = now;
  };

  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-1")).ok());
  moved("workspace created");
  ASSERT_TRUE(store_->AddRedirectOrigin("ws-1", "https://app.example.com").ok());
  moved("redirect origin added");
  ASSERT_TRUE(store_->CreateApiKey(ApiKeyRecord{"key-1", "ws-1", HashSecret("sk_live_x"), 1000, {}}).ok());
  moved("API key created");
  ASSERT_TRUE(store_->RevokeApiKey("key-1", 2000).ok());
  moved("API key revoked");
  ASSERT_TRUE(store_->PutCustomIntegration(CustomIntegration{"ws-1", "custom-1", "{}", 1000, 1000}).ok());
  moved("custom integration defined");
  ASSERT_TRUE(store_->CreateCustomerIntegration(MakeCustomerIntegration("ws-1", "cid-1", 1000)).ok());
  moved("customer integration created");
  ASSERT_TRUE(store_->SetCustomerIntegrationActive("cid-1", false, 3000).ok());
  moved("customer integration disabled");

  // Another process (the admin CLI) is another connection: a second store on the file.
  auto other = SqliteStore::Open(path_);
  ASSERT_TRUE(other.ok()) << other.error().message();
  ASSERT_TRUE((*other)->SetCustomerIntegrationActive("cid-1", true, 4000).ok());
  moved("customer integration enabled by another connection");

  // Users and sessions are not configuration: the caches survive them.
  ASSERT_TRUE(store_->CreateUserAndSession(MakeUser("cid-1", "u-1", 5000), MakeSession("cid-1", "u-1", 5000)).ok());
  ASSERT_TRUE(store_->FindWorkspace("ws-1").ok());
  EXPECT_EQ(store_->ChangeStamp(), stamp);
}

}  // namespace
}  // namespace tr
