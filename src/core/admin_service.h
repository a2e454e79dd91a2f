// AdminService: the operations behind the admin CLI (CONTRACT section 6) and the
// first-start bootstrap. Thread-safe; in practice called from the CLI's one thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/clock.h"
#include "core/integration_directory.h"
#include "crypto/keyring.h"
#include "store/store.h"

namespace tr {

struct CreatedApiKey {
  std::string api_key;  // shown once, never stored
  std::string key_id;
  std::string workspace_id;
};

struct EnableRequest {
  std::string workspace_id;
  std::string integration_id;
  std::optional<std::string> auth_type;  // default: the integration's first auth type
  std::string client_id;
  std::optional<std::string> client_secret;
  std::optional<std::vector<std::string>> scopes;
};

// What `integration import-openapi` stored. Its tools are not kept: the caller makes them
// again from the document, one at a time (tools::ReadTools with `integration_id` and
// `tools_source`), since a large document's tools do not fit in memory together.
struct ImportedIntegration {
  std::string definition_json;  // the definition as stored, its document included
  boost::json::value definition;  // definition_json parsed; ["tools"]["openapi"]: the document
  std::string integration_id;
  std::string tools_source;  // what names the document in the tools' warnings
};

class AdminService {
 public:
  AdminService(Store& store, IntegrationDirectory& directory, const crypto::Keyring& keyring,
               const Clock& clock);

  Result<Workspace> CreateWorkspace(const std::string& name);
  // Adds an origin to the allow-list; returns the whole list.
  Result<std::vector<std::string>> AllowRedirect(const std::string& workspace_id,
                                                 const std::string& origin);
  Result<CreatedApiKey> CreateApiKey(const std::string& workspace_id);
  Status RevokeApiKey(const std::string& key_id);
  // Every workspace, and a workspace's API keys (kNotFound for an unknown workspace), oldest
  // first. Keys are listed without the key or its hash: those are never shown again.
  Result<std::vector<Workspace>> ListWorkspaces();
  Result<std::vector<ApiKeySummary>> ListApiKeys(const std::string& workspace_id);

  // Validates `json_text` (named `source` in errors) and stores it for the workspace. A
  // tools.openapi path is read through `loader` and stored inline, so that the stored
  // definition stands alone.
  Result<std::string> DefineIntegration(const std::string& workspace_id,
                                        const std::string& json_text, const std::string& source,
                                        const DefinitionFileLoader& loader = {});
  // A custom integration made from an OpenAPI document (CONTRACT section 10,
  // `integration import-openapi`; tools/openapi_import.h); the definition it stored. The
  // text is freed once parsed (a document may be tens of megabytes).
  Result<ImportedIntegration> ImportOpenApi(const std::string& workspace_id,
                                            std::string document_text,
                                            const std::string& source,
                                            const std::string& integration_id);
  Result<CustomerIntegration> EnableIntegration(const EnableRequest& request);
  Status SetIntegrationActive(const std::string& customer_integration_id, bool active);
  Result<std::vector<IntegrationView>> ListIntegrations(const std::string& workspace_id);

  // Sets the workspace's webhook URL (absolute http(s)) with a new signing secret, returned
  // once ("whsec_..."); it is stored sealed.
  Result<std::string> SetWebhook(const std::string& workspace_id, const std::string& url);

  // On a database that was never bootstrapped: creates workspace "default" and one API key,
  // returned so the caller can print it once. nullopt when already done.
  Result<std::optional<CreatedApiKey>> BootstrapIfEmpty();

 private:
  Status RequireWorkspace(const std::string& workspace_id);
  // Parses `json_text` (tools and all) and stores it as the workspace's custom integration;
  // its integration id.
  Result<std::string> StoreDefinition(const std::string& workspace_id, std::string json_text,
                                      const std::string& source);
  // Stores `json_text`, already checked, as the workspace's custom integration
  // `integration_id` offering `auth_types` (refused when a catalog integration has that id, or
  // when it drops an auth type one of its customer integrations uses); the text, handed back
  // uncopied (an imported document's is tens of megabytes).
  Result<std::string> StoreChecked(const std::string& workspace_id,
                                   const std::string& integration_id,
                                   const std::vector<AuthType>& auth_types, std::string json_text,
                                   const std::string& source);
  ApiKeyRecord NewKeyRecord(const std::string& workspace_id, const std::string& api_key);

  Store& store_;
  IntegrationDirectory& directory_;
  const crypto::Keyring& keyring_;
  const Clock& clock_;
};

}  // namespace tr
