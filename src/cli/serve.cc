// `derived run` as a service and `derived update TABLE`: the long-running commands.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "cli/app.h"
#include "cli/commands.h"
#include "cli/compile_project.h"
#include "engine/engine.h"
#include "fleet/lease_keeper.h"
#include "fleet/shard.h"
#include "health/server.h"
#include "service/control.h"
#include "service/service.h"
#include "time/clock.h"
#include "util/strings.h"

namespace derived::cli {
namespace {

std::string Stamp() { return FormatIso(SystemClock().Now()); }

// SIGINT and SIGTERM go to one thread that calls `on_signal` with the count so far.
// Blocked before any other thread starts, so no other thread ever receives them.
class SignalWatcher {
 public:
  explicit SignalWatcher(std::function<void(int)> on_signal) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this, on_signal] {
      for (int count = 1;; ++count) {
        int sig = 0;
        sigwait(&set_, &sig);
        if (done_) return;
        on_signal(count);
      }
    });
  }
  ~SignalWatcher() {
    done_ = true;
    pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
  }

 private:
  sigset_t set_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace

int Serve(const CommonOptions& opts, const ServeOptions& serve, std::ostream& out, std::ostream& err) {
  std::mutex print_mu;
  auto print = [&](std::ostream& to, const std::string& line) {
    std::lock_guard lock(print_mu);
    to << Stamp() << " " << line << std::endl;
  };
  Service* running = nullptr;  // guarded by running_mu, as is signals
  int signals = 0;
  std::mutex running_mu;
  // REQUIRES: running_mu held.
  auto apply_signals = [&] {
    if (!running || signals == 0) return;
    if (signals == 1) {
      print(err, "stopping: in-flight mutations finish (a second signal rolls them back now)");
      running->RequestStop();
    } else {
      print(err, "interrupting in-flight mutations: they roll back");
      running->Interrupt();
    }
  };
  // A signal before the service has started is kept and applied once it has.
  SignalWatcher watcher([&](int count) {
    std::lock_guard lock(running_mu);
    signals = count;
    apply_signals();
  });

  ServiceOptions so;
  so.project_dir = opts.project;
  so.workers = serve.workers;
  so.use_cache = opts.use_cache;
  so.poll_seconds = serve.poll_seconds;
  so.watch_seconds = serve.watch_seconds;
  so.watch_branch = serve.branch;
  so.grace_seconds = serve.grace_seconds;
  so.lease_seconds = serve.lease_seconds;
  if (SharedWarehouse(opts.project)) so.start_attempts = 6;  // about 15 s
  so.select = serve.select;
  if (!serve.shard.empty()) {
    auto shard = fleet::ParseShard(serve.shard);
    if (!shard.ok()) {
      err << "error: --shard: " << shard.error().message << "\n";
      return 2;
    }
    so.shard = *shard;
  }
  FixedClock fixed;
  if (opts.now) {
    fixed.Set(*opts.now);
    so.clock = &fixed;
  }
  // The health endpoint answers from the start (not ready while the project loads).
  health::FleetMetrics metrics;
  std::unique_ptr<health::HealthServer> health;
  if (serve.health_port >= 0) {
    health = std::make_unique<health::HealthServer>(&metrics);
    health::HealthOptions ho;
    ho.bind_address = serve.health_bind;
    ho.stale_after_seconds = std::max(30.0, serve.lease_seconds);
    auto port = health->Start(serve.health_port, ho);
    if (!port.ok()) {
      err << "error: --health-port " << serve.health_port << ": " << port.error().ToString() << "\n";
      return 1;
    }
    health->SetReady(false, "loading the project and opening the warehouse");
    print(out, fmt::format("health endpoint {}:{} (/healthz, /readyz, /metrics)", serve.health_bind, *port));
    so.metrics = &metrics;
    so.heartbeat = [h = health.get()](std::string_view loop) { h->Heartbeat(loop); };
  }
  auto service = Service::Start(so, [&](const ServiceEvent& e) {
    switch (e.kind) {
      case ServiceEvent::Kind::kFinished:
        if (health) metrics.RecordBuild(e.outcome.table, StepStatusName(e.outcome.status), e.outcome.seconds);
        if (auto line = OutcomeLine(e.outcome); !line.empty()) print(out, ReplaceAll(line, "\n", " "));
        break;
      case ServiceEvent::Kind::kReloaded:
        print(out, "reloaded the project: " + ReplaceAll(e.message, "\n", "; "));
        break;
      case ServiceEvent::Kind::kFollowing:
        print(out, e.message);
        break;
      case ServiceEvent::Kind::kRejected:
        print(err, "error: " + e.message);
        break;
      default:
        break;
    }
  });
  if (!service.ok()) {
    err << "error: " << service.error().ToString() << "\n";
    return 1;
  }
  Service* svc = service->get();
  // An embedded warehouse has one writing process: other commands run inside this one,
  // through the control endpoint. A shared one is opened by every command itself.
  std::unique_ptr<ControlServer> control;
  if (!svc->shared()) {
    auto started = ControlServer::Start(svc->options().project_dir, [svc](const std::vector<std::string>& args) {
      std::ostringstream o, e;
      int code = RunCli(args, o, e, svc);
      return CommandResult{code, o.str(), e.str()};
    });
    if (!started.ok()) {
      err << "error: " << started.error().ToString() << "\n";
      return 1;
    }
    control = std::move(*started);
  }
  {
    std::lock_guard lock(running_mu);
    running = svc;
    apply_signals();
  }
  if (health) health->SetReady(true);
  const std::vector<std::string> served = svc->Served();
  std::string serving = so.select.empty() && so.shard.count == 1 ? "every table"
                        : served.size() <= 5                     ? (served.empty() ? "no table" : Join(served, ", "))
                                              : fmt::format("{} tables", served.size());
  if (so.shard.count > 1) serving += fmt::format(" (shard {}/{})", so.shard.index, so.shard.count);
  if (control) {
    print(out, fmt::format("serving {} of {} with {} workers; control endpoint 127.0.0.1:{} (pid {})", serving,
                           svc->options().project_dir, svc->options().workers, control->port(), getpid()));
  } else {
    print(out, fmt::format("serving {} of {} with {} workers on a shared warehouse, as {} (pid {})", serving,
                           svc->options().project_dir, svc->options().workers, svc->owner(), getpid()));
  }
  svc->Wait();
  if (health) health->SetReady(false, svc->Failure() ? "stopped after an I/O error" : "stopping");
  // Stop answering before the warehouse closes. This waits for commands still running in
  // the service; a second signal interrupts them meanwhile.
  control.reset();
  {
    std::lock_guard lock(running_mu);
    running = nullptr;
  }
  std::optional<std::string> failure = svc->Failure();
  service->reset();
  if (failure) {
    print(err, "error: stopped after an I/O error: " + *failure);
    return 1;
  }
  print(out, "stopped");
  return 0;
}

int Update(const CommonOptions& opts, const std::string& table, bool once, const ServeOptions& serve,
           std::ostream& out, std::ostream& err) {
  const double poll_seconds = serve.poll_seconds;
  // On a server a long-running updater is a service, which type-checks (and retries a
  // warehouse that does not answer) itself: here only the name is looked up.
  const bool service = SharedWarehouse(opts.project) && !once;
  auto cp = CompileFor(opts, /*type_check=*/!service, err);
  if (!cp) return 1;
  const std::string name = ToLower(table);
  if (!cp->FindTable(name)) {
    if (const BrokenFile* b = cp->project.FindBroken(name)) {
      err << fmt::format("error: {} is defined in {}, which does not load: fix it (`derived validate`) first\n",
                         name, b->file);
      return 1;
    }
    err << fmt::format("error: unknown table '{}'\n", table);
    return 2;
  }
  if (service) {
    // Many processes share the warehouse: the table's updater is a service of one table,
    // under its lease, woken by its inputs' commits in other processes.
    ServeOptions one = serve;
    one.select = name;
    one.shard.clear();
    one.workers = 1;
    return Serve(opts, one, out, err);
  }
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;                 // guarded by mu, as is building
  Engine* building = nullptr;
  std::atomic<bool> cancel{false};
  // The first signal stops after the window being written commits; a second rolls it back.
  SignalWatcher watcher([&](int count) {
    std::lock_guard lock(mu);
    stop = true;
    cancel = true;
    if (count >= 2 && building) building->warehouse().Interrupt();
    cv.notify_all();
  });
  auto engine = Engine::Open(&*cp, opts.now ? *opts.now : SystemClock().Now());
  if (!engine.ok()) {
    err << "error: " << engine.error().ToString() << "\n";
    return 1;
  }
  (*engine)->SetCancel(&cancel);
  // On a shared warehouse: the step writes only under the table's lease.
  auto keeper = fleet::LeaseKeeper::Take((*engine)->warehouse(), {name}, {serve.lease_seconds, false, ""});
  if (!keeper.ok()) {
    err << "error: " << keeper.error().ToString() << "\n";
    return 1;
  }
  if (!(*keeper)->missing().empty()) {
    err << fmt::format("error: {} is updated by another process: {}; it is taken over when that lease expires, "
                       "which `derived update {}` without --once waits for\n",
                       name, (*keeper)->missing().front(), name);
    return 1;
  }
  if ((*keeper)->book()) (*engine)->metadata().SetFence((*keeper)->book());
  {
    std::lock_guard lock(mu);
    building = engine->get();
  }
  struct Forget {  // the watcher outlives the engine
    std::mutex& mu;
    Engine*& building;
    ~Forget() {
      std::lock_guard lock(mu);
      building = nullptr;
    }
  } forget{mu, building};
  int code = 0;
  for (;;) {
    (*engine)->SetNow(opts.now ? *opts.now : SystemClock().Now());
    if (auto st = (*engine)->LoadSources(); !st.ok()) {
      err << "error: " << st.error().ToString() << "\n";
      return 1;
    }
    TableOutcome o = (*engine)->Step(name, nullptr);
    std::string line = OutcomeLine(o);
    out << Stamp() << " " << (line.empty() ? fmt::format("{:<8} {}  {}", StepStatusName(o.status), o.table, o.detail) : line)
        << std::endl;
    code = o.failed() ? 1 : 0;
    if (once) break;
    std::unique_lock lock(mu);
    if (cv.wait_for(lock, std::chrono::duration<double>(poll_seconds), [&] { return stop; })) break;
  }
  return code;
}

}  // namespace derived::cli
