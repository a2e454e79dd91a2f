// Tests for AdminService (core/admin_service.h) on a real SqliteStore in a temporary folder,
// a FakeClock, a fixed master key and the embedded catalog.

#include "core/admin_service.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/api_service.h"
#include "core/ids.h"
#include "core/test_support.h"
#include "store/sqlite_store.h"
#include "tools/schema_validator.h"

namespace tr {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kStart = 1757202316580;

using testing_support::EmbeddedCatalog;

constexpr char kCustomDefinition[] = R"json({
  "integrationId": "acme-crm",
  "name": "Acme CRM",
  "host": "crm.acme.internal",
  "authTypes": ["API_TOKEN", "OAUTH2"],
  "oauth2": {
    "authorizationUrl": "http://crm.acme.internal/authorize",
    "tokenUrl": "http://crm.acme.internal/token"
  }
})json";

class AdminServiceTest : public testing::Test {
 protected:
  AdminServiceTest() {
    dir_ = testing_support::MakeTempDir("admin_service");
    store_ = testing_support::OpenTestStore(dir_ / "toolregistry.db");
    directory_ = std::make_unique<IntegrationDirectory>(EmbeddedCatalog(), *store_);
    admin_ = std::make_unique<AdminService>(*store_, *directory_, keyring_, clock_);
  }
  ~AdminServiceTest() override {
    admin_.reset();
    directory_.reset();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string NewWorkspace(const std::string& name = "acme") {
    auto ws = admin_->CreateWorkspace(name);
    EXPECT_TRUE(ws.ok());
    return ws->workspace_id;
  }

  static EnableRequest Request(const std::string& workspace_id, const std::string& integration_id) {
    EnableRequest request;
    request.workspace_id = workspace_id;
    request.integration_id = integration_id;
    return request;
  }

  fs::path dir_;
  FakeClock clock_{kStart};
  crypto::Keyring keyring_{std::string(crypto::Keyring::kKeySize, 'k')};
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<IntegrationDirectory> directory_;
  std::unique_ptr<AdminService> admin_;
};

TEST_F(AdminServiceTest, CreateWorkspaceNameLimits) {
  for (const std::string& name : {std::string("a"), std::string(200, 'n'), std::string("My Team \xc3\xbc")}) {
    auto ws = admin_->CreateWorkspace(name);
    ASSERT_TRUE(ws.ok()) << name.size();
    EXPECT_TRUE(IsUuidV4(ws->workspace_id));
    EXPECT_EQ(ws->name, name);
    EXPECT_EQ(ws->created_at, kStart);
    auto stored = store_->FindWorkspace(ws->workspace_id);
    ASSERT_TRUE(stored.ok() && stored->has_value());
    EXPECT_EQ((*stored)->name, name);
  }
  for (const std::string& name : {std::string(""), std::string(201, 'n')}) {
    auto ws = admin_->CreateWorkspace(name);
    ASSERT_FALSE(ws.ok()) << name.size();
    EXPECT_EQ(ws.error().code, Errc::kInvalidArgument);
  }
}

TEST_F(AdminServiceTest, AllowRedirectNormalizes) {
  std::string ws = NewWorkspace();
  auto list = admin_->AllowRedirect(ws, "https://App.Example.com:443/");
  ASSERT_TRUE(list.ok()) << list.error().message();
  EXPECT_EQ(*list, (std::vector<std::string>{"https://app.example.com"}));

  list = admin_->AllowRedirect(ws, "http://localhost:3000");
  ASSERT_TRUE(list.ok());
  list = admin_->AllowRedirect(ws, "https://app.example.com");  // already there
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, (std::vector<std::string>{"http://localhost:3000", "https://app.example.com"}));

  for (const char* bad :
       {"app.example.com", "https://app.example.com/path", "ftp://app.example.com", ""}) {
    auto refused = admin_->AllowRedirect(ws, bad);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.error().code, Errc::kInvalidArgument) << bad;
  }

  auto unknown = admin_->AllowRedirect(NewUuidV4(), "https://app.example.com");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::kNotFound);
}

TEST_F(AdminServiceTest, CreateAndRevokeApiKey) {
  std::string ws = NewWorkspace();
  auto key = admin_->CreateApiKey(ws);
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(key->api_key.starts_with(kApiKeyPrefix));
  EXPECT_TRUE(IsUuidV4(key->key_id));
  EXPECT_EQ(key->workspace_id, ws);
  auto record = store_->FindApiKeyByHash(HashSecret(key->api_key));
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->key_id, key->key_id);
  EXPECT_EQ((*record)->created_at, kStart);

  clock_.Advance(10);
  ASSERT_TRUE(admin_->RevokeApiKey(key->key_id).ok());
  record = store_->FindApiKeyByHash(HashSecret(key->api_key));
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->revoked_at, kStart + 10);

  Status unknown_key = admin_->RevokeApiKey(NewUuidV4());
  ASSERT_FALSE(unknown_key.ok());
  EXPECT_EQ(unknown_key.error().code, Errc::kNotFound);
  auto unknown_ws = admin_->CreateApiKey(NewUuidV4());
  ASSERT_FALSE(unknown_ws.ok());
  EXPECT_EQ(unknown_ws.error().code, Errc::kNotFound);
}

TEST_F(AdminServiceTest, EnableDefaultsToTheFirstAuthType) {
  std::string ws = NewWorkspace();
  auto stripe = admin_->EnableIntegration(Request(ws, "stripe"));
  ASSERT_TRUE(stripe.ok()) << stripe.error().message();
  EXPECT_EQ(stripe->auth_type, AuthType::kApiToken);

  EnableRequest github = Request(ws, "github");  // OAUTH2 first, then API_TOKEN
  github.client_id = "id";
  github.client_secret = "secret";
  auto enabled = admin_->EnableIntegration(github);
  ASSERT_TRUE(enabled.ok()) << enabled.error().message();
  EXPECT_EQ(enabled->auth_type, AuthType::kOAuth2);
  EXPECT_EQ(enabled->integration_id, "github");
  EXPECT_EQ(enabled->source, IntegrationSource::kCatalog);
  EXPECT_TRUE(enabled->active);
  EXPECT_TRUE(IsUuidV4(enabled->customer_integration_id));
  EXPECT_TRUE(IsUuidV4(enabled->external_id));
  EXPECT_EQ(enabled->created_at, kStart);

  auto stored = store_->FindCustomerIntegration(enabled->customer_integration_id);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->auth_type, AuthType::kOAuth2);
  EXPECT_EQ((*stored)->client_id, "id");
  EXPECT_EQ((*stored)->workspace_id, ws);
}

TEST_F(AdminServiceTest, EnableSealsTheClientSecretToItsRow) {
  std::string ws = NewWorkspace();
  EnableRequest request = Request(ws, "google-calendar");
  request.client_id = "client-id";
  request.client_secret = "very-secret";
  request.scopes = std::vector<std::string>{"openid", "email"};
  auto enabled = admin_->EnableIntegration(request);
  ASSERT_TRUE(enabled.ok()) << enabled.error().message();

  auto stored = store_->FindCustomerIntegration(enabled->customer_integration_id);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  const SealedSecret& secret = (*stored)->client_secret;
  EXPECT_EQ(secret.key_id, keyring_.current_key_id());
  EXPECT_EQ(secret.blob.find("very-secret"), std::string::npos);
  EXPECT_EQ(keyring_.Open(secret.key_id, secret.blob, enabled->customer_integration_id)
                .value_or("?"),
            "very-secret");
  EXPECT_FALSE(keyring_.Open(secret.key_id, secret.blob, "another-row").has_value());
  EXPECT_EQ((*stored)->scopes, request.scopes);
}

TEST_F(AdminServiceTest, EnableWithAnExplicitAuthType) {
  std::string ws = NewWorkspace();
  EnableRequest request = Request(ws, "github");
  request.auth_type = "API_TOKEN";
  auto enabled = admin_->EnableIntegration(request);
  ASSERT_TRUE(enabled.ok()) << enabled.error().message();
  EXPECT_EQ(enabled->auth_type, AuthType::kApiToken);
  EXPECT_TRUE(enabled->client_secret.empty());

  for (const char* auth_type : {"AWS_ASSUME_ROLE", "NONE", "oauth2", "BOGUS", ""}) {
    request.auth_type = auth_type;
    auto refused = admin_->EnableIntegration(request);
    ASSERT_FALSE(refused.ok()) << auth_type;
    EXPECT_EQ(refused.error().code, Errc::kInvalidArgument);
  }
  request.auth_type = "AWS_ASSUME_ROLE";
  auto refused = admin_->EnableIntegration(request);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("OAUTH2, API_TOKEN"), std::string::npos)
      << refused.error().message();
}

TEST_F(AdminServiceTest, OAuth2NeedsClientIdAndSecret) {
  std::string ws = NewWorkspace();
  const struct {
    std::string client_id;
    std::optional<std::string> client_secret;
  } kIncomplete[] = {{"", std::nullopt}, {"id", std::nullopt}, {"", "secret"}, {"id", ""}};
  for (const auto& c : kIncomplete) {
    EnableRequest request = Request(ws, "google-calendar");
    request.client_id = c.client_id;
    request.client_secret = c.client_secret;
    auto refused = admin_->EnableIntegration(request);
    ASSERT_FALSE(refused.ok()) << c.client_id;
    EXPECT_EQ(refused.error().code, Errc::kInvalidArgument);
  }
  auto none = store_->ListCustomerIntegrations(ws, std::nullopt);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(AdminServiceTest, EnableUnknownWorkspaceOrIntegrationIsNotFound) {
  std::string ws = NewWorkspace();
  auto unknown_ws = admin_->EnableIntegration(Request(NewUuidV4(), "stripe"));
  ASSERT_FALSE(unknown_ws.ok());
  EXPECT_EQ(unknown_ws.error().code, Errc::kNotFound);
  auto unknown_integration = admin_->EnableIntegration(Request(ws, "no-such-integration"));
  ASSERT_FALSE(unknown_integration.ok());
  EXPECT_EQ(unknown_integration.error().code, Errc::kNotFound);
}

TEST_F(AdminServiceTest, DefineIntegrationRefusesCatalogIdsAndBadFiles) {
  std::string ws = NewWorkspace();
  std::string github = R"({"integrationId": "github", "name": "Mine", "host": "gh.example.com",
                           "authTypes": ["NONE"]})";
  auto catalog_id = admin_->DefineIntegration(ws, github, "github.json");
  ASSERT_FALSE(catalog_id.ok());
  EXPECT_EQ(catalog_id.error().code, Errc::kConflict);
  EXPECT_TRUE(catalog_id.error().message().starts_with("github.json: integrationId:"))
      << catalog_id.error().message();

  auto bad = admin_->DefineIntegration(ws, R"({"integrationId": "acme-crm"})", "custom.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::kInvalidArgument);
  EXPECT_TRUE(bad.error().message().starts_with("custom.json: name:")) << bad.error().message();

  auto not_json = admin_->DefineIntegration(ws, "{", "custom.json");
  ASSERT_FALSE(not_json.ok());
  EXPECT_EQ(not_json.error().code, Errc::kInvalidArgument);

  auto unknown_ws = admin_->DefineIntegration(NewUuidV4(), kCustomDefinition, "custom.json");
  ASSERT_FALSE(unknown_ws.ok());
  EXPECT_EQ(unknown_ws.error().code, Errc::kNotFound);
}

TEST_F(AdminServiceTest, DefineThenEnableACustomIntegration) {
  std::string ws = NewWorkspace();
  std::string other_ws = NewWorkspace("other");
  auto defined = admin_->DefineIntegration(ws, kCustomDefinition, "custom.json");
  ASSERT_TRUE(defined.ok()) << defined.error().message();
  EXPECT_EQ(*defined, "acme-crm");

  auto enabled = admin_->EnableIntegration(Request(ws, "acme-crm"));
  ASSERT_TRUE(enabled.ok()) << enabled.error().message();
  EXPECT_EQ(enabled->source, IntegrationSource::kCustom);
  EXPECT_EQ(enabled->auth_type, AuthType::kApiToken);

  auto list = admin_->ListIntegrations(ws);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].definition->name, "Acme CRM");
  EXPECT_EQ((*list)[0].definition->host, "crm.acme.internal");

  // Another workspace does not see it.
  auto elsewhere = admin_->EnableIntegration(Request(other_ws, "acme-crm"));
  ASSERT_FALSE(elsewhere.ok());
  EXPECT_EQ(elsewhere.error().code, Errc::kNotFound);

  // Defining it again replaces the definition.
  std::string renamed = kCustomDefinition;
  renamed.replace(renamed.find("Acme CRM"), 8, "Acme CRM 2");
  ASSERT_TRUE(admin_->DefineIntegration(ws, renamed, "custom.json").ok());
  list = admin_->ListIntegrations(ws);
  ASSERT_TRUE(list.ok() && list->size() == 1u);
  EXPECT_EQ((*list)[0].definition->name, "Acme CRM 2");

  // A redefinition may not drop the auth type the customer integration uses (API_TOKEN);
  // it may drop another one.
  std::string oauth_only = kCustomDefinition;
  oauth_only.replace(oauth_only.find("\"API_TOKEN\", "), 13, "");
  auto dropped = admin_->DefineIntegration(ws, oauth_only, "custom.json");
  ASSERT_FALSE(dropped.ok());
  EXPECT_EQ(dropped.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(dropped.error().message(),
            "custom.json: authTypes: must keep API_TOKEN, which customer integration " +
                enabled->customer_integration_id + " uses");
  std::string token_only = kCustomDefinition;
  token_only.replace(token_only.find(", \"OAUTH2\""), 10, "");
  EXPECT_TRUE(admin_->DefineIntegration(ws, token_only, "custom.json").ok());
  // The other workspace's definitions are its own.
  EXPECT_TRUE(admin_->DefineIntegration(other_ws, oauth_only, "custom.json").ok());
}

TEST_F(AdminServiceTest, SetIntegrationActive) {
  std::string ws = NewWorkspace();
  auto enabled = admin_->EnableIntegration(Request(ws, "stripe"));
  ASSERT_TRUE(enabled.ok());
  const std::string cid = enabled->customer_integration_id;

  clock_.Advance(500);
  ASSERT_TRUE(admin_->SetIntegrationActive(cid, false).ok());
  auto stored = store_->FindCustomerIntegration(cid);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_FALSE((*stored)->active);
  EXPECT_EQ((*stored)->updated_at, kStart + 500);
  ASSERT_TRUE(admin_->SetIntegrationActive(cid, true).ok());
  stored = store_->FindCustomerIntegration(cid);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_TRUE((*stored)->active);

  Status unknown = admin_->SetIntegrationActive(NewUuidV4(), false);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::kNotFound);
}

TEST_F(AdminServiceTest, ListIntegrations) {
  std::string ws = NewWorkspace();
  auto empty = admin_->ListIntegrations(ws);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  auto a = admin_->EnableIntegration(Request(ws, "stripe"));
  clock_.Advance(1);
  auto b = admin_->EnableIntegration(Request(ws, "open-meteo"));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(admin_->SetIntegrationActive(a->customer_integration_id, false).ok());
  auto list = admin_->ListIntegrations(ws);  // active and inactive alike
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].customer_integration.customer_integration_id, a->customer_integration_id);
  EXPECT_EQ((*list)[1].customer_integration.customer_integration_id, b->customer_integration_id);

  auto unknown = admin_->ListIntegrations(NewUuidV4());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::kNotFound);
}

TEST_F(AdminServiceTest, BootstrapIfEmptyOnce) {
  auto first = admin_->BootstrapIfEmpty();
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->has_value());
  const CreatedApiKey& created = **first;
  EXPECT_TRUE(created.api_key.starts_with(kApiKeyPrefix));

  auto ws = store_->FindWorkspace(created.workspace_id);
  ASSERT_TRUE(ws.ok() && ws->has_value());
  EXPECT_EQ((*ws)->name, "default");
  ApiService api(*store_, *directory_, keyring_, clock_, ApiServiceOptions{"http://x", 900'000});
  auto authenticated = api.Authenticate(created.api_key);
  ASSERT_TRUE(authenticated.ok());
  EXPECT_EQ(*authenticated, created.workspace_id);

  auto second = admin_->BootstrapIfEmpty();
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->has_value());
}

// CONTRACT section 10: `tools` in definitions, import-openapi, and the parse cache.
constexpr char kOpenApiYaml[] = R"(openapi: 3.0.3
info: {title: Acme Tasks!, description: Tasks of Acme}
servers: [{url: "https://{region}.tasks.acme.test/v2/", variables: {region: {default: eu}}}]
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Key}
    oauth:
      type: oauth2
      flows:
        authorizationCode:
          authorizationUrl: https://auth.acme.test/authorize
          tokenUrl: https://auth.acme.test/token
          scopes: {tasks.read: read, tasks.write: write}
paths:
  /tasks:
    get: {operationId: listTasks, parameters: [{name: X-Key, in: header, schema: {type: string}}]}
    post:
      operationId: createTask
      requestBody: {required: true, content: {application/json: {schema: {type: object, required: [title], properties: {title: {type: string}}}}}}
)";

TEST_F(AdminServiceTest, ImportOpenApiStoresADefinitionWithTools) {
  std::string ws = NewWorkspace();
  auto imported = admin_->ImportOpenApi(ws, kOpenApiYaml, "tasks.yaml", "");
  ASSERT_TRUE(imported.ok()) << imported.error().message();
  const auto stored = boost::json::parse(imported->definition_json);
  const auto& def = stored.as_object();
  EXPECT_EQ(def.at("tools").at("openapi").at("info").at("title"), "Acme Tasks!");
  EXPECT_EQ(def.at("integrationId"), "acme-tasks");
  EXPECT_EQ(def.at("name"), "Acme Tasks!");
  EXPECT_EQ(def.at("description"), "Tasks of Acme");
  EXPECT_EQ(def.at("apiBaseUrl"), "https://eu.tasks.acme.test/v2");
  EXPECT_EQ(def.at("host"), "eu.tasks.acme.test");
  EXPECT_EQ(boost::json::serialize(def.at("authTypes")), R"(["API_TOKEN","OAUTH2"])");
  EXPECT_EQ(boost::json::serialize(def.at("apiToken")), R"({"header":"X-Key","prefix":""})");
  EXPECT_EQ(boost::json::serialize(def.at("oauth2").at("scopes")),
            R"(["tasks.read","tasks.write"])");

  auto found = directory_->Find(ws, "acme-tasks");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->definition->tools);
  const auto& tools = found->definition->tools->tools;
  ASSERT_EQ(tools.size(), 2u);
  EXPECT_EQ(tools[0].name, "acme-tasks_listTasks");
  EXPECT_EQ(boost::json::serialize(tools[0].input_schema), R"({"type":"object","properties":{}})");
  EXPECT_EQ(tools[1].name, "acme-tasks_createTask");
  // Parsed once: the same definition while the row is unchanged.
  auto again = directory_->Find(ws, "acme-tasks");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->definition.get(), found->definition.get());
  clock_.Advance(5);
  ASSERT_TRUE(admin_->ImportOpenApi(ws, kOpenApiYaml, "tasks.yaml", "acme-tasks").ok());
  auto after = directory_->Find(ws, "acme-tasks");
  ASSERT_TRUE(after.ok());
  EXPECT_NE(after->definition.get(), found->definition.get());

  auto swagger = admin_->ImportOpenApi(ws, R"({"swagger": "2.0"})", "old.json", "");
  ASSERT_FALSE(swagger.ok());
  EXPECT_EQ(swagger.error().message(),
            "old.json: Swagger 2.0 is not supported: convert the document to OpenAPI 3.0 or 3.1 "
            "first (for example with swagger2openapi)");
  auto relative =
      admin_->ImportOpenApi(ws, "openapi: 3.1.0\nservers: [{url: /v1}]\n", "r.yaml", "");
  ASSERT_FALSE(relative.ok());
  EXPECT_NE(relative.error().message().find("servers[0].url"), std::string::npos);
}

TEST_F(AdminServiceTest, DefineReadsAToolsDocumentBesideTheFileAndStoresItInline) {
  std::string ws = NewWorkspace();
  { std::ofstream(dir_ / "tasks.yaml") << kOpenApiYaml; }
  const std::string definition =
      R"({"integrationId": "tasks", "name": "Tasks", "host": "tasks.acme.test",
      "authTypes": ["NONE"], "tools": {"openapi": "tasks.yaml", "include": ["createTask"],
      "names": {"createTask": "new_task"}}})";
  auto id =
      admin_->DefineIntegration(ws, definition, "custom.json", DirectoryLoader(dir_.string()));
  ASSERT_TRUE(id.ok()) << id.error().message();
  auto stored = store_->FindCustomIntegration(ws, "tasks");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_NE((*stored)->definition_json.find("createTask"), std::string::npos);  // inline now
  auto found = directory_->Find(ws, "tasks");
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->definition->tools->tools.size(), 1u);
  EXPECT_EQ(found->definition->tools->tools[0].name, "new_task");

  // Without a loader (the API, the database) a path cannot be read.
  auto refused = admin_->DefineIntegration(ws, definition, "custom.json");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message(),
            "custom.json: tools.openapi: a path is allowed only in a definition file; give the "
            "document itself");
  auto outside = admin_->DefineIntegration(
      ws, R"({"integrationId": "t2", "name": "T", "host": "t.test", "authTypes": ["NONE"],
              "tools": {"openapi": "../x.yaml"}})",
      "custom.json", DirectoryLoader(dir_.string()));
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.error().message(),
            "custom.json: tools.openapi: ../x.yaml: must be a relative path inside the "
            "definition's folder");
  auto unknown = admin_->DefineIntegration(
      ws, R"({"integrationId": "t3", "name": "T", "host": "t.test", "authTypes": ["NONE"],
              "tools": {"openapi": {"openapi": "3.1.0"}, "include": ["nope"]}})",
      "custom.json");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message(),
            "custom.json: tools.include: the document has no operation \"nope\"");
}

TEST(CatalogToolsTest, OpenMeteoShipsItsForecastTool) {
  auto def = EmbeddedCatalog().Find("open-meteo");
  ASSERT_TRUE(def && def->tools);
  ASSERT_EQ(def->tools->tools.size(), 1u);
  const auto& tool = def->tools->tools[0];
  EXPECT_EQ(tool.name, "open-meteo_forecast");
  EXPECT_EQ(boost::json::serialize(tool.annotations), R"({"readOnlyHint":true})");
  EXPECT_EQ(boost::json::serialize(tool.input_schema.at("required")),
            R"(["latitude","longitude"])");
}

// Issue 16 point 3: the curated catalog tools (catalog/openapi/, docs/catalog.md) all load,
// in the numbers promised, with names and schemas an MCP client accepts.
TEST(CatalogToolsTest, EveryShippedToolLoadsWithAValidSchema) {
  const std::regex valid_name("^[A-Za-z0-9_-]{1,64}$");
  size_t integrations = 0, tools = 0;
  for (const IntegrationDefinition* def : EmbeddedCatalog().All()) {
    if (!def->tools || def->tools->tools.empty()) continue;
    ++integrations;
    SCOPED_TRACE(def->integration_id);
    if (def->integration_id != "open-meteo") {
      EXPECT_GE(def->tools->tools.size(), 5u);
    }
    std::set<std::string> names;
    for (const tools::Tool& tool : def->tools->tools) {
      ++tools;
      SCOPED_TRACE(tool.name);
      EXPECT_TRUE(std::regex_match(tool.name, valid_name));
      EXPECT_TRUE(names.insert(tool.name).second) << "duplicate name";
      EXPECT_FALSE(tool.description.empty());
      EXPECT_LE(tool.description.size(), 1024u);
      EXPECT_EQ(boost::json::serialize(tool.input_schema.at("type")), R"("object")");
      EXPECT_EQ(boost::json::serialize(tool.input_schema).find("\"$ref\""), std::string::npos);
      EXPECT_TRUE(tools::SchemaValidator::Compile(tool.input_schema).ok());
    }
  }
  EXPECT_GE(integrations, 25u);
  EXPECT_GE(tools, 250u);
}

}  // namespace
}  // namespace tr
