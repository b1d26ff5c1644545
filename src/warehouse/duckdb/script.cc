#include "warehouse/duckdb/script.h"

#include <fmt/format.h>

#include "sql/text.h"
#include "warehouse/duckdb/read_only.h"

namespace derived {
namespace {

constexpr const char* kNoExtensions =
    "is refused: Derived's engine installs and loads no extensions (it loads json, parquet and icu itself at "
    "start); nothing ran";

constexpr const char* kOwnTransaction =
    "`derived query --write` runs the whole SQL in one transaction of its own, so it cannot hold BEGIN, COMMIT or "
    "ROLLBACK; leave them out";

bool IsTransactionWord(const std::string& word) {
  for (const char* w : {"begin", "start", "commit", "end", "rollback", "abort"}) {
    if (word == w) return true;
  }
  return false;
}

// The engine is locked down (db/lockdown.h): it neither installs nor loads extensions.
// Statements that would are refused here by their words, before DuckDB sees them at all,
// so that none depends on the lock-down holding to stay off the network.
bool InstallsOrLoads(std::string_view text) {
  std::vector<std::string> words = sql::FirstWords(text, 2);
  if (words.empty()) return false;
  if (words[0] == "install" || words[0] == "load" || words[0] == "force") return true;  // FORCE INSTALL
  return words[0] == "update" && words.size() == 2 && words[1] == "extensions";     // UPDATE EXTENSIONS
}

// "statement 2 (`DROP TABLE x`)", or "`DROP TABLE x`" alone.
std::string Named(const db::Script& script, size_t i) {
  std::string shown = "`" + sql::ShortStatement(script.text(i)) + "`";
  return script.size() == 1 ? shown : fmt::format("statement {} ({})", i + 1, shown);
}

class DuckDbScript final : public UserScript {
 public:
  DuckDbScript(db::Connection& conn, std::unique_ptr<db::Script> script, ScriptAccess access, TimeStyle style)
      : conn_(conn), script_(std::move(script)), access_(access), style_(style) {}
  ~DuckDbScript() override {
    if (access_ == ScriptAccess::kRead) (void)conn_.Execute("ROLLBACK");
  }

  size_t size() const override { return script_->size(); }
  const std::string& text(size_t i) const override { return script_->text(i); }

  Result<std::unique_ptr<TypedRows>> Run(size_t i) override {
    std::unique_ptr<db::PreparedStatement> prepared;
    if (access_ == ScriptAccess::kRead) {
      prepared = std::move(checked_[i]);
    } else {
      auto p = script_->Prepare(i);  // now: it may read what an earlier statement made
      if (!p.ok()) return p.error();
      prepared = std::move(*p);
      if (prepared->type() == db::StatementType::kTransaction) return Error(kOwnTransaction);
      // A statement whose text could not be told apart from the others, bound but not run.
      if (prepared->type() == db::StatementType::kLoad || prepared->type() == db::StatementType::kExtension) {
        return Error(std::string("an extension statement ") + kNoExtensions);
      }
    }
    auto result = prepared->ExecuteTyped(style_);
    if (!result.ok()) return result.error();
    return std::unique_ptr<TypedRows>(std::move(*result));
  }

  std::vector<std::unique_ptr<db::PreparedStatement>> checked_;  // kRead: every statement, bound

 private:
  db::Connection& conn_;
  std::unique_ptr<db::Script> script_;
  ScriptAccess access_;
  TimeStyle style_;
};

}  // namespace

Result<OpenedScript> OpenDuckDbScript(db::Connection& conn, std::string_view sql, ScriptAccess access,
                                      TimeStyle style) {
  auto parsed = conn.Parse(sql);
  if (!parsed.ok()) return parsed.error();
  db::Script& script = **parsed;
  OpenedScript out;
  for (size_t i = 0; i < script.size(); ++i) {
    if (InstallsOrLoads(script.text(i))) {
      out.refusal = fmt::format("{} {}", Named(script, i), kNoExtensions);
      return out;
    }
    if (access == ScriptAccess::kWrite && IsTransactionWord(sql::FirstWord(script.text(i)))) {
      out.refusal = fmt::format("{}{}; nothing ran", script.size() == 1 ? "" : Named(script, i) + ": ",
                                kOwnTransaction);
      return out;
    }
  }
  if (access == ScriptAccess::kWrite) {
    out.script = std::make_unique<DuckDbScript>(conn, std::move(*parsed), access, style);
    return out;
  }
  if (auto st = conn.Execute("BEGIN TRANSACTION READ ONLY"); !st.ok()) return st.error();
  // From here the script owns the transaction: destroying it rolls back.
  auto owned = std::make_unique<DuckDbScript>(conn, std::move(*parsed), access, style);
  auto checked = PrepareReadOnly(conn, script);
  if (!checked.ok()) return checked.error();
  if (checked->refusal) {
    out.refusal = std::move(checked->refusal);
    return out;
  }
  owned->checked_ = std::move(checked->prepared);
  out.script = std::move(owned);
  return out;
}

}  // namespace derived
