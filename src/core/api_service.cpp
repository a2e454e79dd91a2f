#include "core/api_service.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/ids.h"
#include "core/validation.h"

namespace tr {

namespace {

Error CustomerIntegrationNotFound() {
  return Error(Errc::kNotFound, "Customer integration not found");
}

}  // namespace

ApiService::ApiService(Store& store, IntegrationDirectory& directory,
                       const crypto::Keyring& keyring, const Clock& clock,
                       ApiServiceOptions options)
    : store_(store),
      directory_(directory),
      keyring_(keyring),
      clock_(clock),
      options_(std::move(options)),
      limiter_(clock, options_.rate_limit_per_second, options_.rate_limit_burst),
      auth_failures_(clock, options_.auth_failures_per_second, options_.auth_failures_burst) {}

Result<std::string> ApiService::Authenticate(std::string_view api_key,
                                             std::string_view client_address, bool count) {
  const std::string address(client_address);
  if (int wait = auth_failures_.Peek(address); wait > 0) {
    Error error(Errc::kRateLimited, "Too many failed API key attempts from this address");
    error.retry_after_seconds = wait;
    return error;
  }
  auto refuse = [&]() -> Error {
    (void)auth_failures_.Acquire(address);
    return Error(Errc::kUnauthenticated, "Invalid API key");
  };
  if (!api_key.starts_with(kApiKeyPrefix)) return refuse();
  const std::string hash = HashSecret(api_key);
  auto record = keys_.GetOrLoad(hash, store_.ChangeStamp(),
                                [&] { return store_.FindApiKeyByHash(hash); });
  if (!record) return record.error();
  if (!*record || (*record)->revoked_at) return refuse();
  if (int wait = count ? limiter_.Acquire(hash) : 0; wait > 0) {
    Error error(Errc::kRateLimited, "Too many requests for this API key");
    error.retry_after_seconds = wait;
    return error;
  }
  NoteKeyUse((*record)->key_id, clock_.NowMillis());
  return (*record)->workspace_id;
}

void ApiService::NoteKeyUse(const std::string& key_id, int64_t now) {
  {
    std::lock_guard lock(key_use_mu_);
    int64_t& recorded = key_use_recorded_[key_id];  // one entry per valid key: bounded
    if (recorded != 0 && now - recorded < kKeyUseRecordMillis) return;
    recorded = now;
  }
  // A scope of its own that nobody waits on: the answer does not wait for this write to
  // reach the disk, and a "last used" lost in a crash is harmless.
  DurabilityScope not_awaited;
  if (auto s = store_.RecordApiKeyUse(key_id, now); !s) {
    spdlog::warn("cannot record the use of API key {}: {}", key_id, s.error().message());
  }
}

Result<std::vector<IntegrationView>> ApiService::ListIntegrations(const std::string& workspace_id,
                                                                  bool active) {
  auto list = store_.ListCustomerIntegrations(workspace_id, active);
  if (!list) return list.error();
  return directory_.Views(std::move(list.value()));
}

Result<CustomerIntegration> ApiService::FindOwned(const std::string& workspace_id,
                                                  std::string_view cid) {
  if (!IsUuidV4(cid)) return CustomerIntegrationNotFound();
  const std::string id(cid);
  auto view = directory_.ViewById(id);
  if (!view) return view.error();
  if (!*view || (*view)->customer_integration.workspace_id != workspace_id) {
    return CustomerIntegrationNotFound();
  }
  return (*view)->customer_integration;
}

Result<IntegrationUser> ApiService::GetUser(const std::string& workspace_id, std::string_view cid,
                                            std::string_view user_id) {
  if (auto valid = ValidateUserId(user_id); !valid) return valid.error();
  auto ci = FindOwned(workspace_id, cid);
  if (!ci) return ci.error();
  auto user = store_.FindUser(ci->customer_integration_id, std::string(user_id));
  if (!user) return user.error();
  if (!*user) return Error(Errc::kNotFound, "User not found");
  return std::move(**user);
}

Result<std::string> ApiService::CreateAuthUrl(const std::string& workspace_id,
                                              std::string_view cid, std::string_view user_id,
                                              const std::optional<std::string>& redirect_uri) {
  if (auto valid = ValidateUserId(user_id); !valid) return valid.error();
  std::string redirect_origin;
  if (redirect_uri) {
    auto origin = ValidateRedirectUri(*redirect_uri);
    if (!origin) return origin.error();
    redirect_origin = std::move(origin.value());
  }
  auto ci = FindOwned(workspace_id, cid);
  if (!ci) return ci.error();
  if (auto active = RequireActiveIntegration(ci->active); !active) return active.error();
  if (ci->auth_type == AuthType::kOAuth2 && options_.prepare_oauth_connect) {
    if (auto ready = options_.prepare_oauth_connect(*ci); !ready) return ready.error();
  }
  if (redirect_uri) {
    auto allowed = store_.ListRedirectOrigins(workspace_id);
    if (!allowed) return allowed.error();
    if (!allowed->empty() &&
        std::find(allowed->begin(), allowed->end(), redirect_origin) == allowed->end()) {
      return Error(Errc::kInvalidArgument,
                   "redirectUri origin is not in the workspace's redirect allow-list");
    }
  }

  const int64_t now = clock_.NowMillis();
  IntegrationUser user;
  user.customer_integration_id = ci->customer_integration_id;
  user.user_id = std::string(user_id);
  user.active = ci->auth_type == AuthType::kNone;
  user.created_at = user.updated_at = now;

  const std::string token = NewSessionToken(now);
  ConnectSession session;
  session.token_hash = SessionKey(token);
  session.customer_integration_id = ci->customer_integration_id;
  session.user_id = user.user_id;
  session.redirect_uri = redirect_uri.value_or("");
  // The OAuth state is derived from the token when the flow starts; only its hash is kept.
  session.state_hash = SessionKey(SessionState(token));
  // The verifier is bound to its session row: the AEAD's associated data is the token hash.
  crypto::Sealed verifier = keyring_.Seal(NewToken(), session.token_hash);
  session.pkce_verifier = SealedSecret{verifier.key_id, std::move(verifier.blob)};
  session.created_at = now;
  session.expires_at = now + options_.connect_ttl_millis;

  if (auto stored = store_.CreateUserAndSession(user, session); !stored) return stored.error();
  return options_.public_url + "/connect/" + token;
}

}  // namespace tr
