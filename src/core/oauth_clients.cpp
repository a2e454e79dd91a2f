#include "core/oauth_clients.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <spdlog/spdlog.h>

#include "auth/mcp_discovery.h"
#include "auth/mcp_registration.h"

namespace tr {

namespace json = boost::json;

namespace {

std::string Text(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// The sealed document of a discovered authorization: the settings, the client, and the
// authorization server it was registered with.
std::string Serialize(const OAuthSetup& setup, std::string_view registration) {
  json::array scopes;
  for (const std::string& s : setup.config.scopes) scopes.emplace_back(s);
  json::object doc{{"issuer", setup.config.issuer},
                   {"authorizationEndpoint", setup.config.authorization_url},
                   {"tokenEndpoint", setup.config.token_url},
                   {"revocationEndpoint", setup.config.revocation_url},
                   {"resource", setup.config.resource},
                   {"scopes", std::move(scopes)},
                   {"tokenEndpointAuthMethod", setup.config.token_endpoint_auth_method},
                   {"registration", registration},
                   {"clientId", setup.client_id},
                   {"clientSecret", setup.client_secret}};
  return json::serialize(doc);
}

std::optional<OAuthSetup> Parse(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.get_object();
  OAuthSetup setup;
  setup.config.issuer = Text(o, "issuer");
  setup.config.authorization_url = Text(o, "authorizationEndpoint");
  setup.config.token_url = Text(o, "tokenEndpoint");
  setup.config.revocation_url = Text(o, "revocationEndpoint");
  setup.config.resource = Text(o, "resource");
  if (const json::value* scopes = o.if_contains("scopes"); scopes && scopes->is_array()) {
    for (const json::value& s : scopes->get_array()) {
      if (s.is_string()) setup.config.scopes.emplace_back(s.get_string());
    }
  }
  setup.config.token_endpoint_auth_method = Text(o, "tokenEndpointAuthMethod");
  setup.config.pkce = true;
  setup.client_id = Text(o, "clientId");
  setup.client_secret = Text(o, "clientSecret");
  if (setup.client_id.empty() || setup.config.token_url.empty()) return std::nullopt;
  return setup;
}

std::string_view RegistrationName(auth::RegistrationMethod method) {
  switch (method) {
    case auth::RegistrationMethod::kPreRegistered:
      return "preRegistered";
    case auth::RegistrationMethod::kClientIdMetadataDocument:
      return "clientIdMetadataDocument";
    case auth::RegistrationMethod::kDynamic:
      return "dynamic";
  }
  return "dynamic";
}

auth::ClientMetadata OurMetadata(const std::string& public_url) {
  auth::ClientMetadata metadata;
  metadata.client_uri = public_url;
  metadata.redirect_uris = {public_url + "/oauth/callback"};
  return metadata;
}

}  // namespace

std::string McpOAuthClientAad(const std::string& customer_integration_id) {
  return "mcp-oauth-client\n" + customer_integration_id;
}

OAuthClients::OAuthClients(Store& store, const crypto::Keyring& keyring, const Clock& clock,
                           net::HttpClient& http, OAuthClientOptions options)
    : store_(store), keyring_(keyring), clock_(clock), http_(http), options_(std::move(options)) {}

bool OAuthClients::Discovered(const IntegrationDefinition& def, AuthType type) {
  return type == AuthType::kOAuth2 && !def.oauth2 && def.mcp;
}

std::string OAuthClients::FlowErrorCode(const Error& error) {
  if (error.code == Errc::kInvalidArgument) return "registration_unavailable";
  if (error.message().find("registration") != std::string::npos) return "registration_refused";
  if (error.code == Errc::kInternal) return "server_error";
  return "discovery_failed";
}

std::string OAuthClients::ClientMetadataDocument() const {
  std::string id = options_.public_url + std::string(auth::kClientMetadataDocumentPath);
  return json::serialize(auth::ClientIdMetadataDocument(id, OurMetadata(options_.public_url)));
}

Result<OAuthSetup> OAuthClients::Declared(const CustomerIntegration& ci,
                                          const IntegrationDefinition& def) {
  OAuthSetup setup{*def.oauth2, ci.client_id, ""};
  if (!ci.client_secret.blob.empty()) {
    auto secret = keyring_.Open(ci.client_secret.key_id, ci.client_secret.blob,
                                ci.customer_integration_id);
    if (!secret) {
      spdlog::error("client secret of {} cannot be unsealed (master key changed?)",
                    ci.customer_integration_id);
      return Error(Errc::kInternal, "Internal server error");
    }
    setup.client_secret = std::move(*secret);
  }
  return setup;
}

Result<OAuthSetup> OAuthClients::Stored(const McpOAuthClient& row) {
  auto plain = keyring_.Open(row.sealed.key_id, row.sealed.blob,
                             McpOAuthClientAad(row.customer_integration_id));
  std::optional<OAuthSetup> setup = plain ? Parse(*plain) : std::nullopt;
  if (!setup) {
    spdlog::error("the MCP OAuth client of {} cannot be unsealed or read",
                  row.customer_integration_id);
    return Error(Errc::kInternal, "Internal server error");
  }
  return std::move(*setup);
}

Result<OAuthSetup> OAuthClients::ForTokens(const CustomerIntegration& ci,
                                           const IntegrationDefinition& def) {
  if (def.oauth2) return Declared(ci, def);
  auto row = store_.FindMcpOAuthClient(ci.customer_integration_id);
  if (!row) return row.error();
  if (!*row) {
    spdlog::error("customer integration {} has no discovered OAuth client",
                  ci.customer_integration_id);
    return Error(Errc::kInternal, "Internal server error");
  }
  return Stored(**row);
}

std::shared_ptr<std::mutex> OAuthClients::LockFor(const std::string& customer_integration_id) {
  std::lock_guard lock(mu_);
  for (auto it = discovering_.begin(); it != discovering_.end();) {
    it = it->second.expired() ? discovering_.erase(it) : std::next(it);
  }
  std::weak_ptr<std::mutex>& slot = discovering_[customer_integration_id];
  std::shared_ptr<std::mutex> mutex = slot.lock();
  if (!mutex) {
    mutex = std::make_shared<std::mutex>();
    slot = mutex;
  }
  return mutex;
}

Result<OAuthSetup> OAuthClients::ForConnect(const CustomerIntegration& ci,
                                            const IntegrationDefinition& def,
                                            bool rediscover_stale) {
  if (def.oauth2) return Declared(ci, def);
  if (!def.mcp) return Error(Errc::kInternal, "Internal server error");
  const std::string& cid = ci.customer_integration_id;
  std::shared_ptr<std::mutex> mutex = LockFor(cid);
  std::lock_guard discovering(*mutex);
  const int64_t now = clock_.NowMillis();
  {
    std::lock_guard lock(mu_);
    std::erase_if(failures_, [now](const auto& entry) { return entry.second.until <= now; });
    if (auto it = failures_.find(cid); it != failures_.end()) return it->second.error;
  }
  auto row = store_.FindMcpOAuthClient(ci.customer_integration_id);
  if (!row) return row.error();
  std::optional<OAuthSetup> previous;
  std::optional<int64_t> replaces;
  if (*row) {
    auto stored = Stored(**row);
    if (!stored) return stored.error();
    if (!rediscover_stale || now - (*row)->updated_at < options_.rediscover_after_millis) {
      return std::move(*stored);
    }
    previous = std::move(*stored);
    replaces = (*row)->updated_at;
  }
  auto setup = Discover(ci, def, previous, replaces);
  if (!setup && setup.error().code != Errc::kInternal) {
    std::lock_guard lock(mu_);
    failures_.insert_or_assign(cid, Failure{setup.error(), now + options_.failure_cache_millis});
  }
  return setup;
}

Result<OAuthSetup> OAuthClients::Discover(const CustomerIntegration& ci,
                                          const IntegrationDefinition& def,
                                          const std::optional<OAuthSetup>& previous,
                                          std::optional<int64_t> replaces) {
  const std::string& cid = ci.customer_integration_id;
  auth::DiscoveryPolicy policy{options_.allow_private_network};
  auto found = auth::DiscoverMcpAuthorization(http_, def.mcp->url, "", policy);
  if (!found) {
    spdlog::warn("MCP authorization discovery for {} failed: {}", cid, found.error().message());
    return found.error();
  }
  const auth::AuthorizationServerMetadata& server = found->server;
  auto method = auth::ChooseRegistration(!ci.client_id.empty(), server, options_.public_url);
  if (!method) return method.error();

  OAuthSetup setup;
  if (*method == auth::RegistrationMethod::kPreRegistered) {
    OAuthSetup given{{}, ci.client_id, ""};
    if (!ci.client_secret.blob.empty()) {
      auto secret = keyring_.Open(ci.client_secret.key_id, ci.client_secret.blob, cid);
      if (!secret) return Error(Errc::kInternal, "Internal server error");
      given.client_secret = std::move(*secret);
    }
    const std::string auth_method =
        given.client_secret.empty() ? "none" : auth::ChooseTokenEndpointAuthMethod(server);
    setup = std::move(given);
    setup.config = auth::McpOAuth2Config(*found, auth_method);
  } else if (previous && previous->config.issuer == server.issuer) {
    // Still the same authorization server: the client registered with it stays.
    setup = *previous;
    setup.config = auth::McpOAuth2Config(*found, previous->config.token_endpoint_auth_method);
  } else if (*method == auth::RegistrationMethod::kClientIdMetadataDocument) {
    setup.client_id = options_.public_url + std::string(auth::kClientMetadataDocumentPath);
    setup.config = auth::McpOAuth2Config(*found, "none");
  } else {
    auth::ClientMetadata metadata = OurMetadata(options_.public_url);
    auto answer = http_.Send(auth::BuildRegistrationCall(server, metadata));
    if (!answer) {
      spdlog::warn("MCP client registration for {} failed: {}", cid, answer.error().message());
      return Error(Errc::kBadGateway,
                   "the authorization server's registration endpoint could not be reached");
    }
    auto registered = auth::ParseRegistrationResponse(*answer);
    if (!registered) {
      spdlog::warn("MCP client registration for {} refused: {}", cid,
                   registered.error().message());
      return registered.error();
    }
    setup.client_id = registered->client_id;
    setup.client_secret = registered->client_secret;
    setup.config = auth::McpOAuth2Config(*found, registered->token_endpoint_auth_method);
  }
  setup.config.issuer = server.issuer;

  const int64_t now = clock_.NowMillis();
  crypto::Sealed sealed = keyring_.Seal(Serialize(setup, RegistrationName(*method)),
                                        McpOAuthClientAad(cid));
  McpOAuthClient row{cid, SealedSecret{sealed.key_id, std::move(sealed.blob)}, now};
  auto written = store_.PutMcpOAuthClient(row, replaces);
  if (!written) return written.error();
  if (!*written) {
    // Another node stored its discovery first: every node uses that one client.
    auto winner = store_.FindMcpOAuthClient(cid);
    if (!winner) return winner.error();
    if (*winner) return Stored(**winner);
  }
  spdlog::info("MCP authorization of {} discovered: issuer {}, client {}", cid, server.issuer,
               RegistrationName(*method));
  return setup;
}

}  // namespace tr
