// Errors as values. Every fallible domain operation returns Result<T>: either a T or an
// Error carrying a code (mapped to an HTTP status or a CLI exit in exactly one place each)
// and public messages that are safe to show a caller. Internal detail is logged where it
// happens and never put in an Error.
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace tr {

enum class Errc {
  kInvalidArgument,  // 400: the caller sent something malformed or not allowed
  kUnauthenticated,  // 401: missing, unknown or revoked API key
  kNotFound,         // 404: no such object for this caller
  kConflict,         // 409: the object is not in a state that allows the operation
  kTooLarge,         // 413: a body or field over its limit
  kRateLimited,      // 429
  kUnavailable,      // 503: the database (or another dependency) cannot be reached
  kBadGateway,       // 502: the upstream of a proxied call could not be reached
  kGatewayTimeout,   // 504: an outbound call timed out (the proxy's upstream answers 504)
  kInternal,         // 500: a bug or an unexpected failure; details only in the log
  // Not an answer: work asked not to block (on an I/O thread) would have had to, and did
  // nothing; the caller runs it again where it may (http::Response::RunBlocking()).
  kWouldBlock,
};

struct Error {
  Errc code;
  // One message, or several for several validation failures. Public: shown to callers.
  std::vector<std::string> messages;
  int retry_after_seconds = 0;  // for kRateLimited: when to try again

  Error(Errc c, std::string message) : code(c), messages{std::move(message)} {}
  Error(Errc c, std::vector<std::string> many) : code(c), messages(std::move(many)) {}
  const std::string& message() const { return messages.front(); }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// For operations that return nothing on success.
struct Ok {};
using Status = Result<Ok>;

}  // namespace tr
