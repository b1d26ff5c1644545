#include "compile/cache.h"

#include <simdjson.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "util/files.h"

namespace derived {
namespace {
constexpr int kFormatVersion = 2;  // 2: bind errors carry their offset
}

std::unique_ptr<CompileCache> CompileCache::Load(const std::string& path) {
  auto cache = std::make_unique<CompileCache>();
  cache->path_ = path;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.load(path).get(doc) != simdjson::SUCCESS) return cache;
  int64_t version = 0;
  if (doc["version"].get(version) != simdjson::SUCCESS || version != kFormatVersion) return cache;
  simdjson::dom::object parse, bind;
  if (doc["parse"].get(parse) == simdjson::SUCCESS) {
    for (auto [key, value] : parse) {
      simdjson::dom::array refs;
      if (value.get(refs) != simdjson::SUCCESS) continue;
      ParseEntry e;
      for (auto r : refs) {
        std::string_view catalog, schema, table;
        uint64_t offset = 0;
        if (r["c"].get(catalog) || r["s"].get(schema) || r["t"].get(table) || r["o"].get(offset)) continue;
        e.refs.push_back({std::string(catalog), std::string(schema), std::string(table), offset});
      }
      cache->parse_.emplace(std::string(key), std::move(e));
    }
  }
  if (doc["bind"].get(bind) == simdjson::SUCCESS) {
    for (auto [key, value] : bind) {
      BindEntry e;
      std::string_view error;
      if (value["error"].get(error) == simdjson::SUCCESS) {
        e.result.ok = false;
        e.result.error = std::string(error);
        int64_t offset = -1;
        bool initial = false;
        if (value["offset"].get(offset) == simdjson::SUCCESS) e.result.error_offset = offset;
        if (value["initial"].get(initial) == simdjson::SUCCESS) e.result.error_in_initial_sql = initial;
      } else {
        simdjson::dom::array cols;
        if (value["columns"].get(cols) != simdjson::SUCCESS) continue;
        for (auto c : cols) {
          std::string_view name, type;
          if (c["n"].get(name) || c["t"].get(type)) continue;
          e.result.columns.push_back({std::string(name), std::string(type)});
        }
      }
      cache->bind_.emplace(std::string(key), std::move(e));
    }
  }
  return cache;
}

std::optional<std::vector<sql::TableRef>> CompileCache::FindParse(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = parse_.find(key);
  if (it == parse_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  it->second.used = true;
  return it->second.refs;
}

void CompileCache::PutParse(const std::string& key, std::vector<sql::TableRef> refs) {
  std::lock_guard<std::mutex> lock(mu_);
  parse_[key] = {std::move(refs), true};
}

std::optional<BindResult> CompileCache::FindBind(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = bind_.find(key);
  if (it == bind_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  it->second.used = true;
  return it->second.result;
}

void CompileCache::PutBind(const std::string& key, BindResult result) {
  std::lock_guard<std::mutex> lock(mu_);
  bind_[key] = {std::move(result), true};
}

Status CompileCache::Save() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json doc;
  doc["version"] = kFormatVersion;
  nlohmann::json& parse = doc["parse"] = nlohmann::json::object();
  for (const auto& [key, e] : parse_) {
    if (!e.used) continue;
    nlohmann::json refs = nlohmann::json::array();
    for (const auto& r : e.refs) refs.push_back({{"c", r.catalog}, {"s", r.schema}, {"t", r.table}, {"o", r.offset}});
    parse[key] = std::move(refs);
  }
  nlohmann::json& bind = doc["bind"] = nlohmann::json::object();
  for (const auto& [key, e] : bind_) {
    if (!e.used) continue;
    if (!e.result.ok) {
      bind[key] = {{"error", e.result.error},
                   {"offset", e.result.error_offset},
                   {"initial", e.result.error_in_initial_sql}};
      continue;
    }
    nlohmann::json cols = nlohmann::json::array();
    for (const auto& c : e.result.columns) cols.push_back({{"n", c.name}, {"t", c.type}});
    bind[key] = {{"columns", std::move(cols)}};
  }
  // Private, like everything under .derived/: it holds the project's SQL and schemas.
  if (auto st = CreatePrivateDirectories(std::filesystem::path(path_).parent_path().string()); !st.ok()) return st;
  if (auto st = WritePrivateFile(path_, doc.dump()); !st.ok()) return Error("cache file: " + st.error().message);
  return Status::Ok();
}

}  // namespace derived
