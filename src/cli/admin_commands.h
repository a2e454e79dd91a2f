// The admin commands of CONTRACT section 6, each a function from its arguments to the JSON
// object it prints. Formatting and exit codes are the caller's (cli.cpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "cli/runtime.h"
#include "core/admin_service.h"

namespace tr::cli {

using CommandResult = Result<boost::json::object>;

CommandResult WorkspaceCreate(AdminService& admin, const std::string& name);
// Adds every origin, or none when one of them is malformed.
CommandResult WorkspaceAllowRedirect(AdminService& admin, const std::string& workspace_id,
                                     const std::vector<std::string>& origins);
CommandResult ApiKeyCreate(AdminService& admin, const std::string& workspace_id);
CommandResult ApiKeyRevoke(AdminService& admin, const std::string& key_id);
// {"workspaces": [{workspaceId, name, createdAt}]} and {"workspaceId", "apiKeys": [{keyId,
// createdAt, lastUsedAt, revokedAt}]} (null when never used / not revoked): never a key.
CommandResult WorkspaceList(AdminService& admin);
CommandResult ApiKeyList(AdminService& admin, const std::string& workspace_id);
CommandResult CatalogList(const Catalog& catalog);
// One catalog entry in full (the schema of CONTRACT section 8, defaults filled in).
CommandResult CatalogShow(const Catalog& catalog, const std::string& integration_id);
CommandResult IntegrationDefine(AdminService& admin, const std::string& workspace_id,
                                const std::string& file);
// integration import-openapi: prints the definition it stored, its tools (name, description,
// inputSchema, annotations) and what the reader left out. It prints as it goes (a large
// document's tools do not fit in memory together), and only once the definition is stored:
// on an error nothing is printed and the error is returned.
Status IntegrationImportOpenApi(AdminService& admin, const std::string& workspace_id,
                                const std::string& file, const std::string& integration_id,
                                bool json);
struct EnableArgs {
  std::string workspace_id;
  std::string integration_id;
  std::optional<std::string> auth_type;
  std::string client_id;
  std::optional<std::string> client_secret;
  std::optional<std::string> client_secret_file;
  std::optional<std::string> scopes;  // "a,b"
};
CommandResult IntegrationEnable(AdminService& admin, const EnableArgs& args);
CommandResult IntegrationSetActive(AdminService& admin, const std::string& customer_integration_id,
                                   bool active);
CommandResult IntegrationList(AdminService& admin, const std::string& workspace_id);
// Re-encrypts every secret under the current master key; in key-file mode first adds a new
// key to the file and makes it current.
CommandResult KeysRotate(Runtime& runtime);
CommandResult WebhookSet(AdminService& admin, const std::string& workspace_id, const std::string& url);

}  // namespace tr::cli
