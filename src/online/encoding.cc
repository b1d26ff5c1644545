#include "online/encoding.h"

#include <cstring>

#include <fmt/format.h>
#include <xxhash.h>

namespace derived::online {
namespace {

enum Tag : uint8_t {
  kNull = 0,
  kFalse = 1,
  kTrue = 2,
  kInt = 3,
  kUInt = 4,
  kDouble = 5,
  kNumber = 6,
  kText = 7,
  kList = 8,
  kStruct = 9,
  kMap = 10,
};
constexpr int kMaxDepth = 64;

void Put64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xff));
}
void Put32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xff));
}
Status PutBytes(std::string* out, std::string_view bytes) {
  if (bytes.size() > kMaxEncodedBytes) return Error(fmt::format("a value of {} bytes is too long to store", bytes.size()));
  Put32(out, static_cast<uint32_t>(bytes.size()));
  out->append(bytes);
  return Status::Ok();
}

Status Encode(const TypedValue& v, bool nested_allowed, int depth, std::string* out) {
  if (depth > kMaxDepth) return Error("a value nested deeper than 64 levels");
  switch (v.kind) {
    case TypedValue::Kind::kNull: out->push_back(kNull); return Status::Ok();
    case TypedValue::Kind::kBool: out->push_back(v.boolean ? kTrue : kFalse); return Status::Ok();
    case TypedValue::Kind::kInt:
      out->push_back(kInt);
      Put64(out, static_cast<uint64_t>(v.integer));
      return Status::Ok();
    case TypedValue::Kind::kUInt:
      out->push_back(kUInt);
      Put64(out, v.unsigned_integer);
      return Status::Ok();
    case TypedValue::Kind::kDouble: {
      out->push_back(kDouble);
      uint64_t bits;
      std::memcpy(&bits, &v.real, sizeof bits);
      Put64(out, bits);
      return Status::Ok();
    }
    case TypedValue::Kind::kNumber: out->push_back(kNumber); return PutBytes(out, v.text);
    case TypedValue::Kind::kText: out->push_back(kText); return PutBytes(out, v.text);
    case TypedValue::Kind::kList:
    case TypedValue::Kind::kStruct:
    case TypedValue::Kind::kMap: {
      if (!nested_allowed) return Error("a list, struct or map cannot be a key");
      const bool is_struct = v.kind == TypedValue::Kind::kStruct;
      out->push_back(v.kind == TypedValue::Kind::kList ? kList : is_struct ? kStruct : kMap);
      if (is_struct && v.names.size() != v.items.size()) return Error("a struct whose names and values differ in number");
      Put32(out, static_cast<uint32_t>(v.items.size()));
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (is_struct) {
          if (auto st = PutBytes(out, v.names[i]); !st.ok()) return st;
        }
        if (auto st = Encode(v.items[i], true, depth + 1, out); !st.ok()) return st;
      }
      return Status::Ok();
    }
  }
  return Error("a value of an unknown kind");
}

// Reads what Encode wrote, never past the end.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : b_(bytes) {}
  bool done() const { return at_ == b_.size(); }

  Result<uint8_t> Byte() {
    if (at_ >= b_.size()) return Truncated();
    return static_cast<uint8_t>(b_[at_++]);
  }
  Result<uint64_t> U64() {
    if (b_.size() - at_ < 8) return Truncated();
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(b_[at_++]);
    return v;
  }
  Result<uint32_t> U32() {
    if (b_.size() - at_ < 4) return Truncated();
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(b_[at_++]);
    return v;
  }
  Result<std::string> Bytes() {
    auto n = U32();
    if (!n.ok()) return n.error();
    if (*n > kMaxEncodedBytes || b_.size() - at_ < *n) return Truncated();
    std::string out(b_.substr(at_, *n));
    at_ += *n;
    return out;
  }

  Result<TypedValue> Value(bool nested_allowed, int depth) {
    if (depth > kMaxDepth) return Error("a value nested deeper than 64 levels");
    auto tag = Byte();
    if (!tag.ok()) return tag.error();
    TypedValue v;
    switch (*tag) {
      case kNull: return v;
      case kFalse:
      case kTrue:
        v.kind = TypedValue::Kind::kBool;
        v.boolean = *tag == kTrue;
        return v;
      case kInt:
      case kUInt:
      case kDouble: {
        auto bits = U64();
        if (!bits.ok()) return bits.error();
        if (*tag == kInt) {
          v.kind = TypedValue::Kind::kInt;
          v.integer = static_cast<int64_t>(*bits);
        } else if (*tag == kUInt) {
          v.kind = TypedValue::Kind::kUInt;
          v.unsigned_integer = *bits;
        } else {
          v.kind = TypedValue::Kind::kDouble;
          std::memcpy(&v.real, &*bits, sizeof v.real);
        }
        return v;
      }
      case kNumber:
      case kText: {
        auto text = Bytes();
        if (!text.ok()) return text.error();
        v.kind = *tag == kNumber ? TypedValue::Kind::kNumber : TypedValue::Kind::kText;
        v.text = std::move(*text);
        return v;
      }
      case kList:
      case kStruct:
      case kMap: {
        if (!nested_allowed) return Error("a key holds a list, struct or map");
        auto n = U32();
        if (!n.ok()) return n.error();
        if (*n > b_.size() - at_) return Truncated();  // every item takes a byte at least
        v.kind = *tag == kList ? TypedValue::Kind::kList : *tag == kStruct ? TypedValue::Kind::kStruct
                                                                           : TypedValue::Kind::kMap;
        for (uint32_t i = 0; i < *n; ++i) {
          if (*tag == kStruct) {
            auto name = Bytes();
            if (!name.ok()) return name.error();
            v.names.push_back(std::move(*name));
          }
          auto item = Value(true, depth + 1);
          if (!item.ok()) return item.error();
          v.items.push_back(std::move(*item));
        }
        return v;
      }
      default: return Error(fmt::format("unknown type tag {}", *tag));
    }
  }

 private:
  static Error Truncated() { return Error("the bytes end before the value does"); }
  std::string_view b_;
  size_t at_ = 0;
};

}  // namespace

Result<std::string> EncodeKey(const std::vector<TypedValue>& parts) {
  if (parts.empty()) return Error("a key needs at least one column");
  std::string out(1, static_cast<char>(kKeyFormat));
  for (size_t i = 0; i < parts.size(); ++i) {
    if (auto st = Encode(parts[i], /*nested_allowed=*/false, 0, &out); !st.ok()) {
      return Error(fmt::format("key column {}: {}", i + 1, st.error().message));
    }
  }
  return out;
}

Result<std::vector<TypedValue>> DecodeKey(std::string_view bytes) {
  if (bytes.empty() || static_cast<uint8_t>(bytes[0]) != kKeyFormat) {
    return Error(fmt::format("not a key of format {}", kKeyFormat));
  }
  Reader r(bytes.substr(1));
  std::vector<TypedValue> out;
  while (!r.done()) {
    auto v = r.Value(/*nested_allowed=*/false, 0);
    if (!v.ok()) return Error("a key that does not decode: " + v.error().message);
    out.push_back(std::move(*v));
  }
  if (out.empty()) return Error("a key without columns");
  return out;
}

Result<std::string> EncodeValue(const Value& value) {
  std::string out(1, static_cast<char>(kValueFormat));
  Put64(&out, value.schema);
  Put64(&out, static_cast<uint64_t>(value.data_version));
  Put64(&out, static_cast<uint64_t>(value.expires_at));
  Put32(&out, static_cast<uint32_t>(value.columns.size()));
  for (size_t i = 0; i < value.columns.size(); ++i) {
    if (auto st = Encode(value.columns[i], /*nested_allowed=*/true, 0, &out); !st.ok()) {
      return Error(fmt::format("column {}: {}", i + 1, st.error().message));
    }
    if (out.size() > kMaxEncodedBytes) return Error(fmt::format("a value over {} bytes", kMaxEncodedBytes));
  }
  return out;
}

Result<Value> DecodeValue(std::string_view bytes) {
  if (bytes.empty() || static_cast<uint8_t>(bytes[0]) != kValueFormat) {
    return Error(fmt::format("not a value of format {}", kValueFormat));
  }
  Reader r(bytes.substr(1));
  Value v;
  auto schema = r.U64();
  auto version = schema.ok() ? r.U64() : Result<uint64_t>(schema.error());
  auto expires = version.ok() ? r.U64() : Result<uint64_t>(version.error());
  auto n = expires.ok() ? r.U32() : Result<uint32_t>(expires.error());
  if (!n.ok()) return Error("a value that does not decode: " + n.error().message);
  v.schema = *schema;
  v.data_version = static_cast<int64_t>(*version);
  v.expires_at = static_cast<int64_t>(*expires);
  for (uint32_t i = 0; i < *n; ++i) {
    auto c = r.Value(/*nested_allowed=*/true, 0);
    if (!c.ok()) return Error("a value that does not decode: " + c.error().message);
    v.columns.push_back(std::move(*c));
  }
  if (!r.done()) return Error("a value that does not decode: bytes after its last column");
  return v;
}

uint64_t SchemaFingerprint(const std::vector<OutputColumn>& columns) {
  std::string text = "schema-v1";
  for (const auto& c : columns) text += fmt::format("\n{}\t{}", c.name, c.type);
  return XXH3_64bits(text.data(), text.size());
}

}  // namespace derived::online
