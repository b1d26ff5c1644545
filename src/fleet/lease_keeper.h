// Leases held for the length of one command (`derived backfill`, `source restate`, `drop`,
// `run --once`, `update --once`) on a shared warehouse: taken when the keeper is made,
// renewed every third of the lease time on a session of its own, released when it is
// destroyed. A command the user runs on purpose (a backfill) steals the leases from a
// running updater, whose next commit then fails its fence and writes nothing; the
// updater takes them back after the command releases them. Thread-safe.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fleet/lease_book.h"
#include "util/status.h"
#include "warehouse/warehouse.h"

namespace derived::fleet {

struct KeeperOptions {
  double seconds = 30;  // the lease time
  bool steal = false;   // take leases from a live owner too
  std::string owner;    // empty: ProcessOwner()
};

// Takes the leases of `tables` still held by processes of this machine that are gone
// (DeadHere), for `owner`; returns what it took.
Result<std::map<std::string, int64_t>> TakeFromTheDead(Coordination& c, const std::vector<std::string>& tables,
                                                       const std::string& owner, double seconds);

class LeaseKeeper {
 public:
  // Takes the leases of `tables` through a new session of `warehouse`. Without
  // coordination (an embedded warehouse, one writing process) it takes nothing and
  // book() is null. Tables held by a live owner (and not stolen) are in missing().
  static Result<std::unique_ptr<LeaseKeeper>> Take(Warehouse& warehouse, const std::vector<std::string>& tables,
                                                   const KeeperOptions& options);
  ~LeaseKeeper();  // stops renewing and releases what it holds
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // The fence for the command's engine (MetadataStore::SetFence); null without coordination.
  std::shared_ptr<const LeaseBook> book() const { return book_; }
  // What could not be taken, with who holds it ("core.orders (held by pod-3)").
  const std::vector<std::string>& missing() const { return missing_; }

 private:
  LeaseKeeper() = default;
  void RenewLoop();

  KeeperOptions options_;
  std::unique_ptr<Warehouse> session_;
  std::shared_ptr<LeaseBook> book_;
  std::vector<std::string> missing_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;  // guarded by mu_
  std::thread renewer_;
};

}  // namespace derived::fleet
