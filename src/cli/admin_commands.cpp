#include "cli/admin_commands.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "api/responses.h"
#include "cli/output.h"
#include "core/clock.h"
#include "core/key_rotation.h"
#include "core/validation.h"
#include "tools/openapi.h"
#include "tools/openapi_import.h"

namespace tr::cli {

namespace json = boost::json;

namespace {

// Integration definitions and secret files are small; refuse anything bigger unread.
constexpr std::streamsize kMaxFileBytes = 1 << 20;
// OpenAPI documents are not: the largest public ones are about 20 MB.
constexpr std::streamsize kMaxDocumentBytes = 64 << 20;

// `spare` bytes of capacity are left past the contents, for what the caller adds in place.
Result<std::string> ReadSmallFile(const std::string& path,
                                  std::streamsize max_bytes = kMaxFileBytes, size_t spare = 0) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(Errc::kInvalidArgument, fmt::format("{}: cannot be read", path));
  std::string contents;
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > static_cast<std::uintmax_t>(max_bytes)) {
    return Error(Errc::kInvalidArgument,
                 fmt::format("{}: larger than {} MiB", path, max_bytes >> 20));
  }
  const auto expected =
      static_cast<size_t>(std::min<std::uintmax_t>(ec ? max_bytes : size, max_bytes)) + 1;
  contents.reserve(expected + spare);
  contents.resize(expected);
  in.read(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (in.bad()) return Error(Errc::kInvalidArgument, fmt::format("{}: cannot be read", path));
  contents.resize(static_cast<size_t>(in.gcount()));
  if (contents.size() > static_cast<size_t>(max_bytes)) {
    return Error(Errc::kInvalidArgument,
                 fmt::format("{}: larger than {} MiB", path, max_bytes >> 20));
  }
  return contents;
}

json::array StringArray(const std::vector<std::string>& items) {
  json::array out;
  for (const auto& item : items) out.emplace_back(item);
  return out;
}

std::vector<std::string> SplitScopes(const std::string& text) {
  std::vector<std::string> scopes;
  std::stringstream in(text);
  std::string scope;
  while (std::getline(in, scope, ',')) {
    size_t begin = scope.find_first_not_of(' ');
    size_t end = scope.find_last_not_of(' ');
    if (begin != std::string::npos) scopes.push_back(scope.substr(begin, end - begin + 1));
  }
  return scopes;
}

}  // namespace

CommandResult WorkspaceCreate(AdminService& admin, const std::string& name) {
  auto ws = admin.CreateWorkspace(name);
  if (!ws) return ws.error();
  return json::object{{"workspaceId", ws->workspace_id}, {"name", ws->name}};
}

CommandResult WorkspaceAllowRedirect(AdminService& admin, const std::string& workspace_id,
                                     const std::vector<std::string>& origins) {
  for (const std::string& origin : origins) {
    if (auto valid = NormalizeOrigin(origin); !valid) return valid.error();
  }
  Result<std::vector<std::string>> list = std::vector<std::string>();
  for (const std::string& origin : origins) {
    list = admin.AllowRedirect(workspace_id, origin);
    if (!list) return list.error();
  }
  return json::object{{"workspaceId", workspace_id}, {"origins", StringArray(*list)}};
}

CommandResult ApiKeyCreate(AdminService& admin, const std::string& workspace_id) {
  auto key = admin.CreateApiKey(workspace_id);
  if (!key) return key.error();
  return json::object{
      {"apiKey", key->api_key}, {"keyId", key->key_id}, {"workspaceId", key->workspace_id}};
}

CommandResult WorkspaceList(AdminService& admin) {
  auto workspaces = admin.ListWorkspaces();
  if (!workspaces) return workspaces.error();
  json::array list;
  for (const Workspace& ws : *workspaces) {
    list.emplace_back(json::object{{"workspaceId", ws.workspace_id},
                                   {"name", ws.name},
                                   {"createdAt", FormatTimestamp(ws.created_at)}});
  }
  return json::object{{"workspaces", std::move(list)}};
}

CommandResult ApiKeyList(AdminService& admin, const std::string& workspace_id) {
  auto keys = admin.ListApiKeys(workspace_id);
  if (!keys) return keys.error();
  auto time_or_null = [](const std::optional<int64_t>& millis) {
    return millis ? json::value(FormatTimestamp(*millis)) : json::value(nullptr);
  };
  json::array list;
  for (const ApiKeySummary& key : *keys) {
    list.emplace_back(json::object{{"keyId", key.key_id},
                                   {"createdAt", FormatTimestamp(key.created_at)},
                                   {"lastUsedAt", time_or_null(key.last_used_at)},
                                   {"revokedAt", time_or_null(key.revoked_at)}});
  }
  return json::object{{"workspaceId", workspace_id}, {"apiKeys", std::move(list)}};
}

CommandResult ApiKeyRevoke(AdminService& admin, const std::string& key_id) {
  if (auto s = admin.RevokeApiKey(key_id); !s) return s.error();
  return json::object{{"keyId", key_id}, {"revoked", true}};
}

CommandResult CatalogList(const Catalog& catalog) {
  json::array list;
  for (const IntegrationDefinition* def : catalog.All()) {
    json::array types;
    for (AuthType t : def->auth_types) types.emplace_back(AuthTypeName(t));
    list.emplace_back(json::object{
        {"integrationId", def->integration_id}, {"name", def->name}, {"authTypes", types}});
  }
  return json::object{{"integrations", std::move(list)}};
}

CommandResult CatalogShow(const Catalog& catalog, const std::string& integration_id) {
  auto def = catalog.Find(integration_id);
  if (!def) return Error(Errc::kNotFound, fmt::format("integration {} is not in the catalog", integration_id));
  json::array types;
  for (AuthType t : def->auth_types) types.emplace_back(AuthTypeName(t));
  json::object out{{"integrationId", def->integration_id}, {"name", def->name},
                   {"description", def->description}, {"logoUrl", def->logo_url},
                   {"host", def->host}, {"apiBaseUrl", def->api_base_url}, {"authTypes", types}};
  if (def->oauth2) {
    const OAuth2Config& o = *def->oauth2;
    json::object params;
    for (const auto& [k, v] : o.authorization_params) params[k] = v;
    out["oauth2"] = json::object{{"authorizationUrl", o.authorization_url},
                                 {"tokenUrl", o.token_url},
                                 {"revocationUrl", o.revocation_url},
                                 {"scopes", StringArray(o.scopes)},
                                 {"scopeSeparator", o.scope_separator},
                                 {"authorizationParams", params},
                                 {"tokenEndpointAuthMethod", o.token_endpoint_auth_method},
                                 {"pkce", o.pkce},
                                 {"issuer", o.issuer}};
  }
  if (def->api_token) {
    const ApiTokenConfig& a = *def->api_token;
    json::array fields;
    for (const auto& f : a.fields) {
      fields.emplace_back(json::object{{"name", f.name}, {"label", f.label}, {"secret", f.secret}});
    }
    json::object token{{"header", a.header}, {"prefix", a.prefix}, {"fields", fields}};
    if (!a.query_param.empty()) token["queryParam"] = a.query_param;
    if (a.verification) {
      token["verification"] = json::object{{"method", a.verification->method},
                                           {"url", a.verification->url},
                                           {"successStatus", a.verification->success_status}};
    }
    out["apiToken"] = std::move(token);
  }
  if (def->Supports(AuthType::kAwsAssumeRole)) {
    out["awsAssumeRole"] = json::object{{"sessionDurationSeconds", def->aws_session_duration_seconds}};
  }
  if (!def->google_service_account_scopes.empty()) {
    out["googleServiceAccount"] =
        json::object{{"scopes", StringArray(def->google_service_account_scopes)},
                     {"tokenUrl", def->google_service_account_token_url}};
  }
  return out;
}

CommandResult IntegrationDefine(AdminService& admin, const std::string& workspace_id,
                                const std::string& file) {
  auto text = ReadSmallFile(file, kMaxFileBytes);
  if (!text) return text.error();
  // A tools.openapi path is read from beside the definition file.
  auto loader = DirectoryLoader(std::filesystem::path(file).parent_path().string());
  auto id = admin.DefineIntegration(workspace_id, *text, file, loader);
  if (!id) return id.error();
  return json::object{{"integrationId", *id}, {"workspaceId", workspace_id}};
}

Status IntegrationImportOpenApi(AdminService& admin, const std::string& workspace_id,
                                const std::string& file, const std::string& integration_id,
                                bool json) {
  // With the room ImportOpenApi's definition text takes in the same buffer: no second copy.
  auto text = ReadSmallFile(file, kMaxDocumentBytes, tools::kDefinitionFieldsRoom);
  if (!text) return text.error();
  auto imported = admin.ImportOpenApi(workspace_id, std::move(*text), file, integration_id);
  if (!imported) return imported.error();
  ResultPrinter printer(json);
  printer.Field("integrationId", json::string(imported->integration_id));
  printer.Field("workspaceId", json::string(workspace_id));
  printer.JsonField("definition", imported->definition_json);
  std::string().swap(imported->definition_json);
  // The tools, made again from the stored document one at a time and printed as they come;
  // ImportOpenApi read the same document with the same reader, so this cannot fail.
  printer.BeginList("tools");
  auto warnings = tools::ReadTools(
      imported->definition.at("tools").at("openapi"), imported->integration_id, {}, imported->tools_source,
      tools::ToolSchemas::kConvertForSink, [&printer](tools::Tool&& tool) {
        // In the schema's own arena: moving it into the item copies nothing.
        json::object item(tool.input_schema.storage());
        item["name"] = tool.name;
        item["description"] = tool.description;
        item["inputSchema"] = std::move(tool.input_schema);
        item["annotations"] = std::move(tool.annotations);
        printer.Item(item);
      });
  printer.EndList();
  json::array list;
  if (warnings) {
    for (auto& w : *warnings) list.emplace_back(w);
  } else {
    list.emplace_back(warnings.error().message());
  }
  printer.Field("warnings", list);
  printer.End();
  return Ok{};
}

CommandResult IntegrationEnable(AdminService& admin, const EnableArgs& args) {
  EnableRequest request;
  request.workspace_id = args.workspace_id;
  request.integration_id = args.integration_id;
  request.auth_type = args.auth_type;
  request.client_id = args.client_id;
  request.client_secret = args.client_secret;
  if (args.client_secret_file) {
    auto secret = ReadSmallFile(*args.client_secret_file);
    if (!secret) return secret.error();
    std::string value = std::move(secret.value());
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    request.client_secret = std::move(value);
  }
  if (args.scopes) request.scopes = SplitScopes(*args.scopes);
  auto ci = admin.EnableIntegration(request);
  if (!ci) return ci.error();
  return json::object{{"customerIntegrationId", ci->customer_integration_id},
                      {"integrationId", ci->integration_id},
                      {"authType", AuthTypeName(ci->auth_type)},
                      {"active", ci->active}};
}

CommandResult IntegrationSetActive(AdminService& admin, const std::string& customer_integration_id,
                                   bool active) {
  if (auto s = admin.SetIntegrationActive(customer_integration_id, active); !s) return s.error();
  return json::object{{"customerIntegrationId", customer_integration_id}, {"active", active}};
}

CommandResult IntegrationList(AdminService& admin, const std::string& workspace_id) {
  auto views = admin.ListIntegrations(workspace_id);
  if (!views) return views.error();
  json::array list;
  for (const IntegrationView& view : *views) list.emplace_back(api::IntegrationToJson(view));
  return json::object{{"integrations", std::move(list)}};
}

CommandResult KeysRotate(Runtime& runtime) {
  if (!runtime.key_file.empty()) {
    auto fresh = AddKeyToFile(runtime.key_file);
    if (!fresh) return fresh.error();
    runtime.keyring->MakeCurrent(*fresh);
  }
  auto report = ReencryptAll(*runtime.store, *runtime.keyring);
  if (!report) return report.error();
  json::object out{{"keyId", runtime.keyring->current_key_id()},
                   {"reencrypted", report->reencrypted},
                   {"unreadable", report->unreadable}};
  if (!runtime.key_file.empty()) out["keyFile"] = runtime.key_file;
  return out;
}

CommandResult WebhookSet(AdminService& admin, const std::string& workspace_id, const std::string& url) {
  auto secret = admin.SetWebhook(workspace_id, url);
  if (!secret) return secret.error();
  return json::object{{"secret", *secret}, {"workspaceId", workspace_id}, {"url", url}};
}

}  // namespace tr::cli
