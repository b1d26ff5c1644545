// `derived run`: the long-running service. Every table has an updater, run as a task on a
// bounded pool of workers, each with its own warehouse session. An updater is woken when
// one of its inputs commits new data, when its schedule boundary passes, when a source's
// freshness poll or mark moves forward, when its retry is due, and when the project
// changes; it then takes one Engine::Step. There is no central pass over the DAG: a slow
// or failing table holds back only the tables that read it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "compile/compiler.h"
#include "engine/engine.h"
#include "fleet/lease_book.h"
#include "fleet/shard.h"
#include "health/metrics.h"
#include "service/watcher.h"
#include "time/clock.h"
#include "util/status.h"
#include "warehouse/coordination.h"

namespace derived {

struct ServiceOptions {
  std::string project_dir = ".";
  int workers = 0;                 // parallel updaters; 0 = one per core
  const Clock* clock = nullptr;    // nullptr = the wall clock
  // Retries, backoff and polls wait on this; nullptr = std::chrono::steady_clock. (Event
  // times stay on the real clock: they measure.)
  const MonotonicClock* monotonic = nullptr;
  bool use_cache = true;           // the compile cache
  double tick_seconds = 0.2;       // how often the timer looks at the clock (0: only on Tick())
  double poll_seconds = 60;        // freshness queries and file sources
  double watch_seconds = 1;        // project watching (0: never reload on its own)
  std::string watch_branch;        // empty: the working tree; else reload on new commits to this branch
  double retry_base_seconds = 5;   // first retry after a failure; doubles per failure
  double retry_cap_seconds = 600;  // ... up to this
  double grace_seconds = 30;       // on stop: how long in-flight mutations may take to finish
  // On a shared warehouse each table is updated only under its lease (warehouse/
  // coordination.h), renewed every third of `lease_seconds`; a dead owner's tables are
  // taken over once its leases expire. `owner` names this process (default
  // fleet::DefaultOwner(): DERIVED_OWNER, else host:pid).
  double lease_seconds = 30;
  std::string owner;
  // The tables this service updates (the others get no updater and no lease): those the
  // selector picks (dag/selector.h; empty: every table) whose shard is `shard`
  // (fleet/shard.h). For `derived run --select S --shard K/N` and `derived update TABLE`.
  std::string select;
  fleet::Shard shard;
  // Optional, not owned: what the service counts (tables owned and served, lease
  // renewals and takeovers, wake-up latency) and how its loops say they are alive (the
  // health endpoint's heartbeat: "timer", "leases", "listen").
  // Tries at starting (loading the project, opening the warehouse) before giving up,
  // waiting 0.5 s, 1 s, 2 s, ... between them: a fleet's process starting while the
  // server is busy or restarting waits for it instead of dying.
  int start_attempts = 1;
  health::FleetMetrics* metrics = nullptr;
  std::function<void(std::string_view loop)> heartbeat;
};

// What the service reports as it works: for logs, tests and the benchmark.
struct ServiceEvent {
  // kFollowing: the fleet runs another project version than this process loaded (message).
  enum class Kind { kStarted, kFinished, kReloaded, kRejected, kCommitted, kFollowing };
  Kind kind;
  std::string table;    // the table (kStarted, kFinished, kCommitted)
  TableOutcome outcome; // kFinished
  std::string message;  // kReloaded, kRejected: what changed, or why not
  std::chrono::steady_clock::time_point at;
};
using EventFn = std::function<void(const ServiceEvent&)>;

// Per table, what the updater is doing beyond what `_derived.state` records.
struct UpdaterStatus {
  bool running = false, queued = false;
  int failures = 0;
  double retry_in_seconds = -1;  // < 0: no retry pending
};

class Service {
 public:
  // Loads the project, opens the warehouse and starts the workers and the timer.
  static Result<std::unique_ptr<Service>> Start(ServiceOptions options, EventFn on_event = nullptr);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Stops taking new work and returns at once; Wait() returns when in-flight mutations
  // have finished (or, after the grace period, been interrupted and rolled back).
  void RequestStop();
  // A second request: interrupt in-flight mutations now.
  void Interrupt();
  void Wait();
  bool stopping() const { return stopping_; }
  // Why the service stopped itself: a failed commit or I/O error closed the warehouse
  // (see db::Database::Failure). nullopt otherwise.
  std::optional<std::string> Failure() const { return base_->Failure(); }

  // Runs the timer's work now: schedule boundaries, due retries, source polls (all of
  // them when `poll_sources`). For tests that move a fixed clock.
  void Tick(bool poll_sources = true);
  // Blocks until no updater is queued or running (retries waiting for their time aside).
  void WaitIdle();

  // Re-reads the project. A version with errors is rejected as a whole and logged, and
  // the service keeps the last valid version. Returns what happened, for the log.
  Result<std::string> Reload();

  // Records a source mark and wakes the source's readers.
  Status MarkSource(const std::string& source, Timestamp through);

  // Runs `fn` alone: one command at a time, no reload or removal sweep meanwhile, and
  // every updater paused (in-flight steps finish first). Then re-reads the sources and
  // wakes every table. For commands that change the warehouse; refused once stopping.
  Status Exclusive(const std::function<void()>& fn);

  // An engine on a new session for the current project version, with the service's
  // view of the sources: what commands run in the service use. `project`, when given,
  // receives that version, which the caller must hold while it uses the engine.
  Result<std::unique_ptr<Engine>> OpenEngine(std::shared_ptr<const CompiledProject>* project = nullptr);
  // A new session on the warehouse.
  Result<std::unique_ptr<Warehouse>> Connect() { return base_->Connect(); }
  // What the service last learned of every source.
  std::map<std::string, UpstreamStatus> Sources() const;
  // The version a reload would load now (the working tree, or the branch's head),
  // compiled but not adopted: what `derived plan` compares with the warehouse.
  Result<std::shared_ptr<const CompiledProject>> Candidate();
  // The current project version (valid while the caller holds the pointer).
  std::shared_ptr<const CompiledProject> project() const;
  std::map<std::string, UpdaterStatus> Updaters() const;
  const ServiceOptions& options() const { return opts_; }
  // Whether other processes write the warehouse too (a server): then this service updates
  // its tables under leases, and commands open the warehouse themselves.
  bool shared() const { return leases_ != nullptr; }
  // This process's name as a lease owner (empty with a single writer).
  std::string owner() const { return leases_ ? leases_->owner() : ""; }
  // The tables this service updates, and of those the ones whose lease it holds now.
  std::vector<std::string> Served() const;
  std::vector<std::string> Owned() const;

 private:
  struct Generation {
    std::string version;  // the watcher's fingerprint of it
    std::shared_ptr<CompiledProject> cp;
    std::shared_ptr<const ProjectAnalysis> an;
    std::map<std::string, std::vector<std::string>> readers;  // table or source -> tables reading it
    std::set<std::string> served;  // the tables with an updater here (ServiceOptions::select, shard)
    // The tables a served one reads (views looked through): the only states PollStates
    // reads, so a fleet process's poll is the size of its share, not of the DAG.
    std::vector<std::string> polled;
    FleetVersion fleet;            // this version as the fleet would agree on it (content, commit, hashes)
  };
  struct Updater {
    bool queued = false, running = false, again = false;
    int failures = 0;
    std::chrono::steady_clock::time_point retry_at{};  // when failures > 0
    Timestamp next_boundary;                           // the timer wakes it then
    double commit_at = 0;  // wall seconds of the earliest input commit it was woken for, not yet started (0: none)
  };

  explicit Service(ServiceOptions options, EventFn on_event);
  static Result<std::unique_ptr<Service>> StartOnce(ServiceOptions options, EventFn on_event);
  Result<std::shared_ptr<Generation>> Load();
  // An engine over `an` on a new warehouse session.
  Result<std::unique_ptr<Engine>> NewEngine(std::shared_ptr<const ProjectAnalysis> an);
  // Reload; *settled is false when the version could not be applied and should be retried.
  Result<std::string> Reload(bool* settled);
  void Adopt(std::shared_ptr<Generation> gen);  // REQUIRES: mu_ held, no updater running
  // control_'s view of the sources becomes the service's; readers of a changed source
  // wake. REQUIRES: control_mu_ held.
  void ApplySources();
  // Promotes, from every shadow environment, what it built just as `cp` would; returns a
  // line per table promoted (or per environment that could not be read).
  std::vector<std::string> PromoteShadowBuilds(const CompiledProject& cp);
  void SweepRemoved();  // records removed tables and drops expired ones (Engine::SweepRemoved)
  // Files of file sources that changed: restated and repaired (in Exclusive), or recorded.
  void RestateChangedFiles();
  void WakeLocked(const std::string& table);
  // `committed_at` (wall seconds, 0: unknown) is when `name`'s commit happened: the
  // readers' wake-up latency is counted from it.
  void WakeReadersLocked(const std::string& name, double committed_at = 0);
  void WorkerLoop();
  void WatchLoop();
  void TimerLoop();
  // Wakes the readers of tables other processes committed (Coordination's notices).
  void ListenLoop(CommitListener& listener);
  // Renews the leases held and takes those of this service's tables that are free;
  // tables newly taken wake. On lease_session_, one call at a time (lease_mu_).
  void RenewLeases();
  void LeaseLoop();
  // On a shared warehouse, after loading a version: proposes it as the fleet's when it is
  // newer than the agreed one (a descendant commit of the branch; in a working tree, new
  // content, or any version a reload loaded), else follows the agreed one. False when the
  // warehouse could not be reached (tried again by LeaseLoop).
  bool AgreeOnVersion(bool reloaded);
  // Re-reads the agreed version when its sequence moved; every updater wakes.
  void RefreshAgreed();
  // Why this process must not build `table` now (the fleet agreed on another definition
  // of it), or empty. REQUIRES: mu_ held.
  std::string OtherVersionLocked(const std::string& table) const;
  void PollSources();
  // On a shared warehouse: the readers of tables whose data version moved since the last
  // poll wake (commits by other processes whose notices were missed).
  void PollStates();
  void StopIfWarehouseFailed();  // an I/O error: the service stops (see Failure)
  void Emit(ServiceEvent e) const;
  Timestamp Now() const { return clock_->Now(); }
  std::chrono::steady_clock::duration Backoff(int failures) const;
  MonotonicClock::time_point Steady() const;

  ServiceOptions opts_;
  EventFn on_event_;
  SystemClock system_clock_;
  const Clock* clock_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_, idle_cv_, timer_cv_;
  std::shared_ptr<Generation> gen_;                // guarded by mu_
  std::map<std::string, Updater> updaters_;        // guarded by mu_
  std::deque<std::string> queue_;                  // guarded by mu_
  std::map<std::string, UpstreamStatus> sources_;  // guarded by mu_
  std::map<std::string, int64_t> data_versions_;   // as PollStates last read them; guarded by mu_
  int running_ = 0, paused_ = 0;                   // guarded by mu_
  int commands_ = 0;                               // in Exclusive; guarded by mu_
  std::atomic<bool> stopping_{false};
  std::atomic<bool> cancel_{false};  // builders stop between batches

  std::unique_ptr<Warehouse> base_;   // the first session: owns the database with the others
  std::mutex control_mu_;             // serializes control_ (polls, marks, sweeps, reload logging); before mu_
  std::mutex reload_mu_;              // one reload (or branch checkout) at a time
  // Held by a command in Exclusive, a reload and a removal sweep: none overlaps another.
  // Taken before reload_mu_, control_mu_ and mu_.
  std::mutex command_mu_;
  std::unique_ptr<Engine> control_;   // an engine for polls, marks and reload bookkeeping
  std::unique_ptr<ProjectWatcher> watcher_;
  std::vector<std::thread> workers_;
  std::thread timer_;
  std::thread watch_;  // project watching and reloads (WatchLoop)
  std::thread listen_;  // commits of other processes (ListenLoop), on a shared warehouse
  // On a shared warehouse: the leases held (read by every worker's fence), kept by
  // LeaseLoop on a session of its own. Null with a single writer.
  std::shared_ptr<fleet::LeaseBook> leases_;
  std::unique_ptr<Warehouse> lease_session_;  // guarded by lease_mu_ once started
  std::mutex lease_mu_;                        // before mu_
  std::thread lease_;
  std::optional<FleetVersion> agreed_;  // the fleet's project version as last read; guarded by mu_
  // AgreeOnVersion(*agree_pending_) must run (again); guarded by lease_mu_.
  std::optional<bool> agree_pending_;
  bool first_leases_ = true;  // the first round takes the free leases: no takeover; guarded by lease_mu_
};

}  // namespace derived
