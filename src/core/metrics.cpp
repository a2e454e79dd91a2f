#include "core/metrics.h"

#include <fmt/format.h>

namespace tr {

namespace {

// A label value with \, " and newlines escaped, as the exposition format requires.
std::string Escape(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void Header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

Metrics& Metrics::Global() {
  static Metrics metrics;
  return metrics;
}

void Metrics::CountRequest(std::string_view route, int status, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{std::string(route), std::to_string(status)}];
  Histogram& h = latency_[std::string(route)];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::CountConnectFlow(std::string_view event, std::string_view auth_type) {
  std::lock_guard lock(mu_);
  ++connect_flows_[{std::string(event), std::string(auth_type)}];
}

void Metrics::CountRefresh(std::string_view outcome) {
  std::lock_guard lock(mu_);
  ++refreshes_[std::string(outcome)];
}

void Metrics::CountWebhookDelivery(std::string_view outcome) {
  std::lock_guard lock(mu_);
  ++webhooks_[std::string(outcome)];
}

std::string Metrics::RenderPrometheus(const std::vector<Gauge>& gauges) const {
  std::lock_guard lock(mu_);
  std::string out;
  Header(out, "toolregistry_http_requests_total", "counter", "HTTP requests answered, by route and status.");
  for (const auto& [labels, n] : requests_) {
    out += fmt::format("toolregistry_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                       Escape(labels.first), labels.second, n);
  }
  Header(out, "toolregistry_http_request_duration_seconds", "histogram",
         "Time from a request's arrival to its answer, by route.");
  for (const auto& [route, h] : latency_) {
    std::string r = Escape(route);
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      out += fmt::format("toolregistry_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                         r, kBuckets[i], h.buckets[i]);
    }
    out += fmt::format("toolregistry_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n",
                       r, h.count);
    out += fmt::format("toolregistry_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", r, h.sum);
    out += fmt::format("toolregistry_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", r, h.count);
  }
  Header(out, "toolregistry_connect_flows_total", "counter",
         "Connect flow events (started, completed, failed), by auth type.");
  for (const auto& [labels, n] : connect_flows_) {
    out += fmt::format("toolregistry_connect_flows_total{{event=\"{}\",auth_type=\"{}\"}} {}\n",
                       Escape(labels.first), Escape(labels.second), n);
  }
  Header(out, "toolregistry_token_refreshes_total", "counter", "OAuth token refreshes, by outcome.");
  for (const auto& [outcome, n] : refreshes_) {
    out += fmt::format("toolregistry_token_refreshes_total{{outcome=\"{}\"}} {}\n", Escape(outcome), n);
  }
  Header(out, "toolregistry_webhook_deliveries_total", "counter",
         "Webhook delivery attempts, by outcome.");
  for (const auto& [outcome, n] : webhooks_) {
    out += fmt::format("toolregistry_webhook_deliveries_total{{outcome=\"{}\"}} {}\n", Escape(outcome), n);
  }
  for (const Gauge& g : gauges) {
    Header(out, g.name, "gauge", g.help);
    out += fmt::format("{} {}\n", g.name, g.value);
  }
  return out;
}

}  // namespace tr
