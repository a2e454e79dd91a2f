#include "mcp/rpc_answer.h"

#include <cctype>

#include <fmt/format.h>
#include <boost/json/parse.hpp>

#include "core/validation.h"

namespace tr::mcp {

namespace json = boost::json;

void SseParser::Feed(std::string_view bytes) {
  for (char c : bytes) {
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;  // the LF of a CRLF
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      Line(line_);
      line_.clear();
    } else {
      line_.push_back(c);
    }
  }
}

void SseParser::Line(std::string_view line) {
  if (line.empty()) {
    if (has_data_) sink_(type_.empty() ? std::string_view("message") : type_, data_);
    type_.clear();
    data_.clear();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // a comment (keep-alive)
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    type_ = value;
  }
}

namespace {

bool SameId(const json::value& id, int64_t want) {
  if (id.is_int64()) return id.get_int64() == want;
  if (id.is_uint64()) return want >= 0 && id.get_uint64() == static_cast<uint64_t>(want);
  if (id.is_double()) return id.get_double() == static_cast<double>(want);
  if (id.is_string()) return id.get_string() == std::to_string(want);
  return false;
}

Error RpcError(const json::value& error) {
  int64_t code = 0;
  std::string message;
  if (const json::object* e = error.if_object()) {
    if (const json::value* c = e->if_contains("code"); c && c->is_int64()) code = c->get_int64();
    if (const json::value* m = e->if_contains("message"); m && m->is_string()) {
      message = SafeText(m->get_string(), 200);
    }
  }
  // Method not found and invalid params are the caller's mistake (an unknown tool, bad
  // arguments); everything else is the server's.
  Errc errc = code == -32601 || code == -32602 ? Errc::kInvalidArgument : Errc::kBadGateway;
  return Error(errc, fmt::format("the MCP server answered error {}: {}", code, message));
}

// Looks through one JSON-RPC message (or a batch of them) for the response with the id.
// Returns true when found, with `out` its result or error.
bool Scan(const json::value& message, const RpcAnswerOptions& options,
          std::optional<Result<json::value>>& out) {
  if (const json::array* batch = message.if_array()) {
    for (const json::value& item : *batch) {
      if (Scan(item, options, out)) return true;
    }
    return false;
  }
  const json::object* obj = message.if_object();
  if (!obj) return false;
  const json::value* method = obj->if_contains("method");
  const json::value* id = obj->if_contains("id");
  if (method) {
    // A notification; a request from the server (sampling, elicitation) has an id too and
    // is not answered: the service declares no client capabilities that invite one.
    if (!id && method->is_string() && options.on_notification) {
      options.on_notification(std::string(method->get_string()));
    }
    return false;
  }
  if (!id || !SameId(*id, options.id)) return false;
  if (const json::value* error = obj->if_contains("error")) {
    out.emplace(RpcError(*error));
  } else if (const json::value* result = obj->if_contains("result")) {
    out.emplace(*result);
  } else {
    out.emplace(Error(Errc::kBadGateway, "the MCP server's response has neither result nor error"));
  }
  return true;
}

Error TooLarge(size_t max) {
  return Error(Errc::kBadGateway, fmt::format("the MCP server's answer is over {} MiB", max >> 20));
}

}  // namespace

Result<json::value> ReadRpcAnswer(std::string_view content_type, http::BodyReader& body,
                                  const RpcAnswerOptions& options) {
  std::string type(content_type.substr(0, content_type.find(';')));
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!type.empty() && type.back() == ' ') type.pop_back();

  std::optional<Result<json::value>> found;
  bool bad_event = false;
  SseParser sse([&](std::string_view event_type, std::string_view data) {
    if (found || event_type != "message") return;
    boost::system::error_code ec;
    json::value message = json::parse(data, ec);
    if (ec) {
      bad_event = true;
      return;
    }
    Scan(message, options, found);
  });
  const bool is_sse = type == "text/event-stream";
  if (!is_sse && type != "application/json") {
    return Error(Errc::kBadGateway, fmt::format("the MCP server answered with content type \"{}\"",
                                                ReplaceInvalidUtf8(SafeText(content_type, 80))));
  }
  std::string whole;
  size_t total = 0;
  char piece[16 << 10];
  while (!found) {
    std::optional<size_t> n = body.Read(piece, sizeof piece);
    if (!n) return Error(Errc::kBadGateway, "the MCP server's answer broke off");
    if (*n == 0) break;
    total += *n;
    if (total > options.max_bytes) return TooLarge(options.max_bytes);
    if (is_sse) {
      sse.Feed(std::string_view(piece, *n));
    } else {
      whole.append(piece, *n);
    }
  }
  if (!is_sse) {
    boost::system::error_code ec;
    json::value message = json::parse(whole, ec);
    if (ec) return Error(Errc::kBadGateway, "the MCP server's answer is not JSON");
    Scan(message, options, found);
  } else if (!found) {
    sse.Feed("\n\n");  // a last event without its blank line
  }
  if (found) return std::move(*found);
  if (bad_event) return Error(Errc::kBadGateway, "the MCP server sent an event that is not JSON");
  return Error(Errc::kBadGateway, "the MCP server's answer has no response to the request");
}

}  // namespace tr::mcp
