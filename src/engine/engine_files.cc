// The engine's side of file sources that change: what changed since their files were
// last read (engine/file_changes.h decides what that restates), and the restatements.
#include <filesystem>

#include <fmt/format.h>

#include "engine/engine.h"

namespace derived {

Result<std::vector<FileSourceChanges>> Engine::FileChanges() {
  std::vector<FileSourceChanges> out;
  for (const auto& s : cp_->project.sources) {
    const std::string name = s.qualified_name();
    if (s.location.empty() || !sources_[name].exists) continue;  // no files to look at
    auto paths = wh_->file_sources()->List(cp_->project.root, s);
    if (!paths.ok()) return paths.error();
    auto recorded = meta_->LoadFiles(name);
    if (!recorded.ok()) return recorded.error();
    std::map<std::string, const FileFingerprint*> before;
    for (const auto& f : *recorded) before[f.path] = &f;
    FileSourceChanges c;
    c.source = name;
    std::vector<std::string> unread;  // new or changed: their time range is read
    for (const auto& path : *paths) {
      auto it = before.find(path);
      // A racy fingerprint is compared by content: hash the file now too.
      auto f = StatFile(path, it != before.end() && it->second->racy());
      if (!f.ok()) return f.error();
      if (it != before.end() && SameFile(*it->second, *f)) {
        f->days = it->second->days;
      } else if (!s.time_column.empty()) {
        unread.push_back(path);
      }
      c.files.push_back(std::move(*f));
    }
    auto digests = wh_->file_sources()->Digests(s, unread);
    if (!digests.ok()) return digests.error();
    for (auto& f : c.files) {
      if (auto d = digests->find(f.path); d != digests->end()) f.days = std::move(d->second);
    }
    bool first_sight = recorded->empty();
    if (!first_sight) c.diffs = DiffFiles(*recorded, c.files);
    if (!first_sight && c.diffs.empty()) continue;
    if (!first_sight) {
      auto consumed = CompletenessRead(name);
      if (!consumed.ok()) return consumed.error();
      c.restated = RestatedRange(c.diffs, !s.time_column.empty(), *consumed);
    }
    out.push_back(std::move(c));
  }
  return out;
}

namespace {

// The latest completeness of `source` in one reader's recorded inputs, through the views
// it read (each records what it read under "inputs").
void LatestRead(const nlohmann::json& inputs, const std::string& source, std::optional<Timestamp>* latest) {
  if (!inputs.is_object()) return;
  for (const auto& [name, seen] : inputs.items()) {
    if (!seen.is_object()) continue;
    if (name == source && seen.contains("complete_through") && seen["complete_through"].is_string()) {
      if (auto t = ParseTimestamp(seen["complete_through"].get<std::string>()); t.ok()) {
        *latest = std::max(latest->value_or(*t), *t);
      }
    }
    if (seen.contains("inputs")) LatestRead(seen["inputs"], source, latest);
  }
}

}  // namespace

Result<std::optional<Timestamp>> Engine::CompletenessRead(const std::string& source) {
  auto states = meta_->LoadStates();
  if (!states.ok()) return states.error();
  std::optional<Timestamp> latest;
  for (const auto& [name, st] : *states) LatestRead(st.inputs, source, &latest);
  return latest;
}

void Engine::ApplyFileChanges(const std::vector<FileSourceChanges>& changes, const ProgressFn& progress,
                              RunReport* report) {
  for (const auto& c : changes) {
    if (c.restated) {
      nlohmann::json files = nlohmann::json::array();
      for (const auto& d : c.diffs) {
        std::string rel = std::filesystem::path(d.path).lexically_relative(cp_->project.root).string();
        files.push_back({{"path", rel.empty() || rel.starts_with("..") ? d.path : rel},
                         {"change", FileChangeName(d.change)}});
      }
      size_t before = report->tables.size();
      RestateRange(c.source, *c.restated, {{"reason", "files changed"}, {"files", files}}, progress, report);
      bool failed = false;
      for (size_t i = before; i < report->tables.size(); ++i) failed = failed || report->tables[i].failed();
      if (failed) continue;  // the files stay unrecorded: the next look restates them again
    }
    if (auto st = meta_->SaveFiles(c.source, c.files, now_); !st.ok()) {
      report->tables.push_back({c.source, StepStatus::kFailed, "cannot record its files: " + st.error().message});
    }
  }
}

}  // namespace derived
