// `integration import-openapi` (CONTRACT section 10): an OpenAPI document -> a custom
// integration definition (section 8) whose tools are every operation of the document.
// Pure function; any thread.
#pragma once

#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/result.h"

namespace tr::tools {

// The definition: integrationId (`integration_id`, else made from info.title), name and
// description from info, apiBaseUrl and host from servers[0] (server variables at their
// defaults), authTypes from components.securitySchemes (apiKey in a header or the query ->
// API_TOKEN sending it there; http bearer -> API_TOKEN as "Authorization: Bearer"; oauth2
// authorizationCode -> OAUTH2 with its URLs and scopes; none usable -> NONE), and
// "tools": {"openapi": <the document>}. kInvalidArgument naming `source` when the document
// is not OpenAPI 3.0/3.1 or has no absolute http(s) server URL.
// `document` is moved into the definition (same storage: no copy).
Result<boost::json::object> DefinitionFromOpenApi(boost::json::value document,
                                                  std::string_view integration_id,
                                                  std::string_view source);

}  // namespace tr::tools
