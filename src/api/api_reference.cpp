#include "api/api_reference.h"

#include <array>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

namespace tr::api {

namespace json = boost::json;

constexpr std::string_view kReferenceStyle =
    "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1d2330;"
    "background:#f5f6f8;margin:0;line-height:1.5}"
    "main{max-width:1040px;margin:0 auto;padding:24px}"
    "header.top{background:#fff;border-radius:12px;padding:24px;margin-bottom:24px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.06)}"
    "h1{margin:0 0 8px;font-size:26px}h2{margin:32px 0 12px;font-size:20px}"
    "h3{margin:0;font-size:16px;font-weight:600}h4{margin:16px 0 6px;font-size:14px;"
    "text-transform:uppercase;letter-spacing:.04em;color:#5b6475}"
    "code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;"
    "background:#eef0f4;padding:1px 5px;border-radius:4px;word-break:break-word}"
    ".version{font-size:13px;color:#5b6475;font-weight:400;margin-left:8px}"
    "nav ul{list-style:none;padding:0;margin:0}nav li{margin:3px 0}"
    "nav a,a{color:#2f5bea;text-decoration:none}a:hover{text-decoration:underline}"
    ".op,.schema-def{background:#fff;border-radius:12px;padding:16px 20px;margin:12px 0;"
    "box-shadow:0 1px 4px rgba(0,0,0,.06)}"
    ".method{display:inline-block;min-width:56px;text-align:center;border-radius:6px;"
    "color:#fff;font-size:12px;font-weight:700;padding:2px 6px;margin-right:8px;"
    "background:#5b6475}"
    ".m-get{background:#137333}.m-post{background:#2f5bea}.m-put{background:#b06000}"
    ".m-patch{background:#8430ce}.m-delete{background:#c5221f}"
    ".path{font-size:15px;background:none;padding:0}.summary{color:#5b6475;margin-left:8px}"
    ".meta{color:#5b6475;font-size:13px;margin:6px 0}"
    "table{border-collapse:collapse;width:100%;font-size:14px}"
    "th,td{text-align:left;vertical-align:top;border-top:1px solid #e3e6ec;padding:6px 8px}"
    "th{color:#5b6475;font-weight:600}td:first-child code{white-space:nowrap}"
    ".type{color:#8430ce;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}"
    ".req{color:#c5221f;font-size:12px;font-weight:600;margin-left:4px}"
    ".status{font-weight:700;font-family:ui-monospace,Menlo,Consolas,monospace}"
    "ul.props{list-style:none;margin:4px 0 4px 4px;padding-left:14px;"
    "border-left:2px solid #e3e6ec}ul.props li{margin:4px 0}"
    ".desc{color:#3c4353}.resp{margin:10px 0;padding-top:6px;border-top:1px solid #e3e6ec}"
    "footer{color:#5b6475;font-size:13px;margin:32px 0}";

namespace {

// Schemas expand at most this deep where they are used; deeper ones show as a link.
constexpr int kMaxSchemaDepth = 6;
// Schema nodes expanded for one body or response at most: bounds the page of a document
// whose schemas reference each other many times over.
constexpr int kSchemaNodeBudget = 400;
// $ref hops followed at most (a chain of references to references).
constexpr int kMaxRefHops = 8;

constexpr std::array<std::string_view, 8> kMethods = {"get",     "put",  "post",  "delete",
                                                      "options", "head", "patch", "trace"};
constexpr std::string_view kSchemaPrefix = "#/components/schemas/";

const json::object* AsObject(const json::value* v) {
  return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}

const json::value* Get(const json::object* o, std::string_view key) {
  return o == nullptr ? nullptr : o->if_contains(key);
}

const json::object* ObjectAt(const json::object* o, std::string_view key) {
  return AsObject(Get(o, key));
}

const json::array* ArrayAt(const json::object* o, std::string_view key) {
  const json::value* v = Get(o, key);
  return v != nullptr && v->is_array() ? &v->get_array() : nullptr;
}

std::string_view TextAt(const json::object* o, std::string_view key) {
  const json::value* v = Get(o, key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

bool TrueAt(const json::object* o, std::string_view key) {
  const json::value* v = Get(o, key);
  return v != nullptr && v->is_bool() && v->get_bool();
}

std::string Escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    std::string_view entity = c == '&'    ? "&amp;"
                              : c == '<'  ? "&lt;"
                              : c == '>'  ? "&gt;"
                              : c == '"'  ? "&quot;"
                              : c == '\'' ? "&#39;"
                                          : "";
    if (entity.empty()) {
      out.push_back(c);
    } else {
      out += entity;
    }
  }
  return out;
}

// An element id for `name`: letters, digits, '-' and '_' kept, every other byte as .XX, so
// that different names give different ids.
std::string Anchor(std::string_view prefix, std::string_view name) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(prefix);
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '_') {
      out.push_back(c);
    } else {
      out += {'.', kHex[u >> 4], kHex[u & 15]};
    }
  }
  return out;
}

// Escaped prose: `code` spans as <code>, blank lines as paragraph breaks. `block` wraps
// each paragraph in <p>; otherwise paragraphs are separated by <br>.
std::string Prose(std::string_view text, bool block) {
  std::string out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find("\n\n", start);
    std::string para =
        Escape(text.substr(start, end == std::string_view::npos ? end : end - start));
    std::string html;
    for (size_t i = 0; i < para.size();) {
      size_t close = para[i] == '`' ? para.find('`', i + 1) : std::string::npos;
      if (close == std::string::npos) {
        html.push_back(para[i++]);
      } else {
        html += "<code>" + para.substr(i + 1, close - i - 1) + "</code>";
        i = close + 1;
      }
    }
    if (!html.empty()) {
      out += block ? "<p class=\"desc\">" + html + "</p>" : (out.empty() ? "" : "<br>") + html;
    }
    if (end == std::string_view::npos) break;
    start = end + 2;
  }
  return out;
}

// A JSON value as short escaped text: strings as they are, anything else serialized.
std::string Literal(const json::value& v) {
  return Escape(v.is_string() ? std::string(v.get_string()) : json::serialize(v));
}

class Renderer {
 public:
  explicit Renderer(const json::object* root) : root_(root) {}

  std::string Render() {
    const json::object* info = ObjectAt(root_, "info");
    std::string title(TextAt(info, "title"));
    if (title.empty()) title = "API reference";
    out_ +=
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        "<title>" +
        Escape(title) + "</title><style>" + std::string(kReferenceStyle) +
        "</style></head><body><main><header class=\"top\"><h1>" + Escape(title);
    if (std::string_view version = TextAt(info, "version"); !version.empty()) {
      out_ += "<span class=\"version\">version " + Escape(version) + "</span>";
    }
    out_ += "</h1>" + Prose(TextAt(info, "description"), true);
    Servers();
    SecuritySchemes();
    out_ += "</header>";
    Contents();
    Paths();
    Schemas();
    out_ +=
        "<footer>Generated from the <a href=\"/openapi.json\">OpenAPI document</a>."
        "</footer></main></body></html>";
    return std::move(out_);
  }

 private:
  // The value at a local reference ("#/a/b"), or null.
  const json::value* Lookup(std::string_view ref) const {
    if (!ref.starts_with("#/") || root_ == nullptr) return nullptr;
    const json::object* node = root_;
    const json::value* found = nullptr;
    std::string_view rest = ref.substr(2);
    while (node != nullptr) {
      size_t slash = rest.find('/');
      std::string token(rest.substr(0, slash));
      for (size_t i = 0; (i = token.find('~', i)) != std::string::npos; ++i) {
        if (i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
          token.replace(i, 2, token[i + 1] == '0' ? "~" : "/");
        }
      }
      found = node->if_contains(token);
      if (found == nullptr || slash == std::string_view::npos) return found;
      node = AsObject(found);
      rest.remove_prefix(slash + 1);
    }
    return nullptr;
  }

  // `o` with its $ref chain followed; null when a reference leads nowhere.
  const json::object* Resolve(const json::object* o) const {
    for (int hop = 0; o != nullptr && hop < kMaxRefHops; ++hop) {
      const json::value* ref = Get(o, "$ref");
      if (ref == nullptr || !ref->is_string()) return o;
      o = AsObject(Lookup(ref->get_string()));
    }
    return o != nullptr && Get(o, "$ref") == nullptr ? o : nullptr;
  }

  // A one-line type: "string (date-time)", "array of <link>", "one of: A | B", ...
  std::string TypeLabel(const json::object* s, int depth = 0) const {
    if (s == nullptr) return "any";
    if (std::string_view ref = TextAt(s, "$ref"); !ref.empty()) {
      if (ref.starts_with(kSchemaPrefix)) {
        std::string_view name = ref.substr(kSchemaPrefix.size());
        return "<a href=\"#" + Anchor("schema-", name) + "\">" + Escape(name) + "</a>";
      }
      return Escape(ref);
    }
    if (depth > kMaxSchemaDepth) return "&hellip;";
    struct Composition {
      std::string_view key, label, separator;
    };
    static constexpr Composition kCompositions[] = {{"oneOf", "one of: ", " | "},
                                                    {"anyOf", "any of: ", " | "},
                                                    {"allOf", "all of: ", " &amp; "}};
    for (const Composition& c : kCompositions) {
      if (const json::array* parts = ArrayAt(s, c.key)) {
        std::string out(c.label);
        for (size_t i = 0; i < parts->size(); ++i) {
          if (i > 0) out += c.separator;
          out += TypeLabel(AsObject(&(*parts)[i]), depth + 1);
        }
        return out;
      }
    }
    std::string type(TextAt(s, "type"));
    std::string out;
    if (type == "array") {
      out = "array of " + TypeLabel(ObjectAt(s, "items"), depth + 1);
    } else if (!type.empty()) {
      out = Escape(type);
    } else {
      out = Get(s, "properties") != nullptr ? "object" : "any";
    }
    if (std::string_view format = TextAt(s, "format"); !format.empty()) {
      out += " (" + Escape(format) + ")";
    }
    if (const json::array* values = ArrayAt(s, "enum")) {
      out += ", one of:";
      for (const json::value& v : *values) out += " <code>" + Literal(v) + "</code>";
    }
    if (TrueAt(s, "nullable")) out += ", nullable";
    return out;
  }

  // True when Expand would show something under `s`: properties, variants, a reference.
  static bool HasStructure(const json::object* s) {
    for (int depth = 0; s != nullptr && depth <= kMaxSchemaDepth; ++depth) {
      for (std::string_view key : {"$ref", "properties", "oneOf", "anyOf", "allOf"}) {
        if (Get(s, key) != nullptr) return true;
      }
      if (AsObject(Get(s, "additionalProperties")) != nullptr) return true;
      s = ObjectAt(s, "items");
    }
    return false;
  }

  // The structure under a schema: properties (with required marks), variants, array items,
  // and $ref'd component schemas expanded in place, down to kMaxSchemaDepth.
  void Expand(const json::object* s, int depth) {
    if (s == nullptr || depth > kMaxSchemaDepth || --budget_ < 0) return;
    if (std::string_view ref = TextAt(s, "$ref"); !ref.empty()) {
      // Each component schema is expanded once per operation: later uses (and cycles) show
      // as the link in their type label.
      if (!shown_.emplace(ref).second) return;
      Expand(Resolve(s), depth);
      return;
    }
    for (std::string_view key : {"oneOf", "anyOf", "allOf"}) {
      // The type label names every variant; only those with a structure are listed.
      const json::array* parts = ArrayAt(s, key);
      if (parts == nullptr) continue;
      std::string before = std::exchange(out_, {});
      for (const json::value& part : *parts) {
        const json::object* p = AsObject(&part);
        if (!HasStructure(p)) continue;
        out_ += "<li><span class=\"type\">" + TypeLabel(p) + "</span>";
        Expand(p, depth + 1);
        out_ += "</li>";
      }
      out_ = out_.empty() ? std::move(before) : before + "<ul class=\"props\">" + out_ + "</ul>";
    }
    if (const json::object* items = ObjectAt(s, "items")) Expand(items, depth + 1);
    const json::object* properties = ObjectAt(s, "properties");
    const json::value* additional = Get(s, "additionalProperties");
    if (properties == nullptr && AsObject(additional) == nullptr) return;
    const json::array* required = ArrayAt(s, "required");
    out_ += "<ul class=\"props\">";
    if (properties != nullptr) {
      for (const auto& [name, value] : *properties) {
        const json::object* p = AsObject(&value);
        bool is_required = false;
        if (required != nullptr) {
          for (const json::value& r : *required) {
            is_required |= r.is_string() && r.get_string() == name;
          }
        }
        out_ += "<li><code>" + Escape(name) + "</code> <span class=\"type\">" + TypeLabel(p) +
                "</span>" + (is_required ? "<span class=\"req\">required</span>" : "");
        Details(p);
        Expand(p, depth + 1);
        out_ += "</li>";
      }
    }
    if (const json::object* extra = AsObject(additional)) {
      out_ +=
          "<li><em>any other property</em> <span class=\"type\">" + TypeLabel(extra) + "</span>";
      Expand(extra, depth + 1);
      out_ += "</li>";
    }
    out_ += "</ul>";
  }

  // A property's description, default and example, inline.
  void Details(const json::object* s) {
    if (std::string_view d = TextAt(s, "description"); !d.empty()) {
      out_ += " &mdash; " + Prose(d, false);
    }
    for (std::string_view key : {"default", "example"}) {
      if (const json::value* v = Get(s, key)) {
        out_ += " <span class=\"meta\">" + std::string(key) + " <code>" + Literal(*v) +
                "</code></span>";
      }
    }
  }

  // A schema where it is used: its type line, then its structure.
  void SchemaBlock(const json::object* s) {
    out_ += "<div class=\"schema\"><span class=\"type\">" + TypeLabel(s) + "</span>";
    std::string_view ref = TextAt(s, "$ref");
    if (!ref.empty() && !shown_.contains(ref)) {
      out_ += Prose(TextAt(Resolve(s), "description"), true);
    }
    budget_ = kSchemaNodeBudget;
    Expand(s, 0);
    out_ += "</div>";
  }

  void Content(const json::object* content) {
    if (content == nullptr) return;
    for (const auto& [media, value] : *content) {
      out_ += "<p class=\"meta\"><code>" + Escape(media) + "</code></p>";
      if (const json::object* schema = ObjectAt(AsObject(&value), "schema")) SchemaBlock(schema);
    }
  }

  void Servers() {
    const json::array* servers = ArrayAt(root_, "servers");
    if (servers == nullptr || servers->empty()) return;
    out_ += "<h4>Servers</h4><ul>";
    for (const json::value& v : *servers) {
      const json::object* s = AsObject(&v);
      out_ += "<li><code>" + Escape(TextAt(s, "url")) + "</code> " +
              Prose(TextAt(s, "description"), false) + "</li>";
    }
    out_ += "</ul>";
  }

  void SecuritySchemes() {
    const json::object* schemes = ObjectAt(ObjectAt(root_, "components"), "securitySchemes");
    if (schemes == nullptr || schemes->empty()) return;
    out_ += "<h4>Authentication</h4><ul>";
    for (const auto& [name, value] : *schemes) {
      const json::object* s = Resolve(AsObject(&value));
      std::string how(TextAt(s, "type"));
      if (how == "apiKey") {
        how = "API key in " + std::string(TextAt(s, "in")) + " " + std::string(TextAt(s, "name"));
      } else if (how == "http") {
        how = "HTTP " + std::string(TextAt(s, "scheme"));
      }
      out_ += "<li><code>" + Escape(name) + "</code>: " + Escape(how) + ". " +
              Prose(TextAt(s, "description"), false) + "</li>";
    }
    out_ += "</ul>";
  }

  void Contents() {
    out_ += "<nav><h2>Operations</h2><ul>";
    ForEachOperation([&](std::string_view path, std::string_view method, const json::object* op) {
      out_ += "<li><a href=\"#" + OperationAnchor(path, method, op) + "\"><span class=\"method m-" +
              std::string(method) + "\">" + Upper(method) + "</span><code class=\"path\">" +
              Escape(path) + "</code></a><span class=\"summary\">" + Escape(TextAt(op, "summary")) +
              "</span></li>";
    });
    out_ += "</ul></nav>";
  }

  template <typename Fn>
  void ForEachOperation(Fn fn) {
    const json::object* paths = ObjectAt(root_, "paths");
    if (paths == nullptr) return;
    for (const auto& [path, item] : *paths) {
      for (std::string_view method : kMethods) {
        if (const json::object* op = ObjectAt(AsObject(&item), method)) fn(path, method, op);
      }
    }
  }

  // The element id of an operation: from its operationId, else from method and path.
  static std::string OperationAnchor(std::string_view path, std::string_view method,
                                     const json::object* op) {
    std::string_view id = TextAt(op, "operationId");
    if (!id.empty()) return Anchor("op-", id);
    return Anchor("op-", std::string(method) + " " + std::string(path));
  }

  static std::string Upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
    return out;
  }

  // "apiKey or bearer", "none", from the operation's security or the document's.
  std::string Security(const json::object* op) const {
    const json::array* requirements = ArrayAt(op, "security");
    if (requirements == nullptr) requirements = ArrayAt(root_, "security");
    if (requirements == nullptr) return "not specified";
    std::string out;
    for (const json::value& r : *requirements) {
      const json::object* names = AsObject(&r);
      std::string one;
      if (names != nullptr) {
        for (const auto& [name, scopes] : *names) {
          one += (one.empty() ? "" : " + ") + ("<code>" + Escape(name) + "</code>");
        }
      }
      out += (out.empty() ? "" : " or ") + (one.empty() ? std::string("none") : one);
    }
    return out.empty() ? "none" : out;
  }

  void Parameters(const json::object* item, const json::object* op) {
    std::vector<const json::object*> params;
    for (const json::object* owner : {item, op}) {
      if (const json::array* list = ArrayAt(owner, "parameters")) {
        for (const json::value& v : *list) {
          if (const json::object* p = Resolve(AsObject(&v))) params.push_back(p);
        }
      }
    }
    if (params.empty()) return;
    out_ +=
        "<h4>Parameters</h4><table><tr><th>Name</th><th>In</th><th>Required</th>"
        "<th>Type</th><th>Description</th></tr>";
    for (const json::object* p : params) {
      out_ += "<tr><td><code>" + Escape(TextAt(p, "name")) + "</code></td><td>" +
              Escape(TextAt(p, "in")) + "</td><td>" + (TrueAt(p, "required") ? "yes" : "no") +
              "</td><td><span class=\"type\">" + TypeLabel(ObjectAt(p, "schema")) +
              "</span></td><td>";
      if (std::string_view d = TextAt(p, "description"); !d.empty()) out_ += Prose(d, false);
      Details(ObjectAt(p, "schema"));
      out_ += "</td></tr>";
    }
    out_ += "</table>";
  }

  void Operation(std::string_view path, std::string_view method, const json::object* item,
                 const json::object* op) {
    out_ += "<article class=\"op\" id=\"" + OperationAnchor(path, method, op) +
            "\"><h3><span class=\"method m-" + std::string(method) + "\">" + Upper(method) +
            "</span><code class=\"path\">" + Escape(path) + "</code><span class=\"summary\">" +
            Escape(TextAt(op, "summary")) + "</span></h3><p class=\"meta\">";
    if (std::string_view id = TextAt(op, "operationId"); !id.empty()) {
      out_ += "operationId <code>" + Escape(id) + "</code> &middot; ";
    }
    out_ += "authentication: " + Security(op) + "</p>" + Prose(TextAt(op, "description"), true);
    shown_.clear();
    Parameters(item, op);
    if (const json::object* body = Resolve(ObjectAt(op, "requestBody"))) {
      out_ += std::string("<h4>Request body") +
              (TrueAt(body, "required") ? " (required)" : " (optional)") + "</h4>" +
              Prose(TextAt(body, "description"), true);
      Content(ObjectAt(body, "content"));
    }
    if (const json::object* responses = ObjectAt(op, "responses")) {
      out_ += "<h4>Responses</h4>";
      for (const auto& [status, value] : *responses) {
        const json::object* r = Resolve(AsObject(&value));
        out_ += "<div class=\"resp\"><span class=\"status\">" + Escape(status) + "</span> " +
                Prose(TextAt(r, "description"), false);
        if (const json::object* headers = ObjectAt(r, "headers");
            headers != nullptr && !headers->empty()) {
          out_ += "<p class=\"meta\">Headers:";
          for (const auto& [name, h] : *headers) out_ += " <code>" + Escape(name) + "</code>";
          out_ += "</p>";
        }
        Content(ObjectAt(r, "content"));
        out_ += "</div>";
      }
    }
    out_ += "</article>";
  }

  void Paths() {
    out_ += "<h2>Paths</h2>";
    const json::object* paths = ObjectAt(root_, "paths");
    ForEachOperation([&](std::string_view path, std::string_view method, const json::object* op) {
      Operation(path, method, ObjectAt(paths, path), op);
    });
  }

  void Schemas() {
    const json::object* schemas = ObjectAt(ObjectAt(root_, "components"), "schemas");
    if (schemas == nullptr || schemas->empty()) return;
    out_ += "<h2>Schemas</h2>";
    for (const auto& [name, value] : *schemas) {
      const json::object* s = AsObject(&value);
      out_ += "<section class=\"schema-def\" id=\"" + Anchor("schema-", name) + "\"><h3>" +
              Escape(name) + "</h3>" + Prose(TextAt(s, "description"), true) +
              "<span class=\"type\">" + TypeLabel(s) + "</span>";
      shown_ = {std::string(kSchemaPrefix) + std::string(name)};
      budget_ = kSchemaNodeBudget;
      Expand(s, 0);
      out_ += "</section>";
    }
  }

  const json::object* root_;
  std::string out_;
  int budget_ = kSchemaNodeBudget;
  // The $refs expanded so far in the current operation or schema definition.
  std::set<std::string, std::less<>> shown_;
};

}  // namespace

std::string RenderApiReference(const json::value& openapi) {
  return Renderer(openapi.is_object() ? &openapi.get_object() : nullptr).Render();
}

}  // namespace tr::api
