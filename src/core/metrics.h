// Metrics: the process's counters and latency histograms, rendered in the Prometheus text
// exposition format at /metrics. One registry per process (Metrics::Global()), because
// counting is a cross-cutting concern of every layer; tests read it the same way.
// Thread-safe: every method may be called from any thread.
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tr {

class Metrics {
 public:
  static Metrics& Global();

  // One answered HTTP request: its route template, status and latency in seconds.
  void CountRequest(std::string_view route, int status, double seconds);
  // A connect flow event ("started", "completed", "failed") for an auth type name.
  void CountConnectFlow(std::string_view event, std::string_view auth_type);
  // An OAuth refresh outcome ("success", "invalid_grant", "refused", "unavailable").
  void CountRefresh(std::string_view outcome);
  // A webhook delivery outcome ("delivered", "failed", "given_up").
  void CountWebhookDelivery(std::string_view outcome);

  // The exposition text, with `gauges` (name, help, value) appended.
  struct Gauge {
    std::string name;
    std::string help;
    double value;
  };
  std::string RenderPrometheus(const std::vector<Gauge>& gauges) const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  5.0};
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
  };
  using Labels = std::pair<std::string, std::string>;

  mutable std::mutex mu_;
  std::map<Labels, uint64_t> requests_;         // (route, status)   Guarded by mu_
  std::map<std::string, Histogram> latency_;    // route             Guarded by mu_
  std::map<Labels, uint64_t> connect_flows_;    // (event, authType) Guarded by mu_
  std::map<std::string, uint64_t> refreshes_;   // outcome           Guarded by mu_
  std::map<std::string, uint64_t> webhooks_;    // outcome           Guarded by mu_
};

}  // namespace tr
