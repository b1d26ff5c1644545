// Looking inside values: `a.b`, `a[k]`, `a[i:j]`, iteration, and the few Python methods
// templates call (dict.items(), str.upper(), ...). A missing key or attribute is not an
// error here: it yields an undefined Value whose hint explains what was missing, so that
// `d.x is defined` and `d.x | default(1)` work, while printing it fails (StrictUndefined).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "template/value.h"
#include "util/status.h"

namespace derived::tmpl {

// Jinja's getattr: a method of the same name wins over a dict key (`d.items` is the
// method); otherwise dict keys. `d['items']` (GetItem) prefers the key.
// REQUIRES: !object.is_undefined().
Value GetAttribute(const Value& object, std::string_view name);

// The stored value for `object.name` when it is a dict entry, without copying; nullptr
// when GetAttribute would have to compute something (a method, or a miss).
const Value* FindAttributeRef(const Value& object, std::string_view name);

// a[key]: list and string indexes may be negative.
// REQUIRES: !object.is_undefined() && !key.is_undefined().
Value GetItem(const Value& object, const Value& key);

// a[start:stop:step] on lists and strings, Python semantics; none means omitted.
Result<Value> GetSlice(const Value& object, const Value& start, const Value& stop, const Value& step);

// The items `for x in value` visits: list elements, dict keys, or a string's characters
// (at most kMaxListItems of them). A lenient undefined iterates as empty. Sets *items to point at the list's own elements
// when there is one (no copy), else fills *storage and points there.
Status Iterate(const Value& value, ValueList* storage, const ValueList** items);

// String helpers shared by str methods and filters. Case mapping is ASCII-only; other
// UTF-8 text passes through unchanged.
std::string AsciiUpper(std::string_view s);
std::string AsciiLower(std::string_view s);
// Python's str.strip/lstrip/rstrip; empty `chars` means whitespace.
std::string_view PyStrip(std::string_view s, std::string_view chars, bool left, bool right);
// Python's str.replace; count < 0 replaces all. Fails when the result would pass
// kMaxStringBytes (limits.h).
Result<std::string> PyReplace(std::string_view s, std::string_view from, std::string_view to, int64_t count = -1);

}  // namespace derived::tmpl
