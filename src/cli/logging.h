// Log set-up: spdlog to stderr, one JSON object per line ({"time","level","msg"}; the access
// log adds "request_id","route","status","latency_ms") or readable text. Call once, first.
#pragma once

namespace tr::cli {

enum class LogFormat { kJson, kText };

// `server`: info level and the "access" logger; otherwise warnings only (admin commands).
void SetUpLogging(bool server, LogFormat format);

}  // namespace tr::cli
