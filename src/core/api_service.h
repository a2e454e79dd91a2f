// ApiService: the domain behind the public /v1 operations (CONTRACT section 3). It knows
// nothing of HTTP: callers pass decoded values and get values or Errors back.
// Thread-safe: one instance serves every request thread.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/integration_directory.h"
#include "core/rate_limiter.h"
#include "core/stamped_cache.h"
#include "crypto/keyring.h"
#include "store/store.h"

namespace tr {

struct ApiServiceOptions {
  std::string public_url;            // without a trailing slash
  int64_t connect_ttl_millis = 900'000;
  double rate_limit_per_second = 0;  // per API key; 0: no limit
  double rate_limit_burst = 0;
  double auth_failures_per_second = 0;  // failed API-key attempts per client address; 0: off
  double auth_failures_burst = 0;
  // Checks, before a link is made, that a connect flow for an OAUTH2 customer integration
  // can begin (ConnectService::PrepareConnect: a remote MCP server's discovery); unset: none.
  std::function<Status(const CustomerIntegration&)> prepare_oauth_connect;
};

class ApiService {
 public:
  ApiService(Store& store, IntegrationDirectory& directory, const crypto::Keyring& keyring,
             const Clock& clock, ApiServiceOptions options);

  // The workspace id of a valid, unrevoked API key; kUnauthenticated otherwise, or
  // kRateLimited (with retry_after_seconds) when the key is over its rate limit, or when
  // `client_address` has spent its budget of failed attempts (then no key is checked).
  // With `count` false the call is not counted against the key's rate limit (a request run a
  // second time, already counted).
  Result<std::string> Authenticate(std::string_view api_key, std::string_view client_address = "",
                                   bool count = true);

  // The workspace's customer integrations with active == `active`, oldest first.
  Result<std::vector<IntegrationView>> ListIntegrations(const std::string& workspace_id,
                                                        bool active);

  // kNotFound for an unknown, malformed or foreign customer integration, or unknown user;
  // kInvalidArgument for a malformed userId.
  Result<IntegrationUser> GetUser(const std::string& workspace_id, std::string_view cid,
                                  std::string_view user_id);

  // Creates the user if missing and a new connect session, durably; returns the
  // authorizeUrl. Errors as GetUser, plus kInvalidArgument for a bad redirectUri or an
  // inactive integration.
  Result<std::string> CreateAuthUrl(const std::string& workspace_id, std::string_view cid,
                                    std::string_view user_id,
                                    const std::optional<std::string>& redirect_uri);

  // The store's change stamp, for callers that cache what they build on these results
  // (see core/stamped_cache.h); nullopt: do not cache.
  std::optional<uint64_t> ChangeStamp() { return store_.ChangeStamp(); }

  // The workspace's customer integration `cid` (read through the directory's cached view),
  // or kNotFound.
  Result<CustomerIntegration> FindOwned(const std::string& workspace_id, std::string_view cid);

  // How often this process records a use of one API key (`apikey list` shows the last).
  static constexpr int64_t kKeyUseRecordMillis = 60'000;

 private:
  // Records a use of `key_id` at `now` unless this process did within kKeyUseRecordMillis.
  void NoteKeyUse(const std::string& key_id, int64_t now);

  Store& store_;
  IntegrationDirectory& directory_;
  const crypto::Keyring& keyring_;
  const Clock& clock_;
  ApiServiceOptions options_;
  RateLimiter limiter_;
  RateLimiter auth_failures_;  // by client address: brute force of API keys
  // Found API keys by hash (revoked ones too); customer integrations are kept by the
  // directory (IntegrationDirectory::ViewById). Unknown ones are not kept, so guessing
  // cannot fill the caches.
  StampedCache<ApiKeyRecord> keys_;
  std::mutex key_use_mu_;
  // Key id -> when this process last recorded its use. Guarded by key_use_mu_
  std::map<std::string, int64_t> key_use_recorded_;
};

}  // namespace tr
