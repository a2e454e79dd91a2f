// The services of one server for the fuzz targets that send it requests (router_fuzzer,
// connection_fuzzer): a Router over a real SqliteStore in a temporary folder ($TMPDIR)
// holding a workspace, an API key, an API-token and an OAuth integration and a connected
// user, with every outbound call answered by a fake. Made once per process (Env()) and
// never destroyed; the Router is thread-safe, so a server's threads may share it.
#pragma once

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "api/router.h"
#include "core/catalog.h"
#include "core/clock.h"
#include "core/test_services.h"
#include "crypto/keyring.h"
#include "net/http_client.h"

namespace tr::fuzz {

namespace fs = std::filesystem;

inline constexpr int64_t kStart = 1757202316580;  // 2025-09-06T23:45:16.580Z
inline constexpr char kPublicUrl[] = "https://registry.example.test";

// Every outbound call (API-token verification, OAuth code exchange, proxy) succeeds.
class AnswerAllHttpClient final : public net::HttpClient {
 public:
  Result<net::HttpResult> Send(const net::HttpCall&) override {
    net::HttpResult result;
    result.status = 200;
    result.headers = {{"content-type", "application/json"}};
    result.body = R"({"access_token":"at-fuzz","refresh_token":"rt-fuzz","expires_in":3600})";
    return result;
  }
};

// The services of one server over a store in a temporary folder. Throws std::runtime_error
// when a set-up step fails.
struct Environment {
  Environment() {
    // In $TMPDIR, which scripts/fuzz.sh points at its work folder (in /dev/shm when there is
    // one: every write commits with an fsync) and removes afterwards.
    std::string tmpl = (fs::temp_directory_path() / "toolregistry_fuzz_XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
    auto loaded = Catalog::LoadEmbedded();
    if (!loaded) throw std::runtime_error(loaded.error().message());
    catalog = std::make_unique<Catalog>(std::move(loaded.value()));
    // Rate limits on, high enough that the clock's advance per input keeps them open.
    services = std::make_unique<testing_support::TestServices>(
        *catalog, dir / "toolregistry.db", clock, keyring, http,
        ApiServiceOptions{kPublicUrl, 900'000, 1000, 1000, 1000, 1000});
    router = std::make_unique<api::Router>(
        *services->api, *services->connect, *services->credentials, *services->proxy,
        *services->tools, *services->mcp_sessions, *services->store);
    std::string workspace_id = services->NewWorkspace("acme");
    auto key = services->admin->CreateApiKey(workspace_id);
    if (!key) throw std::runtime_error(key.error().message());
    api_key = key->api_key;
    token_cid = services->Enable(workspace_id, "stripe");
    oauth_cid = services->Enable(workspace_id, "github");
    if (!services->ConnectApiToken(workspace_id, token_cid, "u-1", "sk_test_fuzz")) {
      throw std::runtime_error("connecting u-1 failed");
    }
  }

  fs::path dir;
  FakeClock clock{kStart};
  crypto::Keyring keyring{std::string(crypto::Keyring::kKeySize, 'k')};
  AnswerAllHttpClient http;
  std::unique_ptr<Catalog> catalog;
  std::unique_ptr<testing_support::TestServices> services;
  std::unique_ptr<api::Router> router;
  std::string api_key;
  std::string token_cid;
  std::string oauth_cid;
};

inline Environment& Env() {
  static Environment* env = new Environment();  // never destroyed: libFuzzer exits with _exit
  return *env;
}

// `text` with "$KEY", "$CID" and "$OCID" replaced by the environment's key and ids.
inline std::string Substitute(std::string_view text, const Environment& env) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    std::string_view rest = text.substr(i);
    if (rest.starts_with("$KEY")) {
      out += env.api_key, i += 4;
    } else if (rest.starts_with("$CID")) {
      out += env.token_cid, i += 4;
    } else if (rest.starts_with("$OCID")) {
      out += env.oauth_cid, i += 5;
    } else {
      out += text[i++];
    }
  }
  return out;
}

}  // namespace tr::fuzz
