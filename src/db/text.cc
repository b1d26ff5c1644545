// Text forms of DuckDB values and types, as DuckDB writes them.
#include <fmt/format.h>

#include "db/value.h"

namespace derived::db {
namespace {

std::string Owned(char* text) {
  std::string out = text ? text : "";
  if (text) duckdb_free(text);
  return out;
}

}  // namespace

std::string FractionText(int64_t value, int digits) {
  if (value == 0) return "";
  std::string out = fmt::format(".{:0{}d}", value, digits);
  while (out.back() == '0') out.pop_back();
  return out;
}

std::string TypeName(duckdb_logical_type type) {
  if (char* alias = duckdb_logical_type_get_alias(type)) return Owned(alias);
  auto child = [](duckdb_logical_type c) {
    std::string name = TypeName(c);
    duckdb_destroy_logical_type(&c);
    return name;
  };
  auto members = [&](idx_t n, auto name_of, auto type_of) {
    std::vector<std::string> parts;
    for (idx_t i = 0; i < n; ++i) parts.push_back(Owned(name_of(type, i)) + " " + child(type_of(type, i)));
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
    return out;
  };
  switch (duckdb_get_type_id(type)) {
    case DUCKDB_TYPE_BOOLEAN: return "BOOLEAN";
    case DUCKDB_TYPE_TINYINT: return "TINYINT";
    case DUCKDB_TYPE_SMALLINT: return "SMALLINT";
    case DUCKDB_TYPE_INTEGER: return "INTEGER";
    case DUCKDB_TYPE_BIGINT: return "BIGINT";
    case DUCKDB_TYPE_HUGEINT: return "HUGEINT";
    case DUCKDB_TYPE_UTINYINT: return "UTINYINT";
    case DUCKDB_TYPE_USMALLINT: return "USMALLINT";
    case DUCKDB_TYPE_UINTEGER: return "UINTEGER";
    case DUCKDB_TYPE_UBIGINT: return "UBIGINT";
    case DUCKDB_TYPE_UHUGEINT: return "UHUGEINT";
    case DUCKDB_TYPE_FLOAT: return "FLOAT";
    case DUCKDB_TYPE_DOUBLE: return "DOUBLE";
    case DUCKDB_TYPE_VARCHAR: return "VARCHAR";
    case DUCKDB_TYPE_BLOB: return "BLOB";
    case DUCKDB_TYPE_BIT: return "BIT";
    case DUCKDB_TYPE_UUID: return "UUID";
    case DUCKDB_TYPE_ENUM: return "ENUM";
    case DUCKDB_TYPE_DATE: return "DATE";
    case DUCKDB_TYPE_TIME: return "TIME";
    case DUCKDB_TYPE_TIME_NS: return "TIME_NS";
    case DUCKDB_TYPE_TIME_TZ: return "TIME WITH TIME ZONE";
    case DUCKDB_TYPE_TIMESTAMP: return "TIMESTAMP";
    case DUCKDB_TYPE_TIMESTAMP_TZ: return "TIMESTAMP WITH TIME ZONE";
    case DUCKDB_TYPE_TIMESTAMP_S: return "TIMESTAMP_S";
    case DUCKDB_TYPE_TIMESTAMP_MS: return "TIMESTAMP_MS";
    case DUCKDB_TYPE_TIMESTAMP_NS: return "TIMESTAMP_NS";
    case DUCKDB_TYPE_INTERVAL: return "INTERVAL";
    case DUCKDB_TYPE_BIGNUM: return "BIGNUM";
    case DUCKDB_TYPE_DECIMAL:
      return fmt::format("DECIMAL({},{})", duckdb_decimal_width(type), duckdb_decimal_scale(type));
    case DUCKDB_TYPE_LIST: return child(duckdb_list_type_child_type(type)) + "[]";
    case DUCKDB_TYPE_ARRAY:
      return fmt::format("{}[{}]", child(duckdb_array_type_child_type(type)), duckdb_array_type_array_size(type));
    case DUCKDB_TYPE_MAP:
      return "MAP(" + child(duckdb_map_type_key_type(type)) + ", " + child(duckdb_map_type_value_type(type)) + ")";
    case DUCKDB_TYPE_STRUCT:
      return "STRUCT(" +
             members(duckdb_struct_type_child_count(type), duckdb_struct_type_child_name,
                     duckdb_struct_type_child_type) +
             ")";
    case DUCKDB_TYPE_UNION:
      return "UNION(" +
             members(duckdb_union_type_member_count(type), duckdb_union_type_member_name,
                     duckdb_union_type_member_type) +
             ")";
    default: return fmt::format("type #{}", static_cast<int>(duckdb_get_type_id(type)));
  }
}

std::string UHugeIntText(duckdb_uhugeint v) {
  unsigned __int128 x = (static_cast<unsigned __int128>(v.upper) << 64) | v.lower;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(x % 10)));
    x /= 10;
  } while (x != 0);
  return digits;
}

std::string HugeIntText(duckdb_hugeint v) {
  bool neg = v.upper < 0;
  unsigned __int128 x = (static_cast<unsigned __int128>(static_cast<uint64_t>(v.upper)) << 64) | v.lower;
  if (neg) x = ~x + 1;  // the magnitude
  std::string digits = UHugeIntText({static_cast<uint64_t>(x), static_cast<uint64_t>(x >> 64)});
  return neg ? "-" + digits : digits;
}

std::string DecimalText(std::string digits, uint8_t scale) {
  if (scale == 0) return digits;
  bool neg = !digits.empty() && digits[0] == '-';
  if (neg) digits.erase(0, 1);
  if (digits.size() <= scale) digits.insert(0, scale - digits.size() + 1, '0');
  digits.insert(digits.size() - scale, ".");
  return neg ? "-" + digits : digits;
}

std::string IntervalText(duckdb_interval v) {
  std::vector<std::string> parts;
  auto part = [&](int64_t n, const char* unit) {
    if (n) parts.push_back(fmt::format("{} {}{}", n, unit, n == 1 || n == -1 ? "" : "s"));
  };
  part(v.months / 12, "year");
  part(v.months % 12, "month");
  part(v.days, "day");
  if (v.micros || parts.empty()) {
    uint64_t m = v.micros < 0 ? 0 - static_cast<uint64_t>(v.micros) : static_cast<uint64_t>(v.micros);
    uint64_t s = m / 1000000;
    std::string clock = fmt::format("{}{:02d}:{:02d}:{:02d}", v.micros < 0 ? "-" : "", s / 3600, s % 3600 / 60, s % 60);
    parts.push_back(clock + FractionText(static_cast<int64_t>(m % 1000000), 6));
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " ") + p;
  return out;
}

std::string UuidText(duckdb_hugeint h) {
  uint64_t hi = static_cast<uint64_t>(h.upper) ^ (uint64_t{1} << 63);  // stored with the top bit flipped
  std::string hex = fmt::format("{:016x}{:016x}", hi, h.lower);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

std::string BlobText(std::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f && c != '\\' && c != '\'' && c != '"') {
      out += c;
    } else {
      out += fmt::format("\\x{:02X}", b);
    }
  }
  return out;
}

}  // namespace derived::db
