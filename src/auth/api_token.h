// API_TOKEN auth: applying a token to a request the way the integration declares (a header
// with a prefix, or a query parameter), and building the verification request.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "core/integration.h"
#include "net/http_client.h"

namespace tr::auth {

using FieldValues = std::map<std::string, std::string>;

// Replaces each {name} in `url_template` with the form-encoded value of field `name`.
// Unknown placeholders are left as they are.
std::string ExpandUrlTemplate(const std::string& url_template, const FieldValues& values);

// Adds the token (field "token") to `call`: header `header: prefix+token`, or the query
// parameter `queryParam`.
void ApplyApiToken(const ApiTokenConfig& config, const FieldValues& values, net::HttpCall& call);

// The verification request, or nullopt when the integration declares none.
std::optional<net::HttpCall> BuildVerificationCall(const ApiTokenConfig& config,
                                                   const FieldValues& values);

}  // namespace tr::auth
