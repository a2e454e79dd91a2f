// CurlHttpClient: HttpClient on libcurl. TLS certificates and host names are verified;
// redirects are not followed; responses read whole over 4 MiB are refused (streamed ones
// are not held whole); every call has a timeout.
// Connections to non-public addresses are refused after DNS resolution unless
// allow_private_network: checked on every new connection, before it is made.
//
// Calls run on the client's TransferLoop (net/transfer_loop.h): one thread and one pool of
// connections and TLS sessions, reused by every later call to the same origin. A client's
// pool never serves another client, so two clients with different options (a private
// network allowed or not, another CA) never share a connection.
// Thread-safe: Send(), Stream() and StartStream() from any thread. Send() and Stream()
// block the calling thread (never the loop's) until the answer, or its head, is in.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "net/http_client.h"

namespace tr::net {

class TransferLoop;

struct CurlOptions {
  bool allow_private_network = false;
  std::string user_agent = "toolregistry/0.1";
  // The CA certificates to trust (a PEM file) instead of the system's; empty: the system's.
  std::string ca_file;
  // The connection pool's bounds: connections to one origin, and in all. A call beyond them
  // waits for a free connection, within its connect timeout.
  long max_connections_per_origin = 32;
  long max_connections = 256;
  // A pooled connection unused for this long is closed.
  std::chrono::seconds idle_connection_timeout{30};
};

// The CA file the environment names, as curl's own tool reads it: CURL_CA_BUNDLE, else
// SSL_CERT_FILE (OpenSSL's convention); empty when neither is set.
std::string CaFileFromEnvironment();

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(CurlOptions options);
  ~CurlHttpClient() override;
  Result<HttpResult> Send(const HttpCall& call) override;
  // Returns once the head is in and the request body has been handed to curl whole (read
  // from `call.body_reader` on the calling thread); the body's reader then takes pieces as
  // the loop receives them, pausing the transfer while it is behind.
  Result<StreamedResult> Stream(const HttpCall& call) override;
  // `done` runs on the loop thread (net/transfer_loop.h), or at once when the call cannot
  // start. Until then no thread waits for the call.
  void StartStream(HttpCall call, StreamReady ready, StreamDone done) override;

 private:
  CurlOptions options_;
  std::shared_ptr<TransferLoop> loop_;  // shared with the readers of streamed bodies
};

}  // namespace tr::net
