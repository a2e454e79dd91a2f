#include "core/webhook_dispatcher.h"

#include <charconv>

#include <spdlog/spdlog.h>

#include "core/metrics.h"
#include "crypto/crypto.h"

namespace tr {

namespace {

constexpr std::string_view kSecretPrefix = "whsec_";

}  // namespace

std::string StandardWebhookSignature(const std::string& secret, const std::string& id,
                                     int64_t timestamp_seconds, const std::string& body) {
  std::string_view encoded = secret;
  if (encoded.starts_with(kSecretPrefix)) encoded.remove_prefix(kSecretPrefix.size());
  auto key = crypto::Base64Decode(encoded);
  if (!key) return {};
  std::string signed_content = id + "." + std::to_string(timestamp_seconds) + "." + body;
  return "v1," + crypto::Base64Encode(crypto::HmacSha256(*key, signed_content));
}

std::string NewWebhookSecret() {
  return std::string(kSecretPrefix) + crypto::Base64Encode(crypto::RandomBytes(24));
}

WebhookDispatcher::WebhookDispatcher(Store& store, const crypto::Keyring& keyring,
                                     const Clock& clock, net::HttpClient& http,
                                     WebhookOptions options)
    : store_(store), keyring_(keyring), clock_(clock), http_(http), options_(options) {}

WebhookDispatcher::~WebhookDispatcher() { Stop(); }

void WebhookDispatcher::Start() {
  for (int i = 0; i < std::max(1, options_.threads); ++i) threads_.emplace_back([this] { Loop(); });
}

void WebhookDispatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void WebhookDispatcher::Loop() {
  for (;;) {
    int attempted = 0;
    try {
      attempted = DeliverDue();
    } catch (const std::exception& e) {
      spdlog::error("webhook delivery pass failed: {}", e.what());
    }
    std::unique_lock lock(mu_);
    if (stopping_) return;
    if (attempted == 0) cv_.wait_for(lock, options_.poll_interval, [this] { return stopping_; });
    if (stopping_) return;
  }
}

int WebhookDispatcher::DeliverDue(int limit) {
  const int64_t now = clock_.NowMillis();
  // Polling reads; only a due event costs a write (the claim).
  auto due = store_.HasDueEvents(now);
  if (!due || !*due) return 0;
  // Claimed events stay hidden from other dispatchers (other nodes) while we try them.
  const int64_t claim = options_.timeout.count() * 2;
  auto events = store_.ClaimDueEvents(now, claim, limit);
  if (!events) return 0;
  for (const OutboxEvent& event : *events) {
    const int attempts = event.attempts + 1;
    const Outcome outcome = Deliver(event);
    if (outcome.delivered) {
      Metrics::Global().CountWebhookDelivery("delivered");
      (void)store_.MarkEventDelivered(event.event_id, clock_.NowMillis());
      continue;
    }
    const bool give_up = outcome.gone || attempts >= options_.max_attempts;
    Metrics::Global().CountWebhookDelivery(give_up ? "given_up" : "failed");
    if (give_up) {
      spdlog::warn("webhook event {} given up after {} attempts{}", event.event_id, attempts,
                   outcome.gone ? " (the receiver answered 410 Gone)" : "");
      (void)store_.MarkEventFailed(event.event_id, attempts, std::nullopt);
      continue;
    }
    const int64_t delay = WebhookRetryDelay(options_, attempts, outcome.retry_after_millis);
    (void)store_.MarkEventFailed(event.event_id, attempts, clock_.NowMillis() + delay);
  }
  return static_cast<int>(events->size());
}

int64_t WebhookRetryDelay(const WebhookOptions& options, int attempts, int64_t retry_after_millis) {
  int64_t delay = options.first_retry_millis;
  for (int i = 1; i < attempts && delay < options.max_retry_millis; ++i) delay *= 2;
  return std::min(std::max(delay, retry_after_millis), options.max_retry_millis);
}

WebhookDispatcher::Outcome WebhookDispatcher::Deliver(const OutboxEvent& event) {
  auto webhook = store_.FindWebhook(event.workspace_id);
  if (!webhook || !*webhook) return {};
  auto secret = keyring_.Open((*webhook)->secret.key_id, (*webhook)->secret.blob, event.workspace_id);
  if (!secret) {
    spdlog::error("webhook secret of a workspace cannot be unsealed");
    return {};
  }
  const int64_t timestamp = clock_.NowMillis() / 1000;
  net::HttpCall call;
  call.method = "POST";
  call.url = (*webhook)->url;
  call.timeout = options_.timeout;
  call.body = event.payload;
  call.headers = {{"Content-Type", "application/json"},
                  {"webhook-id", event.event_id},
                  {"webhook-timestamp", std::to_string(timestamp)},
                  {"webhook-signature",
                   StandardWebhookSignature(*secret, event.event_id, timestamp, event.payload)}};
  auto response = http_.Send(call);
  if (!response) {
    spdlog::info("webhook {} delivery failed: {}", event.event_id, response.error().message());
    return {};
  }
  if (response->status >= 200 && response->status < 300) return {.delivered = true};
  spdlog::info("webhook {} delivery answered {}", event.event_id, response->status);
  Outcome outcome;
  outcome.gone = response->status == 410;
  // Retry-After in seconds (an HTTP date is rare from a receiver, and taken as absent).
  const std::string retry_after = response->Header("retry-after");
  unsigned seconds = 0;
  auto [end, ec] =
      std::from_chars(retry_after.data(), retry_after.data() + retry_after.size(), seconds);
  if (ec == std::errc() && end == retry_after.data() + retry_after.size()) {
    outcome.retry_after_millis = static_cast<int64_t>(seconds) * 1000;
  }
  return outcome;
}

}  // namespace tr
