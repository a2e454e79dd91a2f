#include "tools/openapi_import.h"

#include <string>

#include <fmt/format.h>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include "tools/openapi_schema.h"

namespace tr::tools {

namespace json = boost::json;

namespace {

std::string_view StringAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

const json::object* ObjectAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v ? v->if_object() : nullptr;
}

// "My API v2!" -> "my-api-v2": what ^[a-z0-9][a-z0-9_-]{0,63}$ allows.
std::string IdFromTitle(std::string_view title) {
  std::string id;
  for (char c : title) {
    char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool ok = (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9');
    if (ok) {
      id += lower;
    } else if (!id.empty() && id.back() != '-') {
      id += '-';
    }
  }
  while (!id.empty() && id.back() == '-') id.pop_back();
  if (id.size() > 64) id.resize(64);
  while (!id.empty() && id.back() == '-') id.pop_back();
  return id.empty() ? "openapi" : id;
}

// servers[0].url with its {variables} at their defaults.
std::string ServerUrl(const json::object& server) {
  std::string url(StringAt(server, "url"));
  const json::object* variables = ObjectAt(server, "variables");
  if (!variables) return url;
  for (const auto& [name, spec] : *variables) {
    std::string value = spec.is_object() ? std::string(StringAt(spec.get_object(), "default")) : "";
    std::string placeholder = "{" + std::string(name) + "}";
    for (size_t at = url.find(placeholder); at != std::string::npos;
         at = url.find(placeholder, at + value.size())) {
      url.replace(at, placeholder.size(), value);
    }
  }
  return url;
}

bool IsAbsoluteHttpUrl(std::string_view text) {
  auto url = boost::urls::parse_absolute_uri(text);
  return url && (url->scheme() == "https" || url->scheme() == "http") && url->has_authority() &&
         !url->encoded_host().empty();
}

}  // namespace

Result<json::object> DefinitionFromOpenApi(const json::value& document,
                                           std::string_view integration_id,
                                           std::string_view source) {
  const json::object* doc = document.if_object();
  if (!doc)
    return Error(Errc::kInvalidArgument,
                 fmt::format("{}: an OpenAPI document must be an object", source));
  const json::object* info = ObjectAt(*doc, "info");
  std::string title = info ? std::string(StringAt(*info, "title")) : "";

  json::object def(document.storage());
  def["integrationId"] = integration_id.empty() ? IdFromTitle(title) : std::string(integration_id);
  def["name"] = title.empty() ? def["integrationId"] : json::value(CutUtf8(title, 200));
  if (info && !StringAt(*info, "description").empty()) {
    def["description"] = CutUtf8(StringAt(*info, "description"), 1024);
  }

  const json::value* servers = doc->if_contains("servers");
  const json::object* server = servers && servers->is_array() && !servers->get_array().empty()
                                   ? servers->get_array()[0].if_object()
                                   : nullptr;
  std::string base = server ? ServerUrl(*server) : "";
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  if (!IsAbsoluteHttpUrl(base)) {
    return Error(Errc::kInvalidArgument,
                 fmt::format("{}: servers[0].url: must be an absolute http(s) URL (it is the "
                             "integration's apiBaseUrl); found \"{}\"",
                             source, CutUtf8(base, 200)));
  }
  auto url = boost::urls::parse_absolute_uri(base);
  std::string host(url->encoded_host());
  if (url->has_port()) host += ":" + std::string(url->port());
  def["host"] = host;
  def["apiBaseUrl"] = base;

  json::array auth_types;
  auto add_type = [&auth_types](std::string_view type) {
    json::value v = json::string(type);
    if (std::find(auth_types.begin(), auth_types.end(), v) == auth_types.end())
      auth_types.push_back(v);
  };
  const json::object* components = ObjectAt(*doc, "components");
  const json::object* schemes = components ? ObjectAt(*components, "securitySchemes") : nullptr;
  if (schemes) {
    for (const auto& [name, value] : *schemes) {
      const json::object* s = value.if_object();
      if (!s) continue;
      std::string_view type = StringAt(*s, "type");
      if (type == "apiKey" && !def.contains("apiToken")) {
        std::string_view in = StringAt(*s, "in");
        std::string_view param = StringAt(*s, "name");
        if (param.empty() || (in != "header" && in != "query")) continue;
        json::object token;
        if (in == "header") {
          token["header"] = param;
          token["prefix"] = "";
        } else {
          token["queryParam"] = param;
        }
        def["apiToken"] = std::move(token);
        add_type("API_TOKEN");
      } else if (type == "http" && !def.contains("apiToken")) {
        std::string scheme(StringAt(*s, "scheme"));
        for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (scheme != "bearer") continue;
        def["apiToken"] = json::object{{"header", "Authorization"}, {"prefix", "Bearer "}};
        add_type("API_TOKEN");
      } else if (type == "oauth2" && !def.contains("oauth2")) {
        const json::object* flows = ObjectAt(*s, "flows");
        const json::object* code = flows ? ObjectAt(*flows, "authorizationCode") : nullptr;
        if (!code) continue;
        std::string auth_url(StringAt(*code, "authorizationUrl"));
        std::string token_url(StringAt(*code, "tokenUrl"));
        if (!IsAbsoluteHttpUrl(auth_url) || !IsAbsoluteHttpUrl(token_url)) continue;
        json::array scopes;
        if (const json::object* declared = ObjectAt(*code, "scopes")) {
          for (const auto& scope : *declared) scopes.emplace_back(scope.key());
        }
        def["oauth2"] = json::object{
            {"authorizationUrl", auth_url}, {"tokenUrl", token_url}, {"scopes", std::move(scopes)}};
        add_type("OAUTH2");
      }
    }
  }
  if (auth_types.empty()) auth_types.push_back("NONE");
  def["authTypes"] = std::move(auth_types);
  return def;
}

std::string DefinitionText(const json::object& definition, std::string text,
                           const json::value& document) {
  std::string fields = json::serialize(definition);  // {...}
  fields.pop_back();
  fields += definition.empty() ? R"("tools":{"openapi":)" : R"(,"tools":{"openapi":)";
  const size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string::npos || text[start] != '{') {
    return fields + json::serialize(document) + "}}";
  }
  text.replace(0, start, fields);  // within its capacity when the caller reserved room
  text += "}}";
  return text;
}

}  // namespace tr::tools
