// Arithmetic, concatenation and comparison with Python's semantics: ints are 64-bit and
// overflow is an error rather than a silent wrap; `/` always gives a float; `//` and `%`
// round toward negative infinity. Errors come back without a location (the renderer adds
// it) and read like Python's: "unsupported operand type(s) for -: 'str' and 'int'".
#pragma once

#include "template/ast.h"
#include "template/value.h"
#include "util/status.h"

namespace derived::tmpl {

// REQUIRES: neither operand is a strict undefined (a lenient one concatenates as '').
Result<Value> ApplyBinary(ast::BinaryOp op, const Value& a, const Value& b);
Result<Value> ApplyUnary(ast::UnaryOp op, const Value& a);  // kNeg and kPos
Result<bool> ApplyCompare(ast::CompareOp op, const Value& a, const Value& b);

}  // namespace derived::tmpl
