// The HTML API reference served at GET /docs: an OpenAPI 3.0 document rendered as one
// self-contained page. It lists every path and method (summary, description, security,
// parameters, request body, responses) and the component schemas, with $ref'd schemas
// resolved by name and expanded where they are used. The page loads nothing from elsewhere
// and runs no script; its only inline element is one <style> whose text is kReferenceStyle,
// so that the server's Content-Security-Policy can allow it by hash. Pure functions, safe
// on any thread.
#pragma once

#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace tr::api {

// The text of the page's single <style> element, exactly as it appears in the page.
extern const std::string_view kReferenceStyle;

// Returns the reference page for `openapi`. Every text taken from the document is
// HTML-escaped. Never throws on a malformed document: whatever has the expected shape is
// rendered, anything else is skipped (a null or non-object document gives an empty page).
std::string RenderApiReference(const boost::json::value& openapi);

}  // namespace tr::api
