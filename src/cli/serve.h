// `toolregistry serve`: opens the runtime, bootstraps an empty database, and runs the
// HTTP server until SIGINT/SIGTERM.
#pragma once

#include <string>

#include "cli/runtime.h"
#include "core/connect_service.h"
#include "http/server.h"

namespace tr::cli {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::string public_url;  // empty: http:// + the bound address
  int64_t connect_ttl_seconds = 900;
  bool allow_private_network = false;
  AwsSettings aws;
  int64_t sweep_interval_seconds = 30;  // background OAuth refresh sweep
  // How long finished things are kept: expired connect sessions, users that never
  // connected, delivered or abandoned webhook events (core/janitor.h).
  int64_t retention_seconds = int64_t{7} * 24 * 3600;
  double rate_limit = 1000;             // requests per second per API key; 0: off
  double rate_burst = 2000;
  double auth_failure_limit = 10;   // failed API-key attempts per second per client address
  double auth_failure_burst = 100;  // STS endpoint, region, principal; credentials from AWS_* variables
  http::ServerOptions server;
};

// The process exit code.
int RunServe(const CommonOptions& common, ServeOptions options);

// Splits "host:port" / "[v6]:port". False when malformed.
bool ParseListenAddress(const std::string& listen, std::string& host, uint16_t& port);

}  // namespace tr::cli
