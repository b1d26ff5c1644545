// Errors as values at module boundaries: Error, Result<T> and Status.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace derived {

// Where a problem is, as a user would look for it. line and column are 1-based; 0 = unknown.
struct Location {
  std::string file;
  int line = 0;
  int column = 0;

  // "file:line:column", dropping the parts that are unknown.
  std::string ToString() const;
};

struct Error {
  std::string message;
  Location where;
  // The engine's error code when it gives one (PostgreSQL's SQLSTATE, e.g. "42703"), so
  // a caller can tell "the statement is wrong" from "the server could not answer".
  std::string code;

  Error() = default;
  explicit Error(std::string msg, Location loc = {}, std::string engine_code = {})
      : message(std::move(msg)), where(std::move(loc)), code(std::move(engine_code)) {}

  // "file:line:column: message" (or just the message when the location is unknown).
  std::string ToString() const;
};

// A value or an error. Success costs nothing beyond the value itself. A module whose
// callers must tell failures apart returns its own error type E (holding an Error).
template <typename T, typename E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(E error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok()
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // REQUIRES: !ok()
  const E& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design
  static Status Ok() { return {}; }

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  // REQUIRES: !ok()
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace derived
