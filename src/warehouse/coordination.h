// How processes that share a warehouse coordinate through it, with no scheduler of their
// own: a lease per table naming the one process that updates it, and notifications of
// commits that wake readers in other processes.
//
// A lease has an owner (a process's name), an expiry on the server's clock (so machines'
// clocks never matter) and a generation, bumped each time the lease is taken. A process
// holds a table while it renews the lease; once the lease expires, or when its owner
// starts again under the same name, another acquisition takes it under a new generation.
// Each mutation checks its generation inside its own transaction (Holds, through
// MetadataStore's fence), so a process that lost its lease, however long it was paused,
// commits nothing; the table lock and the state comparison of MetadataStore::Claim keep
// a commit racing the takeover from applying a window twice.
//
// Notifications are a hint that makes readers fast, never what correctness rests on:
// one may be lost (a dropped connection), so readers also poll `_derived.state`.
//
// A Coordination belongs to one warehouse session and is used by one thread at a time.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/status.h"

namespace derived {

// The table name of the notice that a new project version was agreed (Propose).
inline constexpr const char* kProjectVersionNotice = "_project";
// A running service also holds the lease "_fleet/<owner>", renewed with its tables': the
// fleet is running while any such lease is live.
inline constexpr const char* kFleetMemberPrefix = "_fleet/";
// One running service at a time holds this lease too: the one that sweeps tables removed
// from the project, so the fleet reads every state once per poll, not once per process.
inline constexpr const char* kSweeperLease = "_sweeper";

// What a process holds a table's lease under.
struct LeaseToken {
  std::string owner;
  int64_t generation = 0;
};

// A lease as `_derived.leases` holds it, for `derived status` and the fleet's metrics.
struct LeaseRow {
  std::string table, owner;
  int64_t generation = 0;
  double seconds_left = 0;  // until it expires, by the server's clock (< 0: expired)
};

// A commit another process announced (NotifyCommit).
struct CommitNotice {
  std::string table;
  int64_t data_version = 0;
  double committed_at = 0;  // the committing process's wall clock, seconds since the epoch
};

// The project version a fleet runs. Services that share a warehouse agree on one (the
// newest proposed: a branch's newer commit, or a working tree's new content), and no
// process builds a table whose definition differs from the agreed one's: during a deploy,
// processes still on the old version leave the changed tables alone until they load the
// new one, so two versions never take turns rebuilding a table.
struct FleetVersion {
  int64_t sequence = 0;  // the order of agreement: the highest is the fleet's
  std::string content;   // a hash of every table's definition hash: equal content, equal version
  std::string commit;    // the git commit, when the proposer follows a branch
  std::map<std::string, std::string> hashes;  // table -> definition hash
  std::string proposed_by;
};

// A session that waits for commit notices, on a connection of its own.
class CommitListener {
 public:
  virtual ~CommitListener() = default;
  // The notices that arrived, waiting up to `timeout_ms` for one. `*resumed` is set when
  // the connection had to be made again: notices sent meanwhile are lost, so the caller
  // should poll the state. An error when the warehouse cannot be reached (try again).
  virtual Result<std::vector<CommitNotice>> Wait(int timeout_ms, bool* resumed) = 0;
};

class Coordination {
 public:
  virtual ~Coordination() = default;

  // Takes, for `seconds`, each lease of `tables` that no one holds, that has expired, or
  // that `owner` itself held (a restart under the same name): a new generation each.
  // With `steal`, takes them from a live owner too (a command that must write the
  // table now; the owner's next commit fails its fence). Returns what it took.
  virtual Result<std::map<std::string, int64_t>> Acquire(const std::vector<std::string>& tables,
                                                         const std::string& owner, double seconds,
                                                         bool steal = false) = 0;
  // Takes, for `seconds`, each lease of `tables` that `from` still holds (a process known
  // to be dead, fleet::DeadHere), whether or not it has expired.
  virtual Result<std::map<std::string, int64_t>> TakeOver(const std::vector<std::string>& tables,
                                                          const std::string& from, const std::string& owner,
                                                          double seconds) = 0;
  // Extends every lease `owner` holds by `seconds` from now, in one statement; returns
  // what it still holds (table -> generation).
  virtual Result<std::map<std::string, int64_t>> Renew(const std::string& owner, double seconds) = 0;
  // Lets go of `tables` (those `owner` holds) so that others take them at once.
  virtual Status Release(const std::vector<std::string>& tables, const std::string& owner) = 0;
  // Inside the caller's transaction: whether `token` still holds `table`.
  virtual Result<bool> Holds(const std::string& table, const LeaseToken& token) = 0;
  // Every lease (of `tables` when given).
  virtual Result<std::vector<LeaseRow>> Leases(const std::vector<std::string>* tables = nullptr) = 0;

  // The fleet's project version: nullopt when none was agreed yet. `sequence_only`: just
  // its sequence and content (cheap; the hashes stay empty), to see whether it moved.
  virtual Result<std::optional<FleetVersion>> AgreedVersion(bool sequence_only = false) = 0;
  // The sequence `content` was last agreed under, or nullopt when it never was.
  virtual Result<std::optional<int64_t>> SequenceOf(const std::string& content) = 0;
  // Whether a fleet member other than `owner` is running (holds a live member lease).
  virtual Result<bool> OthersRunning(const std::string& owner) = 0;
  // Records `v` as the fleet's version (the next sequence) when the agreed one is still
  // the one of sequence `expected` (0: none); otherwise another process proposed first
  // and nothing is recorded. Returns the agreed version after; notifies listeners (as a
  // commit of the table named kProjectVersionNotice).
  virtual Result<FleetVersion> Propose(const FleetVersion& v, int64_t expected) = 0;
  // Inside the caller's transaction: whether `owner` may write `table` with
  // `definition_hash`: yes when no fleet member other than `owner` is running (nothing to
  // race with), or when the agreed version defines the table so; otherwise `*agreed`
  // describes that version, for the error.
  virtual Result<bool> AgreedDefines(const std::string& table, const std::string& definition_hash,
                                     const std::string& owner, std::string* agreed) = 0;

  // Inside the caller's transaction: tells every listener, when it commits, that `table`
  // has new data.
  virtual Status NotifyCommit(const std::string& table, int64_t data_version, double committed_at) = 0;
  // A listener on a new connection.
  virtual Result<std::unique_ptr<CommitListener>> Listen() = 0;
};

}  // namespace derived
