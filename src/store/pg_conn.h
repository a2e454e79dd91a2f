// Thin RAII wrappers over one libpq connection, its results and its prepared statements.
// A PgConn is used by one thread at a time; PgStore's pool hands connections out so that
// this holds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct pg_conn;
struct pg_result;

namespace tr {

// Thrown for PostgreSQL failures inside the store; never leaves the store (it maps them to
// Errc::kUnavailable / kConflict / kInternal and logs the detail).
struct PgError {
  std::string sqlstate;  // empty when the connection failed (no server answer)
  std::string detail;
  bool connection_lost = false;  // the connection is unusable and must be dropped
  bool timed_out = false;  // the server did not answer in time (may not answer a retry either)
};

// Parameters of one statement, all sent as text except bytea (sent as binary bytes).
class PgParams {
 public:
  PgParams& Add(std::string_view text);
  PgParams& Add(int64_t value);
  PgParams& Add(const std::optional<int64_t>& value);
  PgParams& AddBytes(std::string_view bytes);
  PgParams& AddNull();
  // A one-dimensional array in PostgreSQL's text form ({"a","b"}), for a $n::text[] (or
  // ::bigint[], …) parameter: every element quoted, so any text is carried as it is.
  PgParams& AddArray(const std::vector<std::string>& items);

  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> Values() const;
  std::vector<int> Lengths() const;
  const std::vector<int>& Formats() const { return formats_; }

 private:
  std::vector<std::optional<std::string>> values_;
  std::vector<int> formats_;
};

// One statement's result rows, in text format.
class PgResult {
 public:
  explicit PgResult(pg_result* res) : res_(res) {}
  PgResult(PgResult&& other) noexcept : res_(other.res_) { other.res_ = nullptr; }
  PgResult& operator=(PgResult&&) = delete;
  ~PgResult();

  int Rows() const;
  int Affected() const;  // rows changed by an INSERT/UPDATE/DELETE
  std::string Text(int row, int column) const;
  std::string Bytes(int row, int column) const;  // a bytea column, decoded
  int64_t Int(int row, int column) const;
  bool IsNull(int row, int column) const;
  std::optional<int64_t> OptionalInt(int row, int column) const;

 private:
  pg_result* res_;
};

class PgConn {
 public:
  // Connects to `url` (postgresql://…) with short timeouts and keepalives and sets the
  // session settings (statement timeout, synchronous commit). Throws PgError.
  explicit PgConn(const std::string& url);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs one or more statements without parameters; the last one's result. Throws PgError.
  PgResult Exec(const char* sql);
  // Runs `sql` as a prepared statement (prepared on first use on this connection).
  // `sql` must be a string with static storage (a named constant): the cache is keyed by
  // its address. Throws PgError.
  PgResult Run(const char* sql, const PgParams& params = {});
  // False once a failure left the connection unusable.
  bool Healthy() const;
  // Healthy and outside any transaction: fit to go back to the pool.
  bool Idle() const;

 private:
  PgResult Check(pg_result* res);

  pg_conn* conn_ = nullptr;
  std::unordered_map<const char*, std::string> statements_;  // sql address → name
};

}  // namespace tr
