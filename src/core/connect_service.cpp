#include "core/connect_service.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "auth/api_token.h"
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

constexpr std::string_view kCsrfPurpose = "csrf";
// A form value longer than this is not a credential anyone pastes (a Google key is ~2.4 KB).
constexpr size_t kMaxFieldBytes = 16 << 10;

FlowResult Failure(std::string error_code, std::string message) {
  FlowResult r;
  r.error_code = std::move(error_code);
  r.message = std::move(message);
  return r;
}

// Header-safe: no control characters (a CR/LF would inject headers into outbound calls).
bool IsCleanValue(std::string_view value) {
  if (value.size() > kMaxFieldBytes) return false;
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string_view StepAuthType(const ConnectStep& step) {
  if (const auto* form = std::get_if<FormView>(&step)) return AuthTypeName(form->auth_type);
  if (std::holds_alternative<ProviderRedirect>(step)) return AuthTypeName(AuthType::kOAuth2);
  return AuthTypeName(AuthType::kNone);
}

}  // namespace

struct ConnectService::Loaded {
  ConnectSession session;
  CustomerIntegration ci;
  std::shared_ptr<const IntegrationDefinition> def;
};

std::string AppendFlowStatus(const std::string& redirect_uri, bool success,
                             const std::string& error_code) {
  size_t hash = redirect_uri.find('#');
  std::string base = redirect_uri.substr(0, hash);
  std::string fragment = hash == std::string::npos ? "" : redirect_uri.substr(hash);
  std::string param = success ? "status=success" : "status=error";
  if (!success && !error_code.empty()) param += "&error=" + net::FormEncode(error_code);
  if (base.find('?') == std::string::npos) {
    base.push_back('?');
  } else if (base.back() != '?' && base.back() != '&') {
    base.push_back('&');
  }
  return base + param + fragment;
}

std::string CredentialsAad(const std::string& customer_integration_id, const std::string& user_id) {
  return customer_integration_id + '\n' + user_id;
}

ConnectService::ConnectService(Store& store, IntegrationDirectory& directory,
                               const crypto::Keyring& keyring, const Clock& clock,
                               net::HttpClient& http, ConnectOptions options)
    : store_(store),
      directory_(directory),
      keyring_(keyring),
      clock_(clock),
      http_(http),
      options_(std::move(options)),
      oauth_clients_(store, keyring, clock, http,
                     OAuthClientOptions{options_.public_url, options_.allow_private_network}) {
  const size_t scheme_end = options_.public_url.find("://");
  const size_t path = scheme_end == std::string::npos
                          ? std::string::npos
                          : options_.public_url.find('/', scheme_end + 3);
  if (path != std::string::npos) form_path_ = options_.public_url.substr(path);
  form_path_ += "/connect/";
}

Status ConnectService::PrepareConnect(const CustomerIntegration& ci) {
  if (ci.auth_type != AuthType::kOAuth2) return Ok{};
  auto view = directory_.View(ci);
  if (!view) return view.error();
  if (!OAuthClients::Discovered(*view->definition, ci.auth_type)) return Ok{};
  // A stored discovery is good enough here, however old: auth-url runs on an I/O thread, and
  // the connect page (a blocking route) discovers again when it is due.
  auto setup = oauth_clients_.ForConnect(view->customer_integration, *view->definition,
                                         /*rediscover_stale=*/false);
  if (!setup) return setup.error();
  return Ok{};
}

Result<ConnectService::Loaded> ConnectService::Load(std::optional<ConnectSession> session) {
  if (!session) return Error(Errc::kNotFound, "invalid_session");
  auto view = directory_.ViewById(session->customer_integration_id);
  if (!view) return view.error();
  if (!*view) return Error(Errc::kNotFound, "invalid_session");
  return Loaded{std::move(*session), (*view)->customer_integration, (*view)->definition};
}

ConnectStep ConnectService::Finish(const Loaded& loaded, bool success, std::string error_code,
                                   std::string message,
                                   std::optional<std::string> credentials_json,
                                   std::optional<int64_t> access_expires_at) {
  std::optional<SealedSecret> sealed;
  if (credentials_json) {
    crypto::Sealed s = keyring_.Seal(
        *credentials_json, CredentialsAad(loaded.ci.customer_integration_id, loaded.session.user_id));
    sealed = SealedSecret{s.key_id, std::move(s.blob)};
  }
  const int64_t now = clock_.NowMillis();
  boost::json::object extra{{"authType", AuthTypeName(loaded.ci.auth_type)}};
  if (!success) extra["error"] = error_code;
  OutboxEvent event = MakeUserEvent(success ? kUserConnected : kUserConnectionFailed,
                                    loaded.ci.workspace_id, loaded.ci.customer_integration_id,
                                    loaded.session.user_id, now, extra);
  Status stored =
      store_.FinishSession(loaded.session.token_hash, success, sealed, access_expires_at, now, event);
  if (!stored) {
    success = false;
    if (stored.error().code == Errc::kConflict) {
      error_code = "session_used";
      message = "This link has already been used.";
    } else if (stored.error().code == Errc::kNotFound) {
      // The user was deleted while the flow ran: nothing was stored, no event sent.
      error_code = "invalid_session";
      message = "This sign-in link is no longer valid.";
    } else {
      error_code = "server_error";
      message = "Something went wrong on our side. Please try again.";
    }
  }
  Metrics::Global().CountConnectFlow(success ? "completed" : "failed", AuthTypeName(loaded.ci.auth_type));
  spdlog::info("connect flow {} for customer integration {}: {}", success ? "completed" : "failed",
               loaded.ci.customer_integration_id, success ? "ok" : error_code);
  FlowResult r;
  r.success = success;
  r.integration_name = loaded.def->name;
  r.redirect_uri = loaded.session.redirect_uri;
  r.error_code = success ? "" : error_code;
  r.message = success ? "Your account is connected. You can close this window." : message;
  return r;
}

std::optional<std::string> ConnectService::UnsealVerifier(const Loaded& loaded) {
  auto verifier = keyring_.Open(loaded.session.pkce_verifier.key_id,
                                loaded.session.pkce_verifier.blob, loaded.session.token_hash);
  if (!verifier) spdlog::error("connect session cannot be unsealed (master key changed?)");
  return verifier;
}

FormView ConnectService::Form(const Loaded& loaded, std::string_view token, std::string error) {
  FormView form;
  form.auth_type = loaded.ci.auth_type;
  form.integration_name = loaded.def->name;
  if (loaded.def->api_token) form.fields = loaded.def->api_token->fields;
  form.external_id = loaded.ci.external_id;
  form.principal_arn = options_.aws.principal_arn;
  form.action = form_path_ + std::string(token);
  form.csrf_token = DeriveFromToken(token, kCsrfPurpose);
  form.error = std::move(error);
  if (!loaded.session.redirect_uri.empty()) {
    if (auto origin = ValidateRedirectUri(loaded.session.redirect_uri)) form.redirect_origin = *origin;
  }
  form.attempts_left = std::max(0, options_.max_submissions - loaded.session.submissions);
  return form;
}

ConnectStep ConnectService::Start(std::string_view token) {
  ConnectStep step = Begin(token);
  if (!std::holds_alternative<FlowResult>(step) || std::get<FlowResult>(step).success) {
    Metrics::Global().CountConnectFlow("started", StepAuthType(step));
  }
  return step;
}

std::variant<ConnectService::Loaded, ConnectStep> ConnectService::Open(std::string_view token) {
  auto found = store_.FindSessionByToken(SessionKey(token));
  if (!found) return Failure("server_error", "Something went wrong on our side. Please try again.");
  auto loaded = Load(std::move(found.value()));
  if (!loaded) return Failure("invalid_session", "This link is not valid. Ask for a new one.");
  auto ended = [&](std::string code, std::string message) -> ConnectStep {
    FlowResult r = Failure(std::move(code), std::move(message));
    r.integration_name = loaded->def->name;
    r.redirect_uri = loaded->session.redirect_uri;
    return r;
  };
  if (loaded->session.used_at) {
    return ended("session_used", "This link has already been used. Ask for a new one.");
  }
  if (clock_.NowMillis() >= loaded->session.expires_at) {
    return ended("expired_session", "This link has expired. Ask for a new one.");
  }
  if (!loaded->ci.active) {
    return Finish(*loaded, false, "integration_inactive", "This integration is not active.", {});
  }
  if (!loaded->def->Configured(loaded->ci.auth_type)) {
    spdlog::error("customer integration {}: its definition is missing or no longer valid",
                  loaded->ci.customer_integration_id);
    return ended("integration_unavailable",
                 "This integration cannot be connected: its definition is missing or invalid.");
  }
  return std::move(loaded.value());
}

ConnectStep ConnectService::Begin(std::string_view token) {
  auto opened = Open(token);
  if (auto* step = std::get_if<ConnectStep>(&opened)) return std::move(*step);
  Loaded* loaded = &std::get<Loaded>(opened);
  switch (loaded->ci.auth_type) {
    case AuthType::kNone:
      return Finish(*loaded, true, "", "", std::nullopt);
    case AuthType::kOAuth2: {
      auto setup = oauth_clients_.ForConnect(loaded->ci, *loaded->def);
      if (!setup) {
        // The message says which step of an MCP server's discovery failed; it names the
        // server's URLs and never a secret.
        const Error& error = setup.error();
        bool internal = error.code == Errc::kInternal;
        return Finish(*loaded, false, OAuthClients::FlowErrorCode(error),
                      internal ? "Something went wrong on our side."
                               : "This service's sign-in cannot be used: " + error.message(),
                      {});
      }
      auto verifier = UnsealVerifier(*loaded);
      if (!verifier) {
        return Finish(*loaded, false, "server_error", "Something went wrong on our side.", {});
      }
      const OAuth2Config& config = setup->config;
      auth::OAuthClient client{setup->client_id, setup->client_secret, CallbackUrl()};
      const auto& scopes = loaded->ci.scopes ? *loaded->ci.scopes : config.scopes;
      return ProviderRedirect{auth::BuildAuthorizationUrl(
          config, client, scopes, SessionState(token), *verifier)};
    }
    case AuthType::kApiToken:
    case AuthType::kAwsAssumeRole:
    case AuthType::kGoogleServiceAccount:
      return Form(*loaded, token, "");
  }
  return Failure("server_error", "Unsupported auth type.");
}

ConnectStep ConnectService::OAuthCallback(const FormFields& params) {
  auto param = [&](const char* name) {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  };
  std::string state = param("state");
  if (state.empty()) return Failure("invalid_session", "This sign-in link is not valid.");
  auto found = store_.FindSessionByState(SessionKey(state));
  if (!found) return Failure("server_error", "Something went wrong on our side. Please try again.");
  auto loaded = Load(std::move(found.value()));
  if (!loaded) return Failure("invalid_session", "This sign-in link is not valid.");
  if (loaded->session.used_at) {
    FlowResult r = Failure("session_used", "This sign-in was already completed.");
    r.integration_name = loaded->def->name;
    r.redirect_uri = loaded->session.redirect_uri;
    return r;
  }
  if (clock_.NowMillis() >= loaded->session.expires_at) {
    return Finish(*loaded, false, "expired_session", "This sign-in took too long. Please start again.", {});
  }
  if (loaded->ci.auth_type != AuthType::kOAuth2 || !loaded->def->Configured(AuthType::kOAuth2)) {
    return Finish(*loaded, false, "invalid_session", "This sign-in link is not valid.", {});
  }
  auto setup = oauth_clients_.ForTokens(loaded->ci, *loaded->def);
  if (!setup) return Finish(*loaded, false, "server_error", "Something went wrong on our side.", {});
  const OAuth2Config& config = setup->config;
  // RFC 9207: when the provider names itself, it must be the one we sent the user to.
  std::string iss = param("iss");
  if (!config.issuer.empty() && !iss.empty() && iss != config.issuer) {
    return Finish(*loaded, false, "issuer_mismatch", "The sign-in came from an unexpected provider.", {});
  }
  if (std::string error = param("error"); !error.empty()) {
    bool known = IsCleanValue(error) && error.size() < 64;
    return Finish(*loaded, false, known ? error : "provider_error",
                  error == "access_denied" ? "Access was not granted." : "The provider reported an error.",
                  {});
  }
  std::string code = param("code");
  if (code.empty() || !IsCleanValue(code)) {
    return Finish(*loaded, false, "invalid_request", "The provider sent no authorization code.", {});
  }
  auto verifier = UnsealVerifier(*loaded);
  if (!verifier) return Finish(*loaded, false, "server_error", "Something went wrong on our side.", {});
  auth::OAuthClient client{setup->client_id, setup->client_secret, CallbackUrl()};
  auto response = http_.Send(auth::BuildCodeExchangeCall(config, client, code, *verifier));
  if (!response) {
    spdlog::warn("token exchange for {} failed: {}", loaded->def->integration_id,
                 response.error().message());
    return Finish(*loaded, false, "provider_unavailable", "The provider could not be reached.", {});
  }
  auto tokens = auth::ParseTokenResponse(*response);
  if (!tokens) {
    spdlog::warn("token exchange for {} refused: {}", loaded->def->integration_id,
                 tokens.error().message());
    return Finish(*loaded, false, auth::OAuthErrorCode(tokens.error()),
                  "The provider refused the sign-in.", {});
  }
  const int64_t now = clock_.NowMillis();
  json::object creds{{"accessToken", tokens->access_token},
                     {"tokenType", tokens->token_type},
                     {"scope", tokens->scope},
                     {"obtainedAt", now}};
  if (!tokens->refresh_token.empty()) creds["refreshToken"] = tokens->refresh_token;
  std::optional<int64_t> expires_at;
  if (tokens->expires_in_seconds) expires_at = now + *tokens->expires_in_seconds * 1000;
  if (expires_at) creds["expiresAt"] = *expires_at;
  return Finish(*loaded, true, "", "", json::serialize(creds), expires_at);
}

ConnectStep ConnectService::Submit(std::string_view token, const FormFields& fields) {
  auto opened = Open(token);
  if (auto* step = std::get_if<ConnectStep>(&opened)) return std::move(*step);
  Loaded* loaded = &std::get<Loaded>(opened);
  const AuthType type = loaded->ci.auth_type;
  if (type == AuthType::kNone || type == AuthType::kOAuth2) return Begin(token);  // no form

  auto csrf = fields.find("csrf");
  if (csrf == fields.end() ||
      !crypto::ConstantTimeEquals(csrf->second, DeriveFromToken(token, kCsrfPurpose))) {
    return Form(*loaded, token, "The form expired. Please try again.");
  }
  auto count = store_.CountSubmission(loaded->session.token_hash);
  if (!count) return Failure("server_error", "Something went wrong on our side. Please try again.");
  loaded->session.submissions = *count;
  if (*count > options_.max_submissions) {
    return Finish(*loaded, false, "too_many_attempts", "Too many attempts. Ask for a new link.", {});
  }
  switch (type) {
    case AuthType::kApiToken:
      return SubmitApiToken(*loaded, token, fields);
    case AuthType::kAwsAssumeRole:
      return SubmitAwsRole(*loaded, token, fields);
    default:
      return SubmitGoogleKey(*loaded, token, fields);
  }
}

ConnectStep ConnectService::SubmitApiToken(const Loaded& loaded, std::string_view token,
                                           const FormFields& fields) {
  const ApiTokenConfig& config = *loaded.def->api_token;
  auth::FieldValues values;
  for (const ApiTokenField& field : config.fields) {
    auto it = fields.find(field.name);
    std::string value = it == fields.end() ? "" : Trim(it->second);
    if (value.empty()) return Form(loaded, token, fmt::format("{} is required.", field.label));
    if (!IsCleanValue(value)) {
      return Form(loaded, token, fmt::format("{} contains characters that are not allowed.", field.label));
    }
    values.emplace(field.name, std::move(value));
  }
  if (auto call = auth::BuildVerificationCall(config, values)) {
    auto response = http_.Send(*call);
    if (!response) {
      spdlog::warn("API token verification for {} failed: {}", loaded.def->integration_id,
                   response.error().message());
      return Form(loaded, token, "The provider could not be reached to check the token. Try again.");
    }
    if (response->status != config.verification->success_status) {
      return Form(loaded, token, "The provider did not accept these credentials.");
    }
  }
  json::object creds;
  for (const auto& [name, value] : values) creds[name] = value;
  return Finish(loaded, true, "", "", json::serialize(creds));
}

ConnectStep ConnectService::SubmitAwsRole(const Loaded& loaded, std::string_view token,
                                          const FormFields& fields) {
  auto it = fields.find("roleArn");
  std::string role_arn = it == fields.end() ? "" : Trim(it->second);
  if (!auth::IsValidRoleArn(role_arn)) {
    return Form(loaded, token, "Enter a role ARN like arn:aws:iam::123456789012:role/Name.");
  }
  const AwsSettings& aws = options_.aws;
  if (aws.access_key_id.empty() || aws.secret_access_key.empty()) {
    spdlog::error("AWS_ASSUME_ROLE flow needs the service's AWS credentials (AWS_ACCESS_KEY_ID)");
    return Form(loaded, token, "AWS is not configured on this server.");
  }
  auth::AssumeRoleRequest request{role_arn, loaded.ci.external_id, "toolregistry-verify",
                                  loaded.def->aws_session_duration_seconds};
  auth::AwsCredentials caller{aws.access_key_id, aws.secret_access_key, aws.session_token};
  auto response = http_.Send(auth::BuildAssumeRoleCall(aws.sts_endpoint, aws.region, request, caller,
                                                       clock_.NowMillis() / 1000));
  if (!response) {
    spdlog::warn("STS AssumeRole failed: {}", response.error().message());
    return Form(loaded, token, "AWS could not be reached. Try again.");
  }
  auto temporary = auth::ParseAssumeRoleResponse(response->status, response->body);
  if (!temporary) {
    return Form(loaded, token,
                "AWS refused to let us assume this role (" + temporary.error().message() +
                    "). Check the trust policy and the External ID.");
  }
  json::object creds{{"roleArn", role_arn}, {"externalId", loaded.ci.external_id}};
  return Finish(loaded, true, "", "", json::serialize(creds));
}

ConnectStep ConnectService::SubmitGoogleKey(const Loaded& loaded, std::string_view token,
                                            const FormFields& fields) {
  auto file = fields.find("keyFile");
  auto pasted = fields.find("keyJson");
  std::string key_json;
  if (file != fields.end() && !Trim(file->second).empty()) {
    key_json = file->second;
  } else if (pasted != fields.end()) {
    key_json = pasted->second;
  }
  if (Trim(key_json).empty()) return Form(loaded, token, "Paste or upload a service-account key.");
  auto key = auth::ParseServiceAccountKey(key_json, loaded.def->google_service_account_token_url);
  if (!key) return Form(loaded, token, "This key cannot be used: " + key.error().message());
  const auto& scopes =
      loaded.ci.scopes ? *loaded.ci.scopes : loaded.def->google_service_account_scopes;
  auto assertion = auth::MakeJwtAssertion(*key, scopes, clock_.NowMillis() / 1000);
  if (!assertion) return Form(loaded, token, "This key cannot be used: " + assertion.error().message());
  auto response = http_.Send(auth::BuildJwtBearerCall(*key, *assertion));
  if (!response) {
    spdlog::warn("service-account token request failed: {}", response.error().message());
    return Form(loaded, token, "Google could not be reached. Try again.");
  }
  auto access = auth::ParseTokenResponse(response->status, response->body);
  if (!access) return Form(loaded, token, "Google refused this key: " + access.error().message());
  return Finish(loaded, true, "", "", key_json);
}

}  // namespace tr
