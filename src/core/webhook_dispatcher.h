// WebhookDispatcher: delivers the webhook outbox (CONTRACT section 9) on its own threads,
// signed per the Standard Webhooks specification, at least once, retrying failures with
// exponential backoff. Each thread claims one event at a time, so a slow or dead receiver
// holds one thread, not the others' events; the API never waits for a delivery.
// Start() once, Stop() (or the destructor) joins the threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "crypto/keyring.h"
#include "net/http_client.h"
#include "store/store.h"

namespace tr {

struct WebhookOptions {
  std::chrono::milliseconds poll_interval{250};
  // 1 s, 2 s, 4 s, ... up to an hour between attempts, for about three days (1 + 2 + ... +
  // 2,048 s, then 71 hours); then the event is given up (logged). Standard Webhooks asks for
  // a schedule of several days.
  int max_attempts = 84;
  int64_t first_retry_millis = 1000;
  int64_t max_retry_millis = 3'600'000;
  std::chrono::milliseconds timeout{10'000};
  int threads = 8;  // deliveries in flight at once
};

// The wait after the `attempts`-th failed attempt: first_retry_millis doubled per attempt up
// to max_retry_millis, or the receiver's Retry-After when it asks for longer (still capped).
int64_t WebhookRetryDelay(const WebhookOptions& options, int attempts,
                          int64_t retry_after_millis = 0);

// "v1,<base64 HMAC-SHA256 of id.timestamp.body>" keyed with the base64 part of `secret`
// ("whsec_<base64>"). Empty when the secret is malformed.
std::string StandardWebhookSignature(const std::string& secret, const std::string& id,
                                     int64_t timestamp_seconds, const std::string& body);

// A new "whsec_" secret: 24 random bytes, base64.
std::string NewWebhookSecret();

class WebhookDispatcher {
 public:
  WebhookDispatcher(Store& store, const crypto::Keyring& keyring, const Clock& clock,
                    net::HttpClient& http, WebhookOptions options);
  ~WebhookDispatcher();

  void Start();
  void Stop();
  // Claims and delivers up to `limit` due events, once; how many were attempted.
  int DeliverDue(int limit = 1);

 private:
  void Loop();
  struct Outcome {
    bool delivered = false;
    bool gone = false;               // 410 Gone: the receiver asks for no more attempts
    int64_t retry_after_millis = 0;  // the receiver's Retry-After, in seconds, as millis
  };
  Outcome Deliver(const OutboxEvent& event);

  Store& store_;
  const crypto::Keyring& keyring_;
  const Clock& clock_;
  net::HttpClient& http_;
  WebhookOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // Guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace tr
