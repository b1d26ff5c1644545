// Tables gone from the project: kept until their retention ends, then dropped; broken
// files are never taken for removed.
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "crash/crash_point.h"
#include "dag/selector.h"
#include "engine/engine.h"
#include "util/strings.h"

namespace derived {

derived::Status Engine::Drop(const std::string& table, const std::string& reason) {
  crash::Scope crash_scope("drop");
  std::string name = ToLower(table);
  if (const TableDef* def = cp_->project.FindTable(name)) {
    return Error(fmt::format("{} is still defined in {}: remove it from the project first", name, def->file));
  }
  if (const BrokenFile* b = cp_->project.FindBroken(name)) {
    // Broken is never removed: a file that fails to load is a mistake to fix, not a removal.
    return Error(fmt::format("{} is still defined in {}, which does not load ({}): fix the file, or delete it "
                             "to remove the table, then drop it",
                             name, b->file, an_->broken.at(name)));
  }
  auto it = states_.find(name);
  if (it == states_.end()) {
    std::vector<std::string> removed;
    for (const auto& [n, st] : states_) {
      if (Removed(st)) removed.push_back(n);
    }
    return Error(fmt::format("'{}' is not a table Derived built{}", table, DidYouMean(name, removed)));
  }
  auto dot = name.find('.');
  std::string target = wh_->dialect().Table(name.substr(0, dot), name.substr(dot + 1));
  bool view = it->second.config.value("strategy", "") == "view";
  LogEntry e = Entry(name, it->second.definition_hash, "drop");
  if (!reason.empty()) e.details = {{"reason", reason}};
  auto st = InTransaction(*wh_, [&]() -> derived::Status {
    // On a shared warehouse another process may have defined it again and written to it
    // since its state was read here: then it is not dropped.
    auto newer = meta_->Claim(name, it->second);
    if (!newer.ok()) return newer.error();
    if (newer->has_value()) {
      return Error(fmt::format("{} was updated by another process since this one read it; nothing was dropped",
                               name));
    }
    if (view) {  // nothing stored: only its definition goes
      if (auto s = wh_->Execute("DROP VIEW IF EXISTS " + target); !s.ok()) return s;
    } else {
      auto n = wh_->Query("SELECT count(*) FROM " + target);
      if (n.ok() && n->size() == 1 && n->at(0, 0)) e.rows_deleted = std::stoll(*n->at(0, 0));
      if (auto s = wh_->Execute("DROP TABLE IF EXISTS " + target); !s.ok()) return s;
    }
    e.finished_at = WallSeconds();
    if (auto s = meta_->AppendLog(e); !s.ok()) return s;
    return meta_->DeleteState(name);
  });
  if (!st.ok()) return st;
  states_.erase(it);
  return derived::Status::Ok();
}

std::string Engine::RemovalNote(const TableState& st) const {
  auto at = RemovedAt(st);
  std::string since = at ? " on " + FormatIso(*at) : "";
  if (const auto& keep = cp_->project.removed_table_retention) {
    std::string until = at ? FormatIso(Add(*at, *keep)) : "the next sweep";
    return fmt::format("removed from the project{}: not updated; data kept for {} (removed_tables.keep_for), until {}, "
                       "or until `derived drop {}`",
                       since, FormatDuration(*keep), until, st.table);
  }
  return fmt::format("removed from the project{}: not updated; data kept until `derived drop {}`", since, st.table);
}

std::vector<std::pair<std::string, std::string>> Engine::BrokenFiles(bool record) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& b : cp_->project.broken) {
    // A file may name its table twice (layout and keys): the one Derived built, if any.
    std::string name = b.names[0];
    for (const auto& n : b.names) {
      if (states_.count(n)) name = n;
    }
    const std::string& why = an_->broken.at(name);
    if (auto it = states_.find(name); record && it != states_.end() && it->second.last_error != why) {
      // Logged once per distinct problem, like an invalid definition.
      LogEntry e = Entry(name, it->second.definition_hash, "validate");
      e.status = RunStatus::kFailed;
      e.error = why;
      (void)meta_->RecordFailure(e, &it->second);
    }
    out.emplace_back(name, why);
  }
  return out;
}

bool Engine::Removed(const TableState& st) const {
  // Only a table whose file is gone is removed; one whose file does not load is broken.
  return st.data_version > 0 && !cp_->project.FindTable(st.table) && !cp_->project.FindBroken(st.table);
}

std::optional<Timestamp> Engine::RemovedAt(const TableState& st) {
  auto it = st.config.find("removed_at");
  if (it == st.config.end() || !it->is_string()) return std::nullopt;
  auto ts = ParseTimestamp(it->get<std::string>());
  return ts.ok() ? std::optional<Timestamp>(*ts) : std::nullopt;
}

Result<std::vector<TableOutcome>> Engine::SweepRemoved() {
  crash::Scope crash_scope("sweep");
  auto states = meta_->LoadStates();
  if (!states.ok()) return states.error();
  states_ = std::move(*states);
  BrokenFiles(true);
  std::vector<TableOutcome> out;
  std::vector<std::string> names;  // Drop erases from states_
  for (const auto& [name, st] : states_) {
    // A table defined again has its removal date cleared by its own updater (Update).
    if (Removed(st)) names.push_back(name);
  }
  for (const auto& name : names) {
    TableState& st = states_.at(name);
    if (!st.config.contains("removed_at")) {
      const TableState base = st;
      st.config["removed_at"] = FormatIso(now_);
      LogEntry e = Entry(name, st.definition_hash, "removed");
      e.details = {{"note", RemovalNote(st)}};
      auto saved = InTransaction(*wh_, [&]() -> derived::Status {
        if (auto s = meta_->AppendLog(e); !s.ok()) return s;
        return meta_->SaveState(st, base);
      });
      if (!saved.ok()) {  // the others are still looked after; this one is tried next time
        st.config.erase("removed_at");
        out.push_back({name, StepStatus::kFailed, "cannot record its removal: " + saved.error().message});
        continue;
      }
      out.push_back({name, StepStatus::kRemoved, RemovalNote(st)});
      continue;
    }
    const auto& keep = cp_->project.removed_table_retention;
    auto at = RemovedAt(st);
    if (!keep || !at || now_ < Add(*at, *keep)) continue;
    std::string reason = fmt::format("removed from the project on {} and kept for {} (removed_tables.keep_for)",
                                     FormatIso(*at), FormatDuration(*keep));
    if (auto s = Drop(name, reason); !s.ok()) {
      out.push_back({name, StepStatus::kFailed, "cannot drop it after its retention: " + s.error().message});
      continue;
    }
    out.push_back({name, StepStatus::kDropped, reason});
  }
  return out;
}

}  // namespace derived
