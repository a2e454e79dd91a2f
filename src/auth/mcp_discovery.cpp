#include "auth/mcp_discovery.h"

#include <cctype>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>

#include "core/validation.h"

namespace tr::auth {

namespace json = boost::json;

namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// An absolute http(s) URL split into its origin ("https://host:port", scheme and host
// lower-cased) and its path without a trailing slash ("" for the root).
struct UrlParts {
  std::string origin;
  std::string path;
};

std::optional<UrlParts> Split(std::string_view text) {
  auto url = boost::urls::parse_uri(text);  // a fragment is allowed, and dropped
  if (!url || !url->has_authority() || url->encoded_host().empty()) return std::nullopt;
  std::string scheme = Lower(url->scheme());
  if (scheme != "https" && scheme != "http") return std::nullopt;
  UrlParts parts;
  parts.origin = scheme + "://" + Lower(url->encoded_host());
  std::string_view port = url->port();
  const bool default_port =
      (scheme == "https" && port == "443") || (scheme == "http" && port == "80");
  if (!port.empty() && !default_port) parts.origin += ":" + std::string(port);
  parts.path = std::string(url->encoded_path());
  while (!parts.path.empty() && parts.path.back() == '/') parts.path.pop_back();
  return parts;
}

// Whether the policy lets us use `url`: https, or http when private networks are allowed.
bool Allowed(std::string_view url, const DiscoveryPolicy& policy) {
  auto parts = Split(url);
  if (!parts) return false;
  return parts->origin.starts_with("https://") || policy.allow_private_network;
}

Error Bad(std::string message) { return Error(Errc::kBadGateway, std::move(message)); }

std::string NotHttps(std::string_view what, std::string_view url) {
  return fmt::format("{} {} is not HTTPS (private networks are not allowed)", what,
                     SafeText(url, 200));
}

std::string StringOf(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::vector<std::string> StringsOf(const json::object& obj, std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = obj.if_contains(key);
  if (!v || !v->is_array()) return out;
  for (const json::value& item : v->get_array()) {
    if (item.is_string()) out.emplace_back(item.get_string());
  }
  return out;
}

std::optional<json::object> ParseObject(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.get_object());
}

bool Contains(const std::vector<std::string>& list, std::string_view item) {
  for (const std::string& s : list) {
    if (s == item) return true;
  }
  return false;
}

// GET `url` for a JSON document: its body on a 200, else nullopt (and `why` says what).
std::optional<std::string> FetchDocument(net::HttpClient& http, const std::string& url,
                                         std::string& why) {
  net::HttpCall call;
  call.method = "GET";
  call.url = url;
  call.headers = {{"Accept", "application/json"}};
  auto answer = http.Send(call);
  if (!answer) {
    why = answer.error().message();
    return std::nullopt;
  }
  if (answer->status != 200) {
    why = fmt::format("HTTP {}", answer->status);
    return std::nullopt;
  }
  return std::move(answer->body);
}

// The first of `urls` that answers 200: its URL and body. nullopt when none does, with
// `tried` listing each URL and what it answered (for the error message).
std::optional<std::pair<std::string, std::string>> FirstDocument(
    net::HttpClient& http, const std::vector<std::string>& urls, std::string& tried) {
  tried.clear();
  for (const std::string& url : urls) {
    std::string why;
    auto body = FetchDocument(http, url, why);
    if (body) return std::make_pair(url, std::move(*body));
    if (!tried.empty()) tried += ", ";
    tried += SafeText(fmt::format("{} ({})", url, why), 300);
  }
  return std::nullopt;
}

// The WWW-Authenticate of the server's answer to an initialize without a token; "" when it
// did not answer 401 with one.
std::string ProbeChallenge(net::HttpClient& http, std::string_view server_url) {
  net::HttpCall call;
  call.method = "POST";
  call.url = std::string(server_url);
  call.headers = {{"Content-Type", "application/json"},
                  {"Accept", "application/json, text/event-stream"}};
  call.body = json::serialize(
      json::object{{"jsonrpc", "2.0"},
                   {"id", 1},
                   {"method", "initialize"},
                   {"params",
                    {{"protocolVersion", "2025-11-25"},
                     {"capabilities", json::object{}},
                     {"clientInfo", {{"name", "toolregistry"}, {"version", "0"}}}}}});
  auto answer = http.Send(call);
  if (!answer || answer->status != 401) return {};
  return answer->Header("www-authenticate");
}

}  // namespace

std::optional<BearerChallenge> ParseBearerChallenge(std::string_view header) {
  std::optional<BearerChallenge> bearer;
  bool in_bearer = false;
  size_t i = 0;
  auto skip = [&](std::string_view chars) {
    while (i < header.size() && chars.find(header[i]) != std::string_view::npos) ++i;
  };
  while (i < header.size()) {
    skip(" \t,");
    size_t start = i;
    while (i < header.size() && IsTokenChar(header[i])) ++i;
    if (i == start) {
      ++i;  // a stray character: step over it
      continue;
    }
    std::string token = Lower(header.substr(start, i - start));
    skip(" \t");
    if (i >= header.size() || header[i] != '=') {
      // A scheme name starts a new challenge.
      in_bearer = token == "bearer";
      if (in_bearer && !bearer) bearer.emplace();
      continue;
    }
    ++i;  // '='
    skip(" \t");
    std::string value;
    if (i < header.size() && header[i] == '"') {
      for (++i; i < header.size() && header[i] != '"'; ++i) {
        if (header[i] == '\\' && i + 1 < header.size()) ++i;
        value.push_back(header[i]);
      }
      ++i;  // the closing quote
    } else {
      while (i < header.size() && header[i] != ',' && header[i] != ' ')
        value.push_back(header[i++]);
    }
    if (!in_bearer) continue;
    if (token == "resource_metadata") bearer->resource_metadata = value;
    if (token == "scope") bearer->scope = value;
    if (token == "error") bearer->error = value;
  }
  return bearer;
}

std::vector<std::string> ProtectedResourceMetadataUrls(std::string_view server_url,
                                                       std::string_view challenge_url) {
  std::vector<std::string> urls;
  if (!challenge_url.empty()) urls.emplace_back(challenge_url);
  auto parts = Split(server_url);
  if (!parts) return urls;
  const std::string root = parts->origin + "/.well-known/oauth-protected-resource";
  for (std::string url : {parts->path.empty() ? std::string() : root + parts->path, root}) {
    if (!url.empty() && !Contains(urls, url)) urls.push_back(std::move(url));
  }
  return urls;
}

std::vector<std::string> AuthorizationServerMetadataUrls(std::string_view issuer) {
  auto parts = Split(issuer);
  if (!parts) return {};
  const std::string& o = parts->origin;
  const std::string& p = parts->path;
  if (p.empty()) {
    return {o + "/.well-known/oauth-authorization-server", o + "/.well-known/openid-configuration"};
  }
  return {o + "/.well-known/oauth-authorization-server" + p,
          o + "/.well-known/openid-configuration" + p, o + p + "/.well-known/openid-configuration"};
}

std::optional<std::string> CanonicalResourceUri(std::string_view url) {
  auto parts = Split(url);
  if (!parts) return std::nullopt;
  return parts->origin + parts->path;
}

Result<ProtectedResourceMetadata> ParseProtectedResourceMetadata(std::string_view body,
                                                                 std::string_view server_url,
                                                                 const DiscoveryPolicy& policy) {
  auto obj = ParseObject(body);
  if (!obj) return Bad("the MCP server's protected-resource metadata is not a JSON object");
  ProtectedResourceMetadata prm;
  prm.resource = StringOf(*obj, "resource");
  prm.authorization_servers = StringsOf(*obj, "authorization_servers");
  prm.scopes_supported = StringsOf(*obj, "scopes_supported");
  if (prm.authorization_servers.empty()) {
    return Bad("the MCP server's protected-resource metadata names no authorization server");
  }
  for (const std::string& as : prm.authorization_servers) {
    if (!Allowed(as, policy)) return Bad(NotHttps("the authorization server", as));
  }
  auto server = Split(server_url);
  auto resource = Split(prm.resource);
  if (!server) return Bad("the MCP server URL is not an absolute http(s) URL");
  if (prm.resource.empty()) {
    prm.resource = server->origin + server->path;
    return prm;
  }
  // RFC 9728 section 3.3: the metadata must be about the server we asked for. A resource
  // that is the server's origin, or a parent path of its endpoint, covers it.
  const bool covers =
      resource && resource->origin == server->origin &&
      (server->path == resource->path || server->path.starts_with(resource->path + "/"));
  if (!covers) {
    return Bad(fmt::format(
        "the MCP server's protected-resource metadata is for the resource {}, not for {}",
        SafeText(prm.resource, 200), SafeText(server_url, 200)));
  }
  return prm;
}

Result<AuthorizationServerMetadata> ParseAuthorizationServerMetadata(
    std::string_view body, std::string_view issuer, const DiscoveryPolicy& policy) {
  auto obj = ParseObject(body);
  if (!obj) return Bad("the authorization server's metadata is not a JSON object");
  AuthorizationServerMetadata m;
  m.issuer = StringOf(*obj, "issuer");
  m.authorization_endpoint = StringOf(*obj, "authorization_endpoint");
  m.token_endpoint = StringOf(*obj, "token_endpoint");
  m.registration_endpoint = StringOf(*obj, "registration_endpoint");
  m.revocation_endpoint = StringOf(*obj, "revocation_endpoint");
  m.scopes_supported = StringsOf(*obj, "scopes_supported");
  m.code_challenge_methods_supported = StringsOf(*obj, "code_challenge_methods_supported");
  m.token_endpoint_auth_methods_supported =
      StringsOf(*obj, "token_endpoint_auth_methods_supported");
  const json::value* cimd = obj->if_contains("client_id_metadata_document_supported");
  m.client_id_metadata_document_supported = cimd && cimd->is_bool() && cimd->get_bool();

  // RFC 8414 section 3.3: the issuer must be identical to the one the metadata was asked
  // for (a trailing slash on either side is forgiven; several real servers differ there).
  auto trim = [](std::string_view s) {
    while (!s.empty() && s.back() == '/') s.remove_suffix(1);
    return s;
  };
  if (trim(m.issuer) != trim(issuer)) {
    return Bad(fmt::format("the authorization server's metadata names the issuer \"{}\", not {}",
                           SafeText(m.issuer, 200), SafeText(issuer, 200)));
  }
  if (m.authorization_endpoint.empty() || m.token_endpoint.empty()) {
    return Bad(
        "the authorization server's metadata has no authorization_endpoint or token_endpoint");
  }
  for (const std::string* url : {&m.authorization_endpoint, &m.token_endpoint,
                                 &m.registration_endpoint, &m.revocation_endpoint}) {
    if (!url->empty() && !Allowed(*url, policy)) {
      return Bad(NotHttps("the authorization server's endpoint", *url));
    }
  }
  if (!Contains(m.code_challenge_methods_supported, "S256")) {
    return Bad(
        fmt::format("the authorization server {} does not support PKCE with S256 "
                    "(code_challenge_methods_supported), which MCP requires",
                    SafeText(issuer, 200)));
  }
  return m;
}

Result<McpAuthorization> DiscoverMcpAuthorization(net::HttpClient& http,
                                                  std::string_view server_url,
                                                  std::string_view www_authenticate,
                                                  const DiscoveryPolicy& policy) {
  if (!CanonicalResourceUri(server_url)) {
    return Bad("the MCP server URL is not an absolute http(s) URL");
  }
  std::string header(www_authenticate);
  if (header.empty()) header = ProbeChallenge(http, server_url);
  BearerChallenge challenge = ParseBearerChallenge(header).value_or(BearerChallenge{});
  if (!challenge.resource_metadata.empty() && !Allowed(challenge.resource_metadata, policy)) {
    return Bad(NotHttps("the protected-resource metadata URL", challenge.resource_metadata));
  }

  McpAuthorization found;
  std::string tried;
  auto prm_doc = FirstDocument(
      http, ProtectedResourceMetadataUrls(server_url, challenge.resource_metadata), tried);
  if (!prm_doc) {
    return Bad(fmt::format(
        "the MCP server publishes no protected-resource metadata (RFC 9728); tried {}", tried));
  }
  auto prm = ParseProtectedResourceMetadata(prm_doc->second, server_url, policy);
  if (!prm) return prm.error();
  found.resource_metadata_url = prm_doc->first;
  found.resource = prm->resource;
  // The scope selection strategy: the challenge's scope, else everything the server lists.
  found.scopes = prm->scopes_supported;
  if (!challenge.scope.empty()) {
    found.scopes.clear();
    std::string_view rest = challenge.scope;
    while (!rest.empty()) {
      size_t space = rest.find(' ');
      if (space != 0) found.scopes.emplace_back(rest.substr(0, space));
      rest = space == std::string_view::npos ? "" : rest.substr(space + 1);
    }
  }

  // The first authorization server whose metadata can be had and passes the checks.
  std::optional<Error> first_error;
  for (const std::string& issuer : prm->authorization_servers) {
    auto as_doc = FirstDocument(http, AuthorizationServerMetadataUrls(issuer), tried);
    if (!as_doc) {
      if (!first_error) {
        first_error = Bad(fmt::format(
            "the authorization server {} publishes no metadata (RFC 8414 or OpenID Connect "
            "discovery); tried {}",
            SafeText(issuer, 200), tried));
      }
      continue;
    }
    auto server = ParseAuthorizationServerMetadata(as_doc->second, issuer, policy);
    if (server) {
      found.server = std::move(server.value());
      return found;
    }
    if (!first_error) first_error = server.error();
  }
  if (!first_error) return Bad("the MCP server's metadata names no usable authorization server");
  return *first_error;
}

}  // namespace tr::auth
