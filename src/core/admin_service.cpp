#include "core/admin_service.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "core/ids.h"
#include "core/webhook_dispatcher.h"
#include "core/validation.h"
#include "tools/openapi.h"
#include "tools/openapi_document.h"
#include "tools/openapi_import.h"

namespace tr {

namespace json = boost::json;

namespace {

// Longest workspace name we accept; names are labels, not documents.
constexpr size_t kMaxWorkspaceNameBytes = 200;

}  // namespace

AdminService::AdminService(Store& store, IntegrationDirectory& directory,
                           const crypto::Keyring& keyring, const Clock& clock)
    : store_(store), directory_(directory), keyring_(keyring), clock_(clock) {}

Status AdminService::RequireWorkspace(const std::string& workspace_id) {
  auto ws = store_.FindWorkspace(workspace_id);
  if (!ws) return ws.error();
  if (!*ws) return Error(Errc::kNotFound, fmt::format("workspace {} not found", workspace_id));
  return Ok{};
}

Result<Workspace> AdminService::CreateWorkspace(const std::string& name) {
  if (name.empty() || name.size() > kMaxWorkspaceNameBytes) {
    return Error(Errc::kInvalidArgument, "workspace name must be 1 to 200 bytes");
  }
  Workspace ws{NewUuidV4(), name, clock_.NowMillis()};
  if (auto s = store_.CreateWorkspace(ws); !s) return s.error();
  return ws;
}

Result<std::vector<std::string>> AdminService::AllowRedirect(const std::string& workspace_id,
                                                             const std::string& origin) {
  auto normalized = NormalizeOrigin(origin);
  if (!normalized) return normalized.error();
  if (auto s = RequireWorkspace(workspace_id); !s) return s.error();
  if (auto s = store_.AddRedirectOrigin(workspace_id, *normalized); !s) return s.error();
  return store_.ListRedirectOrigins(workspace_id);
}

ApiKeyRecord AdminService::NewKeyRecord(const std::string& workspace_id,
                                        const std::string& api_key) {
  return ApiKeyRecord{NewUuidV4(), workspace_id, HashSecret(api_key), clock_.NowMillis(),
                      std::nullopt};
}

Result<CreatedApiKey> AdminService::CreateApiKey(const std::string& workspace_id) {
  if (auto s = RequireWorkspace(workspace_id); !s) return s.error();
  std::string api_key = NewApiKey();
  ApiKeyRecord record = NewKeyRecord(workspace_id, api_key);
  if (auto s = store_.CreateApiKey(record); !s) return s.error();
  return CreatedApiKey{std::move(api_key), record.key_id, workspace_id};
}

Status AdminService::RevokeApiKey(const std::string& key_id) {
  auto s = store_.RevokeApiKey(key_id, clock_.NowMillis());
  if (!s && s.error().code == Errc::kNotFound) {
    return Error(Errc::kNotFound, fmt::format("API key {} not found", key_id));
  }
  return s;
}

Result<std::vector<Workspace>> AdminService::ListWorkspaces() { return store_.ListWorkspaces(); }

Result<std::vector<ApiKeySummary>> AdminService::ListApiKeys(const std::string& workspace_id) {
  if (auto s = RequireWorkspace(workspace_id); !s) return s.error();
  return store_.ListApiKeys(workspace_id);
}

Result<std::string> AdminService::DefineIntegration(const std::string& workspace_id,
                                                    const std::string& json_text,
                                                    const std::string& source,
                                                    const DefinitionFileLoader& loader) {
  // A tools.openapi path is replaced by the document's text before anything is stored.
  std::string stored_text = json_text;
  if (loader && json_text.find("\"tools\"") != std::string::npos) {
    json::parse_options options;
    options.max_depth = tools::kMaxDocumentDepth;
    boost::system::error_code ec;
    json::value root = json::parse(json_text, ec, {}, options);
    if (!ec && root.is_object()) {
      auto inlined = InlineToolsDocument(root.get_object(), source, loader);
      if (!inlined) return inlined.error();
      if (*inlined) stored_text = json::serialize(root);
    }
  }
  return StoreDefinition(workspace_id, std::move(stored_text), source);
}

Result<std::string> AdminService::StoreDefinition(const std::string& workspace_id,
                                                  std::string json_text,
                                                  const std::string& source) {
  auto def = ParseIntegrationDefinition(json_text, source);
  if (!def) return def.error();
  if (auto s = StoreChecked(workspace_id, def->integration_id, def->auth_types,
                            std::move(json_text), source);
      !s) {
    return s.error();
  }
  return def->integration_id;
}

Result<std::string> AdminService::StoreChecked(const std::string& workspace_id,
                                               const std::string& integration_id,
                                               const std::vector<AuthType>& auth_types,
                                               std::string json_text, const std::string& source) {
  if (directory_.catalog().Find(integration_id)) {
    return Error(Errc::kConflict,
                 fmt::format("{}: integrationId: {} is a catalog integration; choose another id",
                             source, integration_id));
  }
  if (auto s = RequireWorkspace(workspace_id); !s) return s.error();
  // A redefinition keeps every auth type a customer integration of it uses: its users'
  // credentials, proxy and tools need it, and none can be moved to another type.
  auto enabled = store_.ListCustomerIntegrations(workspace_id, std::nullopt);
  if (!enabled) return enabled.error();
  for (const CustomerIntegration& ci : *enabled) {
    if (ci.integration_id == integration_id &&
        std::find(auth_types.begin(), auth_types.end(), ci.auth_type) == auth_types.end()) {
      return Error(Errc::kInvalidArgument,
                   fmt::format("{}: authTypes: must keep {}, which customer integration {} uses",
                               source, AuthTypeName(ci.auth_type), ci.customer_integration_id));
    }
  }
  const int64_t now = clock_.NowMillis();
  CustomIntegration ci{workspace_id, integration_id, std::move(json_text), now, now};
  if (auto s = store_.PutCustomIntegration(ci); !s) return s.error();
  return std::move(ci.definition_json);
}

namespace {

struct CheckedText {
  std::string text;
  std::string integration_id;
  std::vector<AuthType> auth_types;
};

// The definition `document_text` makes, checked as `define` would check it, as stored text
// (tools/openapi_import.h: DefinitionText), with its integration id and auth types. The
// parsed tree is gone when it returns.

Result<CheckedText> CheckedDefinitionText(std::string document_text, const std::string& source,
                                          const std::string& integration_id,
                                          const std::string& tools_source) {
  // Room for the definition's fields: the stored text is then made in place.
  document_text.reserve(document_text.size() + tools::kDefinitionFieldsRoom);
  auto doc = tools::ParseDocumentText(document_text, source);
  if (!doc) return doc.error();
  if (auto s = tools::CheckOpenApiVersion(*doc, source); !s) return s.error();
  auto made = tools::DefinitionFromOpenApi(*doc, integration_id, source);
  if (!made) return made.error();
  // Without parsing the document twice or holding its tools: the definition's own fields,
  // then the tools read without their schemas (the reader refuses a document for its shape,
  // never for a schema).
  auto def = ParseIntegrationDefinition(json::serialize(*made), source);
  if (!def) return def.error();
  auto checked = tools::ReadTools(*doc, def->integration_id, {}, tools_source,
                                  tools::ToolSchemas::kSkip, [](tools::Tool&&) {});
  if (!checked) return checked.error();
  return CheckedText{tools::DefinitionText(*made, std::move(document_text), *doc),
                     def->integration_id, def->auth_types};
}

}  // namespace

Result<ImportedIntegration> AdminService::ImportOpenApi(const std::string& workspace_id,
                                                        std::string document_text,
                                                        const std::string& source,
                                                        const std::string& integration_id) {
  const std::string tools_source = source + ": tools.openapi";
  auto made = CheckedDefinitionText(std::move(document_text), source, integration_id,
                                    tools_source);
  if (!made) return made.error();
  auto& [text, id, auth_types] = *made;
  // The tree was freed before the write and the stored text is parsed again after it: SQLite
  // copies a large text twice while writing it, and the tree beside those copies would
  // double the peak (docs/performance.md, "The OpenAPI corpus").
  auto stored = StoreChecked(workspace_id, id, auth_types, std::move(text), source);
  if (!stored) return stored.error();
  auto parsed = tools::ParseDocumentText(*stored, source);
  if (!parsed) return parsed.error();
  return ImportedIntegration{std::move(*stored), std::move(*parsed), id, tools_source};
}

Result<CustomerIntegration> AdminService::EnableIntegration(const EnableRequest& request) {
  if (auto s = RequireWorkspace(request.workspace_id); !s) return s.error();
  auto found = directory_.Find(request.workspace_id, request.integration_id);
  if (!found) return found.error();
  const IntegrationDefinition& def = *found->definition;

  AuthType auth_type = def.auth_types.front();
  if (request.auth_type) {
    auto parsed = ParseAuthType(*request.auth_type);
    if (!parsed || !def.Supports(*parsed)) {
      std::string supported;
      for (AuthType t : def.auth_types) {
        supported += (supported.empty() ? "" : ", ") + std::string(AuthTypeName(t));
      }
      return Error(Errc::kInvalidArgument,
                   fmt::format("auth type {} is not supported by {} (supported: {})",
                               *request.auth_type, def.integration_id, supported));
    }
    auth_type = *parsed;
  }
  // A remote MCP server's client may be registered when a user first connects (CONTRACT
  // section 11); a client id given here is used as it is, with or without a secret.
  if (auth_type == AuthType::kOAuth2 && def.oauth2 &&
      (request.client_id.empty() || !request.client_secret || request.client_secret->empty())) {
    return Error(Errc::kInvalidArgument,
                 "OAUTH2 needs --client-id and --client-secret (or --client-secret-file)");
  }

  const int64_t now = clock_.NowMillis();
  CustomerIntegration ci;
  ci.customer_integration_id = NewUuidV4();
  ci.workspace_id = request.workspace_id;
  ci.integration_id = def.integration_id;
  ci.source = found->source;
  ci.auth_type = auth_type;
  ci.active = true;
  ci.client_id = request.client_id;
  if (request.client_secret && !request.client_secret->empty()) {
    // Bound to its row: the associated data is the customer integration id.
    crypto::Sealed sealed = keyring_.Seal(*request.client_secret, ci.customer_integration_id);
    ci.client_secret = SealedSecret{sealed.key_id, std::move(sealed.blob)};
  }
  ci.scopes = request.scopes;
  ci.external_id = NewUuidV4();
  ci.created_at = ci.updated_at = now;
  if (auto s = store_.CreateCustomerIntegration(ci); !s) return s.error();
  return ci;
}

Status AdminService::SetIntegrationActive(const std::string& customer_integration_id,
                                          bool active) {
  auto s = store_.SetCustomerIntegrationActive(customer_integration_id, active, clock_.NowMillis());
  if (!s && s.error().code == Errc::kNotFound) {
    return Error(Errc::kNotFound,
                 fmt::format("customer integration {} not found", customer_integration_id));
  }
  return s;
}

Result<std::vector<IntegrationView>> AdminService::ListIntegrations(
    const std::string& workspace_id) {
  if (auto s = RequireWorkspace(workspace_id); !s) return s.error();
  auto list = store_.ListCustomerIntegrations(workspace_id, std::nullopt);
  if (!list) return list.error();
  return directory_.Views(std::move(list.value()));
}

Result<std::string> AdminService::SetWebhook(const std::string& workspace_id,
                                             const std::string& url) {
  if (auto valid = ValidateRedirectUri(url); !valid) {
    return Error(Errc::kInvalidArgument, "webhook URL must be an absolute http or https URL");
  }
  if (auto s = RequireWorkspace(workspace_id); !s) return s.error();
  std::string secret = NewWebhookSecret();
  crypto::Sealed sealed = keyring_.Seal(secret, workspace_id);
  Webhook webhook{workspace_id, url, SealedSecret{sealed.key_id, std::move(sealed.blob)}};
  if (auto s = store_.SetWebhook(webhook, clock_.NowMillis()); !s) return s.error();
  return secret;
}

Result<std::optional<CreatedApiKey>> AdminService::BootstrapIfEmpty() {
  Workspace ws{NewUuidV4(), "default", clock_.NowMillis()};
  std::string api_key = NewApiKey();
  ApiKeyRecord record = NewKeyRecord(ws.workspace_id, api_key);
  auto claimed = store_.BootstrapOnce(ws, record);
  if (!claimed) return claimed.error();
  if (!*claimed) return std::optional<CreatedApiKey>();
  return std::optional<CreatedApiKey>(CreatedApiKey{api_key, record.key_id, ws.workspace_id});
}

}  // namespace tr
