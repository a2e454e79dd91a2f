#include "auth/mcp_registration.h"

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/validation.h"

namespace tr::auth {

namespace json = boost::json;

namespace {

bool Lists(const std::vector<std::string>& list, std::string_view item) {
  for (const std::string& s : list) {
    if (s == item) return true;
  }
  return false;
}

json::array Strings(const std::vector<std::string>& list) {
  json::array out;
  for (const std::string& s : list) out.emplace_back(s);
  return out;
}

json::object BaseMetadata(const ClientMetadata& metadata) {
  json::object doc{
      {"client_name", metadata.client_name},
      {"redirect_uris", Strings(metadata.redirect_uris)},
      {"grant_types", json::array{"authorization_code", "refresh_token"}},
      {"response_types", json::array{"code"}},
  };
  if (!metadata.client_uri.empty()) doc["client_uri"] = metadata.client_uri;
  if (!metadata.scope.empty()) doc["scope"] = metadata.scope;
  return doc;
}

}  // namespace

Result<RegistrationMethod> ChooseRegistration(bool has_client_id,
                                              const AuthorizationServerMetadata& server,
                                              std::string_view public_url) {
  if (has_client_id) return RegistrationMethod::kPreRegistered;
  if (server.client_id_metadata_document_supported && public_url.starts_with("https://")) {
    return RegistrationMethod::kClientIdMetadataDocument;
  }
  if (!server.registration_endpoint.empty()) return RegistrationMethod::kDynamic;
  return Error(Errc::kInvalidArgument,
               fmt::format("the authorization server {} offers no registration: it supports no "
                           "Client ID Metadata Documents (or the public URL is not https) and "
                           "has no registration endpoint; give a client id to integration enable",
                           SafeText(server.issuer, 200)));
}

json::object ClientIdMetadataDocument(std::string_view client_id, const ClientMetadata& metadata) {
  json::object doc = BaseMetadata(metadata);
  doc["client_id"] = client_id;
  doc["token_endpoint_auth_method"] = "none";
  return doc;
}

std::string ChooseTokenEndpointAuthMethod(const AuthorizationServerMetadata& server) {
  const auto& methods = server.token_endpoint_auth_methods_supported;
  if (methods.empty() || Lists(methods, "client_secret_basic")) return "client_secret_basic";
  if (Lists(methods, "client_secret_post")) return "client_secret_post";
  return "none";
}

net::HttpCall BuildRegistrationCall(const AuthorizationServerMetadata& server,
                                    const ClientMetadata& metadata) {
  json::object body = BaseMetadata(metadata);
  body["token_endpoint_auth_method"] = ChooseTokenEndpointAuthMethod(server);
  net::HttpCall call;
  call.method = "POST";
  call.url = server.registration_endpoint;
  call.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
  call.body = json::serialize(body);
  return call;
}

Result<ClientRegistration> ParseRegistrationResponse(const net::HttpResult& answer) {
  boost::system::error_code ec;
  json::value v = json::parse(answer.body, ec);
  const json::object* obj = ec ? nullptr : v.if_object();
  auto text = [&](std::string_view key) {
    const json::value* field = obj ? obj->if_contains(key) : nullptr;
    return field && field->is_string() ? std::string(field->get_string()) : std::string();
  };
  if (answer.status != 200 && answer.status != 201) {
    // RFC 7591 section 3.2.2: {"error", "error_description"}. Both are the server's words
    // about our metadata, never a secret of ours.
    std::string error = text("error");
    std::string description = text("error_description");
    if (error.empty()) {
      return Error(Errc::kBadGateway,
                   fmt::format("the authorization server refused the registration (HTTP {})",
                               answer.status));
    }
    return Error(Errc::kBadGateway,
                 fmt::format("the authorization server refused the registration: {}{}{}",
                             SafeText(error, 64), description.empty() ? "" : ": ",
                             SafeText(description, 200)));
  }
  ClientRegistration reg;
  reg.client_id = text("client_id");
  if (reg.client_id.empty()) {
    return Error(Errc::kBadGateway,
                 "the authorization server's registration answer has no client_id");
  }
  reg.client_secret = text("client_secret");
  reg.token_endpoint_auth_method = text("token_endpoint_auth_method");
  if (reg.token_endpoint_auth_method.empty()) {
    reg.token_endpoint_auth_method = reg.client_secret.empty() ? "none" : "client_secret_basic";
  }
  if (const json::value* expires = obj->if_contains("client_secret_expires_at");
      expires && expires->is_int64()) {
    reg.client_secret_expires_at = expires->get_int64();
  }
  return reg;
}

OAuth2Config McpOAuth2Config(const McpAuthorization& found,
                             const std::string& token_endpoint_auth_method) {
  OAuth2Config config;
  config.authorization_url = found.server.authorization_endpoint;
  config.token_url = found.server.token_endpoint;
  config.revocation_url = found.server.revocation_endpoint;
  config.scopes = found.scopes;
  config.token_endpoint_auth_method = token_endpoint_auth_method;
  config.pkce = true;
  config.resource = found.resource;
  return config;
}

}  // namespace tr::auth
