#include "core/credential_service.h"

#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include "auth/aws_sts.h"
#include "auth/google_service_account.h"
#include "auth/oauth2.h"
#include "core/events.h"
#include "core/ids.h"
#include "core/metrics.h"
#include "core/validation.h"
#include "crypto/crypto.h"

namespace tr {

namespace json = boost::json;

namespace {

// A read that would have to call the provider (a refresh, a mint), asked not to.
Error WouldBlock() { return Error(Errc::kWouldBlock, "credentials need an outbound call"); }

// How often a process waiting for another's refresh lease looks again.
constexpr auto kLeasePoll = std::chrono::milliseconds(50);
// Cached AWS and Google credentials are renewed this long before they expire.
constexpr int64_t kMintedReuseMarginMillis = 5 * 60 * 1000;

int64_t IntField(const json::object& o, std::string_view key, int64_t fallback) {
  const json::value* v = o.if_contains(key);
  return v && v->is_int64() ? v->get_int64() : fallback;
}

std::string StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

json::array SplitScopes(const std::string& scope) {
  json::array out;
  size_t pos = 0;
  while (pos < scope.size()) {
    size_t end = scope.find(' ', pos);
    if (end == std::string::npos) end = scope.size();
    if (end > pos) out.emplace_back(scope.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

// What a minted credential was minted from: a digest of the sealed stored credential. A
// re-connect stores a new sealed value (a new nonce even for the same role or key), and so
// does a key rotation (a needless re-mint, no harm).
std::string MintSource(const SealedSecret& sealed) {
  return crypto::Sha256(sealed.key_id + '\n' + sealed.blob);
}

}  // namespace

struct CredentialService::UserContext {
  CustomerIntegration ci;
  std::shared_ptr<const IntegrationDefinition> def;
  IntegrationUser user;
  json::object creds;
};

CredentialService::CredentialService(Store& store, IntegrationDirectory& directory,
                                     const crypto::Keyring& keyring, const Clock& clock,
                                     net::HttpClient& http, CredentialOptions options)
    : store_(store),
      directory_(directory),
      keyring_(keyring),
      clock_(clock),
      http_(http),
      options_(std::move(options)),
      oauth_clients_(store, keyring, clock, http, OAuthClientOptions{}) {
  if (options_.node_id.empty()) options_.node_id = NewToken().substr(0, 16);
}

Result<CredentialService::UserContext> CredentialService::LoadUser(
    const std::string& customer_integration_id, const std::string& user_id,
    const std::string* workspace_id, bool require_active) {
  auto found = directory_.ViewById(customer_integration_id);
  if (!found) return found.error();
  if (!*found || (workspace_id && (*found)->customer_integration.workspace_id != *workspace_id)) {
    return Error(Errc::kNotFound, "Customer integration not found");
  }
  const IntegrationView* view = found->get();
  if (require_active) {
    if (auto active = RequireActiveIntegration(view->customer_integration.active); !active) {
      return active.error();
    }
  }
  if (!view->definition->Configured(view->customer_integration.auth_type)) {
    spdlog::error("customer integration {}: its definition is missing or no longer valid",
                  customer_integration_id);
    return Error(Errc::kInternal, "Integration definition is missing or invalid");
  }
  auto user = store_.FindUser(customer_integration_id, user_id);
  if (!user) return user.error();
  if (!*user) return Error(Errc::kNotFound, "User not found");
  UserContext ctx{view->customer_integration, view->definition, std::move(**user), {}};
  if (!ctx.user.credentials.empty()) {
    auto plain = keyring_.Open(ctx.user.credentials.key_id, ctx.user.credentials.blob,
                               CredentialsAad(customer_integration_id, user_id));
    if (!plain) {
      spdlog::error("credentials of a user in {} cannot be unsealed (unknown key id {}?)",
                    customer_integration_id, ctx.user.credentials.key_id);
      return Error(Errc::kInternal, "Internal server error");
    }
    boost::system::error_code ec;
    json::value v = json::parse(*plain, ec);
    if (ec || !v.is_object()) return Error(Errc::kInternal, "Internal server error");
    ctx.creds = std::move(v.get_object());
  }
  return ctx;
}

bool CredentialService::NeedsRefresh(const json::object& creds, int64_t now) const {
  const json::value* expires = creds.if_contains("expiresAt");
  if (!expires || !expires->is_int64()) return false;
  int64_t expires_at = expires->get_int64();
  int64_t lifetime = expires_at - IntField(creds, "obtainedAt", expires_at);
  // Short-lived tokens refresh at half their life, so a fresh token is never "expiring".
  int64_t margin = std::min(options_.refresh_margin_millis, std::max<int64_t>(lifetime / 2, 0));
  return now >= expires_at - margin;
}

Result<json::object> CredentialService::GetCredentials(const std::string& workspace_id,
                                                       std::string_view cid,
                                                       std::string_view user_id,
                                                       bool may_block) {
  if (auto valid = ValidateUserId(user_id); !valid) return valid.error();
  if (!IsUuidV4(cid)) return Error(Errc::kNotFound, "Customer integration not found");
  const std::string cid_s(cid), uid_s(user_id);
  auto ctx = LoadUser(cid_s, uid_s, &workspace_id, /*require_active=*/true);
  if (!ctx) return ctx.error();
  if (!ctx->user.active) return Error(Errc::kConflict, "User is not connected");
  const int64_t now = clock_.NowMillis();
  json::object out{{"authType", AuthTypeName(ctx->ci.auth_type)}};
  switch (ctx->ci.auth_type) {
    case AuthType::kNone:
      return out;
    case AuthType::kApiToken:
      for (const auto& [key, value] : ctx->creds) out[key] = value;
      return out;
    case AuthType::kOAuth2: {
      if (NeedsRefresh(ctx->creds, now)) {
        if (!may_block) return WouldBlock();
        if (auto s = Refresh(cid_s, uid_s); !s) {
          // A provider that cannot refresh just now does not take away a token that still
          // works: it is served until it expires (the sweep and later reads try again).
          const bool still_valid = IntField(ctx->creds, "expiresAt", 0) > clock_.NowMillis();
          if (s.error().code != Errc::kUnavailable || !still_valid) return s.error();
          spdlog::info("serving a user of {} the token it has: {}", cid_s, s.error().message());
        } else {
          ctx = LoadUser(cid_s, uid_s);
          if (!ctx) return ctx.error();
          if (!ctx->user.active) return Error(Errc::kConflict, "User is not connected");
        }
      }
      out["accessToken"] = StringField(ctx->creds, "accessToken");
      out["tokenType"] = StringField(ctx->creds, "tokenType");
      int64_t expires_at = IntField(ctx->creds, "expiresAt", -1);
      out["expiresAt"] = expires_at < 0 ? json::value(nullptr) : json::value(FormatTimestamp(expires_at));
      std::string scope = StringField(ctx->creds, "scope");
      if (scope.empty()) {
        static const std::vector<std::string> kNone;
        const auto& configured = ctx->ci.scopes        ? *ctx->ci.scopes
                                 : ctx->def->oauth2 ? ctx->def->oauth2->scopes
                                                    : kNone;
        json::array list;
        for (const auto& s : configured) list.emplace_back(s);
        out["scopes"] = std::move(list);
      } else {
        out["scopes"] = SplitScopes(scope);
      }
      return out;
    }
    case AuthType::kAwsAssumeRole:
    case AuthType::kGoogleServiceAccount:
      break;
  }

  // Minted credentials (AWS temporary keys, Google access tokens): cached until near expiry,
  // for the stored credential just read (a deleted user never gets here: LoadUser failed).
  const std::string key = cid_s + '\n' + uid_s;
  const std::string source = MintSource(ctx->user.credentials);
  {
    std::lock_guard lock(mu_);
    auto it = mint_cache_.find(key);
    if (it != mint_cache_.end() && it->second.source == source &&
        it->second.expires_at - kMintedReuseMarginMillis > now) {
      return it->second.credentials;
    }
  }
  if (!may_block) return WouldBlock();
  int64_t expires_at = 0;
  if (ctx->ci.auth_type == AuthType::kAwsAssumeRole) {
    const AwsSettings& aws = options_.aws;
    auth::AssumeRoleRequest request{StringField(ctx->creds, "roleArn"),
                                    StringField(ctx->creds, "externalId"), "toolregistry",
                                    ctx->def->aws_session_duration_seconds};
    auth::AwsCredentials caller{aws.access_key_id, aws.secret_access_key, aws.session_token};
    auto response = http_.Send(
        auth::BuildAssumeRoleCall(aws.sts_endpoint, aws.region, request, caller, now / 1000));
    if (!response) return Error(Errc::kUnavailable, "AWS STS is unavailable");
    auto temporary = auth::ParseAssumeRoleResponse(response->status, response->body);
    if (!temporary) {
      spdlog::warn("AssumeRole for a user of {} failed: {}", cid_s, temporary.error().message());
      return Error(Errc::kUnavailable, "AWS refused to assume the role: " + temporary.error().message());
    }
    expires_at = temporary->expiration_unix_millis;
    out["accessKeyId"] = temporary->access_key_id;
    out["secretAccessKey"] = temporary->secret_access_key;
    out["sessionToken"] = temporary->session_token;
    out["expiration"] = FormatTimestamp(expires_at);
  } else {
    auto sa_key = auth::ParseServiceAccountKey(json::serialize(ctx->creds),
                                               ctx->def->google_service_account_token_url);
    if (!sa_key) return Error(Errc::kInternal, "Internal server error");
    const auto& scopes = ctx->ci.scopes ? *ctx->ci.scopes : ctx->def->google_service_account_scopes;
    auto assertion = auth::MakeJwtAssertion(*sa_key, scopes, now / 1000);
    if (!assertion) return Error(Errc::kInternal, "Internal server error");
    auto response = http_.Send(auth::BuildJwtBearerCall(*sa_key, *assertion));
    if (!response) return Error(Errc::kUnavailable, "The token endpoint is unavailable");
    auto token = auth::ParseTokenResponse(response->status, response->body);
    if (!token) return Error(Errc::kUnavailable, "The token endpoint refused: " + token.error().message());
    expires_at = now + token->expires_in_seconds * 1000;
    out["accessToken"] = token->access_token;
    out["expiresAt"] = FormatTimestamp(expires_at);
  }
  std::lock_guard lock(mu_);
  mint_cache_[key] = CachedMint{source, out, expires_at};
  return out;
}

bool CredentialService::StillNeeded(const json::object& creds, const std::string& rejected_token,
                                    int64_t now) const {
  if (!rejected_token.empty()) return StringField(creds, "accessToken") == rejected_token;
  return NeedsRefresh(creds, now);
}

Status CredentialService::Refresh(const std::string& customer_integration_id,
                                  const std::string& user_id, const std::string& rejected_token) {
  const std::string key = customer_integration_id + '\n' + user_id;
  std::promise<Status> promise;
  {
    std::unique_lock lock(mu_);
    auto it = inflight_.find(key);
    if (it != inflight_.end()) {
      std::shared_future<Status> pending = it->second;
      lock.unlock();
      return pending.get();
    }
    inflight_.emplace(key, promise.get_future().share());
  }
  Status result = Error(Errc::kInternal, "Internal server error");
  try {
    // The requests waiting on `promise` read the refreshed token from the store: it must be
    // committed (and on disk) before they are woken.
    DurabilityScope::Suspend durable_now;
    result = RefreshUnderLease(customer_integration_id, user_id, rejected_token);
  } catch (const std::exception& e) {
    spdlog::error("refresh failed with an exception: {}", e.what());
  }
  promise.set_value(result);
  std::lock_guard lock(mu_);
  inflight_.erase(key);
  return result;
}

Status CredentialService::RefreshUnderLease(const std::string& cid, const std::string& user_id,
                                            const std::string& rejected_token) {
  const int64_t deadline = clock_.NowMillis() + options_.lease_millis;
  for (;;) {
    const int64_t now = clock_.NowMillis();
    auto acquired = store_.TryAcquireLease(cid, user_id, options_.node_id, now,
                                           now + options_.lease_millis);
    if (!acquired) return acquired.error();
    if (*acquired) {
      auto ctx = LoadUser(cid, user_id);
      Status result = ctx ? DoRefresh(*ctx, rejected_token) : Status(ctx.error());
      (void)store_.ReleaseLease(cid, user_id, options_.node_id);
      return result;
    }
    // Another process is refreshing this user: wait for its result.
    std::this_thread::sleep_for(kLeasePoll);
    auto ctx = LoadUser(cid, user_id);
    if (!ctx) return ctx.error();
    if (!ctx->user.active) return Error(Errc::kConflict, "User is not connected");
    const int64_t later = clock_.NowMillis();
    if (!StillNeeded(ctx->creds, rejected_token, later)) return Ok{};
    if (later > deadline) return Error(Errc::kUnavailable, "Token refresh is taking too long");
  }
}

Status CredentialService::DoRefresh(UserContext& ctx, const std::string& rejected_token) {
  const int64_t now = clock_.NowMillis();
  if (!ctx.user.active) return Error(Errc::kConflict, "User is not connected");
  if (ctx.ci.auth_type != AuthType::kOAuth2) return Ok{};
  if (!StillNeeded(ctx.creds, rejected_token, now)) return Ok{};  // refreshed meanwhile
  const std::string& cid = ctx.ci.customer_integration_id;
  const std::string& user_id = ctx.user.user_id;
  const std::string refresh_token = StringField(ctx.creds, "refreshToken");
  auto fail_for_good = [&](const std::string& reason) -> Status {
    std::vector<OutboxEvent> events{
        MakeUserEvent(kUserRefreshFailed, ctx.ci.workspace_id, cid, user_id, now, {{"reason", reason}}),
        MakeUserEvent(kUserDeactivated, ctx.ci.workspace_id, cid, user_id, now, {{"reason", reason}})};
    Metrics::Global().CountRefresh(reason);
    if (auto s = store_.DeactivateUser(cid, user_id, now, events); !s) return s;
    spdlog::info("user of {} deactivated: {}", cid, reason);
    return Error(Errc::kConflict, "User is not connected: " + reason);
  };
  if (refresh_token.empty()) {
    if (now >= IntField(ctx.creds, "expiresAt", now)) return fail_for_good("token_expired");
    return Ok{};  // no way to refresh; the token still works for a while
  }
  // The declared endpoints, or the ones discovered when the user connected (an MCP server).
  auto setup = oauth_clients_.ForTokens(ctx.ci, *ctx.def);
  if (!setup) return setup.error();
  const OAuth2Config& config = setup->config;
  auth::OAuthClient client{setup->client_id, setup->client_secret, ""};
  int64_t backoff = options_.retry_backoff_millis;
  std::string last_problem = "provider_unavailable";
  for (int attempt = 0; attempt < options_.refresh_attempts; ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
      backoff *= 2;
    }
    auto response = http_.Send(auth::BuildRefreshCall(config, client, refresh_token));
    if (!response || response->status >= 500 || response->status == 429) {
      last_problem = "provider_unavailable";
      continue;  // transient: try again
    }
    auto tokens = auth::ParseTokenResponse(*response);
    if (!tokens) {
      std::string code = auth::OAuthErrorCode(tokens.error());
      if (code == "invalid_grant") return fail_for_good("invalid_grant");
      spdlog::warn("token refresh for a user of {} refused: {}", cid, code);
      last_problem = code;
      break;  // a refusal that retrying will not change (invalid_client...)
    }
    const int64_t done = clock_.NowMillis();
    json::object creds = ctx.creds;
    creds["accessToken"] = tokens->access_token;
    creds["tokenType"] = tokens->token_type;
    if (!tokens->scope.empty()) creds["scope"] = tokens->scope;
    if (!tokens->refresh_token.empty()) creds["refreshToken"] = tokens->refresh_token;  // rotated
    creds["obtainedAt"] = done;
    std::optional<int64_t> expires_at;
    if (tokens->expires_in_seconds) {
      expires_at = done + *tokens->expires_in_seconds * 1000;
      creds["expiresAt"] = *expires_at;
    } else {
      creds.erase("expiresAt");
    }
    Metrics::Global().CountRefresh("success");
    crypto::Sealed sealed = keyring_.Seal(json::serialize(creds), CredentialsAad(cid, user_id));
    return store_.UpdateCredentials(cid, user_id, SealedSecret{sealed.key_id, std::move(sealed.blob)},
                                    expires_at, done);
  }
  Metrics::Global().CountRefresh(last_problem == "provider_unavailable" ? "unavailable" : "refused");
  // The sweep backs off from this user (it would otherwise stay first in line and be tried,
  // and reported, on every pass); the webhook hears of the streak once, at its start.
  const int64_t failed_at = clock_.NowMillis();
  const int failures = ctx.user.refresh_failures + 1;
  int64_t delay = options_.failure_backoff_millis;
  for (int i = 1; i < failures && delay < options_.failure_backoff_max_millis; ++i) delay *= 2;
  delay = std::min(delay, options_.failure_backoff_max_millis);
  std::optional<OutboxEvent> event;
  if (failures == 1) {
    event = MakeUserEvent(kUserRefreshFailed, ctx.ci.workspace_id, cid, user_id, failed_at,
                          {{"reason", last_problem}});
  }
  if (auto s = store_.RecordRefreshFailure(cid, user_id, failures, failed_at + delay, event); !s) {
    spdlog::warn("cannot record a failed refresh for a user of {}: {}", cid, s.error().message());
  }
  return Error(Errc::kUnavailable, "The provider could not refresh the token; try again later");
}

Status CredentialService::Disconnect(const std::string& workspace_id, std::string_view cid,
                                     std::string_view user_id) {
  if (auto valid = ValidateUserId(user_id); !valid) return valid.error();
  if (!IsUuidV4(cid)) return Error(Errc::kNotFound, "Customer integration not found");
  const std::string cid_s(cid), uid_s(user_id);
  auto ctx = LoadUser(cid_s, uid_s, &workspace_id);
  if (!ctx) return ctx.error();
  auto setup = ctx->ci.auth_type == AuthType::kOAuth2
                   ? oauth_clients_.ForTokens(ctx->ci, *ctx->def)
                   : Result<OAuthSetup>(Error(Errc::kNotFound, "not OAuth"));
  if (setup && !setup->config.revocation_url.empty()) {
    std::string refresh_token = StringField(ctx->creds, "refreshToken");
    std::string token = refresh_token.empty() ? StringField(ctx->creds, "accessToken") : refresh_token;
    if (!token.empty()) {
      auth::OAuthClient client{setup->client_id, setup->client_secret, ""};
      auto response = http_.Send(auth::BuildRevocationCall(
          setup->config, client, token, refresh_token.empty() ? "access_token" : "refresh_token"));
      if (!response || response->status != 200) {
        spdlog::warn("token revocation for a user of {} failed (status {}); deleting anyway", cid_s,
                     response ? response->status : 0);
      }
    }
  }
  {
    std::lock_guard lock(mu_);
    mint_cache_.erase(cid_s + '\n' + uid_s);
  }
  return store_.DeleteUser(cid_s, uid_s,
                           MakeUserEvent(kUserDeleted, workspace_id, cid_s, uid_s, clock_.NowMillis()));
}

int CredentialService::SweepOnce() {
  constexpr int kBatch = 200;
  const int64_t now = clock_.NowMillis();
  auto due = store_.ListUsersExpiringBefore(now + options_.refresh_margin_millis, now, kBatch);
  if (!due) return 0;
  for (const auto& [cid, user_id] : *due) {
    if (auto s = Refresh(cid, user_id); !s) {
      spdlog::info("background refresh for a user of {}: {}", cid, s.error().message());
    }
  }
  return static_cast<int>(due->size());
}

}  // namespace tr
