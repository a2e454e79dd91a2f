#include "core/webhook_dispatcher.h"

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
    if (Deliver(event)) {
      Metrics::Global().CountWebhookDelivery("delivered");
      (void)store_.MarkEventDelivered(event.event_id, clock_.NowMillis());
      continue;
    }
    Metrics::Global().CountWebhookDelivery(attempts >= options_.max_attempts ? "given_up" : "failed");
    if (attempts >= options_.max_attempts) {
      spdlog::warn("webhook event {} given up after {} attempts", event.event_id, attempts);
      (void)store_.MarkEventFailed(event.event_id, attempts, std::nullopt);
      continue;
    }
    int64_t delay = options_.first_retry_millis;
    for (int i = 1; i < attempts && delay < options_.max_retry_millis; ++i) delay *= 2;
    delay = std::min(delay, options_.max_retry_millis);
    (void)store_.MarkEventFailed(event.event_id, attempts, clock_.NowMillis() + delay);
  }
  return static_cast<int>(events->size());
}

bool WebhookDispatcher::Deliver(const OutboxEvent& event) {
  auto webhook = store_.FindWebhook(event.workspace_id);
  if (!webhook || !*webhook) return false;
  auto secret = keyring_.Open((*webhook)->secret.key_id, (*webhook)->secret.blob, event.workspace_id);
  if (!secret) {
    spdlog::error("webhook secret of a workspace cannot be unsealed");
    return false;
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
    return false;
  }
  if (response->status < 200 || response->status >= 300) {
    spdlog::info("webhook {} delivery answered {}", event.event_id, response->status);
    return false;
  }
  return true;
}

}  // namespace tr
