// Inside the template module, errors travel as exceptions: the lexer, parser and renderer
// are deeply recursive, and unwinding is simpler than threading Results through every
// level. Every public entry point catches TemplateError and returns it as a Result or
// Status, so no exception leaves the module.
#pragma once

#include <exception>
#include <string>
#include <utility>

#include "util/status.h"

namespace derived::tmpl {

class TemplateError : public std::exception {
 public:
  explicit TemplateError(Error error) : error_(std::move(error)) {}
  const char* what() const noexcept override { return error_.message.c_str(); }
  const Error& error() const { return error_; }
  Error& mutable_error() { return error_; }

 private:
  Error error_;
};

// Column is left unknown on purpose: SQL embedded in YAML is often re-indented by the
// YAML loader, so a column within the template text would mislead.
[[noreturn]] inline void Fail(const std::string& file, int line, std::string message) {
  throw TemplateError(Error(std::move(message), Location{file, line, 0}));
}

}  // namespace derived::tmpl
