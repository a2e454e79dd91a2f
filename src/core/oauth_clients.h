// OAuthClients: what an OAUTH2 customer integration authorizes with, its OAuth settings and
// its client, wherever they come from. A definition that declares `oauth2` gives the
// settings, and `integration enable` the client id and sealed secret. A remote MCP server
// without declared endpoints (CONTRACT section 11) has them discovered
// (auth/mcp_discovery.h), and its client registered (auth/mcp_registration.h: the given
// client id, else a Client ID Metadata Document, else RFC 7591 dynamic registration), once
// per customer integration; the result is stored sealed (Store::PutMcpOAuthClient), so every
// node and every later refresh use the same endpoints and client.
//
// Thread-safe. ForConnect may make outbound calls (discovery, registration); concurrent
// calls for one customer integration in this process wait for one discovery.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/clock.h"
#include "core/integration.h"
#include "core/model.h"
#include "core/result.h"
#include "crypto/keyring.h"
#include "net/http_client.h"
#include "store/store.h"

namespace tr {

// The associated data that binds a sealed MCP OAuth client to its customer integration.
std::string McpOAuthClientAad(const std::string& customer_integration_id);

struct OAuthSetup {
  OAuth2Config config;
  std::string client_id;
  std::string client_secret;  // empty for a public client
};

struct OAuthClientOptions {
  std::string public_url;  // without a trailing slash; the redirect URI and CIMD live under it
  bool allow_private_network = false;  // discovered URLs may be http (loopback test servers)
  // A stored discovery older than this is done again by the next connect flow; the client
  // is kept while the authorization server stays the same.
  int64_t rediscover_after_millis = 24LL * 3600 * 1000;
  // A failed discovery is answered again, without calls, for this long: a broken server
  // must not cost an outbound round of calls on every auth-url.
  int64_t failure_cache_millis = 30'000;
};

class OAuthClients {
 public:
  OAuthClients(Store& store, const crypto::Keyring& keyring, const Clock& clock,
               net::HttpClient& http, OAuthClientOptions options);

  // Whether `def` leaves the OAuth settings of `type` to discovery (an MCP server's OAUTH2
  // without declared endpoints).
  static bool Discovered(const IntegrationDefinition& def, AuthType type);

  // For a connect flow: the declared settings, or the stored discovery when it is fresh
  // (or at all, when `rediscover_stale` is false), else discovery and registration now.
  // Errors have public messages saying which step failed: kBadGateway (no metadata, a
  // non-HTTPS server, a refused registration, a server that cannot be reached),
  // kInvalidArgument (no way to register: give a client id), kInternal (a sealed value
  // cannot be opened). A failure is remembered for failure_cache_millis.
  Result<OAuthSetup> ForConnect(const CustomerIntegration& ci, const IntegrationDefinition& def,
                                bool rediscover_stale = true);

  // For the code exchange, a refresh or a revocation: the declared settings or the stored
  // discovery, without any outbound call. kInternal when nothing was stored or it cannot
  // be opened.
  Result<OAuthSetup> ForTokens(const CustomerIntegration& ci, const IntegrationDefinition& def);

  // The Client ID Metadata Document served at <public URL>/oauth/client-metadata.json.
  std::string ClientMetadataDocument() const;

  // The connect flow's error code for an error of ForConnect: registration_refused,
  // registration_unavailable or discovery_failed.
  static std::string FlowErrorCode(const Error& error);

 private:
  Result<OAuthSetup> Declared(const CustomerIntegration& ci, const IntegrationDefinition& def);
  Result<OAuthSetup> Stored(const McpOAuthClient& row);
  Result<OAuthSetup> Discover(const CustomerIntegration& ci, const IntegrationDefinition& def,
                              const std::optional<OAuthSetup>& previous,
                              std::optional<int64_t> replaces);
  std::shared_ptr<std::mutex> LockFor(const std::string& customer_integration_id);

  Store& store_;
  const crypto::Keyring& keyring_;
  const Clock& clock_;
  net::HttpClient& http_;
  OAuthClientOptions options_;

  std::mutex mu_;
  std::map<std::string, std::weak_ptr<std::mutex>> discovering_;  // Guarded by mu_
  struct Failure {
    Error error;
    int64_t until;
  };
  std::map<std::string, Failure> failures_;  // Guarded by mu_
};

}  // namespace tr
