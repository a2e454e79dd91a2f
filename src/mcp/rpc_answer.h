// Reading an MCP server's answer to one JSON-RPC request over Streamable HTTP: the body is
// either one JSON message (application/json) or a Server-Sent Events stream
// (text/event-stream) whose events carry JSON-RPC messages, the response among them. Pure
// functions over a body reader; no I/O of their own.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "core/result.h"
#include "http/message.h"

namespace tr::mcp {

// Splits an SSE stream into events (the WHATWG EventSource rules: "data:" lines joined
// with "\n", "event:" the type, a blank line dispatches; comments and other fields are
// skipped; CRLF, LF or CR line ends). Feed it bytes as they come.
class SseParser {
 public:
  // Called with each event's type ("message" when none was given) and data.
  using Sink = std::function<void(std::string_view type, std::string_view data)>;
  explicit SseParser(Sink sink) : sink_(std::move(sink)) {}
  void Feed(std::string_view bytes);

 private:
  void Line(std::string_view line);

  Sink sink_;
  std::string line_;  // a line not yet ended
  bool after_cr_ = false;
  std::string type_;
  std::string data_;
  bool has_data_ = false;
};

struct RpcAnswerOptions {
  int64_t id = 0;        // the request's id: the response to find
  size_t max_bytes = 0;  // the body is read up to this size
  // Each notification seen on the way (its method), e.g. tools/list_changed.
  std::function<void(const std::string& method)> on_notification;
};

// The JSON-RPC response with `options.id` from an answer body of `content_type`: its
// `result`, or an Error for its `error` (kInvalidArgument for -32601 and -32602, else
// kBadGateway, "the MCP server answered error <code>: <message>"). kBadGateway as well when
// the body is not JSON-RPC, breaks off, passes max_bytes, or ends without the response.
// An SSE stream is read only until the response has come.
Result<boost::json::value> ReadRpcAnswer(std::string_view content_type, http::BodyReader& body,
                                         const RpcAnswerOptions& options);

}  // namespace tr::mcp
