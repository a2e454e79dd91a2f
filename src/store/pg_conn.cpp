#include "store/pg_conn.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace tr {

namespace {

// Server-side bound on one statement; a query that takes longer fails instead of holding a
// request and a pooled connection.
constexpr int kStatementTimeoutMillis = 5000;
// Client-side bound on waiting for an answer: above the statement timeout, so it fires only
// when the server itself stopped answering (stopped, frozen, or the network is gone).
constexpr int kAnswerTimeoutMillis = kStatementTimeoutMillis + 2000;

// Per-session settings. synchronous_commit=on: a COMMIT returns once the WAL is flushed, even
// where the server's default is off.
std::string SessionSettings() {
  return "SET statement_timeout = " + std::to_string(kStatementTimeoutMillis) +
         "; SET lock_timeout = " + std::to_string(kStatementTimeoutMillis) +
         "; SET idle_in_transaction_session_timeout = 30000; SET synchronous_commit = on; "
         "SET client_min_messages = warning";
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

PgParams& PgParams::Add(std::string_view text) {
  values_.emplace_back(std::string(text));
  formats_.push_back(0);
  return *this;
}

PgParams& PgParams::Add(int64_t value) { return Add(std::to_string(value)); }

PgParams& PgParams::Add(const std::optional<int64_t>& value) {
  return value ? Add(*value) : AddNull();
}

PgParams& PgParams::AddBytes(std::string_view bytes) {
  values_.emplace_back(std::string(bytes));
  formats_.push_back(1);
  return *this;
}

PgParams& PgParams::AddNull() {
  values_.emplace_back(std::nullopt);
  formats_.push_back(0);
  return *this;
}

PgParams& PgParams::AddArray(const std::vector<std::string>& items) {
  std::string literal = "{";
  for (const std::string& item : items) {
    if (literal.size() > 1) literal += ',';
    literal += '"';
    for (char c : item) {
      if (c == '"' || c == '\\') literal += '\\';
      literal += c;
    }
    literal += '"';
  }
  literal += '}';
  return Add(literal);
}

std::vector<const char*> PgParams::Values() const {
  std::vector<const char*> out;
  for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
  return out;
}

std::vector<int> PgParams::Lengths() const {
  std::vector<int> out;
  for (const auto& v : values_) out.push_back(v ? static_cast<int>(v->size()) : 0);
  return out;
}

PgResult::~PgResult() {
  if (res_) PQclear(res_);
}

int PgResult::Rows() const { return PQntuples(res_); }

int PgResult::Affected() const { return std::atoi(PQcmdTuples(res_)); }

std::string PgResult::Text(int row, int column) const {
  return std::string(PQgetvalue(res_, row, column),
                     static_cast<size_t>(PQgetlength(res_, row, column)));
}

std::string PgResult::Bytes(int row, int column) const {
  // bytea in text format is "\x" followed by two hex digits per byte.
  std::string hex = Text(row, column);
  if (hex.size() < 2 || hex[0] != '\\' || hex[1] != 'x') {
    throw PgError{"", "unexpected bytea encoding", false};
  }
  std::string out;
  out.reserve((hex.size() - 2) / 2);
  for (size_t i = 2; i + 1 < hex.size(); i += 2) {
    int high = HexValue(hex[i]), low = HexValue(hex[i + 1]);
    if (high < 0 || low < 0) throw PgError{"", "unexpected bytea encoding", false};
    out.push_back(static_cast<char>(high * 16 + low));
  }
  return out;
}

int64_t PgResult::Int(int row, int column) const {
  return std::strtoll(PQgetvalue(res_, row, column), nullptr, 10);
}

bool PgResult::IsNull(int row, int column) const { return PQgetisnull(res_, row, column) != 0; }

std::optional<int64_t> PgResult::OptionalInt(int row, int column) const {
  if (IsNull(row, column)) return std::nullopt;
  return Int(row, column);
}

PgConn::PgConn(const std::string& url) {
  // Our defaults first: settings given in the URL (expanded from dbname) override them.
  const char* keywords[] = {"connect_timeout",     "keepalives",       "keepalives_idle",
                            "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                            "application_name",    "dbname",           nullptr};
  const char* values[] = {"3", "1", "10", "3", "3", "10000", "toolregistry", url.c_str(), nullptr};
  conn_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    std::string detail = conn_ ? PQerrorMessage(conn_) : "out of memory";
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    throw PgError{"", "cannot connect: " + detail, true};
  }
  Exec(SessionSettings().c_str());
}

PgConn::~PgConn() {
  if (conn_) PQfinish(conn_);
}

bool PgConn::Healthy() const { return PQstatus(conn_) == CONNECTION_OK; }

bool PgConn::Idle() const { return Healthy() && PQtransactionStatus(conn_) == PQTRANS_IDLE; }

PgResult PgConn::Check(pg_result* res) {
  ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return PgResult(res);
  PgError error;
  if (res) {
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    error.sqlstate = state ? state : "";
    // The primary message only: the DETAIL line may quote row values.
    const char* message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    error.detail = message ? message : "unknown error";
    PQclear(res);
  } else {
    error.detail = PQerrorMessage(conn_);
  }
  error.connection_lost = !Healthy();
  throw error;
}

namespace {

bool Succeeded(const pg_result* res) {
  ExecStatusType status = PQresultStatus(res);
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

// Waits for every result of the query just sent; the last one (or the first failure).
// Throws PgError (connection lost) when the server does not answer in time.
pg_result* AwaitResult(pg_conn* conn) {
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kAnswerTimeoutMillis);
  pg_result* kept = nullptr;
  for (;;) {
    while (PQisBusy(conn)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      pollfd pfd{PQsocket(conn), POLLIN, 0};
      int ready = left > 0 ? ::poll(&pfd, 1, static_cast<int>(left)) : 0;
      if (ready == 0 || (ready < 0 && errno != EINTR)) {
        if (kept) PQclear(kept);
        throw PgError{"", "no answer from the database in time", true, true};
      }
      if (PQconsumeInput(conn) == 0) {
        if (kept) PQclear(kept);
        throw PgError{"", std::string("connection lost: ") + PQerrorMessage(conn), true};
      }
    }
    pg_result* res = PQgetResult(conn);
    if (res == nullptr) return kept;
    if (kept && !Succeeded(kept)) {
      PQclear(res);  // the first failure is the one to report
      continue;
    }
    if (kept) PQclear(kept);
    kept = res;
  }
}

}  // namespace

PgResult PgConn::Exec(const char* sql) {
  if (PQsendQuery(conn_, sql) == 0) Check(nullptr);
  return Check(AwaitResult(conn_));
}

PgResult PgConn::Run(const char* sql, const PgParams& params) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    std::string name = "s" + std::to_string(statements_.size());
    if (PQsendPrepare(conn_, name.c_str(), sql, 0, nullptr) == 0) Check(nullptr);
    Check(AwaitResult(conn_));
    it = statements_.emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> values = params.Values();
  std::vector<int> lengths = params.Lengths();
  if (PQsendQueryPrepared(conn_, it->second.c_str(), params.size(), values.data(), lengths.data(),
                          params.Formats().data(), 0) == 0) {
    Check(nullptr);
  }
  return Check(AwaitResult(conn_));
}

}  // namespace tr
