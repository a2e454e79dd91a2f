// `integration import-openapi` (CONTRACT section 10): an OpenAPI document -> a custom
// integration definition (section 8) whose tools are every operation of the document.
// Pure function; any thread.
#pragma once

#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/result.h"

namespace tr::tools {

// The definition, less its tools: integrationId (`integration_id`, else made from
// info.title), name and description from info, apiBaseUrl and host from servers[0] (server
// variables at their defaults), authTypes from components.securitySchemes (apiKey in a header
// or the query -> API_TOKEN sending it there; http bearer -> API_TOKEN as
// "Authorization: Bearer"; oauth2 authorizationCode -> OAUTH2 with its URLs and scopes; none
// usable -> NONE). The caller adds "tools": {"openapi": <the document>} (AttachDocument).
// kInvalidArgument naming `source` when the document is not an object or has no absolute
// http(s) server URL.
Result<boost::json::object> DefinitionFromOpenApi(const boost::json::value& document,
                                                  std::string_view integration_id,
                                                  std::string_view source);

// Room DefinitionText needs before a JSON document's text for the definition's fields: reserve
// it before the document is parsed, while nothing else is held.
inline constexpr size_t kDefinitionFieldsRoom = 256 * 1024;

// The definition as stored: `definition`'s fields and "tools": {"openapi": <document>}. A JSON
// document goes in as its own text, made into the definition in place (`text`'s buffer is
// reused when it has room: no copy of a large document, no serialization of its tree); a YAML
// one as `document` serialized. REQUIRES: `text` parsed to `document`.
std::string DefinitionText(const boost::json::object& definition, std::string text,
                           const boost::json::value& document);

}  // namespace tr::tools
