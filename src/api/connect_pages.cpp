#include "api/connect_pages.h"

#include <fmt/format.h>

#include "crypto/crypto.h"

namespace tr::api {

namespace {

constexpr std::string_view kStyle =
    "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f5f6f8;"
    "color:#1d2330;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}"
    "main{background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08);padding:32px;"
    "width:100%;max-width:440px}"
    "header{display:flex;align-items:center;gap:12px;margin-bottom:16px}"
    "h1{font-size:20px;margin:0}label{display:block;font-weight:600;margin:16px 0 6px}"
    "input,textarea{width:100%;box-sizing:border-box;padding:10px;border:1px solid #c9ced8;"
    "border-radius:8px;font:inherit}textarea{min-height:140px;font-family:monospace;font-size:12px}"
    "button{margin-top:20px;width:100%;padding:12px;border:0;border-radius:8px;background:#2f5bea;"
    "color:#fff;font-weight:600;font-size:15px;cursor:pointer}"
    ".error{background:#fdecec;color:#a11;padding:10px;border-radius:8px}"
    ".note{color:#5b6475;font-size:14px}code{background:#eef0f4;padding:2px 6px;border-radius:4px;"
    "word-break:break-all}.ok{color:#137333}.fail{color:#a11}";

// The CSP allows exactly our one inline style block, nothing else.
const std::string& StyleHash() {
  static const std::string hash = "'sha256-" + crypto::Base64Encode(crypto::Sha256(kStyle)) + "'";
  return hash;
}

void AddPageHeaders(http::Response& response, std::string_view form_origin) {
  std::string form_action = "'self'";
  if (!form_origin.empty()) form_action += " " + std::string(form_origin);
  response.content_type = "text/html; charset=utf-8";
  response.AddHeader("Cache-Control", "no-store");
  response.AddHeader("Pragma", "no-cache");
  response.AddHeader("X-Frame-Options", "DENY");
  response.AddHeader("X-Content-Type-Options", "nosniff");
  response.AddHeader("Referrer-Policy", "no-referrer");
  response.AddHeader("Content-Security-Policy",
                     fmt::format("default-src 'none'; style-src {}; img-src data:; form-action {}; "
                                 "frame-ancestors 'none'; base-uri 'none'",
                                 StyleHash(), form_action));
}

// A round monogram of the integration's first letter, colored from its name.
std::string Logo(std::string_view name) {
  static constexpr std::string_view kColors[] = {"#2f5bea", "#0b8043", "#d93025", "#f29900",
                                                 "#8430ce", "#00838f", "#c2185b", "#5d4037"};
  size_t hash = 0;
  for (char c : name) hash = hash * 31 + static_cast<unsigned char>(c);
  std::string letter = name.empty() ? "?" : std::string(1, name.front());
  return fmt::format(
      "<svg id=\"logo\" width=\"40\" height=\"40\" viewBox=\"0 0 40 40\" role=\"img\" "
      "aria-label=\"{0}\"><circle cx=\"20\" cy=\"20\" r=\"20\" fill=\"{1}\"/>"
      "<text x=\"20\" y=\"26\" text-anchor=\"middle\" font-size=\"18\" font-family=\"sans-serif\" "
      "fill=\"#fff\">{2}</text></svg>",
      HtmlEscape(name), kColors[hash % std::size(kColors)], HtmlEscape(letter));
}

std::string Page(std::string_view title, std::string_view name, std::string_view body) {
  return fmt::format(
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<meta name=\"referrer\" content=\"no-referrer\"><title>{0}</title><style>{1}</style></head>"
      "<body><main><header>{2}<h1>{0}</h1></header>{3}</main></body></html>",
      HtmlEscape(title), kStyle, Logo(name), body);
}

std::string Input(std::string_view name, std::string_view label, bool secret) {
  return fmt::format(
      "<label for=\"field-{0}\">{1}</label><input id=\"field-{0}\" name=\"{0}\" type=\"{2}\" "
      "autocomplete=\"off\" spellcheck=\"false\" required>",
      HtmlEscape(name), HtmlEscape(label), secret ? "password" : "text");
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

http::Response RenderForm(const FormView& view) {
  std::string fields;
  std::string intro;
  std::string enctype;
  switch (view.auth_type) {
    case AuthType::kApiToken:
      intro = "Enter your credentials. They are checked with the provider and stored encrypted.";
      for (const ApiTokenField& f : view.fields) fields += Input(f.name, f.label, f.secret);
      break;
    case AuthType::kAwsAssumeRole:
      intro = fmt::format(
          "Create an IAM role that trusts <code id=\"principal\">{}</code> with the External ID "
          "<code id=\"external-id\">{}</code>, then enter its ARN.",
          HtmlEscape(view.principal_arn.empty() ? "(not configured)" : view.principal_arn),
          HtmlEscape(view.external_id));
      fields = Input("roleArn", "Role ARN", false);
      break;
    case AuthType::kGoogleServiceAccount:
      intro = "Paste the service account's JSON key, or upload the key file.";
      enctype = " enctype=\"multipart/form-data\"";
      fields =
          "<label for=\"field-keyJson\">JSON key</label><textarea id=\"field-keyJson\" "
          "name=\"keyJson\" spellcheck=\"false\" autocomplete=\"off\"></textarea>"
          "<label for=\"field-keyFile\">or key file</label><input id=\"field-keyFile\" "
          "name=\"keyFile\" type=\"file\" accept=\"application/json,.json\">";
      break;
    default:
      break;
  }
  std::string error =
      view.error.empty() ? ""
                         : fmt::format("<p id=\"error\" class=\"error\" role=\"alert\">{}</p>",
                                       HtmlEscape(view.error));
  std::string body = fmt::format(
      "{0}<p class=\"note\">{1}</p><form id=\"connect-form\" method=\"post\" "
      "action=\"{2}\"{3}><input type=\"hidden\" name=\"csrf\" value=\"{4}\">{5}"
      "<button id=\"submit\" type=\"submit\">Connect</button></form>",
      error, intro, HtmlEscape(view.action), enctype, HtmlEscape(view.csrf_token), fields);
  http::Response response;
  response.status = 200;
  response.body = Page("Connect " + view.integration_name, view.integration_name, body);
  AddPageHeaders(response, view.redirect_origin);
  return response;
}

http::Response RenderResult(const FlowResult& result) {
  http::Response response;
  if (!result.redirect_uri.empty()) {
    response.status = 302;
    response.AddHeader("Location",
                       AppendFlowStatus(result.redirect_uri, result.success, result.error_code));
    AddPageHeaders(response, "");
    return response;
  }
  response.status = result.success ? 200 : (result.error_code == "invalid_session" ? 404 : 400);
  std::string title = result.success ? "Connected" : "Connection failed";
  std::string heading = result.integration_name.empty() ? title : title + ": " + result.integration_name;
  std::string body = fmt::format(
      "<p id=\"result\" class=\"{0}\" data-status=\"{1}\"><strong>{2}</strong></p>"
      "<p id=\"message\">{3}</p>",
      result.success ? "ok" : "fail", result.success ? "success" : "error", HtmlEscape(title),
      HtmlEscape(result.message));
  if (!result.success && !result.error_code.empty()) {
    body += fmt::format("<p class=\"note\">Error code: <code id=\"error-code\">{}</code></p>",
                        HtmlEscape(result.error_code));
  }
  response.body = Page(heading, result.integration_name.empty() ? "toolregistry" : result.integration_name, body);
  AddPageHeaders(response, "");
  return response;
}

http::Response RenderProviderRedirect(const ProviderRedirect& redirect) {
  http::Response response;
  response.status = 302;
  response.AddHeader("Location", redirect.url);
  AddPageHeaders(response, "");
  return response;
}

}  // namespace tr::api
