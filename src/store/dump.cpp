#include "store/dump.h"

#include "store/dump_statements.h"

namespace tr {

namespace {

using K = DumpKind;

constexpr DumpColumn kWorkspaces[] = {
    {"workspace_id", K::kText}, {"name", K::kText}, {"created_at", K::kInt}};
constexpr DumpColumn kRedirectOrigins[] = {{"workspace_id", K::kText}, {"origin", K::kText}};
constexpr DumpColumn kApiKeys[] = {{"key_id", K::kText},
                                   {"workspace_id", K::kText},
                                   {"key_hash", K::kText},
                                   {"created_at", K::kInt},
                                   {"revoked_at", K::kInt}};
constexpr DumpColumn kApiKeyUsage[] = {{"key_id", K::kText}, {"last_used_at", K::kInt}};
constexpr DumpColumn kCustomIntegrations[] = {{"workspace_id", K::kText},
                                              {"integration_id", K::kText},
                                              {"definition_json", K::kText},
                                              {"created_at", K::kInt},
                                              {"updated_at", K::kInt}};
constexpr DumpColumn kCustomerIntegrations[] = {{"customer_integration_id", K::kText},
                                                {"workspace_id", K::kText},
                                                {"integration_id", K::kText},
                                                {"source", K::kText},
                                                {"auth_type", K::kText},
                                                {"active", K::kInt},
                                                {"client_id", K::kText},
                                                {"client_secret_key_id", K::kText},
                                                {"client_secret", K::kBytes},
                                                {"scopes_json", K::kText},
                                                {"external_id", K::kText},
                                                {"created_at", K::kInt},
                                                {"updated_at", K::kInt}};
constexpr DumpColumn kIntegrationUsers[] = {{"customer_integration_id", K::kText},
                                            {"user_id", K::kText},
                                            {"active", K::kInt},
                                            {"credentials_key_id", K::kText},
                                            {"credentials", K::kBytes},
                                            {"created_at", K::kInt},
                                            {"updated_at", K::kInt},
                                            {"access_expires_at", K::kInt},
                                            {"refresh_failures", K::kInt},
                                            {"next_refresh_at", K::kInt}};
constexpr DumpColumn kConnectSessions[] = {
    {"token_hash", K::kText},     {"customer_integration_id", K::kText},
    {"user_id", K::kText},        {"redirect_uri", K::kText},
    {"state_hash", K::kText},     {"pkce_key_id", K::kText},
    {"pkce_verifier", K::kBytes}, {"created_at", K::kInt},
    {"expires_at", K::kInt},      {"used_at", K::kInt},
    {"submissions", K::kInt}};
constexpr DumpColumn kMeta[] = {{"key", K::kText}, {"value", K::kText}};
constexpr DumpColumn kRefreshLeases[] = {{"customer_integration_id", K::kText},
                                         {"user_id", K::kText},
                                         {"holder", K::kText},
                                         {"expires_at", K::kInt}};
constexpr DumpColumn kWebhooks[] = {{"workspace_id", K::kText},
                                    {"url", K::kText},
                                    {"secret_key_id", K::kText},
                                    {"secret", K::kBytes},
                                    {"updated_at", K::kInt}};
constexpr DumpColumn kWebhookOutbox[] = {{"event_id", K::kText},       {"workspace_id", K::kText},
                                         {"type", K::kText},           {"payload", K::kText},
                                         {"attempts", K::kInt},        {"created_at", K::kInt},
                                         {"next_attempt_at", K::kInt}, {"delivered_at", K::kInt}};
constexpr DumpColumn kMcpOAuthClients[] = {{"customer_integration_id", K::kText},
                                           {"sealed_key_id", K::kText},
                                           {"sealed", K::kBytes},
                                           {"updated_at", K::kInt}};

constexpr DumpTable kTables[] = {
    {"workspaces", kWorkspaces},
    {"redirect_origins", kRedirectOrigins},
    {"api_keys", kApiKeys},
    {"api_key_usage", kApiKeyUsage},
    {"custom_integrations", kCustomIntegrations},
    {"customer_integrations", kCustomerIntegrations},
    {"integration_users", kIntegrationUsers},
    {"connect_sessions", kConnectSessions},
    {"meta", kMeta},
    {"refresh_leases", kRefreshLeases},
    {"webhooks", kWebhooks},
    {"webhook_outbox", kWebhookOutbox},
    {"mcp_oauth_clients", kMcpOAuthClients},
};

std::string ColumnList(const DumpTable& table) {
  std::string out;
  for (const DumpColumn& column : table.columns) {
    if (!out.empty()) out += ", ";
    out += column.name;
  }
  return out;
}

}  // namespace

std::span<const DumpTable> DumpTables() { return kTables; }

const DumpTable* FindDumpTable(std::string_view name) {
  for (const DumpTable& table : kTables) {
    if (name == table.name) return &table;
  }
  return nullptr;
}

std::string DumpSelectSql(const DumpTable& table) {
  return "SELECT " + ColumnList(table) + " FROM " + table.name;
}

std::string DumpInsertSql(const DumpTable& table, char placeholder) {
  std::string values;
  for (size_t i = 1; i <= table.columns.size(); ++i) {
    if (i > 1) values += ", ";
    values += placeholder + std::to_string(i);
  }
  return "INSERT INTO " + std::string(table.name) + " (" + ColumnList(table) + ") VALUES (" +
         values + ")";
}

std::string DumpAnyRowSql(const DumpTable& table) {
  return "SELECT 1 FROM " + std::string(table.name) + " LIMIT 1";
}

const std::vector<DumpStatements>& DumpStatementsFor(char placeholder) {
  auto build = [](char mark) {
    std::vector<DumpStatements> out;
    for (const DumpTable& table : kTables) {
      out.push_back({DumpSelectSql(table), DumpInsertSql(table, mark), DumpAnyRowSql(table)});
    }
    return out;
  };
  static const std::vector<DumpStatements> sqlite = build('?');
  static const std::vector<DumpStatements> postgres = build('$');
  return placeholder == '$' ? postgres : sqlite;
}

}  // namespace tr
