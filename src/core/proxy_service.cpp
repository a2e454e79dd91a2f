#include "core/proxy_service.h"

#include <algorithm>
#include <cstring>
#include <future>

#include <boost/json/object.hpp>
#include <fmt/format.h>

#include "auth/api_token.h"
#include "auth/sigv4.h"
#include "core/ids.h"
#include "core/validation.h"
#include "http/message.h"

namespace tr {

namespace json = boost::json;

namespace {

// Upstream calls may be long (reports, uploads, downloads); bounded all the same, and
// abandoned sooner when nothing moves.
constexpr std::chrono::milliseconds kUpstreamTimeout{600'000};
constexpr std::chrono::milliseconds kUpstreamStallTimeout{30'000};

std::string Field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// The SigV4 service and region of a URL's host.
std::pair<std::string, std::string> AwsServiceAndRegion(const std::string& url) {
  size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  size_t end = url.find_first_of(":/", start);
  std::string host = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  std::vector<std::string> labels;
  size_t pos = 0;
  while (pos <= host.size()) {
    size_t dot = host.find('.', pos);
    labels.push_back(host.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos));
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  // "<service>.<region>.amazonaws.com" (the labels before amazonaws.com); else the first
  // label and us-east-1 ("sts.amazonaws.com", a test upstream on an IP address).
  const size_t n = labels.size();
  if (host.ends_with(".amazonaws.com") && n >= 4) return {labels[n - 4], labels[n - 3]};
  return {labels.empty() ? std::string("sts") : labels[0], "us-east-1"};
}

// Whether the path (before its query) holds a "." or ".." segment, as such or percent-encoded
// ("%2e%2E"). curl removes them (RFC 3986, section 5.2.4), and an upstream that decodes
// first does too: the call would reach a path outside the integration's apiBaseUrl, or
// another operation's than the tool's.
bool HasDotSegment(std::string_view path) {
  path = path.substr(0, path.find('?'));
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string_view segment =
        path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    int dots = 0;
    while (!segment.empty()) {
      if (segment.front() == '.') {
        segment.remove_prefix(1);
      } else if (http::EqualsIgnoreCase(segment.substr(0, 3), "%2e")) {
        segment.remove_prefix(3);
      } else {
        break;
      }
      ++dots;
    }
    if (segment.empty() && (dots == 1 || dots == 2)) return true;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return false;
}

// The header names listed in a Connection header: hop-by-hop for this message too.
std::vector<std::string> ConnectionTokens(const net::Headers& headers) {
  std::vector<std::string> tokens;
  for (const auto& [name, value] : headers) {
    if (!http::EqualsIgnoreCase(name, "connection")) continue;
    size_t pos = 0;
    while (pos <= value.size()) {
      size_t comma = value.find(',', pos);
      std::string token = value.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      token.erase(0, token.find_first_not_of(" \t"));
      token.erase(token.find_last_not_of(" \t") + 1);
      if (!token.empty()) tokens.push_back(token);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  return tokens;
}

bool Listed(const std::vector<std::string>& tokens, std::string_view name) {
  for (const auto& t : tokens) {
    if (http::EqualsIgnoreCase(t, name)) return true;
  }
  return false;
}

// The part of a body already read, then the rest of it. Remembers whether the rest broke
// off, so that a failed upstream call can be told from a caller that stopped sending.
class PrefixedReader final : public http::BodyReader {
 public:
  PrefixedReader(std::string prefix, http::BodyReader& rest)
      : prefix_(std::move(prefix)), rest_(rest) {}
  std::optional<size_t> Read(char* out, size_t max) override {
    if (offset_ == prefix_.size()) {
      std::optional<size_t> n = rest_.Read(out, max);
      if (!n) broke_off_ = true;
      return n;
    }
    size_t n = std::min(max, prefix_.size() - offset_);
    std::memcpy(out, prefix_.data() + offset_, n);
    offset_ += n;
    return n;
  }
  bool TooLarge() const override { return rest_.TooLarge(); }
  bool BrokeOff() const { return broke_off_; }

 private:
  std::string prefix_;
  size_t offset_ = 0;
  http::BodyReader& rest_;
  bool broke_off_ = false;  // read on the upstream call's thread, looked at after it ended
};

// The caller's body: held whole when it is small enough (the usual case), else the part
// read so far ahead of the unread rest.
struct CallerBody {
  std::string whole;                         // when !streamed
  std::unique_ptr<PrefixedReader> streamed;  // when the body is larger than kReplayableBytes
};

// A body held whole is moved out of `request`, not copied.
Result<CallerBody> ReadCallerBody(ProxyRequest& request) {
  CallerBody body;
  if (!request.body_reader) {
    body.whole = std::move(request.body);
    return body;
  }
  http::BodyReader& reader = *request.body_reader;
  // Read in place, in pieces as large as the server reads ahead (each read the socket needs is
  // a trip to the connection's I/O thread), into room for the whole body when its length is
  // known: no regrowth, and no copy of what was read at each doubling.
  constexpr size_t kPieceBytes = 64 << 10;
  if (request.body_length) {
    body.whole.reserve(
        std::min<uint64_t>(*request.body_length, ProxyService::kReplayableBytes + 1) + kPieceBytes);
  }
  while (body.whole.size() <= ProxyService::kReplayableBytes) {
    const size_t held = body.whole.size();
    body.whole.resize(held + kPieceBytes);
    std::optional<size_t> n = reader.Read(body.whole.data() + held, kPieceBytes);
    body.whole.resize(held + n.value_or(0));
    if (!n) {
      if (reader.TooLarge()) return Error(Errc::kTooLarge, "Request body too large");
      return Error(Errc::kInvalidArgument, "The request body could not be read");
    }
    if (*n == 0) return body;
  }
  body.streamed = std::make_unique<PrefixedReader>(std::move(body.whole), reader);
  return body;
}

// The answer to an upstream call that got no response: 504 when it timed out, else 502.
// The outbound client's message names the failure only (never the URL, which may carry an
// API token in its query).
Error UpstreamFailure(const Error& failed) {
  if (failed.code == Errc::kGatewayTimeout) {
    return Error(Errc::kGatewayTimeout, "Upstream timed out: " + failed.message());
  }
  return Error(Errc::kBadGateway, "Upstream unreachable: " + failed.message());
}

}  // namespace

bool IsHopByHopHeader(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
      "te",         "trailer",    "transfer-encoding",  "upgrade",             "host",
      "content-length", "x-api-key", "authorization", "expect"};
  for (std::string_view n : kNames) {
    if (http::EqualsIgnoreCase(name, n)) return true;
  }
  return false;
}

ProxyService::ProxyService(IntegrationDirectory& directory, CredentialService& credentials,
                           net::HttpClient& http, const Clock& clock)
    : directory_(directory), credentials_(credentials), http_(http), clock_(clock) {}

// One forwarded call, shared by its steps: the lookups and the caller's body (on the calling
// thread), the upstream call, and a refresh and second try after a 401 (on the pool).
struct ProxyService::Forwarding {
  std::string workspace_id;
  std::string cid;
  std::string user_id;
  ProxyRequest request;
  std::shared_ptr<const IntegrationDefinition> definition;
  AuthType auth_type = AuthType::kNone;
  std::string url;
  std::string whole_body;                   // the caller's body, when held whole
  std::unique_ptr<PrefixedReader> streamed;  // else: what was read of it, then the rest
  std::vector<std::string> request_tokens;  // the caller's Connection header's names
  std::string rejected_token;                // the access token the last try sent
  int attempt = 0;
  net::StreamReady ready;
  ForwardDone done;

  // Whether an upstream 401 to this try is refreshed and tried again, with the same body: an
  // OAuth2 first try whose body is held whole (a streamed one cannot be sent twice).
  bool MayRetry() const { return auth_type == AuthType::kOAuth2 && attempt == 0 && !streamed; }
};

Result<net::StreamedResult> ProxyService::Forward(const std::string& workspace_id,
                                                  std::string_view cid, std::string_view user_id,
                                                  const ProxyRequest& request) {
  std::promise<Result<net::StreamedResult>> answer;
  std::future<Result<net::StreamedResult>> answered = answer.get_future();
  Start(workspace_id, cid, user_id, request, /*may_block=*/true, net::StreamReady{},
        [&answer](Result<net::StreamedResult> result) { answer.set_value(std::move(result)); });
  return answered.get();
}

void ProxyService::Start(const std::string& workspace_id, std::string_view cid,
                         std::string_view user_id, ProxyRequest request, bool may_block,
                         net::StreamReady ready, ForwardDone done) {
  auto f = std::make_shared<Forwarding>();
  f->workspace_id = workspace_id;
  f->cid = std::string(cid);
  f->user_id = std::string(user_id);
  f->request = std::move(request);
  f->ready = ready;
  f->done = std::move(done);
  if (auto prepared = Prepare(*f, may_block); !prepared) {
    Finish(*f, prepared.error());
    return;
  }
  Try(f, may_block);
}

Status ProxyService::Prepare(Forwarding& f, bool may_block) {
  if (!IsUuidV4(f.cid)) return Error(Errc::kNotFound, "Customer integration not found");
  auto view = directory_.ViewById(f.cid);
  if (!view) return view.error();
  if (!*view || (*view)->customer_integration.workspace_id != f.workspace_id) {
    return Error(Errc::kNotFound, "Customer integration not found");
  }
  const CustomerIntegration& ci = (*view)->customer_integration;
  if (auto active = RequireActiveIntegration(ci.active); !active) return active.error();
  f.definition = (*view)->definition;
  f.auth_type = ci.auth_type;
  const IntegrationDefinition& def = *f.definition;

  std::string base = def.api_base_url;
  std::string path = f.request.path_and_query;
  if (def.mcp && path.empty()) {
    // An MCP server's endpoint, exactly as its mcp.url says (core/mcp_upstreams.h sends
    // there): "/mcp" and "/mcp/" may be different routes, and apiBaseUrl may be set apart.
    base = def.mcp->url;
  } else {
    while (!base.empty() && base.back() == '/') base.pop_back();
    if (path.empty() || (path.front() != '/' && path.front() != '?')) path = "/" + path;
    if (HasDotSegment(path)) {
      return Error(Errc::kInvalidArgument,
                   "The path may not hold a '.' or '..' segment: it would leave the "
                   "integration's apiBaseUrl");
    }
  }
  f.url = base + path;

  // Reading the caller's streamed body waits for the caller.
  if (f.request.body_reader && !may_block) return Error(Errc::kWouldBlock, "a streamed body");
  auto body = ReadCallerBody(f.request);
  if (!body) return body.error();
  f.whole_body = std::move(body->whole);
  f.streamed = std::move(body->streamed);
  if (f.streamed && f.auth_type == AuthType::kAwsAssumeRole) {
    return Error(Errc::kTooLarge, fmt::format("AWS request bodies are limited to {} bytes (SigV4 "
                                              "signs the whole body)", kReplayableBytes));
  }
  f.request_tokens = ConnectionTokens(f.request.headers);
  return Ok{};
}

void ProxyService::Try(const std::shared_ptr<Forwarding>& f, bool may_block) {
  auto creds = credentials_.GetCredentials(f->workspace_id, f->cid, f->user_id, may_block);
  if (!creds) {
    Finish(*f, creds.error());
    return;
  }
  net::HttpCall call;
  call.method = f->request.method;
  call.url = f->url;
  if (f->streamed) {
    call.body_reader = f->streamed.get();
    call.body_length = f->request.body_length;
  } else if (f->MayRetry()) {
    call.body = f->whole_body;  // the retry sends it again
  } else {
    call.body = std::move(f->whole_body);  // the last attempt: up to 1 MiB not copied
  }
  call.timeout = kUpstreamTimeout;
  call.stall_timeout = kUpstreamStallTimeout;
  for (const auto& [name, value] : f->request.headers) {
    if (!IsHopByHopHeader(name) && !Listed(f->request_tokens, name)) call.headers.emplace_back(name, value);
  }
  switch (f->auth_type) {
    case AuthType::kOAuth2:
    case AuthType::kGoogleServiceAccount:
      f->rejected_token = Field(*creds, "accessToken");
      call.headers.emplace_back("Authorization", "Bearer " + f->rejected_token);
      break;
    case AuthType::kApiToken: {
      auth::FieldValues values;
      for (const auto& [key, value] : *creds) {
        if (value.is_string()) values.emplace(key, std::string(value.get_string()));
      }
      if (f->definition->api_token) auth::ApplyApiToken(*f->definition->api_token, values, call);
      break;
    }
    case AuthType::kAwsAssumeRole: {
      auto [service, region] = AwsServiceAndRegion(call.url);
      auth::AwsCredentials aws{Field(*creds, "accessKeyId"), Field(*creds, "secretAccessKey"),
                               Field(*creds, "sessionToken")};
      auth::SignV4(call, aws, auth::SigV4Params{region, service, clock_.NowMillis() / 1000});
      break;
    }
    case AuthType::kNone:
      break;
  }
  if (f->streamed) {
    // The caller's body is read on this thread while it is sent (Stream() feeds it).
    auto response = http_.Stream(call);
    Answered(f, std::move(response));
    return;
  }
  http_.StartStream(std::move(call), f->ready,
                    [this, f](Result<net::StreamedResult> response) {
                      Answered(f, std::move(response));
                    });
}

void ProxyService::Answered(const std::shared_ptr<Forwarding>& f,
                            Result<net::StreamedResult> response) {
  if (!response) {
    if (f->request.body_reader && f->request.body_reader->TooLarge()) {
      Finish(*f, Error(Errc::kTooLarge, "Request body too large"));
      return;
    }
    // The call failed because the caller's own streamed body did: not the upstream's fault.
    if (f->streamed && f->streamed->BrokeOff()) {
      Finish(*f, Error(Errc::kInvalidArgument, "The request body could not be read"));
      return;
    }
    Finish(*f, UpstreamFailure(response.error()));
    return;
  }
  // A streamed body has been sent and cannot be sent again: its 401 is the answer.
  if (response->status == 401 && f->MayRetry()) {
    // The token may have been revoked or expired early: refresh once and retry once. The
    // refresh calls the provider and writes, so it runs on the pool, never on the outbound
    // client's thread (which may be this one).
    auto refused = std::make_shared<net::StreamedResult>(std::move(*response));
    refreshes_.Post([this, f, refused] {
      if (!credentials_.Refresh(f->cid, f->user_id, f->rejected_token)) {
        Finish(*f, std::move(*refused));
        return;
      }
      refused->body.reset();  // abandons the refused answer's body
      f->attempt = 1;
      Try(f, /*may_block=*/true);
    });
    return;
  }
  // Every end-to-end header, in the upstream's order, a repeated one (Link,
  // WWW-Authenticate, Set-Cookie) as one entry per line: such headers cannot all be
  // joined with commas (Set-Cookie), and the caller may need each of them.
  net::Headers kept;
  const std::vector<std::string> response_tokens = ConnectionTokens(response->headers);
  for (auto& [name, value] : response->headers) {
    // Content-Length stays: it frames the streamed body the caller gets.
    if ((IsHopByHopHeader(name) && name != "content-length") || Listed(response_tokens, name)) {
      continue;
    }
    // The answer's x-request-id is the server's (the one its log line carries); the
    // upstream's stays available, for the provider's support, under another name.
    if (name == "x-request-id") {
      kept.emplace_back("x-upstream-request-id", std::move(value));
    } else {
      kept.emplace_back(std::move(name), std::move(value));
    }
  }
  response->headers = std::move(kept);
  Finish(*f, std::move(response));
}

void ProxyService::Finish(Forwarding& f, Result<net::StreamedResult> result) {
  ForwardDone done = std::move(f.done);
  f.done = nullptr;
  done(std::move(result));
}

}  // namespace tr
