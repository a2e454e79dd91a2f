// ProxyService: authenticated calls to an integration's API on a user's behalf
// (ANY /v1/proxy/{cid}/{userId}/{path...}). Forwards to the integration's apiBaseUrl with
// the user's auth added (Bearer token, the API token as declared, SigV4 for AWS), strips
// hop-by-hop headers both ways, and on a 401 from upstream for OAUTH2 refreshes once and
// retries once. The upstream's other headers come back as it sent them, repeats included
// (Link, WWW-Authenticate, Set-Cookie), except its x-request-id, which is renamed
// x-upstream-request-id: the answer's x-request-id is the server's. Bodies stream both
// ways: a request body up to kReplayableBytes is read first so that the retry can send it
// again (and SigV4 can sign it); a larger one streams to the upstream as it arrives, with
// no retry. The response body always streams.
// Thread-safe; Forward() blocks on outbound HTTP, Start() only on local reads (and on what
// it is allowed to).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/credential_service.h"
#include "http/worker_pool.h"
#include "net/http_client.h"

namespace tr {

struct ProxyRequest {
  std::string method;
  std::string path_and_query;  // after /v1/proxy/{cid}/{userId}, starting with '/' (or empty)
  net::Headers headers;        // as received; filtered here
  std::string body;            // the body when held whole (body_reader unset)
  http::BodyReader* body_reader = nullptr;  // else the body, unread
  std::optional<uint64_t> body_length;      // its Content-Length, when the caller sent one
};

class ProxyService {
 public:
  ProxyService(IntegrationDirectory& directory, CredentialService& credentials,
               net::HttpClient& http, const Clock& clock);

  // A request body up to this size is held, so that it can be sent twice or signed.
  static constexpr size_t kReplayableBytes = 1 << 20;

  // The upstream's answer (any status) with its body still arriving. kNotFound,
  // kConflict (inactive user), kUnavailable (credentials could not be had),
  // kBadGateway (the upstream could not be reached: DNS, refused, TLS, a private address),
  // kGatewayTimeout (it timed out before its answer's head came), kTooLarge (a body over
  // the server's limit, or an AWS body over kReplayableBytes: SigV4 signs it whole),
  // kInvalidArgument (the caller's body broke off) otherwise.
  Result<net::StreamedResult> Forward(const std::string& workspace_id, std::string_view cid,
                                      std::string_view user_id, const ProxyRequest& request);

  using ForwardDone = std::function<void(Result<net::StreamedResult>)>;
  // Forward() without waiting: `done` gets its result once as much of the answer's body as
  // `ready` asks for can be read without waiting (HttpClient::StartStream). It runs on the
  // calling thread before Start() returns (a failure before the call, or a streamed request
  // body, which this thread reads while it is sent), on the outbound client's thread (a
  // plain answer: `done` must not block there), or on a pool thread (after a 401's refresh).
  // With `may_block` false nothing may wait but for the upstream: when the credentials need
  // a call to the provider first, or the body must be read from the caller, `done` gets
  // kWouldBlock at once and nothing was done.
  void Start(const std::string& workspace_id, std::string_view cid, std::string_view user_id,
             ProxyRequest request, bool may_block, net::StreamReady ready, ForwardDone done);

 private:
  struct Forwarding;
  // The lookups and the caller's body; the upstream's URL.
  Status Prepare(Forwarding& f, bool may_block);
  // One call upstream, with the credentials as they are now.
  void Try(const std::shared_ptr<Forwarding>& f, bool may_block);
  void Answered(const std::shared_ptr<Forwarding>& f, Result<net::StreamedResult> response);
  void Finish(Forwarding& f, Result<net::StreamedResult> result);

  IntegrationDirectory& directory_;
  CredentialService& credentials_;
  net::HttpClient& http_;
  const Clock& clock_;
  // Refreshes after an upstream's 401, and the second try: they block, so they run here.
  http::WorkerPool refreshes_{16, std::chrono::seconds(10)};
};

// True for headers that must not cross a proxy (RFC 9110 section 7.6.1), plus those we set.
bool IsHopByHopHeader(std::string_view name);

}  // namespace tr
