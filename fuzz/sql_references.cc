// Fuzzes the SQL analysis (sql/parser.h): DuckDB's parser turns the input into a
// statement tree, from which Derived extracts base-table references and column lineage.
// One in-memory DuckDB per process.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "db/duckdb.h"
#include "sql/parser.h"

#include "expect.h"

namespace {

using namespace derived;

using derived::fuzz::Expect;

// Every reference resolves to itself, lowercased; raw.users has known columns.
class Schemas : public sql::SchemaLookup {
 public:
  std::string Resolve(const sql::TableRef& ref) const override {
    std::string name = (ref.schema.empty() ? "core" : ref.schema) + "." + ref.table;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name;
  }
  const std::vector<std::string>* Columns(const std::string& qualified) const override {
    static const std::vector<std::string> users = {"user_id", "signed_up_at", "platform"};
    return qualified == "raw.users" ? &users : nullptr;
  }
};

struct Engine {
  std::unique_ptr<db::Database> db;
  std::unique_ptr<db::Connection> conn;
  std::unique_ptr<sql::SqlParser> parser;
};

Engine Open() {
  Engine e;
  auto db = db::Database::Open(":memory:", db::OpenOptions{{{"threads", "1"}}, {}, {}});
  Expect(db.ok(), "an in-memory DuckDB opens");
  e.db = std::move(*db);
  auto conn = db::Connection::Open(*e.db);
  Expect(conn.ok(), "a connection opens");
  e.conn = std::move(*conn);
  auto parser = sql::SqlParser::Create(e.conn.get());
  Expect(parser.ok(), "the parser is created");
  e.parser = std::move(*parser);
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Engine engine = Open();
  const std::string_view sql(reinterpret_cast<const char*>(data), size);
  auto parsed = engine.parser->Parse(sql);
  if (!parsed.ok()) {
    (void)parsed.error().ToString();
    return 0;
  }
  for (const auto& ref : parsed->tables) {
    Expect(!ref.table.empty(), "a reference names a table");
    Expect(ref.offset <= sql.size(), "a reference's offset is inside the query");
    (void)ref.ToString();
  }
  auto lineage = engine.parser->Lineage(sql, Schemas());
  Expect(lineage.ok(), "a query that parses has lineage");
  return 0;
}
