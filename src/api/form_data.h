// Decoding of HTML form submissions: application/x-www-form-urlencoded and
// multipart/form-data (for the service-account key upload). Pure functions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace tr::api {

using FormValues = std::map<std::string, std::string>;

// "a=1&b=x+y" -> {a:1, b:"x y"}. nullopt on a malformed escape. Later duplicates win.
std::optional<FormValues> ParseUrlEncoded(std::string_view body);

// The parts of a multipart/form-data body, by field name (a file part's contents under its
// field name). `content_type` is the request's header, which carries the boundary.
// nullopt when malformed.
std::optional<FormValues> ParseMultipart(std::string_view content_type, std::string_view body);

// Dispatches on the content type; nullopt for anything else or malformed input.
std::optional<FormValues> ParseForm(std::string_view content_type, std::string_view body);

}  // namespace tr::api
