// The stored objects of CONTRACT section 1, as plain values. Times are Unix milliseconds.
// Secrets appear here only in sealed (encrypted) form, or as hashes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/integration.h"

namespace tr {

struct Workspace {
  std::string workspace_id;
  std::string name;
  int64_t created_at = 0;
};

struct ApiKeyRecord {
  std::string key_id;
  std::string workspace_id;
  std::string key_hash;  // HashSecret(key)
  int64_t created_at = 0;
  std::optional<int64_t> revoked_at;
};

// An API key as `apikey list` shows it: never the key, nor its hash.
struct ApiKeySummary {
  std::string key_id;
  std::string workspace_id;
  int64_t created_at = 0;
  std::optional<int64_t> revoked_at;
  std::optional<int64_t> last_used_at;  // as recorded (at most once a minute per node)
};

// A secret encrypted under the keyring; see crypto/keyring.h.
struct SealedSecret {
  std::string key_id;
  std::string blob;
  bool empty() const { return blob.empty(); }
};

// Where a sealed value lives, for key rotation: its kind and its row's identity.
enum class SealedKind {
  kClientSecret,
  kCredentials,
  kPkceVerifier,
  kWebhookSecret,
  kMcpOAuthClient,
};
struct SealedRow {
  SealedKind kind;
  std::string id1;  // customer integration id, token hash, or workspace id
  std::string id2;  // user id (credentials only)
  SealedSecret secret;
};

struct CustomIntegration {
  std::string workspace_id;
  std::string integration_id;
  std::string definition_json;  // validated, in the schema of section 8
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

enum class IntegrationSource { kCatalog, kCustom };

struct CustomerIntegration {
  std::string customer_integration_id;
  std::string workspace_id;
  std::string integration_id;
  IntegrationSource source = IntegrationSource::kCatalog;
  AuthType auth_type = AuthType::kNone;
  bool active = true;
  std::string client_id;
  SealedSecret client_secret;
  std::optional<std::vector<std::string>> scopes;  // overrides the definition's scopes
  std::string external_id;  // AWS External ID, stable for this customer integration
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct IntegrationUser {
  std::string customer_integration_id;
  std::string user_id;
  bool active = false;
  SealedSecret credentials;
  std::optional<int64_t> access_expires_at;  // OAuth access token expiry (not a secret)
  int64_t created_at = 0;
  int64_t updated_at = 0;
  // Failed refreshes in a row (not counting invalid_grant, which deactivates), and when the
  // sweep may try again; 0 and nullopt after a success or a new connect.
  int refresh_failures = 0;
  std::optional<int64_t> next_refresh_at;
};

// A webhook event waiting in the outbox (at-least-once delivery).
struct OutboxEvent {
  std::string event_id;      // "msg_..." : the webhook-id header
  std::string workspace_id;
  std::string type;          // "user.connected", ...
  std::string payload;       // the JSON body, as it is signed and sent
  int attempts = 0;
  int64_t created_at = 0;
  int64_t next_attempt_at = 0;
};

// A workspace's webhook endpoint.
struct Webhook {
  std::string workspace_id;
  std::string url;
  SealedSecret secret;  // "whsec_..." sealed with the workspace id as associated data
};

// An MCP session (CONTRACT section 10, /v1/mcp): made at initialize, ended by DELETE or
// expiry. Stored so that every node honours it. The session id itself is not kept.
struct McpSession {
  std::string session_hash;      // HashSecret(session id)
  std::string workspace_id;      // the API key's workspace that made it
  std::string protocol_version;  // as negotiated at initialize
  bool url_elicitation = false;  // the client declared elicitation with `url`
  int64_t created_at = 0;
  int64_t expires_at = 0;
};

// How a customer integration of a remote MCP server without declared OAuth endpoints
// authorizes (core/oauth_clients.h): the discovered endpoints and the registered client,
// as one sealed JSON document (it holds the client secret of a dynamic registration).
struct McpOAuthClient {
  std::string customer_integration_id;
  SealedSecret sealed;  // associated data: McpOAuthClientAad(customer_integration_id)
  int64_t updated_at = 0;
};

struct ConnectSession {
  std::string token_hash;  // HashSecret(token); the token itself is never stored
  std::string customer_integration_id;
  std::string user_id;
  std::string redirect_uri;  // empty: show the hosted result page
  std::string state_hash;    // HashSecret(OAuth state)
  SealedSecret pkce_verifier;
  int64_t created_at = 0;
  int64_t expires_at = 0;
  std::optional<int64_t> used_at;
  int submissions = 0;  // form submissions so far (API token, AWS, Google forms)
};

}  // namespace tr
