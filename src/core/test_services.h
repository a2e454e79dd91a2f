// Test code only: the services of one server, wired as `serve` wires them, over a SqliteStore
// in a file of the caller's, with the caller's clock, keyring, outbound HTTP fake and
// credential options (their AWS settings also go to the connect flows). Used by
// unit tests and the fuzz targets (so no GoogleTest here). Throws std::runtime_error when a
// set-up step fails. Members are destroyed in reverse order: the store last.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

#include "core/admin_service.h"
#include "core/api_service.h"
#include "core/catalog.h"
#include "core/connect_service.h"
#include "core/credential_service.h"
#include "core/integration_directory.h"
#include "core/mcp_sessions.h"
#include "core/proxy_service.h"
#include "core/tool_service.h"
#include "store/sqlite_store.h"

namespace tr::testing_support {

struct TestServices {
  TestServices(const Catalog& catalog, const std::filesystem::path& db_file, const Clock& clock,
               const crypto::Keyring& keyring, net::HttpClient& http, ApiServiceOptions api_options,
               const CredentialOptions& credential_options = {})
      : store(Open(db_file)),
        directory(std::make_unique<IntegrationDirectory>(catalog, *store)),
        admin(std::make_unique<AdminService>(*store, *directory, keyring, clock)),
        api(std::make_unique<ApiService>(*store, *directory, keyring, clock, api_options)),
        connect(std::make_unique<ConnectService>(
            *store, *directory, keyring, clock, http,
            ConnectOptions{api_options.public_url, 5, credential_options.aws})),
        credentials(std::make_unique<CredentialService>(*store, *directory, keyring, clock, http,
                                                        credential_options)),
        proxy(std::make_unique<ProxyService>(*directory, *credentials, http, clock)),
        tools(std::make_unique<ToolService>(*store, *api, *proxy)),
        mcp_sessions(std::make_unique<McpSessions>(*store, clock, api_options.public_url)) {}

  // A new workspace's id.
  std::string NewWorkspace(const std::string& name) {
    auto ws = admin->CreateWorkspace(name);
    if (!ws) throw std::runtime_error(ws.error().message());
    return ws->workspace_id;
  }

  // Enables catalog integration `integration_id` (its first auth type) with a client id and
  // secret; the customer integration id.
  std::string Enable(const std::string& workspace_id, const std::string& integration_id) {
    EnableRequest request;
    request.workspace_id = workspace_id;
    request.integration_id = integration_id;
    request.client_id = "client-id";
    request.client_secret = "client-secret-value";
    auto ci = admin->EnableIntegration(request);
    if (!ci) throw std::runtime_error(ci.error().message());
    return ci->customer_integration_id;
  }

  // The connect token of a new auth-url for `user_id` (the last segment of the URL).
  std::string NewSession(const std::string& workspace_id, const std::string& cid,
                         const std::string& user_id) {
    auto url = api->CreateAuthUrl(workspace_id, cid, user_id, std::nullopt);
    if (!url) throw std::runtime_error(url.error().message());
    return url->substr(url->rfind('/') + 1);
  }

  // Connects `user_id` through the API-token form with `token` (the HTTP fake must accept
  // the integration's verification call); whether the flow succeeded.
  bool ConnectApiToken(const std::string& workspace_id, const std::string& cid,
                       const std::string& user_id, const std::string& token) {
    std::string session = NewSession(workspace_id, cid, user_id);
    ConnectStep start = connect->Start(session);
    if (!std::holds_alternative<FormView>(start)) return false;
    ConnectStep done = connect->Submit(
        session, {{"csrf", std::get<FormView>(start).csrf_token}, {"token", token}});
    return std::holds_alternative<FlowResult>(done) && std::get<FlowResult>(done).success;
  }

  // Connects `user_id` through the AWS role form with `role_arn` (the HTTP fake must answer
  // AssumeRole); whether the flow succeeded.
  bool ConnectAwsRole(const std::string& workspace_id, const std::string& cid,
                      const std::string& user_id, const std::string& role_arn) {
    std::string session = NewSession(workspace_id, cid, user_id);
    ConnectStep start = connect->Start(session);
    if (!std::holds_alternative<FormView>(start)) return false;
    ConnectStep done = connect->Submit(
        session, {{"csrf", std::get<FormView>(start).csrf_token}, {"roleArn", role_arn}});
    return std::holds_alternative<FlowResult>(done) && std::get<FlowResult>(done).success;
  }

  // Connects `user_id` through the OAuth flow, the provider's callback carrying a code (the
  // HTTP fake must answer the code exchange); whether the flow succeeded.
  bool ConnectOAuth(const std::string& workspace_id, const std::string& cid,
                    const std::string& user_id) {
    ConnectStep start = connect->Start(NewSession(workspace_id, cid, user_id));
    if (!std::holds_alternative<ProviderRedirect>(start)) return false;
    const std::string& url = std::get<ProviderRedirect>(start).url;
    size_t at = url.find("state=") + 6;
    std::string state = url.substr(at, url.find('&', at) - at);
    ConnectStep done = connect->OAuthCallback({{"code", "code-1"}, {"state", state}});
    return std::holds_alternative<FlowResult>(done) && std::get<FlowResult>(done).success;
  }

  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<IntegrationDirectory> directory;
  std::unique_ptr<AdminService> admin;
  std::unique_ptr<ApiService> api;
  std::unique_ptr<ConnectService> connect;
  std::unique_ptr<CredentialService> credentials;
  std::unique_ptr<ProxyService> proxy;
  std::unique_ptr<ToolService> tools;
  std::unique_ptr<McpSessions> mcp_sessions;

 private:
  static std::unique_ptr<SqliteStore> Open(const std::filesystem::path& file) {
    auto opened = SqliteStore::Open(file.string());
    if (!opened) throw std::runtime_error(opened.error().message());
    return std::move(opened.value());
  }
};

}  // namespace tr::testing_support
