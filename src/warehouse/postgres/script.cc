#include "warehouse/postgres/script.h"

#include <charconv>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

#include "sql/text.h"
#include "util/strings.h"

namespace derived {
namespace {

constexpr size_t kChunkRows = 2048;

constexpr const char* kOwnTransaction =
    "`derived query --write` runs the whole SQL in one transaction of its own, so it cannot hold BEGIN, COMMIT or "
    "ROLLBACK; leave them out";

const std::set<std::string> kQueryWords = {"select", "with", "values", "table"};
const std::set<std::string> kTransactionWords = {"begin", "start",     "commit", "end",
                                                 "rollback", "abort", "savepoint", "release"};

// A statement that would begin, end or divide the transaction the script runs in.
bool ManagesTransaction(std::string_view text) {
  std::vector<std::string> words = sql::FirstWords(text, 2);
  if (words.empty()) return false;
  if (words[0] == "prepare") return words.size() == 2 && words[1] == "transaction";  // two-phase commit
  return kTransactionWords.count(words[0]) > 0;
}

// How a column's text becomes a typed value, by the server's name of its type.
enum class Decode { kBool, kInt, kDouble, kNumeric, kTimestamp, kTimestampTz, kText };

Decode DecoderOf(const std::string& type) {
  if (type == "boolean") return Decode::kBool;
  if (type == "smallint" || type == "integer" || type == "bigint" || type == "oid") return Decode::kInt;
  if (type == "real" || type == "double precision") return Decode::kDouble;
  if (type.starts_with("numeric")) return Decode::kNumeric;
  if (type.starts_with("timestamp")) {
    return type.find("with time zone") != std::string::npos && type.find("without") == std::string::npos
               ? Decode::kTimestampTz
               : Decode::kTimestamp;
  }
  return Decode::kText;
}

TypedValue Text(std::string text) {
  TypedValue v;
  v.kind = TypedValue::Kind::kText;
  v.text = std::move(text);
  return v;
}

TypedValue DecodeValue(Decode decode, std::string text, TimeStyle style) {
  TypedValue v;
  switch (decode) {
    case Decode::kBool:
      v.kind = TypedValue::Kind::kBool;
      v.boolean = text == "t";
      return v;
    case Decode::kInt: {
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v.integer);
      if (ec != std::errc() || end != text.data() + text.size()) return Text(std::move(text));
      v.kind = TypedValue::Kind::kInt;
      return v;
    }
    case Decode::kDouble: {
      char* end = nullptr;
      v.real = std::strtod(text.c_str(), &end);  // also "NaN", "Infinity", "-Infinity"
      if (end != text.c_str() + text.size()) return Text(std::move(text));
      v.kind = TypedValue::Kind::kDouble;
      return v;
    }
    case Decode::kNumeric:
      // NaN and the infinities are no JSON number: strings, as for floating point.
      if (text == "NaN" || text == "Infinity" || text == "-Infinity") return Text(std::move(text));
      v.kind = TypedValue::Kind::kNumber;
      v.text = std::move(text);
      return v;
    case Decode::kTimestamp:
    case Decode::kTimestampTz:
      if (style == TimeStyle::kIso && text.size() > 10 && text[10] == ' ') {
        text[10] = 'T';
        if (decode == Decode::kTimestampTz && EndsWith(text, "+00")) text.replace(text.size() - 3, 3, "Z");
      }
      return Text(std::move(text));
    case Decode::kText:
      return Text(std::move(text));
  }
  return Text(std::move(text));
}

class PostgresRows final : public TypedRows {
 public:
  PostgresRows(std::unique_ptr<pg::RowStream> stream, TimeStyle style) : stream_(std::move(stream)), style_(style) {
    for (const auto& c : stream_->columns()) {
      columns_.push_back(c.name);
      types_.push_back(c.type);
      decoders_.push_back(DecoderOf(c.type));
    }
    if (columns_.empty()) {
      kind_ = stream_->changed() ? ResultKind::kChangedRows : ResultKind::kNothing;
      if (kind_ == ResultKind::kChangedRows) {
        columns_ = {"Count"};
        types_ = {"bigint"};
      }
    }
  }

  const std::vector<std::string>& columns() const override { return columns_; }
  const std::vector<std::string>& types() const override { return types_; }
  ResultKind kind() const override { return kind_; }

  Result<std::vector<std::vector<TypedValue>>> Next() override {
    std::vector<std::vector<TypedValue>> out;
    if (kind_ == ResultKind::kChangedRows) {
      if (!count_read_) {
        TypedValue n;
        n.kind = TypedValue::Kind::kInt;
        n.integer = *stream_->changed();
        out.push_back({n});
      }
      count_read_ = true;
      return out;
    }
    if (kind_ == ResultKind::kNothing) return out;
    auto rows = stream_->Next(kChunkRows);
    if (!rows.ok()) return rows.error();
    out.reserve(rows->size());
    for (auto& row : *rows) {
      std::vector<TypedValue> values;
      values.reserve(row.size());
      for (size_t c = 0; c < row.size(); ++c) {
        values.push_back(row[c] ? DecodeValue(decoders_[c], std::move(*row[c]), style_) : TypedValue{});
      }
      out.push_back(std::move(values));
    }
    return out;
  }

 private:
  std::unique_ptr<pg::RowStream> stream_;
  TimeStyle style_;
  std::vector<std::string> columns_, types_;
  std::vector<Decode> decoders_;
  ResultKind kind_ = ResultKind::kRows;
  bool count_read_ = false;
};

class PostgresScript final : public UserScript {
 public:
  PostgresScript(PostgresScriptSession session, std::vector<std::string> texts, ScriptAccess access,
                 TimeStyle style)
      : session_(std::move(session)), texts_(std::move(texts)), access_(access), style_(style) {}
  ~PostgresScript() override {
    if (access_ == ScriptAccess::kRead) session_.rollback();
  }

  size_t size() const override { return texts_.size(); }
  const std::string& text(size_t i) const override { return texts_[i]; }

  Result<std::unique_ptr<TypedRows>> Run(size_t i) override {
    auto stream = session_.conn->Stream(texts_[i]);
    if (!stream.ok()) return stream.error();
    return std::unique_ptr<TypedRows>(new PostgresRows(std::move(*stream), style_));
  }

 private:
  PostgresScriptSession session_;
  std::vector<std::string> texts_;
  ScriptAccess access_;
  TimeStyle style_;
};

std::string Named(const std::vector<std::string>& texts, size_t i) {
  std::string shown = "`" + sql::ShortStatement(texts[i]) + "`";
  return texts.size() == 1 ? shown : fmt::format("statement {} ({})", i + 1, shown);
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Why statement `i` may not run without --write, or nullopt when it only reads.
std::optional<std::string> ReadOnlyRefusal(const PostgresScriptSession& session, const std::vector<std::string>& texts,
                                           size_t i) {
  const std::string& text = texts[i];
  std::string word = sql::FirstWord(text);
  auto refuse = [&](const std::string& why) {
    return fmt::format(
        "{} {}; nothing ran. Without --write, `derived query` only reads; --write runs the SQL in one transaction "
        "and logs it in _derived.log",
        Named(texts, i), why);
  };
  if (word == "show") return std::nullopt;
  std::string_view query = text;
  if (word == "explain") {
    query = sql::ExplainedStatement(text);
    word = sql::FirstWord(query);
    if (!kQueryWords.count(word)) {
      return refuse(fmt::format("explains {}, which does more than read",
                                word.empty() ? "something that is not a query" : "a " + Upper(word) + " statement"));
    }
  }
  if (!kQueryWords.count(word)) {
    std::string name = word.empty() ? "not a query" : Upper(word) + " statement";
    bool vowel = !word.empty() && std::string_view("aeiou").find(word[0]) != std::string_view::npos;
    return refuse(fmt::format("is {}{}, which does more than read", word.empty() ? "" : (vowel ? "an " : "a "), name));
  }
  if (auto st = session.check_select(query); !st.ok()) {
    return refuse("cannot run without --write: " + st.error().message);
  }
  return std::nullopt;
}

}  // namespace

Result<OpenedScript> OpenPostgresScript(const PostgresScriptSession& session, std::string_view sql,
                                        ScriptAccess access, TimeStyle style) {
  std::vector<std::string> texts;
  for (std::string_view piece : sql::SplitAtSemicolons(sql)) {
    if (!sql::IsBlank(piece)) texts.emplace_back(Trim(piece));
  }
  OpenedScript out;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (access == ScriptAccess::kWrite && ManagesTransaction(texts[i])) {
      out.refusal = fmt::format("{}{}; nothing ran", texts.size() == 1 ? "" : Named(texts, i) + ": ", kOwnTransaction);
      return out;
    }
    if (access == ScriptAccess::kRead) {
      if (auto why = ReadOnlyRefusal(session, texts, i)) {
        out.refusal = std::move(why);
        return out;
      }
    }
  }
  if (access == ScriptAccess::kRead) {
    if (auto st = session.begin_read_only(); !st.ok()) return st.error();
  }
  out.script = std::make_unique<PostgresScript>(session, std::move(texts), access, style);
  return out;
}

}  // namespace derived
