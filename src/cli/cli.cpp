#include "cli/cli.h"

#include <functional>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/admin_commands.h"
#include "cli/logging.h"
#include "cli/output.h"
#include "cli/serve.h"
#include "cli/transfer.h"

namespace tr::cli {

namespace {

// Runs an admin command against a freshly opened runtime and prints its result.
int RunAdmin(const CommonOptions& common,
             const std::function<CommandResult(Runtime&, AdminService&)>& command,
             bool print = true) {
  auto runtime = OpenRuntime(common);
  if (!runtime) {
    PrintError(runtime.error().message());
    return 1;
  }
  Runtime& rt = **runtime;
  AdminService admin(*rt.store, *rt.directory, *rt.keyring, rt.clock);
  CommandResult result = command(rt, admin);
  if (!result) {
    PrintError(result.error().message());
    return 1;
  }
  if (print) PrintResult(*result, common.json);
  return 0;
}

// Runs an admin command that prints its own result (as it goes) against a fresh runtime.
int RunAdminPrinting(const CommonOptions& common,
                     const std::function<Status(Runtime&, AdminService&)>& command) {
  return RunAdmin(common, [&command](Runtime& rt, AdminService& admin) -> CommandResult {
    if (auto s = command(rt, admin); !s) return s.error();
    return boost::json::object();
  }, /*print=*/false);
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"toolregistry: a self-hostable integration registry for AI agents", "toolregistry"};
  app.require_subcommand(1);
  app.fallthrough();
  CommonOptions common;
  app.add_option("--database", common.database, "sqlite:PATH or postgresql://… (default sqlite:./data/toolregistry.db)")
      ->envname("TOOLREGISTRY_DATABASE");
  app.add_option("--catalog", common.catalog_dir, "load the catalog from this folder instead")
      ->envname("TOOLREGISTRY_CATALOG");
  app.add_option("--sqlite-io", common.sqlite_io,
                 "SQLite I/O: tr (default: our VFS, group commit) or plain (SQLite's own, "
                 "synchronous=FULL)")
      ->envname("TOOLREGISTRY_SQLITE_IO")
      ->check(CLI::IsMember({"tr", "plain"}));
  app.add_flag("--json", common.json, "print one JSON object");

  std::function<int()> run;

  // serve
  ServeOptions serve;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int64_t read_timeout = 10, idle_timeout = 60;
  bool no_access_log = false;
  std::string log_format = "json";
  auto* serve_cmd = app.add_subcommand("serve", "run the HTTP server");
  serve_cmd->add_option("--listen", serve.listen, "HOST:PORT (default 127.0.0.1:8080)")
      ->envname("TOOLREGISTRY_LISTEN");
  serve_cmd->add_option("--public-url", serve.public_url, "base URL of connect links")
      ->envname("TOOLREGISTRY_PUBLIC_URL");
  serve_cmd->add_option("--connect-ttl", serve.connect_ttl_seconds, "seconds a connect session lives")
      ->envname("TOOLREGISTRY_CONNECT_TTL")
      ->check(CLI::Range(int64_t{1}, int64_t{7 * 24 * 3600}));
  serve_cmd->add_flag("--allow-private-network", serve.allow_private_network,
                      "let integrations reach loopback and private addresses")
      ->envname("TOOLREGISTRY_ALLOW_PRIVATE_NETWORK");
  serve_cmd->add_option("--threads", threads, "I/O threads (default: one per core)")
      ->envname("TOOLREGISTRY_THREADS")
      ->check(CLI::Range(1, 256));
  serve_cmd->add_option("--max-connections", serve.server.max_connections, "open connections at most")
      ->envname("TOOLREGISTRY_MAX_CONNECTIONS")
      ->check(CLI::Range(size_t{1}, size_t{1'000'000}));
  serve_cmd->add_option("--read-timeout", read_timeout, "seconds to receive a request head")
      ->envname("TOOLREGISTRY_READ_TIMEOUT")
      ->check(CLI::Range(int64_t{1}, int64_t{3600}));
  serve_cmd->add_option("--idle-timeout", idle_timeout, "seconds a keep-alive connection may idle")
      ->envname("TOOLREGISTRY_IDLE_TIMEOUT")
      ->check(CLI::Range(int64_t{1}, int64_t{3600}));
  serve_cmd->add_option("--max-proxy-body", serve.server.max_stream_body_bytes,
                        "bytes a request body sent through /v1/proxy may have (streamed)")
      ->envname("TOOLREGISTRY_MAX_PROXY_BODY")
      ->check(CLI::Range(size_t{1}, size_t{1} << 40));
  serve_cmd->add_option("--aws-sts-endpoint", serve.aws.sts_endpoint, "STS endpoint for AWS_ASSUME_ROLE")
      ->envname("TOOLREGISTRY_AWS_STS_ENDPOINT");
  serve_cmd->add_option("--aws-region", serve.aws.region, "region STS requests are signed for")
      ->envname("TOOLREGISTRY_AWS_REGION");
  serve_cmd->add_option("--aws-principal-arn", serve.aws.principal_arn,
                        "the AWS principal customers' roles must trust")
      ->envname("TOOLREGISTRY_AWS_PRINCIPAL_ARN");
  serve_cmd->add_option("--refresh-sweep-interval", serve.sweep_interval_seconds,
                        "seconds between background OAuth refresh sweeps")
      ->envname("TOOLREGISTRY_REFRESH_SWEEP_INTERVAL")
      ->check(CLI::Range(int64_t{1}, int64_t{3600}));
  serve_cmd->add_option("--retention", serve.retention_seconds,
                        "seconds expired connect sessions, never-connected users and finished "
                        "webhook events are kept")
      ->envname("TOOLREGISTRY_RETENTION")
      ->check(CLI::Range(int64_t{0}, int64_t{10} * 365 * 24 * 3600));
  serve_cmd->add_option("--rate-limit", serve.rate_limit, "requests per second per API key (0: off)")
      ->envname("TOOLREGISTRY_RATE_LIMIT")
      ->check(CLI::Range(0.0, 1e9));
  serve_cmd->add_option("--rate-burst", serve.rate_burst, "requests an API key may send at once")
      ->envname("TOOLREGISTRY_RATE_BURST")
      ->check(CLI::Range(1.0, 1e9));
  serve_cmd->add_option("--auth-failure-limit", serve.auth_failure_limit,
                        "failed API-key attempts per second per client address (0: off)")
      ->envname("TOOLREGISTRY_AUTH_FAILURE_LIMIT")
      ->check(CLI::Range(0.0, 1e9));
  serve_cmd->add_option("--auth-failure-burst", serve.auth_failure_burst,
                        "failed API-key attempts a client address may make at once")
      ->envname("TOOLREGISTRY_AUTH_FAILURE_BURST")
      ->check(CLI::Range(1.0, 1e9));
  serve_cmd->add_option("--log-format", log_format, "json (default) or text")
      ->envname("TOOLREGISTRY_LOG_FORMAT")
      ->check(CLI::IsMember({"json", "text"}));
  serve_cmd->add_flag("--no-access-log", no_access_log, "do not log one line per request")
      ->envname("TOOLREGISTRY_NO_ACCESS_LOG");
  serve_cmd->callback([&] {
    run = [&] {
      serve.server.io_threads = threads;
      serve.server.header_timeout = std::chrono::seconds(read_timeout);
      serve.server.body_timeout = std::chrono::seconds(std::max<int64_t>(read_timeout, 30));
      serve.server.idle_timeout = std::chrono::seconds(idle_timeout);
      serve.server.access_log = !no_access_log;
      return RunServe(common, serve);
    };
  });

  // workspace
  auto* workspace = app.add_subcommand("workspace", "manage workspaces")->require_subcommand(1);
  std::string name, workspace_id;
  std::vector<std::string> origins;
  auto* ws_create = workspace->add_subcommand("create", "create a workspace");
  ws_create->add_option("--name", name, "workspace name")->required();
  ws_create->callback([&] {
    run = [&] {
      return RunAdmin(common, [&](Runtime&, AdminService& a) { return WorkspaceCreate(a, name); });
    };
  });
  workspace->add_subcommand("list", "list every workspace")->callback([&] {
    run = [&] {
      return RunAdmin(common, [&](Runtime&, AdminService& a) { return WorkspaceList(a); });
    };
  });
  auto* ws_allow = workspace->add_subcommand("allow-redirect", "allow a redirectUri origin");
  ws_allow->add_option("--workspace", workspace_id, "workspace id")->required();
  ws_allow->add_option("--origin", origins, "e.g. https://app.example.com (repeatable)")
      ->required();
  ws_allow->callback([&] {
    run = [&] {
      return RunAdmin(common, [&](Runtime&, AdminService& a) {
        return WorkspaceAllowRedirect(a, workspace_id, origins);
      });
    };
  });

  // apikey
  auto* apikey = app.add_subcommand("apikey", "manage API keys")->require_subcommand(1);
  std::string key_id;
  auto* key_create = apikey->add_subcommand("create", "create an API key (shown once)");
  key_create->add_option("--workspace", workspace_id, "workspace id")->required();
  key_create->callback([&] {
    run = [&] {
      return RunAdmin(common, [&](Runtime&, AdminService& a) { return ApiKeyCreate(a, workspace_id); });
    };
  });
  auto* key_list =
      apikey->add_subcommand("list", "list a workspace's API keys (ids and times, never a key)");
  key_list->add_option("--workspace", workspace_id, "workspace id")->required();
  key_list->callback([&] {
    run = [&] {
      return RunAdmin(common,
                      [&](Runtime&, AdminService& a) { return ApiKeyList(a, workspace_id); });
    };
  });
  auto* key_revoke = apikey->add_subcommand("revoke", "revoke an API key");
  key_revoke->add_option("--key-id", key_id, "key id")->required();
  key_revoke->callback([&] {
    run = [&] {
      return RunAdmin(common, [&](Runtime&, AdminService& a) { return ApiKeyRevoke(a, key_id); });
    };
  });

  // catalog
  auto* catalog = app.add_subcommand("catalog", "the integration catalog")->require_subcommand(1);
  std::string catalog_id;
  auto* catalog_show = catalog->add_subcommand("show", "print one catalog integration");
  catalog_show->add_option("ID", catalog_id, "integration id")->required();
  catalog_show->callback([&] {
    run = [&] {
      return RunAdmin(common, [&](Runtime& rt, AdminService&) { return CatalogShow(rt.catalog, catalog_id); });
    };
  });
  catalog->add_subcommand("list", "list catalog integrations")->callback([&] {
    run = [&] {
      return RunAdmin(common, [&](Runtime& rt, AdminService&) { return CatalogList(rt.catalog); });
    };
  });

  // integration
  auto* integration = app.add_subcommand("integration", "manage integrations")->require_subcommand(1);
  std::string file, customer_integration_id;
  auto* define = integration->add_subcommand("define", "define a custom integration from a file");
  define->add_option("--workspace", workspace_id, "workspace id")->required();
  define->add_option("--file", file, "integration definition (JSON)")->required();
  define->callback([&] {
    run = [&] {
      return RunAdmin(common, [&](Runtime&, AdminService& a) {
        return IntegrationDefine(a, workspace_id, file);
      });
    };
  });
  std::string import_integration_id;
  auto* import_openapi = integration->add_subcommand(
      "import-openapi",
      "make a custom integration, with every operation as a tool, from an OpenAPI 3 document");
  import_openapi->add_option("--workspace", workspace_id, "workspace id")->required();
  import_openapi->add_option("--file", file, "OpenAPI 3.0 or 3.1 document (JSON or YAML)")->required();
  import_openapi->add_option("--integration-id", import_integration_id,
                         "integration id (default: made from info.title)");
  import_openapi->callback([&] {
    run = [&] {
      return RunAdminPrinting(common, [&](Runtime&, AdminService& a) {
        return IntegrationImportOpenApi(a, workspace_id, file, import_integration_id,
                                        common.json);
      });
    };
  });
  EnableArgs enable;
  auto* enable_cmd = integration->add_subcommand("enable", "enable an integration for a workspace");
  enable_cmd->add_option("--workspace", enable.workspace_id, "workspace id")->required();
  enable_cmd->add_option("--integration", enable.integration_id, "integration id")->required();
  enable_cmd->add_option("--auth-type", enable.auth_type, "one of the integration's authTypes");
  enable_cmd->add_option("--client-id", enable.client_id, "OAuth client id");
  auto* secret = enable_cmd->add_option("--client-secret", enable.client_secret, "OAuth client secret");
  enable_cmd->add_option("--client-secret-file", enable.client_secret_file, "file holding the secret")
      ->excludes(secret);
  enable_cmd->add_option("--scopes", enable.scopes, "comma-separated scopes");
  enable_cmd->callback([&] {
    run = [&] {
      return RunAdmin(common, [&](Runtime&, AdminService& a) { return IntegrationEnable(a, enable); });
    };
  });
  for (bool active : {false, true}) {
    auto* cmd = integration->add_subcommand(active ? "activate" : "disable",
                                            active ? "activate a customer integration"
                                                   : "disable a customer integration");
    cmd->add_option("--id", customer_integration_id, "customer integration id")->required();
    cmd->callback([&, active] {
      run = [&, active] {
        return RunAdmin(common, [&](Runtime&, AdminService& a) {
          return IntegrationSetActive(a, customer_integration_id, active);
        });
      };
    });
  }
  auto* list = integration->add_subcommand("list", "list a workspace's integrations");
  list->add_option("--workspace", workspace_id, "workspace id")->required();
  list->callback([&] {
    run = [&] {
      return RunAdmin(common, [&](Runtime&, AdminService& a) { return IntegrationList(a, workspace_id); });
    };
  });

  // webhook
  auto* webhook = app.add_subcommand("webhook", "manage the workspace's webhook")->require_subcommand(1);
  std::string url;
  auto* webhook_set = webhook->add_subcommand("set", "set the webhook URL (prints a new signing secret once)");
  webhook_set->add_option("--workspace", workspace_id, "workspace id")->required();
  webhook_set->add_option("--url", url, "https://... receiving the events")->required();
  webhook_set->callback([&] {
    run = [&] {
      return RunAdmin(common, [&](Runtime&, AdminService& a) { return WebhookSet(a, workspace_id, url); });
    };
  });

  // keys
  auto* keys = app.add_subcommand("keys", "manage the master keys")->require_subcommand(1);
  keys->add_subcommand("rotate", "re-encrypt every secret under a new master key")->callback([&] {
    run = [&] {
      return RunAdmin(common, [&](Runtime& rt, AdminService&) { return KeysRotate(rt); });
    };
  });

  // export / import: a whole database as JSON lines (cli/transfer.h)
  std::string transfer_file;
  auto* export_cmd = app.add_subcommand("export", "write every row of the database to a file");
  export_cmd->add_option("--out", transfer_file, "the file to write (JSON lines)")->required();
  export_cmd->callback([&] {
    run = [&] {
      return RunAdmin(common, [&](Runtime& rt, AdminService&) { return ExportDatabase(*rt.store, transfer_file); });
    };
  });
  auto* import_cmd = app.add_subcommand("import", "load an export into a new, empty database");
  import_cmd->add_option("--in", transfer_file, "a file written by export")->required();
  import_cmd->callback([&] {
    run = [&] {
      return RunAdmin(common, [&](Runtime& rt, AdminService&) { return ImportDatabase(*rt.store, transfer_file); });
    };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  SetUpLogging(serve_cmd->parsed(), log_format == "text" ? LogFormat::kText : LogFormat::kJson);
  return run ? run() : 2;
}

}  // namespace tr::cli
