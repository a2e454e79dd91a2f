// `integration import-openapi` (CONTRACT section 10): an OpenAPI document -> a custom
// integration definition (section 8) whose tools are every operation of the document.
// Pure function; any thread.
#pragma once

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

// `definition`'s "tools": {"openapi": <document>}, the document moved in (no copy when both
// use the same storage).
void AttachDocument(boost::json::object& definition, boost::json::value document);

}  // namespace tr::tools
