#include "cli/logging.h"

#include <memory>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "http/message.h"

namespace tr::cli {

namespace {

// %* : the message, escaped for a JSON string.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string escaped = http::JsonEscape(std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

std::unique_ptr<spdlog::formatter> Formatter(const std::string& pattern) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<JsonMessageFlag>('*').set_pattern(pattern);
  return formatter;
}

}  // namespace

void SetUpLogging(bool server, LogFormat format) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("toolregistry", sink);
  const bool json = format == LogFormat::kJson;
  logger->set_formatter(Formatter(json ? R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%*"})"
                                       : "%Y-%m-%dT%H:%M:%S.%eZ %l %v"));
  logger->set_level(server ? spdlog::level::info : spdlog::level::warn);
  spdlog::set_default_logger(logger);
  if (server) {
    // The server writes the access log's fields itself, already escaped.
    // Its own sink: a formatter set on a logger is set on its sinks.
    auto access = std::make_shared<spdlog::logger>(
        "access", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    access->set_formatter(Formatter(json ? R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","log":"access",%v})"
                                         : "%Y-%m-%dT%H:%M:%S.%eZ %l access %v"));
    access->set_level(spdlog::level::info);
    spdlog::register_logger(access);
  }
}

}  // namespace tr::cli
