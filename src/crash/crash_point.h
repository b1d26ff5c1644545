// Crash points for the crash test (the RocksDB crash-test pattern): every statement Derived
// runs on the warehouse passes a named point before and after it, and a test can have the
// process SIGKILLed at any of them. Off unless the environment asks; then one check of a
// static flag per statement.
//
//   DERIVED_CRASH_AT=NAME[#N]   SIGKILL at the N-th (default first) time NAME is passed
//   DERIVED_CRASH_LOG=FILE      append every point passed to FILE as NAME#N (discovery)
//
// A name is `<scope>.<k>.<verb>.<before|after>`: the innermost Scope (e.g. "append",
// "rebuild.swap", "drop", "reload"), the statement's ordinal k within that scope, the
// statement's first word ("insert", "commit", ...). Thread-safe; scopes are per thread.
#pragma once

#include <string>
#include <string_view>

namespace derived::crash {

// Names the work the statements on this thread belong to, until it goes out of scope.
// Nested scopes join their names with '.'.
class Scope {
 public:
  explicit Scope(std::string_view name);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  size_t saved_length_;
  int saved_ordinal_;
};

// Passed around each statement: `after` false before it runs, true once it returned.
void Statement(std::string_view sql, bool after);

// True when either variable is set (the points do anything at all).
bool Enabled();

// Runs `fn` (which runs `sql`) between the statement's two points.
template <typename Fn>
auto AtStatement(std::string_view sql, Fn&& fn) {
  Statement(sql, false);
  auto result = fn();
  Statement(sql, true);
  return result;
}

}  // namespace derived::crash
