// The leases one process holds (warehouse/coordination.h), shared by its threads: the
// lease keeper updates it as it acquires, renews and loses leases; each mutation's fence
// (MetadataStore::Claim) reads the token it must still hold. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "warehouse/coordination.h"

namespace derived::fleet {

class LeaseBook {
 public:
  explicit LeaseBook(std::string owner) : owner_(std::move(owner)) {}

  const std::string& owner() const { return owner_; }
  std::optional<LeaseToken> Token(const std::string& table) const;
  bool Holds(const std::string& table) const { return Token(table).has_value(); }
  std::map<std::string, int64_t> Held() const;

  // Adds what an acquisition took.
  void Add(const std::map<std::string, int64_t>& taken);
  // Keeps only what a renewal says is still held at the same generation; returns the
  // tables lost (taken over, or stolen by a command).
  std::vector<std::string> Keep(const std::map<std::string, int64_t>& still_held);
  // Forgets tables (released, or found lost at a commit).
  void Forget(const std::vector<std::string>& tables);

 private:
  const std::string owner_;
  mutable std::mutex mu_;
  std::map<std::string, int64_t> held_;  // guarded by mu_
};

// This process's default name as a lease owner: host:pid, unique among live processes
// on the machines sharing a warehouse. A process given a stable name (DERIVED_OWNER,
// e.g. a Kubernetes pod's name) takes back its own leases at once when it restarts.
std::string DefaultOwner();
// host:pid, whatever DERIVED_OWNER says: the owner for a command's leases, which must
// never be taken for those of the service running in the same pod.
std::string ProcessOwner();
// True when `owner` is a ProcessOwner() name of this machine whose process is gone: its
// leases can be taken at once instead of after they expire (a `run --once` killed and
// started again). Names given by DERIVED_OWNER are never judged: they wait for expiry.
bool DeadHere(const std::string& owner);

}  // namespace derived::fleet
