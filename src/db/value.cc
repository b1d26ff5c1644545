#include "db/value.h"

#include <cstring>

#include <fmt/format.h>

namespace derived::db {

struct TypedResult::Type {
  duckdb_type id = DUCKDB_TYPE_INVALID;
  std::string name;                          // the column's type name, for errors
  duckdb_type internal = DUCKDB_TYPE_INVALID;  // DECIMAL and ENUM storage
  uint8_t scale = 0;                         // DECIMAL
  std::vector<std::string> labels;           // ENUM dictionary; STRUCT and UNION member names
  std::vector<std::shared_ptr<const Type>> children;  // LIST, ARRAY, MAP: one; STRUCT, UNION: one per member
  idx_t array_size = 0;
};

namespace {

using Type = TypedResult::Type;

std::string Owned(char* text) {
  std::string out = text ? text : "";
  if (text) duckdb_free(text);
  return out;
}

std::shared_ptr<const Type> Describe(duckdb_logical_type lt) {
  auto t = std::make_shared<Type>();
  t->id = duckdb_get_type_id(lt);
  t->name = TypeName(lt);
  auto child = [&](duckdb_logical_type c) {
    t->children.push_back(Describe(c));
    duckdb_destroy_logical_type(&c);
  };
  switch (t->id) {
    case DUCKDB_TYPE_DECIMAL:
      t->internal = duckdb_decimal_internal_type(lt);
      t->scale = duckdb_decimal_scale(lt);
      break;
    case DUCKDB_TYPE_ENUM:
      t->internal = duckdb_enum_internal_type(lt);
      for (uint32_t i = 0; i < duckdb_enum_dictionary_size(lt); ++i) {
        t->labels.push_back(Owned(duckdb_enum_dictionary_value(lt, i)));
      }
      break;
    case DUCKDB_TYPE_LIST: child(duckdb_list_type_child_type(lt)); break;
    case DUCKDB_TYPE_ARRAY:
      t->array_size = duckdb_array_type_array_size(lt);
      child(duckdb_array_type_child_type(lt));
      break;
    case DUCKDB_TYPE_MAP:
      child(duckdb_map_type_key_type(lt));
      child(duckdb_map_type_value_type(lt));
      break;
    case DUCKDB_TYPE_STRUCT:
      for (idx_t i = 0; i < duckdb_struct_type_child_count(lt); ++i) {
        t->labels.push_back(Owned(duckdb_struct_type_child_name(lt, i)));
        child(duckdb_struct_type_child_type(lt, i));
      }
      break;
    case DUCKDB_TYPE_UNION:
      for (idx_t i = 0; i < duckdb_union_type_member_count(lt); ++i) {
        t->labels.push_back(Owned(duckdb_union_type_member_name(lt, i)));
        child(duckdb_union_type_member_type(lt, i));
      }
      break;
    default:
      break;
  }
  return t;
}

std::string DateText(duckdb_date d) {
  if (!duckdb_is_finite_date(d)) return d.days > 0 ? "infinity" : "-infinity";
  duckdb_date_struct s = duckdb_from_date(d);
  return fmt::format("{:04d}-{:02d}-{:02d}", s.year, s.month, s.day);
}

std::string ClockText(int64_t hour, int64_t min, int64_t sec) { return fmt::format("{:02d}:{:02d}:{:02d}", hour, min, sec); }

// `micros` since the epoch plus `nanos` (0-999) beyond them.
std::string TimestampText(int64_t micros, int nanos, bool tz, TimeStyle style) {
  duckdb_timestamp ts{micros};
  if (!duckdb_is_finite_timestamp(ts)) return micros > 0 ? "infinity" : "-infinity";
  duckdb_timestamp_struct s = duckdb_from_timestamp(ts);
  std::string frac = nanos ? FractionText(int64_t{s.time.micros} * 1000 + nanos, 9) : FractionText(s.time.micros, 6);
  std::string out = fmt::format("{:04d}-{:02d}-{:02d}{}{}{}", s.date.year, s.date.month, s.date.day,
                                style == TimeStyle::kIso ? 'T' : ' ', ClockText(s.time.hour, s.time.min, s.time.sec),
                                frac);
  if (tz) out += style == TimeStyle::kIso ? "Z" : "+00";
  return out;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

std::string OffsetText(int32_t seconds) {
  char sign = seconds < 0 ? '-' : '+';
  int32_t s = seconds < 0 ? -seconds : seconds;
  std::string out = fmt::format("{}{:02d}", sign, s / 3600);
  if (s % 3600) out += fmt::format(":{:02d}", s % 3600 / 60);
  return out;
}

Result<Value> Decode(duckdb_vector vec, const Type& t, idx_t row, TimeStyle style);

Value TextValue(std::string text) {
  Value v;
  v.kind = Value::Kind::kText;
  v.text = std::move(text);
  return v;
}

Value NumberValue(std::string digits) {
  Value v;
  v.kind = Value::Kind::kNumber;
  v.text = std::move(digits);
  return v;
}

template <typename T>
Value IntValue(T x) {
  Value v;
  if constexpr (std::is_signed_v<T>) {
    v.kind = Value::Kind::kInt;
    v.integer = x;
  } else {
    v.kind = Value::Kind::kUInt;
    v.unsigned_integer = x;
  }
  return v;
}

// Elements [offset, offset + length) of `child` as a list (or, for a MAP, key/value pairs).
Result<Value> Elements(duckdb_vector child, const Type& t, idx_t offset, idx_t length, TimeStyle style) {
  Value v;
  v.kind = t.id == DUCKDB_TYPE_MAP ? Value::Kind::kMap : Value::Kind::kList;
  for (idx_t i = offset; i < offset + length; ++i) {
    if (t.id == DUCKDB_TYPE_MAP) {
      for (idx_t part = 0; part < 2; ++part) {
        auto item = Decode(duckdb_struct_vector_get_child(child, part), *t.children[part], i, style);
        if (!item.ok()) return item.error();
        v.items.push_back(std::move(*item));
      }
    } else {
      auto item = Decode(child, *t.children[0], i, style);
      if (!item.ok()) return item.error();
      v.items.push_back(std::move(*item));
    }
  }
  return v;
}

Result<Value> Decode(duckdb_vector vec, const Type& t, idx_t row, TimeStyle style) {
  uint64_t* validity = duckdb_vector_get_validity(vec);
  if (validity && !duckdb_validity_row_is_valid(validity, row)) return Value();
  void* data = duckdb_vector_get_data(vec);
  switch (t.id) {
    case DUCKDB_TYPE_BOOLEAN: {
      Value v;
      v.kind = Value::Kind::kBool;
      v.boolean = static_cast<bool*>(data)[row];
      return v;
    }
    case DUCKDB_TYPE_TINYINT: return IntValue<int64_t>(static_cast<int8_t*>(data)[row]);
    case DUCKDB_TYPE_SMALLINT: return IntValue<int64_t>(static_cast<int16_t*>(data)[row]);
    case DUCKDB_TYPE_INTEGER: return IntValue<int64_t>(static_cast<int32_t*>(data)[row]);
    case DUCKDB_TYPE_BIGINT: return IntValue<int64_t>(static_cast<int64_t*>(data)[row]);
    case DUCKDB_TYPE_UTINYINT: return IntValue<uint64_t>(static_cast<uint8_t*>(data)[row]);
    case DUCKDB_TYPE_USMALLINT: return IntValue<uint64_t>(static_cast<uint16_t*>(data)[row]);
    case DUCKDB_TYPE_UINTEGER: return IntValue<uint64_t>(static_cast<uint32_t*>(data)[row]);
    case DUCKDB_TYPE_UBIGINT: return IntValue<uint64_t>(static_cast<uint64_t*>(data)[row]);
    case DUCKDB_TYPE_HUGEINT: return NumberValue(HugeIntText(static_cast<duckdb_hugeint*>(data)[row]));
    case DUCKDB_TYPE_UHUGEINT: return NumberValue(UHugeIntText(static_cast<duckdb_uhugeint*>(data)[row]));
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE: {
      Value v;
      v.kind = Value::Kind::kDouble;
      v.real = t.id == DUCKDB_TYPE_FLOAT ? static_cast<float*>(data)[row] : static_cast<double*>(data)[row];
      return v;
    }
    case DUCKDB_TYPE_DECIMAL: {
      std::string digits;
      switch (t.internal) {
        case DUCKDB_TYPE_SMALLINT: digits = std::to_string(static_cast<int16_t*>(data)[row]); break;
        case DUCKDB_TYPE_INTEGER: digits = std::to_string(static_cast<int32_t*>(data)[row]); break;
        case DUCKDB_TYPE_BIGINT: digits = std::to_string(static_cast<int64_t*>(data)[row]); break;
        default: digits = HugeIntText(static_cast<duckdb_hugeint*>(data)[row]); break;
      }
      return NumberValue(DecimalText(std::move(digits), t.scale));
    }
    case DUCKDB_TYPE_VARCHAR: {
      auto* s = static_cast<duckdb_string_t*>(data) + row;
      return TextValue(std::string(duckdb_string_t_data(s), duckdb_string_t_length(*s)));
    }
    case DUCKDB_TYPE_BLOB:
    case DUCKDB_TYPE_BIT: {  // BIT: DuckDB's cast gives the digits; a blob's bytes are escaped
      auto* s = static_cast<duckdb_string_t*>(data) + row;
      std::string_view bytes(duckdb_string_t_data(s), duckdb_string_t_length(*s));
      if (t.id == DUCKDB_TYPE_BLOB) return TextValue(BlobText(bytes));
      // The first byte counts the padding bits of the second.
      std::string bits;
      for (size_t i = 1; i < bytes.size(); ++i) {
        for (int b = 7; b >= 0; --b) bits += (static_cast<unsigned char>(bytes[i]) >> b) & 1 ? '1' : '0';
      }
      return TextValue(bytes.empty() ? bits : bits.substr(std::min<size_t>(bits.size(), static_cast<uint8_t>(bytes[0]))));
    }
    case DUCKDB_TYPE_ENUM: {
      uint64_t index = t.internal == DUCKDB_TYPE_UTINYINT    ? static_cast<uint8_t*>(data)[row]
                       : t.internal == DUCKDB_TYPE_USMALLINT ? static_cast<uint16_t*>(data)[row]
                                                             : static_cast<uint32_t*>(data)[row];
      if (index >= t.labels.size()) return Error(fmt::format("an ENUM value ({}) outside its dictionary", index));
      return TextValue(t.labels[index]);
    }
    case DUCKDB_TYPE_UUID: return TextValue(UuidText(static_cast<duckdb_hugeint*>(data)[row]));
    case DUCKDB_TYPE_DATE: return TextValue(DateText(static_cast<duckdb_date*>(data)[row]));
    case DUCKDB_TYPE_TIME: {
      duckdb_time_struct s = duckdb_from_time(static_cast<duckdb_time*>(data)[row]);
      return TextValue(ClockText(s.hour, s.min, s.sec) + FractionText(s.micros, 6));
    }
    case DUCKDB_TYPE_TIME_NS: {
      int64_t ns = static_cast<int64_t*>(data)[row];
      int64_t s = ns / 1000000000;
      return TextValue(ClockText(s / 3600, s % 3600 / 60, s % 60) + FractionText(ns % 1000000000, 9));
    }
    case DUCKDB_TYPE_TIME_TZ: {
      duckdb_time_tz_struct s = duckdb_from_time_tz(static_cast<duckdb_time_tz*>(data)[row]);
      return TextValue(ClockText(s.time.hour, s.time.min, s.time.sec) + FractionText(s.time.micros, 6) +
                       OffsetText(s.offset));
    }
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      return TextValue(TimestampText(static_cast<int64_t*>(data)[row], 0, t.id == DUCKDB_TYPE_TIMESTAMP_TZ, style));
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS: {
      int64_t x = static_cast<int64_t*>(data)[row];
      int64_t scale = t.id == DUCKDB_TYPE_TIMESTAMP_S ? 1000000 : 1000;
      // Infinities keep their sentinel; finite values are far from overflowing.
      bool finite = t.id == DUCKDB_TYPE_TIMESTAMP_S ? duckdb_is_finite_timestamp_s({x}) : duckdb_is_finite_timestamp_ms({x});
      return TextValue(finite ? TimestampText(x * scale, 0, false, style) : x > 0 ? "infinity" : "-infinity");
    }
    case DUCKDB_TYPE_TIMESTAMP_NS: {
      int64_t ns = static_cast<int64_t*>(data)[row];
      if (!duckdb_is_finite_timestamp_ns({ns})) return TextValue(ns > 0 ? "infinity" : "-infinity");
      int64_t micros = FloorDiv(ns, 1000);
      return TextValue(TimestampText(micros, static_cast<int>(ns - micros * 1000), false, style));
    }
    case DUCKDB_TYPE_INTERVAL: return TextValue(IntervalText(static_cast<duckdb_interval*>(data)[row]));
    case DUCKDB_TYPE_LIST:
    case DUCKDB_TYPE_MAP: {
      duckdb_list_entry e = static_cast<duckdb_list_entry*>(data)[row];
      return Elements(duckdb_list_vector_get_child(vec), t, e.offset, e.length, style);
    }
    case DUCKDB_TYPE_ARRAY:
      return Elements(duckdb_array_vector_get_child(vec), t, row * t.array_size, t.array_size, style);
    case DUCKDB_TYPE_STRUCT: {
      Value v;
      v.kind = Value::Kind::kStruct;
      v.names = t.labels;
      for (size_t i = 0; i < t.children.size(); ++i) {
        auto item = Decode(duckdb_struct_vector_get_child(vec, i), *t.children[i], row, style);
        if (!item.ok()) return item.error();
        v.items.push_back(std::move(*item));
      }
      return v;
    }
    case DUCKDB_TYPE_UNION: {  // stored as a struct: the tag, then one child per member
      uint8_t tag = static_cast<uint8_t*>(duckdb_vector_get_data(duckdb_struct_vector_get_child(vec, 0)))[row];
      if (tag >= t.children.size()) return Error(fmt::format("a UNION tag ({}) outside its members", tag));
      return Decode(duckdb_struct_vector_get_child(vec, tag + 1), *t.children[tag], row, style);
    }
    default:
      return Error(fmt::format("DuckDB type {} cannot be shown; cast it to VARCHAR in SQL", t.name));
  }
}

}  // namespace

Result<std::unique_ptr<TypedResult>> TypedResult::Adopt(duckdb_result* result, TimeStyle style) {
  std::unique_ptr<TypedResult> r(new TypedResult());
  std::memcpy(&r->result_, result, sizeof(duckdb_result));
  std::memset(result, 0, sizeof(duckdb_result));
  r->style_ = style;
  switch (duckdb_result_return_type(r->result_)) {
    case DUCKDB_RESULT_TYPE_CHANGED_ROWS: r->kind_ = ResultKind::kChangedRows; break;
    case DUCKDB_RESULT_TYPE_NOTHING: r->kind_ = ResultKind::kNothing; break;
    default: r->kind_ = ResultKind::kRows; break;
  }
  for (idx_t c = 0; c < duckdb_column_count(&r->result_); ++c) {
    r->columns_.emplace_back(duckdb_column_name(&r->result_, c));
    duckdb_logical_type lt = duckdb_column_logical_type(&r->result_, c);
    r->decoders_.push_back(Describe(lt));
    duckdb_destroy_logical_type(&lt);
    r->types_.push_back(r->decoders_.back()->name);
  }
  return r;
}

TypedResult::~TypedResult() { duckdb_destroy_result(&result_); }

Result<std::vector<std::vector<Value>>> TypedResult::Next() {
  std::vector<std::vector<Value>> rows;
  duckdb_data_chunk chunk = duckdb_fetch_chunk(result_);
  if (!chunk) return rows;
  struct Destroy {
    duckdb_data_chunk c;
    ~Destroy() { duckdb_destroy_data_chunk(&c); }
  } destroy{chunk};
  idx_t n = duckdb_data_chunk_get_size(chunk);
  rows.assign(n, std::vector<Value>(columns_.size()));
  for (idx_t c = 0; c < columns_.size(); ++c) {
    duckdb_vector vec = duckdb_data_chunk_get_vector(chunk, c);
    for (idx_t r = 0; r < n; ++r) {
      auto v = Decode(vec, *decoders_[c], r, style_);
      if (!v.ok()) return Error(fmt::format("column \"{}\": {}", columns_[c], v.error().message));
      rows[r][c] = std::move(*v);
    }
  }
  return rows;
}

}  // namespace derived::db
