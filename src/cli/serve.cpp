#include "cli/serve.h"

#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "api/router.h"
#include "cli/output.h"
#include "core/admin_service.h"
#include "core/api_service.h"
#include "core/credential_service.h"
#include "core/janitor.h"
#include "core/metrics.h"
#include "core/proxy_service.h"
#include "core/validation.h"
#include "core/webhook_dispatcher.h"
#include "net/curl_http_client.h"

namespace tr::cli {

namespace {

// Runs `work` every `interval` on its own thread until Stop(). The work may Pause() between
// steps of a long job; Pause returns false once Stop() was called.
class PeriodicTask {
 public:
  PeriodicTask(std::chrono::milliseconds interval, std::function<void(PeriodicTask&)> work)
      : work_(std::move(work)), thread_([this, interval] {
          while (Pause(interval)) work_(*this);
        }) {}
  ~PeriodicTask() { Stop(); }
  bool Pause(std::chrono::milliseconds duration) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, duration, [this] { return stopping_; });
  }
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::function<void(PeriodicTask&)> work_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // Guarded by mu_
  std::thread thread_;     // last: starts once the members above exist
};

// Raises the soft limit on open descriptors to the hard one: every connection holds one, and
// --max-connections (10,000 by default) is far over the usual soft limit of 1,024. Warns when
// even the hard limit is too low for `connections` (accepting then rests while it is out).
void RaiseOpenFileLimit(size_t connections) {
  constexpr rlim_t kSpareDescriptors = 256;  // database files, outbound calls, logs
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < connections + kSpareDescriptors) {
    spdlog::warn("open file limit {} is below --max-connections {} plus {} spare",
                 limit.rlim_cur, connections, kSpareDescriptors);
  }
}

}  // namespace

bool ParseListenAddress(const std::string& listen, std::string& host, uint16_t& port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string_view digits(listen.data() + colon + 1, listen.size() - colon - 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || value > 65535) {
    return false;
  }
  port = static_cast<uint16_t>(value);
  return true;
}

int RunServe(const CommonOptions& common, ServeOptions options) {
  if (!ParseListenAddress(options.listen, options.server.host, options.server.port)) {
    PrintError("--listen must be HOST:PORT, e.g. 127.0.0.1:8080");
    return 2;
  }
  if (!options.public_url.empty()) {
    if (auto valid = ValidatePublicUrl(options.public_url); !valid) {
      PrintError(valid.error().message());
      return 2;
    }
  }
  auto runtime = OpenRuntime(common, RuntimeUse::kServer);
  if (!runtime) {
    PrintError(runtime.error().message());
    return 1;
  }
  Runtime& rt = **runtime;

  // One outbound client, so one pool of connections, for the proxy, the connect flows, the
  // credential refreshes and the webhooks. CURL_CA_BUNDLE or SSL_CERT_FILE may name the CAs
  // to trust instead of the system's (a private CA in front of internal APIs).
  net::CurlOptions curl_options;
  curl_options.allow_private_network = options.allow_private_network;
  curl_options.ca_file = net::CaFileFromEnvironment();
  net::CurlHttpClient http_client(curl_options);
  std::unique_ptr<api::Router> router;
  std::unique_ptr<ApiService> api;
  std::unique_ptr<ConnectService> connect;
  std::unique_ptr<CredentialService> credentials;
  std::unique_ptr<ProxyService> proxy;
  std::unique_ptr<ToolService> tools;
  std::unique_ptr<McpSessions> mcp_sessions;
  http::Server server(
      options.server,
      [&](const http::Request& request) {
        const auto started = std::chrono::steady_clock::now();
        http::Response response = router->Handle(request);
        auto seconds = [started] {
          return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        };
        if (response.run_blocking) return response;  // run again, and counted then
        if (response.deferred) {
          // Counted when it is answered: the upstream's time is part of its latency.
          auto counted = std::make_shared<http::Deferred>();
          response.deferred->When([counted, route = response.route, seconds](http::Response later) {
            Metrics::Global().CountRequest(later.route.empty() ? route : later.route, later.status,
                                           seconds());
            counted->Resolve(std::move(later));
          });
          response.deferred = counted;
          return response;
        }
        if (!response.hold) {
          Metrics::Global().CountRequest(response.route, response.status, seconds());
          return response;
        }
        // Counted when the answer may go out: its wait for the disk is part of its latency.
        response.hold = [hold = std::move(response.hold), route = response.route,
                         status = response.status, seconds](std::function<void(bool)> done) {
          hold([route, status, seconds, done = std::move(done)](bool durable) {
            Metrics::Global().CountRequest(route, durable ? status : 503, seconds());
            done(durable);
          });
        };
        return response;
      },
      // SQLite reads take microseconds, so reads run on the I/O threads; a PostgreSQL read
      // is a network round trip (and may wait out a dead server's deadline), so on
      // PostgreSQL every request runs off them.
      [reads_block = IsPostgresUrl(common.database)](const http::Request& head) {
        http::Dispatch dispatch = api::Router::Classify(head);
        if (!reads_block) return dispatch;
        if (dispatch == http::Dispatch::kInline) return http::Dispatch::kBlocking;
        if (dispatch == http::Dispatch::kStreamingInline) return http::Dispatch::kStreaming;
        return dispatch;
      });
  RaiseOpenFileLimit(options.server.max_connections);
  std::string bound;
  try {
    bound = server.Bind();
  } catch (const std::exception& e) {
    PrintError(e.what());
    return 1;
  }
  // Only once the port is ours: a start that cannot bind leaves the database as it found it,
  // so the bootstrap key is made, and shown, by the first start that will serve.
  AdminService admin(*rt.store, *rt.directory, *rt.keyring, rt.clock);
  auto bootstrap = admin.BootstrapIfEmpty();
  if (!bootstrap) {
    PrintError(bootstrap.error().message());
    return 1;
  }
  std::string public_url = options.public_url.empty() ? "http://" + bound : options.public_url;
  while (!public_url.empty() && public_url.back() == '/') public_url.pop_back();
  api = std::make_unique<ApiService>(
      *rt.store, *rt.directory, *rt.keyring, rt.clock,
      ApiServiceOptions{public_url, options.connect_ttl_seconds * 1000, options.rate_limit,
                        options.rate_burst, options.auth_failure_limit,
                        options.auth_failure_burst,
                        [&connect](const CustomerIntegration& ci) { return connect->PrepareConnect(ci); }});
  for (auto [value, name] : {std::pair{&options.aws.access_key_id, "AWS_ACCESS_KEY_ID"},
                             std::pair{&options.aws.secret_access_key, "AWS_SECRET_ACCESS_KEY"},
                             std::pair{&options.aws.session_token, "AWS_SESSION_TOKEN"}}) {
    if (const char* env = std::getenv(name)) *value = env;
  }
  connect = std::make_unique<ConnectService>(*rt.store, *rt.directory, *rt.keyring, rt.clock,
                                             http_client,
                                             ConnectOptions{public_url, 5, options.aws,
                                                            options.allow_private_network});
  CredentialOptions credential_options;
  credential_options.aws = options.aws;
  credentials = std::make_unique<CredentialService>(*rt.store, *rt.directory, *rt.keyring, rt.clock,
                                                    http_client, credential_options);
  proxy = std::make_unique<ProxyService>(*rt.directory, *credentials, http_client, rt.clock);
  tools = std::make_unique<ToolService>(*rt.store, *api, *proxy);
  mcp_sessions = std::make_unique<McpSessions>(*rt.store, rt.clock, public_url);
  router = std::make_unique<api::Router>(*api, *connect, *credentials, *proxy, *tools,
                                         *mcp_sessions, *rt.store);

  WebhookDispatcher webhooks(*rt.store, *rt.keyring, rt.clock, http_client, WebhookOptions{});
  webhooks.Start();
  PeriodicTask sweeper(std::chrono::seconds(options.sweep_interval_seconds),
                      [&](PeriodicTask&) { credentials->SweepOnce(); });
  // Bounded storage: a pass a minute, or more often with a short retention (tests use 1 s).
  Janitor janitor(*rt.store, rt.clock, JanitorOptions{options.retention_seconds * 1000});
  const auto janitor_interval = std::chrono::milliseconds(
      std::clamp<int64_t>(options.retention_seconds * 1000 / 4, 250, 60'000));
  PeriodicTask janitor_task(janitor_interval, [&](PeriodicTask& task) {
    janitor.RunOnce([&] { return task.Pause(std::chrono::milliseconds(5)); });
  });

  if (*bootstrap) {
    std::cout << "bootstrap workspace default: " << (*bootstrap)->workspace_id << "\n"
              << "bootstrap api key: " << (*bootstrap)->api_key << std::endl;
  }
  std::cout << "listening on http://" << bound << std::endl;
  spdlog::info("serving on {} (public URL {})", bound, public_url);
  server.Run();
  janitor_task.Stop();
  sweeper.Stop();
  webhooks.Stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace tr::cli
