#include "service/service.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "crash/crash_point.h"
#include "dag/selector.h"
#include "fleet/lease_keeper.h"
#include "shadow/environment.h"
#include "shadow/promote.h"
#include "util/hash.h"
#include "util/strings.h"

namespace derived {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::chrono::steady_clock::duration Seconds(double s) {
  return std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(s));
}

// The log row of a project-level event (a reload, accepted or rejected).
constexpr const char* kProjectLogName = "_project";

// A lease of a table, not the fleet membership or the sweeper's.
bool IsTableLease(const std::string& name) {
  return name.rfind(kFleetMemberPrefix, 0) != 0 && name != kSweeperLease;
}

}  // namespace

Service::Service(ServiceOptions options, EventFn on_event)
    : opts_(std::move(options)), on_event_(std::move(on_event)) {
  clock_ = opts_.clock ? opts_.clock : &system_clock_;
  if (opts_.workers <= 0) opts_.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

Result<std::unique_ptr<Service>> Service::Start(ServiceOptions options, EventFn on_event) {
  for (int attempt = 1;; ++attempt) {
    auto svc = StartOnce(options, on_event);
    // A bad selector stays bad; anything else (a server that did not answer, a connection
    // cut while the project was type-checked) may pass the next time.
    if (svc.ok() || attempt >= options.start_attempts || svc.error().message.rfind("--select", 0) == 0) return svc;
    std::this_thread::sleep_for(std::chrono::milliseconds(250 << std::min(attempt, 6)));
  }
}

Result<std::unique_ptr<Service>> Service::StartOnce(ServiceOptions options, EventFn on_event) {
  std::error_code ec;
  options.project_dir = std::filesystem::absolute(options.project_dir, ec).lexically_normal().string();
  if (!options.project_dir.empty() && options.project_dir.back() == '/') options.project_dir.pop_back();
  std::unique_ptr<Service> svc(new Service(std::move(options), std::move(on_event)));
  svc->watcher_ = std::make_unique<ProjectWatcher>(svc->opts_.project_dir, svc->opts_.watch_branch);
  auto gen = svc->Load();
  if (!gen.ok()) return gen.error();
  auto base = OpenWarehouse((*gen)->cp->project);
  if (!base.ok()) return base.error();
  svc->base_ = std::move(*base);
  auto control = svc->NewEngine((*gen)->an);
  if (!control.ok()) return control.error();
  svc->control_ = std::move(*control);
  for (const auto& t : (*gen)->cp->project.tables) {
    if (auto st = svc->control_->warehouse().EnsureDataset(t.dataset); !st.ok()) return st.error();
  }
  if (auto st = svc->control_->LoadSources(); !st.ok()) return st.error();
  auto states = svc->control_->metadata().LoadStates();
  if (!states.ok()) return states.error();
  {
    std::lock_guard lock(svc->mu_);
    svc->sources_ = svc->control_->sources();
    svc->Adopt(*gen);
    svc->watcher_->Prune((*gen)->version);
    // A restart retries a failing table at once, but its backoff continues from the
    // failures recorded in _derived.state rather than starting over.
    for (auto& [name, u] : svc->updaters_) {
      auto it = states->find(name);
      if (it != states->end()) u.failures = static_cast<int>(it->second.consecutive_failures);
    }
  }
  svc->SweepRemoved();
  svc->RestateChangedFiles();  // files may have changed while no service ran
  if (svc->base_->coordination()) {
    // Leases first, so that the first steps may write.
    auto session = svc->base_->Connect();
    if (!session.ok()) return session.error();
    svc->lease_session_ = std::move(*session);
    svc->leases_ = std::make_shared<fleet::LeaseBook>(svc->opts_.owner.empty() ? fleet::DefaultOwner()
                                                                                : svc->opts_.owner);
    svc->RenewLeases();
    (void)svc->AgreeOnVersion(/*reloaded=*/false);
    svc->lease_ = std::thread([s = svc.get()] { s->LeaseLoop(); });
  }
  for (int i = 0; i < svc->opts_.workers; ++i) svc->workers_.emplace_back([s = svc.get()] { s->WorkerLoop(); });
  svc->timer_ = std::thread([s = svc.get()] { s->TimerLoop(); });
  if (svc->opts_.watch_seconds > 0) svc->watch_ = std::thread([s = svc.get()] { s->WatchLoop(); });
  if (Coordination* c = svc->base_->coordination()) {
    // Commits by other processes wake their readers here. Without a listener (the server
    // refused one now) they are still seen at schedule boundaries and polls.
    auto listener = c->Listen();
    if (listener.ok()) {
      svc->listen_ = std::thread([s = svc.get(), l = std::shared_ptr<CommitListener>(std::move(*listener))] {
        s->ListenLoop(*l);
      });
    }
  }
  return svc;
}

void Service::RenewLeases() {
  std::lock_guard renewing(lease_mu_);
  Coordination* c = lease_session_->coordination();
  const std::string& owner = leases_->owner();
  // A failed renewal keeps the book: the fence stops any commit under a lease since lost.
  auto kept = c->Renew(owner, opts_.lease_seconds);
  if (kept.ok()) (void)leases_->Keep(*kept);
  if (opts_.metrics) opts_.metrics->RecordLeaseRenewal(kept.ok());
  struct Count {  // however the round ends
    Service* s;
    ~Count() {
      s->first_leases_ = false;
      if (s->opts_.metrics) s->opts_.metrics->SetTablesOwned(static_cast<int64_t>(s->Owned().size()));
    }
  } count{this};
  std::vector<std::string> wanted, unserved;
  const std::string member = kFleetMemberPrefix + owner;
  {
    std::lock_guard lock(mu_);
    if (!leases_->Holds(member)) wanted.push_back(member);  // this process is running
    if (!leases_->Holds(kSweeperLease)) wanted.push_back(kSweeperLease);
    for (const auto& [name, u] : updaters_) {
      if (!leases_->Holds(name)) wanted.push_back(name);
    }
    for (const auto& [name, generation] : leases_->Held()) {
      if (!updaters_.count(name) && name != member && name != kSweeperLease) {
        unserved.push_back(name);  // removed by a reload
      }
    }
  }
  if (!unserved.empty() && c->Release(unserved, owner).ok()) leases_->Forget(unserved);
  auto taken = c->Acquire(wanted, owner, opts_.lease_seconds);
  if (!taken.ok()) return;
  if (taken->size() < wanted.size()) {
    std::vector<std::string> left;
    for (const auto& t : wanted) {
      if (!taken->count(t)) left.push_back(t);
    }
    if (auto dead = fleet::TakeFromTheDead(*c, left, owner, opts_.lease_seconds); dead.ok()) {
      taken->insert(dead->begin(), dead->end());
    }
  }
  if (taken->empty()) return;
  leases_->Add(*taken);
  if (opts_.metrics && !first_leases_) {
    int64_t tables = 0;
    for (const auto& [name, generation] : *taken) tables += IsTableLease(name);
    opts_.metrics->RecordTakeover(tables);
  }
  std::lock_guard lock(mu_);
  for (const auto& [name, generation] : *taken) WakeLocked(name);
}

void Service::LeaseLoop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      timer_cv_.wait_for(lock, Seconds(opts_.lease_seconds / 3), [&] { return stopping_.load(); });
      if (stopping_) return;
    }
    RenewLeases();
    if (opts_.heartbeat) opts_.heartbeat("leases");
    std::optional<bool> pending;
    {
      std::lock_guard renewing(lease_mu_);
      pending = agree_pending_;
    }
    if (pending) (void)AgreeOnVersion(*pending);
  }
}

bool Service::AgreeOnVersion(bool reloaded) {
  std::lock_guard renewing(lease_mu_);
  agree_pending_ = reloaded;  // until it succeeds
  Coordination* c = lease_session_->coordination();
  FleetVersion mine;
  {
    std::lock_guard lock(mu_);
    mine = gen_->fleet;
  }
  mine.proposed_by = leases_->owner();
  auto agreed = c->AgreedVersion();
  if (!agreed.ok()) return false;
  bool propose;
  auto others = c->OthersRunning(leases_->owner());
  if (!others.ok()) return false;
  if (!agreed->has_value()) {
    propose = true;
  } else if ((*agreed)->content == mine.content) {
    propose = false;
  } else if (!*others) {
    propose = true;  // no one else runs the agreed version: nothing to race with, and a revert must take
  } else if (!opts_.watch_branch.empty()) {
    // Following a branch, the newer commit wins; one this process has not fetched yet is
    // newer than what it has.
    propose = (*agreed)->commit.empty() || watcher_->IsAncestor((*agreed)->commit, mine.commit);
  } else if (reloaded) {
    propose = true;  // the files changed under this process: the newest load wins
  } else {
    // A process starting on content the fleet agreed on before and has left behind (an
    // old pod restarting during a deploy) follows rather than takes the fleet back.
    auto seen = c->SequenceOf(mine.content);
    if (!seen.ok()) return false;
    propose = !seen->has_value();
  }
  std::optional<FleetVersion> now = *agreed;
  if (propose) {
    auto recorded = c->Propose(mine, agreed->has_value() ? (*agreed)->sequence : 0);
    if (!recorded.ok()) return false;
    now = std::move(*recorded);
  }
  agree_pending_.reset();
  std::string following;
  {
    std::lock_guard lock(mu_);
    agreed_ = now;
    if (agreed_ && agreed_->content != mine.content) {
      following = fmt::format("the fleet runs project version {} (loaded by {}{}); tables this version defines "
                              "differently wait until this process loads it",
                              agreed_->sequence, agreed_->proposed_by,
                              agreed_->commit.empty() ? "" : ", commit " + agreed_->commit.substr(0, 12));
    }
    for (auto& [name, u] : updaters_) WakeLocked(name);
  }
  if (!following.empty()) Emit({ServiceEvent::Kind::kFollowing, "", {}, following, {}});
  return true;
}

void Service::RefreshAgreed() {
  if (!leases_) return;
  std::lock_guard renewing(lease_mu_);
  if (agree_pending_) return;  // LeaseLoop agrees first
  Coordination* c = lease_session_->coordination();
  auto head = c->AgreedVersion(/*sequence_only=*/true);
  if (!head.ok() || !head->has_value()) return;
  {
    std::lock_guard lock(mu_);
    if (agreed_ && agreed_->sequence == (*head)->sequence) return;
  }
  auto full = c->AgreedVersion();
  if (!full.ok() || !full->has_value()) return;
  std::lock_guard lock(mu_);
  agreed_ = std::move(*full);
  for (auto& [name, u] : updaters_) WakeLocked(name);
}

std::string Service::OtherVersionLocked(const std::string& table) const {
  if (!agreed_ || agreed_->content == gen_->fleet.content) return "";
  auto theirs = agreed_->hashes.find(table);
  auto mine = gen_->fleet.hashes.find(table);
  if (theirs != agreed_->hashes.end() && mine != gen_->fleet.hashes.end() && theirs->second == mine->second) return "";
  return fmt::format("the fleet runs project version {} (loaded by {}), which {}; this process leaves it alone until "
                     "it loads that version",
                     agreed_->sequence, agreed_->proposed_by,
                     theirs == agreed_->hashes.end() ? "does not define it" : "defines it differently");
}

void Service::ListenLoop(CommitListener& listener) {
  while (!stopping_) {
    bool resumed = false;
    auto got = listener.Wait(200, &resumed);
    if (opts_.heartbeat) opts_.heartbeat("listen");
    if (!got.ok()) {  // the server is unreachable: try again shortly
      std::unique_lock lock(mu_);
      timer_cv_.wait_for(lock, Seconds(1), [&] { return stopping_.load(); });
      continue;
    }
    std::unique_lock lock(mu_);
    if (resumed) {  // notices sent while the connection was down are lost: look at everything
      for (auto& [name, u] : updaters_) WakeLocked(name);
      continue;
    }
    bool new_version = false, marked = false;
    for (const auto& n : *got) {
      if (n.table == kProjectVersionNotice) new_version = true;
      // A source's mark: its readers wake once the marks are read again (PollSources).
      if (gen_->cp->project.FindSource(n.table)) {
        marked = true;
        continue;
      }
      WakeReadersLocked(n.table, n.committed_at);
    }
    lock.unlock();
    if (marked) PollSources();
    if (new_version) RefreshAgreed();
  }
}

Service::~Service() {
  RequestStop();
  Wait();
}

Result<std::shared_ptr<Service::Generation>> Service::Load() {
  auto fingerprint = watcher_->Fingerprint();
  if (!fingerprint.ok()) return fingerprint.error();
  auto dir = watcher_->Materialize(*fingerprint);
  if (!dir.ok()) return dir.error();
  CompileOptions co;
  co.use_cache = opts_.use_cache;
  co.now = Now();
  auto cp = Compile(*dir, co);
  if (!cp.ok()) return cp.error();
  auto gen = std::make_shared<Generation>();
  gen->version = *fingerprint;
  gen->cp = std::make_shared<CompiledProject>(std::move(*cp));
  // A branch is checked out elsewhere; the warehouse and state stay in the project.
  gen->cp->project.root = opts_.project_dir;
  gen->an = AnalyzeProject(*gen->cp);
  gen->fleet.hashes = gen->an->hashes;
  Hasher content;
  for (const auto& [table, hash] : gen->an->hashes) content.Add(table).Add("\t").Add(hash).Add("\n");
  gen->fleet.content = content.Hex();
  if (!opts_.watch_branch.empty()) gen->fleet.commit = gen->version;
  std::optional<std::set<int>> picked;
  if (!opts_.select.empty()) {
    auto ids = Select(gen->cp->graph, opts_.select);
    if (!ids.ok()) return Error("--select: " + ids.error().message);
    picked = std::set<int>(ids->begin(), ids->end());
  }
  for (const auto& def : gen->cp->project.tables) {
    const std::string name = def.qualified_name();
    if (!fleet::Serves(opts_.shard, name)) continue;
    if (picked) {
      auto node = gen->cp->graph.Find(name);
      if (!node || !picked->count(*node)) continue;
    }
    gen->served.insert(name);
  }
  for (const auto& t : gen->cp->tables) {
    for (const auto& up : t.upstream) gen->readers[up].push_back(gen->cp->def(t).qualified_name());
  }
  // A view is as complete as its inputs are: what reads it wakes when they commit.
  for (auto& [name, readers] : gen->readers) {
    std::set<std::string> all(readers.begin(), readers.end());
    std::vector<std::string> todo = readers;
    while (!todo.empty()) {
      std::string r = todo.back();
      todo.pop_back();
      const TableDef* def = gen->cp->project.FindTable(r);
      auto further = gen->readers.find(r);
      if (!def || def->strategy != Strategy::kView || further == gen->readers.end()) continue;
      for (const auto& next : further->second) {
        if (all.insert(next).second) todo.push_back(next);
      }
    }
    readers.assign(all.begin(), all.end());
  }
  for (const auto& [name, readers] : gen->readers) {
    if (std::any_of(readers.begin(), readers.end(), [&](const std::string& r) { return gen->served.count(r) > 0; })) {
      gen->polled.push_back(name);
    }
  }
  return gen;
}

void Service::Adopt(std::shared_ptr<Generation> gen) {
  Timestamp now = Now();
  std::map<std::string, Updater> next;
  for (const auto& def : gen->cp->project.tables) {
    const std::string name = def.qualified_name();
    if (!gen->served.count(name)) continue;
    Updater u;
    auto old = updaters_.find(name);
    bool same = old != updaters_.end() && gen_ && gen_->an->hashes.count(name) &&
                gen_->an->hashes.at(name) == gen->an->hashes.at(name);
    // A changed definition starts with a clean slate: fixing a failing table retries it now.
    if (same) u.failures = old->second.failures, u.retry_at = old->second.retry_at;
    u.next_boundary = NextBoundary(now, def.schedule);
    next[name] = u;
  }
  updaters_ = std::move(next);
  queue_.clear();
  gen_ = std::move(gen);
  if (opts_.metrics) {
    opts_.metrics->SetTablesServed(static_cast<int64_t>(updaters_.size()));
    if (!leases_) opts_.metrics->SetTablesOwned(static_cast<int64_t>(updaters_.size()));
  }
  for (auto& [name, u] : updaters_) WakeLocked(name);
}

void Service::WakeLocked(const std::string& table) {
  auto it = updaters_.find(table);
  if (it == updaters_.end()) return;
  Updater& u = it->second;
  if (u.failures > 0 && Steady() < u.retry_at) return;  // backing off: the timer wakes it
  if (u.running) {
    u.again = true;
  } else if (!u.queued) {
    u.queued = true;
    queue_.push_back(table);
    work_cv_.notify_one();
  }
}

void Service::WakeReadersLocked(const std::string& name, double committed_at) {
  auto it = gen_->readers.find(name);
  if (it == gen_->readers.end()) return;
  for (const auto& r : it->second) {
    auto u = updaters_.find(r);
    if (u == updaters_.end()) continue;  // another process's
    if (committed_at > 0 && (u->second.commit_at == 0 || committed_at < u->second.commit_at)) {
      u->second.commit_at = committed_at;
    }
    WakeLocked(r);
  }
}

MonotonicClock::time_point Service::Steady() const {
  return opts_.monotonic ? opts_.monotonic->Now() : SteadyClock::now();
}

SteadyClock::duration Service::Backoff(int failures) const {
  double s = opts_.retry_base_seconds * std::pow(2.0, std::min(failures - 1, 30));
  return Seconds(std::min(s, opts_.retry_cap_seconds));
}

void Service::Emit(ServiceEvent e) const {
  if (!on_event_) return;
  e.at = SteadyClock::now();
  on_event_(e);
}

void Service::WorkerLoop() {
  std::unique_ptr<Engine> engine;
  const ProjectAnalysis* engine_of = nullptr;
  for (;;) {
    std::string name;
    std::shared_ptr<Generation> gen;
    std::map<std::string, UpstreamStatus> sources;
    double commit_at = 0;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || (paused_ == 0 && !queue_.empty()); });
      if (stopping_) break;
      name = queue_.front();
      queue_.pop_front();
      Updater& u = updaters_.at(name);
      u.queued = false;
      u.running = true;
      commit_at = u.commit_at;
      u.commit_at = 0;
      ++running_;
      gen = gen_;
      sources = sources_;
    }
    TableOutcome o{name, StepStatus::kFailed, ""};
    std::string other_version;
    if (leases_) {
      std::lock_guard lock(mu_);
      other_version = OtherVersionLocked(name);
    }
    // Standing by (another process updates it; this one takes over if its lease expires),
    // or following another version, is waiting, not news: nothing is built, and nothing
    // printed each time a commit wakes it.
    const bool skip = (leases_ && !leases_->Holds(name)) || !other_version.empty();
    if (leases_ && !leases_->Holds(name)) {
      o = {name, StepStatus::kWaiting, "its lease is held by another process"};
    } else if (!other_version.empty()) {
      o = {name, StepStatus::kWaiting, other_version};
    } else if (!engine || engine_of != gen->an.get()) {
      // A new project version: a new engine (and session) over it.
      engine.reset();
      auto opened = NewEngine(gen->an);
      if (opened.ok()) {
        engine = std::move(*opened);
        engine->SetCancel(&cancel_);
        engine->metadata().SetFence(leases_);
        engine_of = gen->an.get();
      } else {
        o.detail = "cannot open a warehouse session: " + opened.error().message;
      }
    }
    if (engine && !skip) {
      engine->SetNow(Now());
      engine->SetSources(std::move(sources));
      Emit({ServiceEvent::Kind::kStarted, name, {}, "", {}});
      if (opts_.metrics && commit_at > 0) opts_.metrics->ObserveWakeup(WallSeconds() - commit_at);
      o = engine->Step(name, [&](const BuildProgress&) {
        Emit({ServiceEvent::Kind::kCommitted, name, {}, "", {}});
        std::lock_guard lock(mu_);
        WakeReadersLocked(name, WallSeconds());
      });
    }
    Emit({ServiceEvent::Kind::kFinished, name, o, "", {}});
    StopIfWarehouseFailed();
    std::lock_guard lock(mu_);
    --running_;
    auto it = updaters_.find(name);
    if (it != updaters_.end()) {  // a reload may have removed it
      Updater& u = it->second;
      u.running = false;
      if (o.failed()) {
        u.failures++;
        u.retry_at = Steady() + Backoff(u.failures);
      } else {
        u.failures = 0;
      }
      if (o.status == StepStatus::kBuilt) WakeReadersLocked(name);
      if (u.again) {
        u.again = false;
        WakeLocked(name);
      }
    }
    idle_cv_.notify_all();
  }
}

void Service::TimerLoop() {
  auto last_poll = Steady();
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (opts_.tick_seconds > 0) {
        timer_cv_.wait_for(lock, Seconds(opts_.tick_seconds), [&] { return stopping_.load(); });
      } else {
        timer_cv_.wait(lock, [&] { return stopping_.load(); });
      }
      if (stopping_) return;
    }
    auto now = Steady();
    bool poll = now - last_poll >= Seconds(opts_.poll_seconds);
    if (poll) last_poll = now;
    Tick(poll);
    if (opts_.heartbeat) opts_.heartbeat("timer");
    StopIfWarehouseFailed();
  }
}

void Service::StopIfWarehouseFailed() {
  auto failure = base_->Failure();
  if (!failure || stopping_) return;
  Emit({ServiceEvent::Kind::kRejected, "", {},
        "stopping: the warehouse had an I/O error (" + *failure +
            "); nothing more runs on it in this process. Committed data is intact: restart once the cause is fixed",
        {}});
  RequestStop();
}

// On its own thread: a reload waits for in-flight steps, which must not hold up the timer.
void Service::WatchLoop() {
  std::string fingerprint;
  {
    std::lock_guard lock(mu_);
    fingerprint = gen_->version;
  }
  for (;;) {
    {
      std::unique_lock lock(mu_);
      timer_cv_.wait_for(lock, Seconds(opts_.watch_seconds), [&] { return stopping_.load(); });
      if (stopping_) return;
    }
    auto fp = watcher_->Fingerprint();
    if (fp.ok() && *fp != fingerprint) {
      bool settled = false;
      (void)Reload(&settled);  // failures are logged and reported as events
      if (settled) fingerprint = *fp;
    }
  }
}

void Service::Tick(bool poll_sources) {
  if (poll_sources) {
    PollSources();
    PollStates();
    // A command or a reload in progress: the next poll sweeps. In a fleet, one member sweeps.
    bool sweeper = !leases_ || leases_->Holds(kSweeperLease);
    if (std::unique_lock command(command_mu_, std::try_to_lock); sweeper && command.owns_lock()) SweepRemoved();
    RestateChangedFiles();
  }
  Timestamp now = Now();
  auto steady = Steady();
  std::lock_guard lock(mu_);
  for (auto& [name, u] : updaters_) {
    const TableDef* def = gen_->cp->project.FindTable(name);
    if (def && !(now < u.next_boundary)) {
      u.next_boundary = NextBoundary(now, def->schedule);
      WakeLocked(name);
    }
    if (u.failures > 0 && u.retry_at <= steady && !u.running && !u.queued) WakeLocked(name);
  }
}

void Service::SweepRemoved() {
  Result<std::vector<TableOutcome>> swept = std::vector<TableOutcome>();
  {
    std::lock_guard control(control_mu_);
    control_->SetNow(Now());
    swept = control_->SweepRemoved();
  }
  if (!swept.ok()) {  // a conflict with a running step, say: the next poll tries again
    Emit({ServiceEvent::Kind::kFinished, kProjectLogName, {kProjectLogName, StepStatus::kFailed, swept.error().message}, "", {}});
    return;
  }
  for (const auto& o : *swept) Emit({ServiceEvent::Kind::kFinished, o.table, o, "", {}});
  // Shadow environments nobody built for `shadow.expire_after` go too.
  auto session = base_->Connect();
  if (!session.ok()) return;
  const Duration idle = project()->project.shadow.expire_after;
  auto expired = shadow::Expire(**session, Now(), idle);
  if (!expired.ok()) return;  // tried again at the next sweep
  for (const auto& env : *expired) {
    TableOutcome o{shadow::MetadataSchemaOf(env), StepStatus::kDropped,
                   fmt::format("shadow environment {} dropped: idle for {}", env, FormatDuration(idle))};
    Emit({ServiceEvent::Kind::kFinished, o.table, o, "", {}});
  }
}

void Service::RestateChangedFiles() {
  Result<std::vector<FileSourceChanges>> changes = std::vector<FileSourceChanges>();
  {
    std::lock_guard control(control_mu_);
    control_->SetNow(Now());
    changes = control_->FileChanges();
    if (!changes.ok() || changes->empty()) return;  // unreadable now: the next poll looks again
    bool restates = std::any_of(changes->begin(), changes->end(), [](const auto& c) { return c.restated.has_value(); });
    if (!restates) {  // new files of new data, or files seen for the first time: only recorded
      RunReport report;
      control_->ApplyFileChanges(*changes, nullptr, &report);
      return;
    }
  }
  // A restatement rebuilds what read the old files: alone, like `derived source restate`.
  (void)Exclusive([&] {
    auto engine = OpenEngine();
    if (!engine.ok()) return;
    (*engine)->SetNow(Now());
    auto fresh = (*engine)->FileChanges();  // again, now that nothing else runs
    if (!fresh.ok()) return;
    RunReport report;
    (*engine)->ApplyFileChanges(*fresh, nullptr, &report);
    for (const auto& o : report.tables) Emit({ServiceEvent::Kind::kFinished, o.table, o, "", {}});
  });
}

void Service::PollStates() {
  if (!base_->capabilities().shared) return;  // one writing process: every commit is this one's
  RefreshAgreed();  // a missed notice of a new project version
  std::map<std::string, int64_t> versions;
  std::vector<std::string> polled;
  {
    std::lock_guard lock(mu_);
    polled = gen_->polled;
  }
  {
    std::lock_guard control(control_mu_);
    auto states = control_->metadata().LoadStates(&polled);
    if (!states.ok()) return;  // unreachable: the next poll looks again
    for (const auto& [name, st] : *states) versions[name] = st.data_version;
  }
  std::lock_guard lock(mu_);
  for (const auto& [name, v] : versions) {
    auto& seen = data_versions_[name];
    if (seen != v) WakeReadersLocked(name);
    seen = v;
  }
}

void Service::PollSources() {
  // control_mu_ is held until the result is applied, so a mark recorded meanwhile is never
  // overwritten by this older reading.
  std::lock_guard control(control_mu_);
  control_->SetNow(Now());
  if (!control_->LoadSources().ok()) return;  // the warehouse is unreachable: keep what we knew
  ApplySources();
}

Status Service::MarkSource(const std::string& source, Timestamp through) {
  std::lock_guard control(control_mu_);  // held until applied, as in PollSources
  control_->SetNow(Now());
  if (auto st = control_->MarkSource(source, through); !st.ok()) return st;
  ApplySources();
  return Status::Ok();
}

void Service::ApplySources() {
  std::lock_guard lock(mu_);
  for (const auto& [name, u] : control_->sources()) {
    auto old = sources_.find(name);
    bool changed = old == sources_.end() || old->second.complete_through != u.complete_through || old->second.exists != u.exists ||
                   old->second.problem != u.problem;
    sources_[name] = u;
    if (changed) WakeReadersLocked(name);
  }
}

Status Service::Exclusive(const std::function<void()>& fn) {
  std::lock_guard command(command_mu_);
  {
    std::unique_lock lock(mu_);
    if (stopping_) return Error("the service is stopping: run the command again once it has stopped");
    ++paused_;
    ++commands_;
    idle_cv_.wait(lock, [&] { return running_ == 0; });
  }
  // Updaters resume however fn ends, an exception included.
  struct Resume {
    Service* s;
    ~Resume() {
      s->PollSources();
      std::lock_guard lock(s->mu_);
      --s->commands_;
      s->idle_cv_.notify_all();
      --s->paused_;
      for (auto& [name, u] : s->updaters_) s->WakeLocked(name);
      s->work_cv_.notify_all();
    }
  } resume{this};
  fn();
  return Status::Ok();
}

Result<std::string> Service::Reload() {
  bool settled = false;
  return Reload(&settled);
}

Result<std::string> Service::Reload(bool* settled) {
  crash::Scope crash_scope("reload");
  std::lock_guard command(command_mu_);
  std::lock_guard reloading(reload_mu_);
  *settled = true;
  auto gen = Load();
  std::string rejected;
  // A version that could not be read (a file system or warehouse error, not the
  // project's): tried again at the next check.
  bool unreadable = !gen.ok();
  if (!gen.ok()) {
    rejected = gen.error().message;
  } else if ((*gen)->cp->diags.has_errors() && !project()->diags.has_errors()) {
    std::vector<std::string> lines;
    for (const auto& d : (*gen)->cp->diags.all()) {
      if (d.severity == Severity::kError) lines.push_back(d.ToString());
    }
    rejected = fmt::format("{} error{}:\n{}", lines.size(), lines.size() == 1 ? "" : "s", Join(lines, "\n"));
  }
  LogEntry e = LogEntry::Begin("reload", kProjectLogName, "", "reload", Now());
  // Logged and reported; `settled` says whether this version is done with (rejected for
  // its errors) or should be tried again (it could not be applied).
  auto fail = [&](bool is_settled, const std::string& why) -> Error {
    *settled = is_settled;
    e.status = RunStatus::kFailed;
    e.error = is_settled ? "the new project version was rejected; the service keeps running the last valid one. " + why
                         : "the new project version could not be applied yet; it is tried again at the next check. " +
                               why;
    e.finished_at = WallSeconds();
    {
      std::lock_guard control(control_mu_);
      (void)control_->metadata().AppendLog(e);
    }
    Emit({ServiceEvent::Kind::kRejected, "", {}, e.error, {}});
    return Error(e.error);
  };
  if (!rejected.empty()) return fail(!unreadable, rejected);
  // What the new version changes, worked out before it takes over (for the log).
  auto next = NewEngine((*gen)->an);
  if (!next.ok()) return fail(false, next.error().message);
  {
    std::lock_guard lock(mu_);
    (*next)->SetSources(sources_);
  }
  auto changes = (*next)->PlanChanges();
  if (!changes.ok()) return fail(false, changes.error().message);
  nlohmann::json details = nlohmann::json::array();
  std::vector<std::string> lines;
  for (const auto& c : *changes) {
    details.push_back(c.ToJson());
    lines.push_back(fmt::format("{} {}: {}", ChangeName(c.change), c.table, c.detail));
  }
  for (const auto& t : (*gen)->cp->project.tables) {
    if (auto st = (*next)->warehouse().EnsureDataset(t.dataset); !st.ok()) return fail(false, st.error().message);
  }
  {
    std::unique_lock lock(mu_);
    ++paused_;
    idle_cv_.wait(lock, [&] { return running_ == 0; });
    if (stopping_) {  // the next start loads the new version
      --paused_;
      *settled = false;
      return Error("the service is stopping");
    }
  }
  // A merged branch's tables that a shadow environment built just as this version would
  // are swapped in instead of rebuilt (shadow/promote.h), while no updater runs.
  for (const auto& line : PromoteShadowBuilds(*(*gen)->cp)) lines.push_back(line);
  {
    std::lock_guard control(control_mu_);
    control_ = std::move(*next);
    e.status = RunStatus::kSuccess;
    e.details = details;
    e.finished_at = WallSeconds();
    (void)control_->metadata().AppendLog(e);
  }
  {
    std::lock_guard lock(mu_);
    --paused_;
    Adopt(*gen);
  }
  watcher_->Prune((*gen)->version);
  if (leases_) {
    RenewLeases();  // tables new to this version take their leases now
    (void)AgreeOnVersion(/*reloaded=*/true);
  }
  PollSources();
  SweepRemoved();
  std::string summary = lines.empty() ? "no table changes" : Join(lines, "\n");
  Emit({ServiceEvent::Kind::kReloaded, "", {}, summary, {}});
  return summary;
}

std::vector<std::string> Service::PromoteShadowBuilds(const CompiledProject& cp) {
  std::vector<std::string> lines;
  auto session = base_->Connect();
  if (!session.ok()) return lines;
  auto envs = shadow::List(**session);
  if (!envs.ok()) return lines;
  for (const auto& env : *envs) {
    auto own = base_->Connect();
    if (!own.ok()) break;
    auto done = shadow::Promote(cp, std::move(*own), env.env, Now());
    if (!done.ok()) {
      lines.push_back(fmt::format("shadow environment {}: not promoted: {}", env.env, done.error().message));
      continue;
    }
    for (const auto& p : *done) {
      if (p.promoted) lines.push_back(fmt::format("promote {}: {}", p.table, p.why));
    }
  }
  return lines;
}

Result<std::shared_ptr<const CompiledProject>> Service::Candidate() {
  std::lock_guard reloading(reload_mu_);  // one checkout of a branch at a time
  auto gen = Load();
  if (!gen.ok()) return gen.error();
  return std::shared_ptr<const CompiledProject>((*gen)->cp);
}

Result<std::unique_ptr<Engine>> Service::OpenEngine(std::shared_ptr<const CompiledProject>* project) {
  std::shared_ptr<Generation> gen;
  std::map<std::string, UpstreamStatus> sources;
  {
    std::lock_guard lock(mu_);
    gen = gen_;
    sources = sources_;
  }
  if (project) *project = gen->cp;
  auto e = NewEngine(gen->an);
  if (!e.ok()) return e.error();
  (*e)->SetSources(std::move(sources));
  return e;
}

Result<std::unique_ptr<Engine>> Service::NewEngine(std::shared_ptr<const ProjectAnalysis> an) {
  auto session = base_->Connect();
  if (!session.ok()) return session.error();
  return Engine::Open(std::move(an), std::move(*session), Now());
}

std::map<std::string, UpstreamStatus> Service::Sources() const {
  std::lock_guard lock(mu_);
  return sources_;
}

std::shared_ptr<const CompiledProject> Service::project() const {
  std::lock_guard lock(mu_);
  return gen_->cp;
}

std::vector<std::string> Service::Served() const {
  std::lock_guard lock(mu_);
  return {gen_->served.begin(), gen_->served.end()};
}

std::vector<std::string> Service::Owned() const {
  if (!leases_) return Served();
  std::vector<std::string> out;
  for (const auto& [name, generation] : leases_->Held()) {
    if (IsTableLease(name)) out.push_back(name);
  }
  return out;
}

std::map<std::string, UpdaterStatus> Service::Updaters() const {
  std::lock_guard lock(mu_);
  std::map<std::string, UpdaterStatus> out;
  auto now = Steady();
  for (const auto& [name, u] : updaters_) {
    UpdaterStatus s;
    s.running = u.running;
    s.queued = u.queued;
    s.failures = u.failures;
    if (u.failures > 0) s.retry_in_seconds = std::max(0.0, std::chrono::duration<double>(u.retry_at - now).count());
    out[name] = s;
  }
  return out;
}

void Service::WaitIdle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return running_ == 0 && (queue_.empty() || paused_ > 0 || stopping_); });
}

void Service::RequestStop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cancel_ = true;
  }
  work_cv_.notify_all();
  timer_cv_.notify_all();
  idle_cv_.notify_all();
}

void Service::Interrupt() {
  RequestStop();
  base_->InterruptAll();  // updaters' sessions, and those of commands running in the service
}

void Service::Wait() {
  {
    std::unique_lock lock(mu_);
    idle_cv_.wait(lock, [&] { return stopping_.load(); });
    // In-flight mutations, commands' included, get the grace period to commit; then they
    // are rolled back.
    if (!idle_cv_.wait_for(lock, Seconds(opts_.grace_seconds), [&] { return running_ == 0 && commands_ == 0; })) {
      base_->InterruptAll();
    }
  }
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
  if (timer_.joinable()) timer_.join();
  if (watch_.joinable()) watch_.join();
  if (listen_.joinable()) listen_.join();
  if (lease_.joinable()) lease_.join();
  if (leases_ && lease_session_) {
    std::lock_guard renewing(lease_mu_);
    // Nothing runs any more: a successor takes the tables at once, not after expiry.
    std::vector<std::string> held;
    for (const auto& [name, generation] : leases_->Held()) held.push_back(name);
    (void)lease_session_->coordination()->Release(held, leases_->owner());
    leases_->Forget(held);
  }
}

}  // namespace derived
