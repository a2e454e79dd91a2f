#include "core/integration.h"

#include <cstdint>
#include <regex>
#include <set>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <fmt/format.h>

#include "core/validation.h"
#include "tools/openapi_document.h"

namespace tr {

namespace json = boost::json;

namespace {

constexpr struct {
  AuthType type;
  std::string_view name;
} kAuthTypeNames[] = {
    {AuthType::kNone, "NONE"},
    {AuthType::kApiToken, "API_TOKEN"},
    {AuthType::kOAuth2, "OAUTH2"},
    {AuthType::kAwsAssumeRole, "AWS_ASSUME_ROLE"},
    {AuthType::kGoogleServiceAccount, "GOOGLE_SERVICE_ACCOUNT_OAUTH"},
};

// Session durations STS accepts for AssumeRole.
constexpr int kMinAwsSessionSeconds = 900;
constexpr int kMaxAwsSessionSeconds = 43200;

bool IsHttpUrl(std::string_view text) {
  auto url = boost::urls::parse_absolute_uri(text);
  if (!url) return false;
  return (url->scheme() == "https" || url->scheme() == "http") && url->has_authority() &&
         !url->encoded_host().empty();
}

bool IsBareHostname(std::string_view host) {
  static const std::regex kHost(R"(^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$)");
  return host.size() <= 253 && std::regex_match(host.begin(), host.end(), kHost);
}

// A TCP port as written in a URL's authority: 1-65535 in decimal digits, without a sign or
// a leading zero (so that each port has one spelling).
bool IsPort(std::string_view port) {
  if (port.empty() || port.size() > 5 || port.front() == '0') return false;
  int n = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  return n <= 65535;
}

// The problem with `host` ("gitlab.example.com:8443"), or "" when it is fine: a host name
// with an optional port and nothing else, since "https://" + host is the default apiBaseUrl.
std::string_view HostProblem(std::string_view host) {
  size_t colon = host.find(':');
  if (!IsBareHostname(host.substr(0, colon))) {
    return "must be a host name with an optional port, such as api.example.com or "
           "gitlab.example.com:8443 (no scheme, user, path or query)";
  }
  if (colon != std::string_view::npos && !IsPort(host.substr(colon + 1))) {
    return "the port must be a number from 1 to 65535, without a sign or leading zeros";
  }
  return "";
}

bool HasControlCharacter(std::string_view text) {
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

// Walks a JSON object, remembering the first problem with its field path.
class Reader {
 public:
  Reader(std::string_view source, std::string* problem) : source_(source), problem_(problem) {}

  bool Fail(std::string_view field, std::string_view what) {
    if (problem_->empty()) *problem_ = fmt::format("{}: {}: {}", source_, field, what);
    return false;
  }
  bool failed() const { return !problem_->empty(); }

  const json::value* Find(const json::object& obj, std::string_view key) {
    auto it = obj.find(key);
    return it == obj.end() || it->value().is_null() ? nullptr : &it->value();
  }

  // Reads a string field into `out`. Absent: error when `required`, else `out` unchanged.
  bool String(const json::object& obj, std::string_view key, std::string_view path,
              std::string& out, bool required) {
    const json::value* v = Find(obj, key);
    if (!v) return required ? Fail(path, "is required") : true;
    if (!v->is_string()) return Fail(path, "must be a string");
    out = std::string(v->get_string());
    if (required && out.empty()) return Fail(path, "must not be empty");
    return true;
  }

  bool Url(const json::object& obj, std::string_view key, std::string_view path,
           std::string& out, bool required) {
    if (!String(obj, key, path, out, required)) return false;
    if (!out.empty() && !IsHttpUrl(out)) return Fail(path, "must be an absolute http(s) URL");
    return true;
  }

  bool Bool(const json::object& obj, std::string_view key, std::string_view path, bool& out) {
    const json::value* v = Find(obj, key);
    if (!v) return true;
    if (!v->is_bool()) return Fail(path, "must be true or false");
    out = v->get_bool();
    return true;
  }

  bool Int(const json::object& obj, std::string_view key, std::string_view path, int& out,
           int min, int max) {
    const json::value* v = Find(obj, key);
    if (!v) return true;
    if (!v->is_int64() && !v->is_uint64()) return Fail(path, "must be an integer");
    // A uint64 here is above INT64_MAX, so above any max (to_number<int64_t> would throw).
    int64_t n = v->is_int64() ? v->get_int64() : INT64_MAX;
    if (n < min || n > max) return Fail(path, fmt::format("must be between {} and {}", min, max));
    out = static_cast<int>(n);
    return true;
  }

  bool Strings(const json::object& obj, std::string_view key, std::string_view path,
               std::vector<std::string>& out) {
    const json::value* v = Find(obj, key);
    if (!v) return true;
    if (!v->is_array()) return Fail(path, "must be an array of strings");
    out.clear();
    for (const json::value& item : v->get_array()) {
      if (!item.is_string()) return Fail(path, "must be an array of strings");
      out.emplace_back(item.get_string());
    }
    return true;
  }

  const json::object* Object(const json::object& obj, std::string_view key,
                             std::string_view path) {
    const json::value* v = Find(obj, key);
    if (!v) return nullptr;
    if (!v->is_object()) {
      Fail(path, "must be an object");
      return nullptr;
    }
    return &v->get_object();
  }

 private:
  std::string_view source_;
  std::string* problem_;
};

void ReadOAuth2(Reader& r, const json::object& o, OAuth2Config& c) {
  r.Url(o, "authorizationUrl", "oauth2.authorizationUrl", c.authorization_url, true) &&
      r.Url(o, "tokenUrl", "oauth2.tokenUrl", c.token_url, true) &&
      r.Url(o, "revocationUrl", "oauth2.revocationUrl", c.revocation_url, false) &&
      r.Strings(o, "scopes", "oauth2.scopes", c.scopes) &&
      r.String(o, "scopeSeparator", "oauth2.scopeSeparator", c.scope_separator, false) &&
      r.String(o, "tokenEndpointAuthMethod", "oauth2.tokenEndpointAuthMethod",
               c.token_endpoint_auth_method, false) &&
      r.Bool(o, "pkce", "oauth2.pkce", c.pkce) &&
      r.String(o, "issuer", "oauth2.issuer", c.issuer, false);
  if (r.failed()) return;
  if (c.token_endpoint_auth_method != "client_secret_post" &&
      c.token_endpoint_auth_method != "client_secret_basic") {
    r.Fail("oauth2.tokenEndpointAuthMethod", "must be client_secret_post or client_secret_basic");
    return;
  }
  if (c.scope_separator.empty()) {
    r.Fail("oauth2.scopeSeparator", "must not be empty");
    return;
  }
  if (const json::object* params =
          r.Object(o, "authorizationParams", "oauth2.authorizationParams")) {
    for (const auto& kv : *params) {
      if (!kv.value().is_string()) {
        r.Fail(fmt::format("oauth2.authorizationParams.{}", std::string_view(kv.key())),
               "must be a string");
        return;
      }
      c.authorization_params.emplace(kv.key(), kv.value().get_string());
    }
  }
}

// What API_TOKEN sends must be there and must fit in a request: the field "token", a header
// name (or a query parameter instead), a prefix that cannot break the header line. Without
// these a connected user's calls would go out with an empty or malformed credential.
// `o` is the apiToken block, or nullptr when the definition has none (the defaults).
void CheckApiTokenSends(Reader& r, const json::object* o, const ApiTokenConfig& c) {
  const json::value* query = o ? r.Find(*o, "queryParam") : nullptr;
  if (query && c.query_param.empty()) {
    r.Fail("apiToken.queryParam", "must not be empty (leave it out to send a header)");
    return;
  }
  if (c.query_param.empty() && !IsToken(c.header)) {
    r.Fail("apiToken.header",
           "must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~), or set queryParam");
    return;
  }
  if (HasControlCharacter(c.prefix)) {
    r.Fail("apiToken.prefix", "must not contain control characters");
    return;
  }
  bool has_token = false;
  for (const ApiTokenField& f : c.fields) has_token = has_token || f.name == "token";
  if (!has_token) {
    r.Fail("apiToken.fields",
           "must include the field \"token\": its value is the credential sent to the API");
  }
}

void ReadApiToken(Reader& r, const json::object& o, ApiTokenConfig& c) {
  static const std::regex kFieldName("^[A-Za-z][A-Za-z0-9_]{0,63}$");
  if (!r.String(o, "header", "apiToken.header", c.header, false) ||
      !r.String(o, "prefix", "apiToken.prefix", c.prefix, false) ||
      !r.String(o, "queryParam", "apiToken.queryParam", c.query_param, false)) {
    return;
  }
  if (const json::value* fields = r.Find(o, "fields")) {
    if (!fields->is_array() || fields->get_array().empty()) {
      r.Fail("apiToken.fields", "must be a non-empty array of objects");
      return;
    }
    c.fields.clear();
    std::set<std::string> names;
    for (size_t i = 0; i < fields->get_array().size(); ++i) {
      std::string path = fmt::format("apiToken.fields[{}]", i);
      const json::value& item = fields->get_array()[i];
      if (!item.is_object()) {
        r.Fail(path, "must be an object");
        return;
      }
      ApiTokenField f;
      if (!r.String(item.get_object(), "name", path + ".name", f.name, true) ||
          !r.String(item.get_object(), "label", path + ".label", f.label, false) ||
          !r.Bool(item.get_object(), "secret", path + ".secret", f.secret)) {
        return;
      }
      if (!std::regex_match(f.name, kFieldName)) {
        r.Fail(path + ".name", "must match ^[A-Za-z][A-Za-z0-9_]{0,63}$");
        return;
      }
      // "authType" is the credentials' own key, "csrf" the form's hidden field.
      if (f.name == "authType" || f.name == "csrf") {
        r.Fail(path + ".name", "is reserved (authType, csrf)");
        return;
      }
      if (!names.insert(f.name).second) {
        r.Fail(path + ".name", "is a duplicate");
        return;
      }
      if (f.label.empty()) f.label = f.name;
      c.fields.push_back(std::move(f));
    }
  }
  if (const json::object* v = r.Object(o, "verification", "apiToken.verification")) {
    ApiTokenConfig::Verification ver{"GET", "", 200};
    if (!r.String(*v, "method", "apiToken.verification.method", ver.method, false) ||
        !r.String(*v, "url", "apiToken.verification.url", ver.url, true) ||
        !r.Int(*v, "successStatus", "apiToken.verification.successStatus", ver.success_status,
               100, 599)) {
      return;
    }
    if (ver.method != "GET" && ver.method != "POST" && ver.method != "HEAD") {
      r.Fail("apiToken.verification.method", "must be GET, POST or HEAD");
      return;
    }
    std::string probe = std::regex_replace(ver.url, std::regex(R"(\{[A-Za-z0-9_]+\})"), "x");
    if (!IsHttpUrl(probe)) {
      r.Fail("apiToken.verification.url", "must be an absolute http(s) URL");
      return;
    }
    c.verification = std::move(ver);
  }
}

// True for http://localhost, http://127.x.x.x and http://[::1]: the only plain-http MCP
// servers a definition may name (a test's, or one beside the service).
bool IsLoopbackHost(const boost::urls::url_view& url) {
  switch (url.host_type()) {
    case boost::urls::host_type::ipv4:
      return url.host_ipv4_address().to_bytes()[0] == 127;
    case boost::urls::host_type::ipv6:
      return url.host_ipv6_address().is_loopback();
    case boost::urls::host_type::name:
      return url.encoded_host() == "localhost";
    default:
      return false;
  }
}

// The `mcp` block: its URL, and which auth types go with it. Fills `host` (when absent)
// from the URL; apiBaseUrl is defaulted by the caller.
void ReadMcp(Reader& r, const json::object& o, IntegrationDefinition& def) {
  McpConfig mcp;
  if (!r.Url(o, "url", "mcp.url", mcp.url, true)) return;
  auto url = boost::urls::parse_absolute_uri(mcp.url);
  if (url->scheme() != "https" && !IsLoopbackHost(*url)) {
    r.Fail("mcp.url", "must be https (plain http only to a loopback address)");
    return;
  }
  if (url->has_query() || url->has_userinfo()) {
    r.Fail("mcp.url", "must not carry a query or a user");
    return;
  }
  for (AuthType type : def.auth_types) {
    if (type != AuthType::kNone && type != AuthType::kApiToken && type != AuthType::kOAuth2) {
      r.Fail("authTypes", "must contain only NONE, API_TOKEN and OAUTH2 for an MCP server");
      return;
    }
  }
  def.mcp = std::move(mcp);
}

void ReadAuthTypes(Reader& r, const json::object& root, IntegrationDefinition& def) {
  const json::value* v = r.Find(root, "authTypes");
  if (!v) {
    r.Fail("authTypes", "is required");
    return;
  }
  if (!v->is_array() || v->get_array().empty()) {
    r.Fail("authTypes", "must be a non-empty array");
    return;
  }
  for (const json::value& item : v->get_array()) {
    auto type = item.is_string() ? ParseAuthType(item.get_string()) : std::nullopt;
    if (!type) {
      r.Fail("authTypes",
             "must contain only NONE, API_TOKEN, OAUTH2, AWS_ASSUME_ROLE, "
             "GOOGLE_SERVICE_ACCOUNT_OAUTH");
      return;
    }
    if (def.Supports(*type)) {
      r.Fail("authTypes", "must not repeat a type");
      return;
    }
    def.auth_types.push_back(*type);
  }
}

}  // namespace

std::string_view AuthTypeName(AuthType type) {
  for (const auto& entry : kAuthTypeNames) {
    if (entry.type == type) return entry.name;
  }
  return "NONE";
}

std::optional<AuthType> ParseAuthType(std::string_view name) {
  for (const auto& entry : kAuthTypeNames) {
    if (entry.name == name) return entry.type;
  }
  return std::nullopt;
}

bool IntegrationDefinition::Configured(AuthType type) const {
  switch (type) {
    case AuthType::kOAuth2:
      return oauth2.has_value() || mcp.has_value();  // an MCP server's are discovered
    case AuthType::kApiToken:
      return api_token.has_value();
    case AuthType::kGoogleServiceAccount:
      return !google_service_account_scopes.empty();
    default:
      return true;
  }
}

bool IntegrationDefinition::Supports(AuthType type) const {
  for (AuthType t : auth_types) {
    if (t == type) return true;
  }
  return false;
}

Result<IntegrationDefinition> ParseIntegrationDefinition(std::string_view json_text,
                                                         std::string_view source,
                                                         const DefinitionFileLoader& loader) {
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = tools::kMaxDocumentDepth;  // an inline OpenAPI document nests deeply
  // One arena for the text (which may hold a large OpenAPI document): parsed fast, freed at
  // once; the definition and its tools copy what they keep.
  json::monotonic_resource arena;
  json::value root = json::parse(json_text, ec, &arena, options);
  if (ec) return Error(Errc::kInvalidArgument, fmt::format("{}: not valid JSON", source));
  if (!root.is_object()) {
    return Error(Errc::kInvalidArgument, fmt::format("{}: must be a JSON object", source));
  }
  const json::object& obj = root.get_object();
  std::string problem;
  Reader r(source, &problem);
  IntegrationDefinition def;
  static const std::regex kId("^[a-z0-9][a-z0-9_-]{0,63}$");

  if (r.String(obj, "integrationId", "integrationId", def.integration_id, true) &&
      !std::regex_match(def.integration_id, kId)) {
    r.Fail("integrationId", "must match ^[a-z0-9][a-z0-9_-]{0,63}$");
  }
  if (!r.failed()) r.String(obj, "name", "name", def.name, true);
  if (!r.failed()) r.String(obj, "description", "description", def.description, false);
  if (!r.failed()) r.Url(obj, "logoUrl", "logoUrl", def.logo_url, false);
  const json::object* mcp = r.failed() ? nullptr : r.Object(obj, "mcp", "mcp");
  if (!r.failed() && r.String(obj, "host", "host", def.host, mcp == nullptr)) {
    if (std::string_view problem = HostProblem(def.host); !def.host.empty() && !problem.empty()) {
      r.Fail("host", problem);
    }
  }
  if (!r.failed()) r.Url(obj, "apiBaseUrl", "apiBaseUrl", def.api_base_url, false);
  if (!r.failed()) ReadAuthTypes(r, obj, def);
  if (!r.failed() && mcp) ReadMcp(r, *mcp, def);

  if (!r.failed()) {
    if (const json::object* o = r.Object(obj, "oauth2", "oauth2")) {
      def.oauth2.emplace();
      ReadOAuth2(r, *o, *def.oauth2);
    } else if (!r.failed() && def.Supports(AuthType::kOAuth2) && !def.mcp) {
      r.Fail("oauth2", "is required when authTypes contains OAUTH2");
    }
  }
  if (!r.failed()) {
    def.api_token.emplace();
    const json::object* o = r.Object(obj, "apiToken", "apiToken");
    if (o) ReadApiToken(r, *o, *def.api_token);
    // Only what is sent is checked: a stray apiToken block of an integration without
    // API_TOKEN is never used (and a stored one must keep loading).
    if (!r.failed() && def.Supports(AuthType::kApiToken)) {
      CheckApiTokenSends(r, o, *def.api_token);
    }
  }
  if (!r.failed()) {
    if (const json::object* o = r.Object(obj, "awsAssumeRole", "awsAssumeRole")) {
      r.Int(*o, "sessionDurationSeconds", "awsAssumeRole.sessionDurationSeconds",
            def.aws_session_duration_seconds, kMinAwsSessionSeconds, kMaxAwsSessionSeconds);
    }
  }
  if (!r.failed()) {
    const json::object* o = r.Object(obj, "googleServiceAccount", "googleServiceAccount");
    if (o) {
      r.Strings(*o, "scopes", "googleServiceAccount.scopes", def.google_service_account_scopes) &&
          r.Url(*o, "tokenUrl", "googleServiceAccount.tokenUrl",
                def.google_service_account_token_url, false);
      if (!r.failed() && def.google_service_account_token_url.empty()) {
        r.Fail("googleServiceAccount.tokenUrl", "must be an absolute http(s) URL");
      }
    }
    if (!r.failed() && def.Supports(AuthType::kGoogleServiceAccount) &&
        def.google_service_account_scopes.empty()) {
      r.Fail("googleServiceAccount.scopes",
             "is required when authTypes contains GOOGLE_SERVICE_ACCOUNT_OAUTH");
    }
  }
  if (r.failed()) return Error(Errc::kInvalidArgument, problem);
  const json::value* tools = r.Find(obj, "tools");
  if (tools && def.mcp) {
    auto selection = ReadMcpToolSelection(*tools, source);
    if (!selection) return selection.error();
    def.mcp->tools = std::move(*selection);
  } else if (tools) {
    auto set = ReadIntegrationTools(*tools, def.integration_id, source, loader);
    if (!set) return set.error();
    def.tools = std::move(*set);
  }
  if (def.mcp) {
    // The MCP endpoint is the API: a proxied call with an empty path reaches it.
    auto url = boost::urls::parse_absolute_uri(def.mcp->url);
    if (def.host.empty()) def.host = std::string(url->encoded_host_and_port());
    if (def.api_base_url.empty()) {
      def.api_base_url = fmt::format("{}://{}{}", url->scheme(), url->encoded_host_and_port(),
                                     url->encoded_path());
    }
  }
  if (def.api_base_url.empty()) def.api_base_url = "https://" + def.host;
  if (!def.Supports(AuthType::kApiToken)) def.api_token.reset();
  return def;
}

}  // namespace tr
