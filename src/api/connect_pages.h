// The hosted connect pages: forms and result pages as self-contained HTML (no asset from
// elsewhere; the logo is an inline SVG monogram), with the security headers every page
// carries: Cache-Control no-store, X-Frame-Options DENY, Referrer-Policy no-referrer and a
// restrictive Content-Security-Policy. Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "core/connect_service.h"
#include "http/message.h"

namespace tr::api {

// The form for `view`, posting back to /connect/{token}.
http::Response RenderForm(const FormView& view);
// The end of a flow: a 302 to the redirect URI with status=..., or a result page.
http::Response RenderResult(const FlowResult& result);
// A 302 to the provider.
http::Response RenderProviderRedirect(const ProviderRedirect& redirect);

// HTML-escapes text for element content and quoted attribute values.
std::string HtmlEscape(std::string_view text);

}  // namespace tr::api
