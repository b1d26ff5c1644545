#include "db/lockdown.h"

#include <fmt/format.h>

#include "db/duckdb.h"

namespace derived::db {
namespace {

// Statically linked into the prebuilt libduckdb, so LOAD only makes sure they are there:
// json (json_serialize_sql, read_json), parquet (read_parquet), icu (time zones).
constexpr const char* kExtensions[] = {"json", "parquet", "icu"};

std::string ListLiteral(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const auto& item : items) out += (out.size() > 1 ? ", " : "") + QuoteLiteral(item);
  return out + "]::VARCHAR[]";
}

}  // namespace

std::map<std::string, std::string> LockdownConfig() {
  return {{"autoinstall_known_extensions", "false"},
          {"autoload_known_extensions", "false"},
          {"allow_community_extensions", "false"},
          {"allow_unsigned_extensions", "false"},
          {"allow_persistent_secrets", "false"},
          {"custom_extension_repository", kNoExtensionRepository},
          {"autoinstall_extension_repository", kNoExtensionRepository}};
}

Status LockDown(Connection& setup, const FileAccess& files, const std::map<std::string, std::string>& globals,
                const std::map<std::string, std::string>& session) {
  auto fail = [](const std::string& what, const Status& st) {
    return Error(fmt::format("cannot lock the DuckDB database down ({}): {}", what, st.error().message));
  };
  for (const char* name : kExtensions) {
    if (auto st = setup.Execute(std::string("LOAD ") + name); !st.ok()) return fail("LOAD " + std::string(name), st);
  }
  for (const auto& [name, value] : globals) {
    if (auto st = setup.Execute(fmt::format("SET GLOBAL {} = {}", QuoteIdentifier(name), QuoteLiteral(value)));
        !st.ok()) {
      return fail(name, st);
    }
  }
  for (const auto& [name, value] : session) {
    if (auto st = setup.Execute(fmt::format("SET {} = {}", QuoteIdentifier(name), QuoteLiteral(value))); !st.ok()) {
      return fail(name, st);
    }
  }
  if (!files.unrestricted) {
    // The lists first: DuckDB refuses to change them once external access is off. It then
    // adds the database file, its WAL and its temp directory itself.
    std::string sql = fmt::format("SET allowed_directories = {}; SET allowed_paths = {}; SET enable_external_access = false",
                                  ListLiteral(files.directories), ListLiteral(files.paths));
    if (auto st = setup.Execute(sql); !st.ok()) return fail("file access", st);
  }
  // Last: it locks itself and everything before it.
  if (auto st = setup.Execute("SET lock_configuration = true"); !st.ok()) return fail("lock_configuration", st);
  return Status::Ok();
}

}  // namespace derived::db
