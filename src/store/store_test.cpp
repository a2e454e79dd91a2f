// Tests of the Store semantics (store/store.h), run against both implementations: SqliteStore
// on a real SQLite file in a fresh temporary folder per test, and PgStore on a fresh database
// per test in the PostgreSQL server named by TOOLREGISTRY_TEST_PG_URL (an admin URL; the
// PostgreSQL cases are skipped when it is not set; `make unit-test-pg` sets it).

#include "store/pg_store.h"
#include "store/sqlite_store.h"
#include "store/sqlite_vfs.h"
#include "store/wal_index.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/clock.h"
#include "core/ids.h"
#include "core/janitor.h"

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

// A one-number query on `db`.
int64_t QueryOn(SqliteDb& db, const char* sql) {
  auto s = db.Prepare(sql);
  return s->Step() ? s->Int(0) : -1;
}

// Runs `sql` on a connection of its own, read-write: another process editing the file.
void ExecOnOwnConnection(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
            SQLITE_OK);
  char* message = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (message ? message : "");
  sqlite3_free(message);
  sqlite3_close(db);
}

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

// kSqlitePlain: SQLite with SqliteStore::Io::kPlain (--sqlite-io=plain).
enum class Backend { kSqlite, kSqlitePlain, kPostgres };

// The admin URL `url` with its database name replaced by `name` (query string kept).
std::string WithDatabase(const std::string& url, const std::string& name) {
  size_t authority = url.find("://");
  size_t slash = url.find('/', authority == std::string::npos ? 0 : authority + 3);
  if (slash == std::string::npos) return url + "/" + name;
  size_t query = url.find('?', slash);
  return url.substr(0, slash) + "/" + name +
         (query == std::string::npos ? "" : url.substr(query));
}

class StoreTest : public testing::TestWithParam<Backend> {
 protected:
  bool IsSqlite() const { return GetParam() != Backend::kPostgres; }

  void SetUp() override {
    if (GetParam() == Backend::kPostgres) {
      const char* admin = std::getenv("TOOLREGISTRY_TEST_PG_URL");
      if (admin == nullptr || *admin == '\0') GTEST_SKIP() << "TOOLREGISTRY_TEST_PG_URL is not set";
      admin_url_ = admin;
      std::string name = "tr_ut_" + HashSecret(NewToken()).substr(0, 12);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      PgConn(admin_url_).Exec(("CREATE DATABASE " + name).c_str());
      pg_databases_.push_back(name);
      path_ = WithDatabase(admin_url_, name);
    } else {
      path_ = dir_.File("toolregistry.db");
    }
    store_ = Open();
    ASSERT_TRUE(store_ != nullptr);
  }

  void TearDown() override {
    store_.reset();
    for (const std::string& name : pg_databases_) {
      PgConn(admin_url_).Exec(("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").c_str());
    }
  }

  // Points path_ at a new, empty database (a new file, or a new PostgreSQL database).
  void UseNewDatabase(const std::string& name) {
    if (IsSqlite()) {
      path_ = dir_.File(name + ".db");
      return;
    }
    std::string database = pg_databases_.front() + "_" + name;
    PgConn(admin_url_).Exec(("CREATE DATABASE " + database).c_str());
    pg_databases_.push_back(database);
    path_ = WithDatabase(admin_url_, database);
  }

  // A new store on this test's database; nullptr (and a test failure) when it cannot open.
  std::unique_ptr<Store> Open() {
    if (GetParam() == Backend::kPostgres) {
      auto opened = PgStore::Open(path_);
      EXPECT_TRUE(opened.ok()) << opened.error().message();
      return opened.ok() ? std::move(opened.value()) : nullptr;
    }
    auto opened = SqliteStore::Open(
        path_, SqliteStore::Commits::kGroup,
        GetParam() == Backend::kSqlitePlain ? SqliteStore::Io::kPlain : SqliteStore::Io::kTr);
    EXPECT_TRUE(opened.ok()) << opened.error().message();
    return opened.ok() ? std::move(opened.value()) : nullptr;
  }

  // A one-number query on a connection of its own: a view that does not go through the store.
  int64_t Query(const std::string& sql) {
    if (IsSqlite()) return QueryInt(path_, sql.c_str());
    PgConn db(path_);
    return db.Exec(sql.c_str()).Int(0, 0);
  }
  int64_t Count(const std::string& table) { return Query("SELECT COUNT(*) FROM " + table); }

  // Creates workspace `ws` and customer integration `cid` in it.
  void CreateIntegration(const std::string& ws, const std::string& cid) {
    ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace(ws)).ok());
    ASSERT_TRUE(store_->CreateCustomerIntegration(MakeCustomerIntegration(ws, cid, 1000)).ok());
  }

  TempDir dir_;
  std::string admin_url_;
  std::vector<std::string> pg_databases_;  // created by the test, dropped after it
  std::string path_;  // the SQLite file or the PostgreSQL URL
  std::unique_ptr<Store> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         testing::Values(Backend::kSqlite, Backend::kSqlitePlain,
                                         Backend::kPostgres),
                         [](const testing::TestParamInfo<Backend>& info) {
                           switch (info.param) {
                             case Backend::kSqlite:
                               return "Sqlite";
                             case Backend::kSqlitePlain:
                               return "SqlitePlain";
                             default:
                               return "Postgres";
                           }
                         });

TEST_P(StoreTest, OpenAppliesMigrationsAndReopens) {
  // Every migration applied, each once (the count grows as migrations are added).
  const int64_t versions = Query("SELECT MAX(version) FROM schema_migrations");
  EXPECT_GE(versions, 1);
  EXPECT_EQ(Count("schema_migrations"), versions);
  EXPECT_EQ(Count("connect_sessions"), 0);  // the table exists
  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-1")).ok());

  // A second store on the same file while the first is open.
  std::unique_ptr<Store> second = Open();
  ASSERT_TRUE(second != nullptr);
  auto seen = second->FindWorkspace("ws-1");
  ASSERT_TRUE(seen.ok());
  EXPECT_TRUE(seen->has_value());
  second.reset();

  // Closed and opened again: the data is there and no migration ran twice.
  store_.reset();
  std::unique_ptr<Store> reopened = Open();
  ASSERT_TRUE(reopened != nullptr);
  auto found = reopened->FindWorkspace("ws-1");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->name, "name of ws-1");
  EXPECT_EQ(Count("schema_migrations"), versions);
}

// Readers keep their snapshot between reads while nothing commits: a commit by another
// connection (another process) must be seen by the very next read, never an older snapshot.
TEST_P(StoreTest, ReadsSeeAnotherConnectionsCommitAtOnce) {
  std::unique_ptr<Store> other = Open();
  ASSERT_TRUE(other != nullptr);
  for (int i = 0; i < 20; ++i) {
    const std::string id = "ws-" + std::to_string(i);
    auto before = store_->FindWorkspace(id);
    ASSERT_TRUE(before.ok());
    EXPECT_FALSE(before->has_value()) << id;
    ASSERT_TRUE(other->CreateWorkspace(MakeWorkspace(id)).ok());
    auto after = store_->FindWorkspace(id);
    ASSERT_TRUE(after.ok());
    EXPECT_TRUE(after->has_value()) << id << " committed by another connection, not seen";
  }
}

TEST(SqliteStoreTest, OpenInAMissingFolderIsUnavailable) {
  TempDir dir;
  auto opened = SqliteStore::Open(dir.File("no/such/folder/db.sqlite"));
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, Errc::kUnavailable);
}

// The syncer's checkpoints copy the WAL into the database file. Its connection had never
// read, so SQLite's checkpoint found no WAL open, copied nothing and said it was done: the
// database file stayed at its first size and the WAL only grew (found by tests/powerloss).
TEST(SqliteStoreTest, TheSyncerCheckpointsTheWalIntoTheDatabaseFile) {
  TempDir dir;
  const std::string path = dir.File("checkpointed.db");
  auto opened = SqliteStore::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  std::unique_ptr<SqliteStore> store = std::move(opened.value());
  ASSERT_TRUE(store->CreateWorkspace(MakeWorkspace("ws-1")).ok());
  ASSERT_TRUE(store->CreateCustomerIntegration(MakeCustomerIntegration("ws-1", "ci-1", 1000)).ok());
  const uintmax_t first_size = std::filesystem::file_size(path);
  // Far over the 1,000 WAL pages after which the syncer checkpoints.
  constexpr int kThreads = 8;
  constexpr int kPerThread = 400;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string user_id = fmt::format("user-{}-{}-{}", t, i, std::string(64, 'x'));
        if (!store->CreateUserAndSession(MakeUser("ci-1", user_id, 1000 + i),
                                         MakeSession("ci-1", user_id, 1000 + i))
                 .ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(failures.load(), 0);
  // The checkpoint runs on the syncer after a sync: wait for its effect, with a deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::filesystem::file_size(path) < first_size + (512 << 10) &&
         std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(store->CreateWorkspace(MakeWorkspace(NewToken())).ok());
  }
  EXPECT_GE(std::filesystem::file_size(path), first_size + (512 << 10))
      << "the database file did not grow: no checkpoint copied the WAL into it";
}

// No server on the port: unavailable at once, not after a timeout.
TEST(PgStoreTest, OpenWithoutAServerIsUnavailablePromptly) {
  auto started = std::chrono::steady_clock::now();
  auto opened = PgStore::Open("postgresql://nobody@127.0.0.1:1/toolregistry");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, Errc::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
}

// Nodes starting at once on a new database: each opens, and each migration runs once.
TEST_P(StoreTest, StoresOpeningTogetherMigrateOnce) {
  UseNewDatabase("together");
  constexpr int kStores = 6;
  std::atomic<int> opened{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kStores; ++i) {
    threads.emplace_back([&] {
      if (Open() != nullptr) ++opened;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(opened.load(), kStores);
  const int64_t versions = Query("SELECT MAX(version) FROM schema_migrations");
  EXPECT_GE(versions, 1);
  EXPECT_EQ(Query("SELECT COUNT(*) FROM schema_migrations"), versions);
}

TEST_P(StoreTest, WorkspaceCreateAndFind) {
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

TEST_P(StoreTest, McpSessionsCreateFindDeleteAndExpire) {
  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-1")).ok());
  McpSession old{"hash-old", "ws-1", "2025-06-18", false, 1000, 2000};
  ASSERT_TRUE(store_->CreateMcpSession(old, 1000).ok());
  McpSession fresh{"hash-new", "ws-1", "2025-11-25", true, 3000, 9000};
  ASSERT_TRUE(store_->CreateMcpSession(fresh, 3000).ok());  // removes the expired one
  auto found = store_->FindMcpSession("hash-new");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->workspace_id, "ws-1");
  EXPECT_EQ((*found)->protocol_version, "2025-11-25");
  EXPECT_TRUE((*found)->url_elicitation);
  EXPECT_EQ((*found)->created_at, 3000);
  EXPECT_EQ((*found)->expires_at, 9000);
  EXPECT_FALSE(store_->FindMcpSession("hash-old")->has_value());
  EXPECT_TRUE(*store_->DeleteMcpSession("hash-new"));
  EXPECT_FALSE(*store_->DeleteMcpSession("hash-new"));
  EXPECT_FALSE(store_->FindMcpSession("hash-new")->has_value());
}

TEST_P(StoreTest, McpOAuthClientInsertOnceThenCompareAndSet) {
  CreateIntegration("ws-1", "ci-1");
  EXPECT_FALSE(store_->FindMcpOAuthClient("ci-1")->has_value());
  McpOAuthClient first{"ci-1", {"k1", std::string("sealed\0one", 10)}, 1000};
  EXPECT_TRUE(*store_->PutMcpOAuthClient(first, std::nullopt));
  McpOAuthClient second{"ci-1", {"k1", "sealed-two"}, 2000};
  EXPECT_FALSE(*store_->PutMcpOAuthClient(second, std::nullopt)) << "another node came first";
  EXPECT_FALSE(*store_->PutMcpOAuthClient(second, 999)) << "not the row it read";
  auto found = store_->FindMcpOAuthClient("ci-1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->sealed.blob, first.sealed.blob);
  EXPECT_EQ((*found)->updated_at, 1000);
  EXPECT_TRUE(*store_->PutMcpOAuthClient(second, 1000));
  EXPECT_EQ((*store_->FindMcpOAuthClient("ci-1"))->sealed.blob, "sealed-two");
  // Master-key rotation sees it like every sealed column.
  auto rows = store_->ListSealedNotUnder("k2", 100);
  ASSERT_TRUE(rows.ok());
  bool listed = false;
  for (const SealedRow& row : *rows) listed |= row.kind == SealedKind::kMcpOAuthClient && row.id1 == "ci-1";
  EXPECT_TRUE(listed);
}

TEST_P(StoreTest, ApiKeyCreateFindRevoke) {
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

TEST_P(StoreTest, ApiKeyForAnUnknownWorkspaceIsRefused) {
  Status s = store_->CreateApiKey({"key-1", "ws-404", HashSecret("k"), 1000, std::nullopt});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kConflict);
}

TEST_P(StoreTest, CustomerIntegrationRoundTripsEveryField) {
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

TEST_P(StoreTest, ListCustomerIntegrationsOrdersAndFilters) {
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

TEST_P(StoreTest, SetCustomerIntegrationActive) {
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

TEST_P(StoreTest, CreateUserAndSessionKeepsAnExistingUser) {
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

  EXPECT_EQ(Count("integration_users"), 1);
  EXPECT_EQ(Count("connect_sessions"), 2);
}

TEST_P(StoreTest, CreateUserAndSessionForAnActiveUser) {
  CreateIntegration("ws-1", "ci-1");
  ASSERT_TRUE(store_->CreateUserAndSession(MakeUser("ci-1", "u-1", 1000, /*active=*/true),
                                           MakeSession("ci-1", "u-1", 1000))
                  .ok());
  auto user = store_->FindUser("ci-1", "u-1");
  ASSERT_TRUE(user.ok() && user->has_value());
  EXPECT_TRUE((*user)->active);
}

TEST_P(StoreTest, CreateUserAndSessionIsAtomic) {
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
  EXPECT_EQ(Count("integration_users"), 1);
}

TEST_P(StoreTest, FindUser) {
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

TEST_P(StoreTest, UserForAnUnknownCustomerIntegrationIsRefused) {
  Status s = store_->CreateUserAndSession(MakeUser("ci-404", "u-1", 1000),
                                          MakeSession("ci-404", "u-1", 1000));
  ASSERT_FALSE(s.ok());
  auto user = store_->FindUser("ci-404", "u-1");
  ASSERT_TRUE(user.ok());
  EXPECT_FALSE(user->has_value());  // the failed write left nothing behind
}

TEST_P(StoreTest, BootstrapOnceClaimsExactlyOnce) {
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
  std::unique_ptr<Store> reopened = Open();
  ASSERT_TRUE(reopened != nullptr);
  auto third = reopened->BootstrapOnce(
      MakeWorkspace("ws-boot-3"), {"key-3", "ws-boot-3", HashSecret("k3"), 1000, std::nullopt});
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(*third);
}

TEST_P(StoreTest, RedirectOrigins) {
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

TEST_P(StoreTest, CustomIntegrationUpsert) {
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
  EXPECT_EQ(Count("custom_integrations"), 1);

  auto other = store_->FindCustomIntegration("ws-2", "acme");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
}

// The caller's created_at is stored as given (a regression test: it once took updated_at).
TEST_P(StoreTest, CustomIntegrationKeepsTheGivenCreatedAt) {
  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-1")).ok());
  ASSERT_TRUE(store_->PutCustomIntegration({"ws-1", "acme", "{}", 1000, 1500}).ok());
  auto found = store_->FindCustomIntegration("ws-1", "acme");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->created_at, 1000);
  EXPECT_EQ((*found)->updated_at, 1500);
}

// Waits for `ticket` as the server does, through WhenDurable; true when on disk.
bool WaitDurable(Store& store, uint64_t ticket) {
  std::promise<bool> durable;
  store.WhenDurable(ticket, [&durable](bool ok) { durable.set_value(ok); });
  return durable.get_future().get();
}

// Half the writers run as the server's requests do: in a DurabilityScope, reading what they
// wrote, then waiting through WhenDurable; the other half as the CLI and background threads
// do, waiting in the call. Their writes share batches.
TEST_P(StoreTest, ConcurrentWritesAllCommit) {
  CreateIntegration("ws-1", "ci-1");
  constexpr int kThreads = 16;
  constexpr int kPerThread = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string user_id = fmt::format("user-{}-{}", t, i);
        auto write = [&] {
          Status s = store_->CreateUserAndSession(MakeUser("ci-1", user_id, 1000 + i),
                                                  MakeSession("ci-1", user_id, 1000 + i));
          auto own = store_->FindUser("ci-1", user_id);
          if (!s.ok() || !own.ok() || !own->has_value()) ++failures;
        };
        if (t % 2 == 0) {
          write();
          continue;
        }
        uint64_t ticket = 0;
        {
          DurabilityScope scope;
          write();
          ticket = scope.ticket();
        }
        if (!WaitDurable(*store_, ticket)) ++failures;
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
  EXPECT_EQ(Count("integration_users"), kThreads * kPerThread);
  EXPECT_EQ(Count("connect_sessions"), kThreads * kPerThread);
}

TEST_P(StoreTest, InADurabilityScopeTheAnswerWaitsInsteadOfTheWrite) {
  uint64_t ticket = 0;
  {
    DurabilityScope scope;
    ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-scoped")).ok());
    // The scope reads what it wrote, committed or not.
    auto own = store_->FindWorkspace("ws-scoped");
    ASSERT_TRUE(own.ok());
    EXPECT_TRUE(own->has_value());
    ticket = scope.ticket();
    // SQLite defers the fsync to the scope's owner; PostgreSQL commits durably at once.
    if (IsSqlite()) {
      EXPECT_GT(ticket, 0u);
    }
  }
  ASSERT_TRUE(WaitDurable(*store_, ticket));
  // Once WhenDurable says so, another connection (another process) sees it.
  EXPECT_EQ(Query("SELECT COUNT(*) FROM workspaces WHERE workspace_id = 'ws-scoped'"), 1);
}

TEST_P(StoreTest, AFailedWriteInAScopeLeavesNothingToWaitFor) {
  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-1")).ok());
  DurabilityScope scope;
  Status s = store_->CreateWorkspace(MakeWorkspace("ws-1"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kConflict);
  EXPECT_EQ(scope.ticket(), 0u);
}

TEST_P(StoreTest, SuspendedScopeWritesAreOnDiskWhenTheyReturn) {
  DurabilityScope scope;
  {
    DurabilityScope::Suspend now;
    EXPECT_EQ(DurabilityScope::Current(), nullptr);
    ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-now")).ok());
    EXPECT_EQ(Query("SELECT COUNT(*) FROM workspaces WHERE workspace_id = 'ws-now'"), 1);
  }
  EXPECT_EQ(DurabilityScope::Current(), &scope);
  EXPECT_EQ(scope.ticket(), 0u);
}

// Writers race so that failing and succeeding writes share group-commit batches; each
// failure must roll back only its own savepoint.
TEST_P(StoreTest, AFailingWriteDoesNotFailItsBatch) {
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
  EXPECT_EQ(Count("workspaces"),
            1 + kThreads * kPerThread - kThreads * kPerThread / 4);
}

// Creations race so that they share batches (PostgreSQL writes the queued ones in one
// statement); rows for a customer integration that does not exist fail, and only their own
// callers hear it. Every value must arrive as it was sent, quotes and backslashes included.
TEST_P(StoreTest, RacingCreationsEachGetTheirOwnOutcome) {
  CreateIntegration("ws-1", "ci-1");
  constexpr int kThreads = 16;
  constexpr int kPerThread = 20;
  std::atomic<int> unexpected{0};
  std::vector<std::vector<ConnectSession>> sessions(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const bool orphan = (t + i) % 5 == 0;
        const std::string cid = orphan ? "no-such-ci" : "ci-1";
        const std::string user_id = fmt::format("u \"{}\" \\{}, {{x}}", t, i);
        ConnectSession session = MakeSession(cid, user_id, 1000 + i);
        session.redirect_uri = "https://app.example.com/back?a=\"1\"&b=\\";
        session.pkce_verifier.blob = std::string("\0\x01\xff\"\\", 5);
        Status s = store_->CreateUserAndSession(MakeUser(cid, user_id, 1000 + i), session);
        if (s.ok() == orphan) ++unexpected;
        if (s.ok()) sessions[t].push_back(session);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(unexpected.load(), 0);
  for (const auto& per_thread : sessions) {
    for (const ConnectSession& sent : per_thread) {
      auto found = store_->FindSessionByToken(sent.token_hash);
      ASSERT_TRUE(found.ok() && found->has_value()) << sent.user_id;
      EXPECT_EQ((*found)->user_id, sent.user_id);
      EXPECT_EQ((*found)->redirect_uri, sent.redirect_uri);
      EXPECT_EQ((*found)->pkce_verifier.blob, sent.pkce_verifier.blob);
      EXPECT_EQ((*found)->state_hash, sent.state_hash);
      EXPECT_EQ((*found)->expires_at, sent.expires_at);
      auto user = store_->FindUser("ci-1", sent.user_id);
      ASSERT_TRUE(user.ok() && user->has_value()) << sent.user_id;
    }
  }
  const int created = kThreads * kPerThread - kThreads * kPerThread / 5;
  EXPECT_EQ(Count("connect_sessions"), created);
  EXPECT_EQ(Count("integration_users"), created);
}

TEST_P(StoreTest, ConcurrentReadsAndWrites) {
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

TEST_P(StoreTest, FinishSessionEndsASessionOnce) {
  CreateIntegration("ws-1", "ci-1");
  ConnectSession session = MakeSession("ci-1", "u-1", 1000);
  ASSERT_TRUE(store_->CreateUserAndSession(MakeUser("ci-1", "u-1", 1000), session).ok());
  auto count = store_->CountSubmission(session.token_hash);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1);
  count = store_->CountSubmission(session.token_hash);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 2);

  SealedSecret credentials{"key-1", std::string("\x00\xff creds", 8)};
  ASSERT_TRUE(store_->FinishSession(session.token_hash, true, credentials, 9000, 2000, std::nullopt).ok());
  auto user = store_->FindUser("ci-1", "u-1");
  ASSERT_TRUE(user.ok() && user->has_value());
  EXPECT_TRUE((*user)->active);
  EXPECT_EQ((*user)->credentials.key_id, "key-1");
  EXPECT_EQ((*user)->credentials.blob, credentials.blob);
  EXPECT_EQ((*user)->access_expires_at, 9000);
  EXPECT_EQ((*user)->updated_at, 2000);
  auto used = store_->FindSessionByState(session.state_hash);
  ASSERT_TRUE(used.ok() && used->has_value());
  EXPECT_EQ((*used)->used_at, 2000);
  EXPECT_EQ((*used)->submissions, 2);
  EXPECT_EQ((*used)->pkce_verifier.blob, "sealed-verifier");

  Status again = store_->FinishSession(session.token_hash, true, std::nullopt, std::nullopt, 3000,
                                       std::nullopt);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::kConflict);
  auto late = store_->CountSubmission(session.token_hash);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Errc::kNotFound);
}

// A flow that completes after its user was deleted (the delete took the session with it):
// kNotFound, not the kConflict of a used session, and nothing written: no user, no event.
TEST_P(StoreTest, FinishSessionOfADeletedUserIsNotFound) {
  CreateIntegration("ws-1", "ci-1");
  ASSERT_TRUE(store_->SetWebhook({"ws-1", "https://hooks.example", {"k", "secret"}}, 1000).ok());
  ConnectSession session = MakeSession("ci-1", "u-1", 1000);
  ASSERT_TRUE(store_->CreateUserAndSession(MakeUser("ci-1", "u-1", 1000), session).ok());
  ASSERT_TRUE(store_->DeleteUser("ci-1", "u-1", std::nullopt).ok());

  OutboxEvent connected{"msg_late", "ws-1", "user.connected", "{}", 0, 2000, 2000};
  SealedSecret credentials{"key-1", "sealed"};
  Status finished =
      store_->FinishSession(session.token_hash, true, credentials, 9000, 2000, connected);
  ASSERT_FALSE(finished.ok());
  EXPECT_EQ(finished.error().code, Errc::kNotFound);
  auto user = store_->FindUser("ci-1", "u-1");
  ASSERT_TRUE(user.ok());
  EXPECT_FALSE(user->has_value());
  EXPECT_EQ(Count("webhook_outbox"), 0);
  EXPECT_EQ(Count("integration_users"), 0);
}

TEST_P(StoreTest, CredentialsLifecycle) {
  CreateIntegration("ws-1", "ci-1");
  ASSERT_TRUE(store_->CreateUserAndSession(MakeUser("ci-1", "u-1", 1000, true),
                                           MakeSession("ci-1", "u-1", 1000))
                  .ok());
  ASSERT_TRUE(store_->UpdateCredentials("ci-1", "u-1", {"k", "blob"}, 5000, 1100).ok());
  auto expiring = store_->ListUsersExpiringBefore(6000, 1100, 10);
  ASSERT_TRUE(expiring.ok());
  EXPECT_EQ(expiring->size(), 1u);
  auto none = store_->ListUsersExpiringBefore(5000, 1100, 10);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  Status missing = store_->UpdateCredentials("ci-1", "u-404", {"k", "blob"}, 5000, 1100);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);

  ASSERT_TRUE(store_->DeactivateUser("ci-1", "u-1", 1200, {}).ok());
  auto user = store_->FindUser("ci-1", "u-1");
  ASSERT_TRUE(user.ok() && user->has_value());
  EXPECT_FALSE((*user)->active);
  EXPECT_EQ((*user)->credentials.blob, "blob");  // kept for audit
  expiring = store_->ListUsersExpiringBefore(6000, 1100, 10);
  ASSERT_TRUE(expiring.ok());
  EXPECT_TRUE(expiring->empty());

  ASSERT_TRUE(store_->DeleteUser("ci-1", "u-1", std::nullopt).ok());
  EXPECT_EQ(Count("connect_sessions"), 0);
  Status gone = store_->DeleteUser("ci-1", "u-1", std::nullopt);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, Errc::kNotFound);
  Status not_deactivated = store_->DeactivateUser("ci-1", "u-1", 1300, {});
  ASSERT_FALSE(not_deactivated.ok());
  EXPECT_EQ(not_deactivated.error().code, Errc::kNotFound);
}

// A failed refresh puts the user out of the sweep's list until its next attempt; the event
// of the failure is written with it; new credentials end the streak.
TEST_P(StoreTest, RefreshFailureBacksTheUserOff) {
  CreateIntegration("ws-1", "ci-1");
  ASSERT_TRUE(store_->SetWebhook({"ws-1", "https://hooks.example", {"k", "secret"}}, 1000).ok());
  for (const char* user : {"u-1", "u-2"}) {
    ASSERT_TRUE(store_
                    ->CreateUserAndSession(MakeUser("ci-1", user, 1000, true),
                                           MakeSession("ci-1", user, 1000))
                    .ok());
  }
  ASSERT_TRUE(store_->UpdateCredentials("ci-1", "u-1", {"k", "blob"}, 5000, 1100).ok());
  ASSERT_TRUE(store_->UpdateCredentials("ci-1", "u-2", {"k", "blob"}, 5500, 1100).ok());

  OutboxEvent failed{"msg_f", "ws-1", "user.refresh_failed", "{}", 0, 1200, 1200};
  ASSERT_TRUE(store_->RecordRefreshFailure("ci-1", "u-1", 1, 61'200, failed).ok());
  EXPECT_EQ(Count("webhook_outbox"), 1);
  auto user = store_->FindUser("ci-1", "u-1");
  ASSERT_TRUE(user.ok() && user->has_value());
  EXPECT_EQ((*user)->refresh_failures, 1);
  EXPECT_EQ((*user)->next_refresh_at, 61'200);

  using Due = std::vector<std::pair<std::string, std::string>>;
  auto due = store_->ListUsersExpiringBefore(6000, 1300, 10);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(*due, (Due{{"ci-1", "u-2"}}));  // u-1 expires first, but is backing off
  due = store_->ListUsersExpiringBefore(6000, 61'200, 10);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(*due, (Due{{"ci-1", "u-1"}, {"ci-1", "u-2"}}));  // due again

  ASSERT_TRUE(store_->RecordRefreshFailure("ci-1", "u-1", 2, 181'200, std::nullopt).ok());
  EXPECT_EQ(Count("webhook_outbox"), 1);
  ASSERT_TRUE(store_->UpdateCredentials("ci-1", "u-1", {"k", "blob-2"}, 5000, 1400).ok());
  user = store_->FindUser("ci-1", "u-1");
  ASSERT_TRUE(user.ok() && user->has_value());
  EXPECT_EQ((*user)->refresh_failures, 0);
  EXPECT_EQ((*user)->next_refresh_at, std::nullopt);

  Status missing = store_->RecordRefreshFailure("ci-1", "u-404", 1, 2000, failed);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
}

// Two stores on one database stand for two processes.
TEST_P(StoreTest, LeaseIsHeldByOneHolderAcrossStores) {
  std::unique_ptr<Store> other = Open();
  ASSERT_TRUE(other != nullptr);
  auto a = store_->TryAcquireLease("ci-1", "u-1", "node-a", 1000, 2000);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(*a);
  auto b = other->TryAcquireLease("ci-1", "u-1", "node-b", 1500, 2500);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(*b);
  auto renewed = store_->TryAcquireLease("ci-1", "u-1", "node-a", 1500, 3000);
  ASSERT_TRUE(renewed.ok());
  EXPECT_TRUE(*renewed);
  auto expired = other->TryAcquireLease("ci-1", "u-1", "node-b", 3000, 4000);  // expired
  ASSERT_TRUE(expired.ok());
  EXPECT_TRUE(*expired);
  ASSERT_TRUE(store_->ReleaseLease("ci-1", "u-1", "node-a").ok());  // not a's: no effect
  auto still = store_->TryAcquireLease("ci-1", "u-1", "node-a", 3100, 5000);
  ASSERT_TRUE(still.ok());
  EXPECT_FALSE(*still);
  ASSERT_TRUE(other->ReleaseLease("ci-1", "u-1", "node-b").ok());
  auto free = store_->TryAcquireLease("ci-1", "u-1", "node-a", 3100, 5000);
  ASSERT_TRUE(free.ok());
  EXPECT_TRUE(*free);
}

TEST_P(StoreTest, ConcurrentLeaseRaceHasOneWinner) {
  std::unique_ptr<Store> other = Open();
  ASSERT_TRUE(other != nullptr);
  constexpr int kThreads = 8;
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? *store_ : *other;
      auto won = store.TryAcquireLease("ci-1", "u-race", fmt::format("h{}", t), 1000, 9000);
      if (won.ok() && *won) ++winners;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(winners.load(), 1);
}

TEST_P(StoreTest, OutboxClaimsAreDisjointAcrossStores) {
  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-1")).ok());
  ASSERT_TRUE(store_->CreateWorkspace(MakeWorkspace("ws-2")).ok());
  ASSERT_TRUE(store_->SetWebhook({"ws-1", "https://hooks.example", {"k", "secret"}}, 1000).ok());
  constexpr int kEvents = 40;
  for (int i = 0; i < kEvents; ++i) {
    OutboxEvent e;
    e.event_id = fmt::format("msg_{}", i);
    e.workspace_id = "ws-1";
    e.type = "user.connected";
    e.payload = "{}";
    e.created_at = 1000 + i;
    ASSERT_TRUE(store_->EnqueueEvent(e).ok());
  }
  OutboxEvent no_hook{"msg_x", "ws-2", "user.connected", "{}", 0, 1000, 0};
  ASSERT_TRUE(store_->EnqueueEvent(no_hook).ok());  // ws-2 has no webhook: dropped
  EXPECT_EQ(Count("webhook_outbox"), kEvents);

  auto due = store_->HasDueEvents(999);
  ASSERT_TRUE(due.ok());
  EXPECT_FALSE(*due);
  due = store_->HasDueEvents(5000);
  ASSERT_TRUE(due.ok());
  EXPECT_TRUE(*due);

  std::unique_ptr<Store> other = Open();
  ASSERT_TRUE(other != nullptr);
  std::mutex mu;
  std::set<std::string> claimed;
  std::atomic<int> duplicates{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? *store_ : *other;
      for (;;) {
        auto events = store.ClaimDueEvents(5000, 60'000, 3);
        if (!events.ok() || events->empty()) return;
        std::lock_guard lock(mu);
        for (const auto& e : *events) {
          if (!claimed.insert(e.event_id).second) ++duplicates;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(duplicates.load(), 0);
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kEvents));

  // Claimed events are hidden until the claim ends; a failure schedules a retry.
  ASSERT_TRUE(store_->MarkEventDelivered("msg_0", 6000).ok());
  ASSERT_TRUE(store_->MarkEventFailed("msg_1", 1, 7000).ok());
  auto hidden = store_->ClaimDueEvents(6500, 1000, 100);
  ASSERT_TRUE(hidden.ok());
  EXPECT_TRUE(hidden->empty());
  auto retry = store_->ClaimDueEvents(7000, 1000, 100);
  ASSERT_TRUE(retry.ok());
  ASSERT_EQ(retry->size(), 1u);
  EXPECT_EQ(retry->front().event_id, "msg_1");
  EXPECT_EQ(retry->front().attempts, 1);
}

TEST_P(StoreTest, PurgeFinishedDeletesWhatFinishedBeforeTheCutOffOnly) {
  CreateIntegration("ws-1", "ci-1");
  ASSERT_TRUE(store_->SetWebhook({"ws-1", "https://hooks.example", {"k", "secret"}}, 1000).ok());
  // Sessions expire at created + 900,000 (MakeSession).
  // "old": never connected, its only session expired before the cut-off: both go.
  ConnectSession old_session = MakeSession("ci-1", "old", 1000);
  ASSERT_TRUE(store_->CreateUserAndSession(MakeUser("ci-1", "old", 1000), old_session).ok());
  // "connected": its expired session goes, the user stays.
  ConnectSession used = MakeSession("ci-1", "connected", 1000);
  ASSERT_TRUE(store_->CreateUserAndSession(MakeUser("ci-1", "connected", 1000), used).ok());
  ASSERT_TRUE(store_->FinishSession(used.token_hash, true, SealedSecret{"k", "creds"}, std::nullopt,
                                    2000, std::nullopt)
                  .ok());
  // "pending": never connected, but a newer session is still within the retention: stays.
  ASSERT_TRUE(store_->CreateUserAndSession(MakeUser("ci-1", "pending", 1000),
                                           MakeSession("ci-1", "pending", 1000))
                  .ok());
  ASSERT_TRUE(store_->CreateUserAndSession(MakeUser("ci-1", "pending", 1000),
                                           MakeSession("ci-1", "pending", 2'000'000))
                  .ok());
  // Events: delivered and given up before the cut-off go; one still retrying stays.
  for (const char* id : {"delivered", "abandoned", "retrying"}) {
    ASSERT_TRUE(store_->EnqueueEvent({id, "ws-1", "user.connected", "{}", 0, 1000, 0}).ok());
  }
  ASSERT_TRUE(store_->MarkEventDelivered("delivered", 1500).ok());
  ASSERT_TRUE(store_->MarkEventFailed("abandoned", 8, std::nullopt).ok());
  ASSERT_TRUE(store_->MarkEventFailed("retrying", 3, 5'000'000).ok());

  const int64_t cut_off = 1'500'000;  // after the first sessions expired, before the last
  auto purged = store_->PurgeFinished(cut_off, 100);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(purged->sessions, 3);  // old, connected's, pending's first
  EXPECT_EQ(purged->users, 1);
  EXPECT_EQ(purged->events, 2);
  auto old = store_->FindUser("ci-1", "old");
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->has_value());
  for (const char* kept : {"connected", "pending"}) {
    auto user = store_->FindUser("ci-1", kept);
    ASSERT_TRUE(user.ok() && user->has_value()) << kept;
  }
  EXPECT_EQ(Count("connect_sessions"), 1);
  EXPECT_EQ(Query("SELECT COUNT(*) FROM webhook_outbox WHERE event_id = 'retrying'"), 1);
  EXPECT_EQ(Count("webhook_outbox"), 1);

  auto again = store_->PurgeFinished(cut_off, 100);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->sessions + again->users + again->events, 0);
}

TEST_P(StoreTest, PurgeFinishedWorksInBatches) {
  CreateIntegration("ws-1", "ci-1");
  for (int i = 0; i < 25; ++i) {
    const std::string user = fmt::format("u-{}", i);
    ASSERT_TRUE(store_->CreateUserAndSession(MakeUser("ci-1", user, 1000),
                                             MakeSession("ci-1", user, 1000))
                    .ok());
  }
  int sessions = 0, users = 0, rounds = 0;
  for (;; ++rounds) {
    auto purged = store_->PurgeFinished(10'000'000, 10);
    ASSERT_TRUE(purged.ok());
    EXPECT_LE(purged->sessions, 10);
    EXPECT_LE(purged->users, 10);
    sessions += purged->sessions;
    users += purged->users;
    if (purged->sessions < 10 && purged->users < 10) break;
  }
  EXPECT_EQ(sessions, 25);
  EXPECT_EQ(users, 25);
  EXPECT_GE(rounds, 2);
  EXPECT_EQ(Count("integration_users"), 0);
}

TEST_P(StoreTest, JanitorEmptiesTheStoreInShortBatchesAndGivesThePagesBack) {
  CreateIntegration("ws-1", "ci-1");
  constexpr int kUsers = 250;
  for (int i = 0; i < kUsers; ++i) {
    const std::string user = fmt::format("user-with-a-long-enough-id-to-fill-pages-{:06}", i);
    ASSERT_TRUE(store_->CreateUserAndSession(MakeUser("ci-1", user, 1000),
                                             MakeSession("ci-1", user, 1000))
                    .ok());
  }
  FakeClock clock(1000);
  Janitor janitor(*store_, clock, JanitorOptions{/*retention_millis=*/60'000, /*batch_rows=*/100,
                                                 /*compact_pages=*/2});
  // Within the retention (the sessions expire at 901,000): nothing goes.
  clock.Set(901'000 + 59'000);
  Janitor::PassResult early = janitor.RunOnce();
  EXPECT_TRUE(early.ok);
  EXPECT_EQ(early.sessions + early.users, 0);

  clock.Set(901'000 + 61'000);
  int pauses = 0;
  Janitor::PassResult pass = janitor.RunOnce([&] { return ++pauses > 0; });
  EXPECT_TRUE(pass.ok);
  EXPECT_EQ(pass.sessions, kUsers);
  EXPECT_EQ(pass.users, kUsers);
  EXPECT_GE(pauses, 2);  // between three batches of at most 100 (SQLite: then compaction steps)
  EXPECT_EQ(pass.free_pages_left, 0);
  EXPECT_EQ(Count("connect_sessions"), 0);
  EXPECT_EQ(Count("integration_users"), 0);
  if (GetParam() == Backend::kSqlite) {
    EXPECT_EQ(Query("PRAGMA auto_vacuum"), 2);  // INCREMENTAL, for a new database
    EXPECT_EQ(Query("PRAGMA freelist_count"), 0);
  }

  // A pass told to stop ends after its first batch.
  for (int i = 0; i < kUsers; ++i) {
    const std::string user = fmt::format("second-{}", i);
    ASSERT_TRUE(store_->CreateUserAndSession(MakeUser("ci-1", user, 1000),
                                             MakeSession("ci-1", user, 1000))
                    .ok());
  }
  Janitor::PassResult stopped = janitor.RunOnce([] { return false; });
  EXPECT_EQ(stopped.sessions, 100);
}

TEST_P(StoreTest, ReplaceSealedIsACompareAndSet) {
  CreateIntegration("ws-1", "ci-1");
  ASSERT_TRUE(store_->CreateUserAndSession(MakeUser("ci-1", "u-1", 1000, true),
                                           MakeSession("ci-1", "u-1", 1000))
                  .ok());
  ASSERT_TRUE(store_->UpdateCredentials("ci-1", "u-1", {"old", "v1"}, std::nullopt, 1100).ok());
  auto rows = store_->ListSealedNotUnder("new", 100);
  ASSERT_TRUE(rows.ok());
  const SealedRow* creds = nullptr;
  for (const auto& row : *rows) {
    if (row.kind == SealedKind::kCredentials) creds = &row;
  }
  ASSERT_NE(creds, nullptr);
  EXPECT_EQ(creds->secret.blob, "v1");
  // Rewritten meanwhile: the stale replacement is refused.
  ASSERT_TRUE(store_->UpdateCredentials("ci-1", "u-1", {"old", "v2"}, std::nullopt, 1200).ok());
  auto stale = store_->ReplaceSealed(*creds, {"new", "v1-resealed"});
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(*stale);
  SealedRow fresh = *creds;
  fresh.secret.blob = "v2";
  auto replaced = store_->ReplaceSealed(fresh, {"new", "v2-resealed"});
  ASSERT_TRUE(replaced.ok());
  EXPECT_TRUE(*replaced);
  auto user = store_->FindUser("ci-1", "u-1");
  ASSERT_TRUE(user.ok() && user->has_value());
  EXPECT_EQ((*user)->credentials.key_id, "new");
  EXPECT_EQ((*user)->credentials.blob, "v2-resealed");
  EXPECT_TRUE(store_->Ping().ok());
}

// The first stamp `store` gives that `wanted` accepts, trying for up to a second
// (PostgreSQL's comes from a thread that starts on the first call and polls); the last one
// given if none is.
template <class Pred>
std::optional<uint64_t> StampWhen(Store& store, Pred wanted) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  std::optional<uint64_t> stamp = store.ChangeStamp();
  while (!wanted(stamp) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    stamp = store.ChangeStamp();
  }
  return stamp;
}

TEST_P(StoreTest, ChangeStampMovesWithEveryConfigurationChangeOfAnyConnection) {
  std::optional<uint64_t> stamp =
      StampWhen(*store_, [](std::optional<uint64_t> s) { return s.has_value(); });
  ASSERT_TRUE(stamp.has_value());
  EXPECT_EQ(store_->ChangeStamp(), stamp) << "no change, no move";
  // Each change must move the stamp to another value: at once when this store made it;
  // within a second (the contract's bound for admin commands) when another connection did,
  // which SQLite sees at once too.
  auto moved = [&](const char* what) {
    std::optional<uint64_t> now = store_->ChangeStamp();
    EXPECT_TRUE(now.has_value() && now != stamp) << what;
    stamp = now;
  };
  auto moved_by_another = [&](const char* what) {
    if (IsSqlite()) return moved(what);
    std::optional<uint64_t> now =
        StampWhen(*store_, [&](std::optional<uint64_t> s) { return s.has_value() && s != stamp; });
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
  std::unique_ptr<Store> other = Open();
  ASSERT_TRUE(other != nullptr);
  ASSERT_TRUE(other->SetCustomerIntegrationActive("cid-1", true, 4000).ok());
  moved_by_another("customer integration enabled by another connection");
  ASSERT_TRUE(other->RevokeApiKey("key-1", 4500).ok());
  moved_by_another("API key revoked by another connection");

  // Users and sessions are not configuration: the caches survive them.
  ASSERT_TRUE(store_->CreateUserAndSession(MakeUser("cid-1", "u-1", 5000), MakeSession("cid-1", "u-1", 5000)).ok());
  ASSERT_TRUE(store_->FindWorkspace("ws-1").ok());
  EXPECT_EQ(store_->ChangeStamp(), stamp);
  if (!IsSqlite()) return;

  // SQL from a connection that is not ours at all (the sqlite3 shell), after the stamp was
  // read with nothing committed since; then after the WAL was checkpointed and restarted.
  EXPECT_EQ(store_->ChangeStamp(), stamp);
  ExecOnOwnConnection(path_, "UPDATE api_keys SET revoked_at = NULL");
  moved("API key restored by the sqlite3 shell");
  ExecOnOwnConnection(path_, "PRAGMA wal_checkpoint(TRUNCATE)");
  EXPECT_EQ(store_->ChangeStamp(), stamp) << "a checkpoint changes nothing";
  ExecOnOwnConnection(path_, "UPDATE api_keys SET revoked_at = 3000");
  moved("API key revoked by the sqlite3 shell in a restarted WAL");
  EXPECT_EQ(store_->ChangeStamp(), stamp);
}

// This process's mappings of the file at `path`: how many, and how many of their pages are
// in memory (/proc/self/smaps: a mapping's Rss counts only the pages read through it).
struct Mapped {
  int mappings = 0;
  int64_t resident_kib = 0;
};
Mapped MappedOf(const std::string& path) {
  const std::string name = " " + fs::canonical(path).string();
  std::ifstream smaps("/proc/self/smaps");
  Mapped mapped;
  bool ours = false;
  for (std::string line; std::getline(smaps, line);) {
    const std::string first = line.substr(0, line.find(' '));
    if (!first.ends_with(':')) {  // a mapping's line; its fields follow ("Rss:   12 kB")
      ours = line.ends_with(name);
      if (ours) ++mapped.mappings;
    } else if (ours && first == "Rss:") {
      mapped.resident_kib += std::stoll(line.substr(first.size()));
    }
  }
  return mapped;
}

// Reader connections through the shared-mapping VFS (store/sqlite_vfs.h): their
// pages come from one mapping for the process, and what they read is the file's content
// after another connection grew it and after a VACUUM shrank it under them.
TEST(SqliteVfsTest, ReadsFollowTheFileAsItGrowsAndShrinks) {
  ASSERT_NE(TrVfs(), nullptr);
  TempDir dir;
  const std::string path = dir.File("db");
  ExecOnOwnConnection(path,
                      "PRAGMA journal_mode=WAL; CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT); "
                      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                      "WHERE i < 20000) INSERT INTO t SELECT i, 'value-' || i || "
                      "hex(zeroblob(50)) FROM n");
  constexpr char kIntact[] = "SELECT COUNT(*) FROM t WHERE v = 'value-' || k || hex(zeroblob(50))";
  SqliteDb reader(path, TrVfs());
  reader.Exec("PRAGMA mmap_size=1073741824");
  SqliteDb second(path, TrVfs());
  second.Exec("PRAGMA mmap_size=1073741824");

  EXPECT_EQ(MappedOf(path).resident_kib, 0);
  EXPECT_EQ(QueryOn(reader, kIntact), 20000);
  EXPECT_EQ(QueryOn(second, kIntact), 20000);
  const Mapped mapped = MappedOf(path);
  EXPECT_EQ(mapped.mappings, 1) << "one mapping for both connections";
  EXPECT_GT(mapped.resident_kib, 1000) << "the pages were read through it";

  // Another connection appends and checkpoints: the file grows past what was mapped.
  const auto small = fs::file_size(path);
  ExecOnOwnConnection(path,
                      "WITH RECURSIVE n(i) AS (SELECT 20001 UNION ALL SELECT i + 1 FROM n "
                      "WHERE i < 60000) INSERT INTO t SELECT i, 'value-' || i || "
                      "hex(zeroblob(50)) FROM n; PRAGMA wal_checkpoint(TRUNCATE)");
  const auto large = fs::file_size(path);
  ASSERT_GT(large, small * 2);
  EXPECT_EQ(QueryOn(reader, kIntact), 60000);
  EXPECT_EQ(QueryOn(second, "SELECT SUM(k) FROM t WHERE k > 59990"), 599955);

  // And shrinks under both: most rows deleted, VACUUM, the WAL checkpointed into the file.
  ExecOnOwnConnection(path, "DELETE FROM t WHERE k > 100; VACUUM; PRAGMA wal_checkpoint(TRUNCATE)");
  ASSERT_LT(fs::file_size(path), large / 10);
  EXPECT_EQ(QueryOn(reader, kIntact), 100);
  EXPECT_EQ(QueryOn(second, "SELECT SUM(k) FROM t"), 5050);
  EXPECT_EQ(QueryOn(reader, "SELECT COUNT(*) FROM t WHERE k > 100"), 0);
}

// The writer's WAL writes through the VFS: kept while they append, written at each commit's
// last frame, in parts of at most 120 KiB. What reaches the file must be a whole, valid log:
// a copy of the database and its WAL, without the WAL index, is recovered from the WAL alone
// with every commit in it.
TEST(SqliteVfsTest, CommitsReachTheWalWholeAndRecoverable) {
  TempDir dir;
  const std::string path = dir.File("db");
  SqliteDb writer(path, TrVfs());
  writer.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0; "
              "CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)");
  for (int i = 1; i <= 200; ++i) {
    writer.Exec(fmt::format("INSERT INTO t VALUES ({}, randomblob(500))", i).c_str());
  }
  // One large transaction: megabytes of frames, more than one write of them.
  writer.Exec("BEGIN; WITH RECURSIVE n(i) AS (SELECT 201 UNION ALL SELECT i + 1 FROM n "
              "WHERE i < 5200) INSERT INTO t SELECT i, randomblob(1000) FROM n; COMMIT");
  // And commits of every size in between, so that some end at a multiple of 128 KiB.
  for (int i = 1; i <= 64; ++i) {
    writer.Exec(fmt::format("BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                            "FROM n WHERE i < {}) INSERT INTO t (v) SELECT randomblob(4000) FROM n; "
                            "COMMIT",
                            i)
                    .c_str());
  }
  // A transaction larger than the page cache: SQLite spills pages into the WAL before the
  // commit, writes the ones dirtied again over their earlier frames, and at the commit
  // rewrites the frame headers' checksums from the first overwritten one on (a read of each
  // frame, then a write of its header). The last of those rewrites must reach the file too.
  writer.Exec("PRAGMA cache_size=20; BEGIN; UPDATE t SET v = zeroblob(600) WHERE k <= 3000; "
              "UPDATE t SET v = zeroblob(700) WHERE k <= 100; COMMIT; PRAGMA cache_size=-2000");
  constexpr int kRows = 5200 + 64 * 65 / 2;
  auto count_on = [](const std::string& file, const char* sql) {
    SqliteDb db(file);
    return QueryOn(db, sql);
  };
  EXPECT_EQ(count_on(path, "SELECT COUNT(*) FROM t"), kRows);

  ASSERT_GT(fs::file_size(path + "-wal"), size_t{10} << 20) << "the WAL holds it all";
  const std::string copy = dir.File("copy");
  fs::copy_file(path, copy);
  fs::copy_file(path + "-wal", copy + "-wal");
  EXPECT_EQ(count_on(copy, "SELECT COUNT(*) FROM t"), kRows);
  EXPECT_EQ(count_on(copy, "SELECT COUNT(*) FROM t WHERE length(v) = 700"), 100);
  EXPECT_EQ(count_on(copy, "SELECT COUNT(*) FROM t WHERE length(v) = 600"), 2900);
  EXPECT_EQ(count_on(copy, "SELECT COUNT(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1);
}

// The store's readers use it: many threads reading at once open several readers, and the
// file is still mapped once.
TEST(SqliteVfsTest, TheStoresReadersShareOneMapping) {
  TempDir dir;
  const std::string path = dir.File("db");
  constexpr int kUsers = 3000;
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->CreateWorkspace(MakeWorkspace("ws-1")).ok());
    ASSERT_TRUE((*store)->CreateCustomerIntegration(MakeCustomerIntegration("ws-1", "ci-1", 1)).ok());
    for (int i = 0; i < kUsers; ++i) {
      const std::string id = fmt::format("user-{}", i);
      ASSERT_TRUE((*store)->CreateUserAndSession(MakeUser("ci-1", id, i), MakeSession("ci-1", id, i)).ok());
    }
  }  // closed: the WAL is checkpointed into the file
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.ok());
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kUsers; i += 2) {
        auto user = (*store)->FindUser("ci-1", fmt::format("user-{}", i));
        if (!user.ok() || !user->has_value() || (*user)->created_at != i) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  const Mapped mapped = MappedOf(path);
  EXPECT_EQ(mapped.mappings, 1);
  EXPECT_GT(mapped.resident_kib, 0) << "the readers read through it";
}

// The WAL-index header ChangeStamp watches: the same while nothing commits, new after each
// commit by any connection and after a WAL restart; no view without a WAL index.
TEST(WalIndexHeaderTest, ChangesWithEveryCommitOfAnyConnection) {
  TempDir dir;
  const std::string path = dir.File("db.sqlite");
  auto opened = SqliteStore::Open(path);
  ASSERT_TRUE(opened.ok());
  SqliteDb db(path);
  EXPECT_EQ(QueryOn(db, "SELECT COUNT(*) FROM workspaces"), 0);
  std::unique_ptr<WalIndexHeader> view = WalIndexHeader::Of(db);
  ASSERT_NE(view, nullptr);

  std::optional<WalIndexHeader::Bytes> before = view->Read();
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(view->Read(), before) << "no commit, same header";
  EXPECT_EQ(QueryInt(path, "SELECT COUNT(*) FROM workspaces"), 0);
  EXPECT_EQ(view->Read(), before) << "a read commits nothing";

  ExecOnOwnConnection(path, "CREATE TABLE t (x)");
  std::optional<WalIndexHeader::Bytes> after_create = view->Read();
  ASSERT_TRUE(after_create.has_value());
  EXPECT_NE(after_create, before);
  ExecOnOwnConnection(path, "INSERT INTO t VALUES (1)");
  std::optional<WalIndexHeader::Bytes> after_insert = view->Read();
  EXPECT_NE(after_insert, after_create);
  ExecOnOwnConnection(path, "BEGIN; INSERT INTO t VALUES (2); ROLLBACK");
  EXPECT_EQ(view->Read(), after_insert) << "a rollback commits nothing";

  ExecOnOwnConnection(path, "PRAGMA wal_checkpoint(TRUNCATE)");
  std::optional<WalIndexHeader::Bytes> after_checkpoint = view->Read();
  ExecOnOwnConnection(path, "INSERT INTO t VALUES (3)");
  EXPECT_NE(view->Read(), after_checkpoint);
  EXPECT_NE(view->Read(), after_insert);

  // A database in rollback-journal mode has no WAL index.
  const std::string plain = dir.File("plain.sqlite");
  ExecOnOwnConnection(plain, "CREATE TABLE t (x)");
  SqliteDb plain_db(plain);
  EXPECT_EQ(QueryOn(plain_db, "SELECT COUNT(*) FROM t"), 0);
  EXPECT_EQ(WalIndexHeader::Of(plain_db), nullptr);
}


}  // namespace
}  // namespace tr
