#include "fleet/lease_keeper.h"

#include <chrono>

#include <fmt/format.h>

namespace derived::fleet {

Result<std::unique_ptr<LeaseKeeper>> LeaseKeeper::Take(Warehouse& warehouse, const std::vector<std::string>& tables,
                                                       const KeeperOptions& options) {
  std::unique_ptr<LeaseKeeper> k(new LeaseKeeper());
  k->options_ = options;
  if (k->options_.owner.empty()) k->options_.owner = ProcessOwner();
  if (!warehouse.coordination()) return k;
  auto session = warehouse.Connect();
  if (!session.ok()) return session.error();
  k->session_ = std::move(*session);
  Coordination* c = k->session_->coordination();
  auto taken = c->Acquire(tables, k->options_.owner, k->options_.seconds, k->options_.steal);
  if (!taken.ok()) return taken.error();
  k->book_ = std::make_shared<LeaseBook>(k->options_.owner);
  k->book_->Add(*taken);
  std::vector<std::string> left;
  for (const auto& t : tables) {
    if (!taken->count(t)) left.push_back(t);
  }
  if (!left.empty()) {
    auto dead = TakeFromTheDead(*c, left, k->options_.owner, k->options_.seconds);
    if (dead.ok()) k->book_->Add(*dead);
    std::map<std::string, std::string> holder;
    if (auto rows = c->Leases(&left); rows.ok()) {
      for (const auto& r : *rows) holder[r.table] = r.owner;
    }
    for (const auto& t : left) {
      if (k->book_->Holds(t)) continue;
      auto h = holder.find(t);
      k->missing_.push_back(h == holder.end() ? t : fmt::format("{} (held by {})", t, h->second));
    }
  }
  k->renewer_ = std::thread([p = k.get()] { p->RenewLoop(); });
  return k;
}

Result<std::map<std::string, int64_t>> TakeFromTheDead(Coordination& c, const std::vector<std::string>& tables,
                                                       const std::string& owner, double seconds) {
  std::map<std::string, int64_t> taken;
  auto rows = c.Leases(&tables);
  if (!rows.ok()) return rows.error();
  std::map<std::string, std::vector<std::string>> by_owner;
  for (const auto& r : *rows) {
    if (r.seconds_left > 0 && r.owner != owner && DeadHere(r.owner)) by_owner[r.owner].push_back(r.table);
  }
  for (const auto& [dead, theirs] : by_owner) {
    auto got = c.TakeOver(theirs, dead, owner, seconds);
    if (!got.ok()) return got.error();
    taken.insert(got->begin(), got->end());
  }
  return taken;
}

void LeaseKeeper::RenewLoop() {
  auto every = std::chrono::duration<double>(options_.seconds / 3);
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, every, [&] { return done_; })) {
    lock.unlock();
    // A failed renewal keeps the book: the fence stops a commit under a lease since lost.
    if (auto kept = session_->coordination()->Renew(options_.owner, options_.seconds); kept.ok()) {
      (void)book_->Keep(*kept);
    }
    lock.lock();
  }
}

LeaseKeeper::~LeaseKeeper() {
  if (!renewer_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  renewer_.join();
  std::vector<std::string> held;
  for (const auto& [t, g] : book_->Held()) held.push_back(t);
  if (!held.empty()) (void)session_->coordination()->Release(held, options_.owner);
}

}  // namespace derived::fleet
