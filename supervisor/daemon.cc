#include "supervisor/daemon.h"

#include <fcntl.h>
#include <sys/file.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <csignal>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "common/files.h"
#include "supervisor/cgroup_setup.h"
#include "supervisor/recovery_signals.h"

namespace corral::supervisor {

namespace asio = boost::asio;

Result<UniqueFd> take_lock(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd) return sys_error("cannot open lock file " + path);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      char buf[32] = {};
      ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
      std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "unknown";
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      return make_error(Code::kAlreadyExists, "another corrald (pid " + holder + ") holds " + path +
                                                  "; use a different --runtime-dir");
    }
    return sys_error("cannot lock " + path);
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) != 0) return sys_error("cannot truncate " + path);
  if (::pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return sys_error("cannot write " + path);
  }
  return fd;
}

Daemon::Daemon(DaemonConfig config) : config_(std::move(config)), signals_(io_), watchdog_(io_) {}

Daemon::~Daemon() {
  server_.reset();
  router_.reset();
  plugins_.reset();    // every plugin's cgroup is gone after this
  telemetry_.reset();  // its BPF programs detach from the parent cgroup before it goes
  if (cgroups_) {
    if (auto r = cgroups_->remove_parent(); !r) {
      spdlog::warn("cgroup: cannot remove the parent: {}", r.error().describe());
    }
  }
}

Result<std::unique_ptr<Daemon>> Daemon::create(DaemonConfig config) {
  auto d = std::unique_ptr<Daemon>(new Daemon(std::move(config)));
  if (auto r = d->init(); !r) return std::unexpected(r.error());
  return d;
}

Result<void> Daemon::init() {
  if (auto r = make_dirs(config_.runtime_dir, 0755); !r) return r;
  auto lock = take_lock(config_.runtime_dir + "/corrald.lock");
  if (!lock) return std::unexpected(lock.error());
  lock_ = std::move(*lock);
  std::string log_dir = config_.state_dir + "/logs";
  if (auto r = make_dirs(log_dir, 0750); !r) return r;

  auto auth = Authorizer::create(config_);
  if (!auth) return std::unexpected(auth.error());
  auth_ = std::move(*auth);

  auto store = StoreService::open(io_, config_.state_dir);
  if (!store) return std::unexpected(store.error());
  store_ = std::move(*store);

  auto set = load_manifests(config_.plugins_dir);
  if (!set) return std::unexpected(set.error());
  for (const auto& p : set->problems) spdlog::error("manifest rejected: {}", p);

  auto cgroups = setup_cgroups(config_);
  if (!cgroups) return std::unexpected(cgroups.error().wrap("setting up cgroups"));
  cgroups_ = std::move(*cgroups);
  spdlog::info("cgroup: {}", cgroups_ ? std::string(cgroups_->kind()) + ", plugins under \"" +
                                            config_.cgroup_parent + "\""
                                      : std::string("not used"));
  ids_ = std::make_unique<IdAllocator>(config_.id_base, config_.id_count, config_.id_slots);
  if (config_.telemetry != DaemonConfig::TelemetryMode::kOff) {
    std::string v2_parent;
    if (cgroups_) {
      auto parent = cgroups_->v2_parent();
      if (parent) {
        v2_parent = *parent;
      } else {
        spdlog::warn("telemetry: no cgroup2 parent for the network programs: {}",
                     parent.error().describe());
      }
    }
    telemetry_ = TelemetryService::create(
        io_, config_.telemetry, std::chrono::milliseconds(config_.telemetry_interval_ms),
        std::chrono::milliseconds(config_.telemetry_watch_interval_ms), v2_parent);
  }
  events_ = std::make_unique<recovery::RecoveryLog>();
  // Numbering continues where the store's events end; every event is kept there (Subscribe).
  events_->resume_after(store_->stored_event_seq());
  events_->add_listener([this](const recovery::RecoveryEvent& e) { store_->keep_event(e); });
  plugins_ = std::make_unique<PluginManager>(
      io_, launcher_, SteadyClock::instance(), log_dir, cgroups_.get(),
      SandboxHost{ids_.get(), config_.state_dir + "/plugins", telemetry_.get(), events_.get(),
                  store_.get(), config_.runtime_dir + "/runs"});
  if (telemetry_) {
    // Violations and samples reach each plugin's recovery after the telemetry pass that
    // produced them (recovery may end runs).
    telemetry_->add_listener([this](const TelemetryEvent& ev) {
      auto sig = recovery_signal_of(ev);
      boost::asio::post(io_, [this, name = ev.plugin, sig = std::move(sig)]() mutable {
        if (Plugin* p = plugins_ ? plugins_->find(name) : nullptr) p->signal(std::move(sig));
      });
    });
    telemetry_->add_sample_listener([this](const std::string& name, const collectors::Sample& s) {
      if (Plugin* p = plugins_->find(name)) p->on_sample(s);
    });
  }
  for (auto& m : set->manifests) plugins_->add(std::move(m));
  spdlog::info("loaded {} plugin manifest(s) from {} ({} rejected)", plugins_->size(),
               config_.plugins_dir, set->problems.size());
  if (auto r = store_->reconcile(*plugins_); !r) return r;
  // Crash-only: the runs a killed corrald left are adopted where they are still the recorded
  // ones; every other sandbox under the cgroup parent is reaped before any plugin starts.
  if (auto r = store_->adopt_runs(*plugins_, cgroups_.get()); !r) return r;
  // Recovery's actions are audited, and what must outlive corrald (quarantine, escalation,
  // breaker trips) is journaled, as they happen.
  events_->add_listener([this](const recovery::RecoveryEvent& e) {
    if (store_ && plugins_) store_->on_recovery_event(e, *plugins_);
  });

  std::map<std::string, std::string> features = {
      {"launcher", std::string(launcher_.name())},
      {"logs.follow", "1"},
      {"cgroup", cgroups_ ? std::string(cgroups_->kind()) : std::string("none")},
      {"sandbox", "namespaces"},
  };
  router_ = std::make_unique<Router>(io_, *plugins_, config_.max_frame_bytes, std::move(features));
  router_->set_telemetry(telemetry_.get());
  router_->set_recovery_log(events_.get());
  router_->set_store(store_.get());
  router_->set_authorizer(auth_.get());
  router_->set_subscriber_budget(config_.subscriber_buffer_bytes);
  router_->set_limits({std::chrono::milliseconds(config_.frame_timeout_ms),
                       std::chrono::milliseconds(config_.idle_timeout_ms)});
  router_->set_run_limits(config_.max_runs_per_uid,
                          std::chrono::milliseconds(config_.run_retention_ms));
  auto server = ControlServer::create(io_, config_, *router_);
  if (!server) return std::unexpected(server.error());
  server_ = std::move(*server);
  server_->set_authorizer(auth_.get());
  return {};
}

int Daemon::run() {
  signals_.add(SIGTERM);
  signals_.add(SIGINT);
  signals_.add(SIGHUP);
  signals_.add(SIGUSR2);
  std::function<void()> wait_signal;
  wait_signal = [this, &wait_signal] {
    signals_.async_wait([this, &wait_signal](boost::system::error_code ec, int signo) {
      if (ec) return;
      on_signal(signo);
      wait_signal();
    });
  };
  wait_signal();

  server_->start();
  store_->start_wanted(*plugins_);
  store_->start_checkpoints();

  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_interval_ = std::chrono::microseconds(usec / 2);
    arm_watchdog();
  }
  int rc = sd_notifyf(0, "READY=1\nSTATUS=supervising %zu plugin(s)\nMAINPID=%d", plugins_->size(),
                      static_cast<int>(::getpid()));
  if (rc < 0) spdlog::warn("sd_notify(READY=1) failed: {}", std::strerror(-rc));
  spdlog::info("corrald ready (pid {}, {} plugin(s))", ::getpid(), plugins_->size());

  io_.run();
  // Teardown from here on: asio restores SIG_DFL when the signal_set goes away, so a repeated
  // SIGTERM would now kill us with a failure status. Keep such signals pending until exit.
  sigset_t late;
  sigemptyset(&late);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&late, sig);
  if (::sigprocmask(SIG_BLOCK, &late, nullptr) != 0) {
    spdlog::warn("cannot block signals for shutdown: {}", std::strerror(errno));
  }
  spdlog::info("corrald stopped");
  return 0;
}

void Daemon::arm_watchdog() {
  (void)sd_notify(0, "WATCHDOG=1");
  watchdog_.expires_after(watchdog_interval_);
  watchdog_.async_wait([this](boost::system::error_code ec) {
    if (!ec) arm_watchdog();
  });
}

void Daemon::on_signal(int signo) {
  if (signo == SIGHUP) {
    spdlog::warn("SIGHUP: reloading manifests is not supported yet; ignoring");
    return;
  }
  if (signo == SIGUSR2) return detach();
  shutdown(signo == SIGTERM ? "SIGTERM" : "SIGINT");
}

void Daemon::detach() {
  // An upgrade or a restart of corrald alone: its plugins keep running and the next corrald
  // adopts them. Everything durable is written first; then corrald exits without running a
  // destructor, as a crash would, so that nothing of theirs is stopped or removed.
  spdlog::warn("SIGUSR2: exiting and leaving {} plugin(s) running; the next corrald adopts them",
               plugins_->size());
  (void)sd_notify(0, "STOPPING=1");
  router_->set_draining();
  server_->shutdown();
  store_->stop();
  spdlog::shutdown();  // flushes the log
  ::_exit(0);
}

void Daemon::shutdown(const char* why) {
  if (stopping_) {
    spdlog::info("{} again: already stopping plugins", why);
    return;
  }
  stopping_ = true;
  spdlog::info("{}: stopping {} plugin(s)", why, plugins_->size());
  (void)sd_notify(0, "STOPPING=1");
  router_->set_draining();
  server_->shutdown();
  plugins_->stop_all([this] {
    if (telemetry_) telemetry_->stop();
    store_->stop();
    signals_.cancel();
    watchdog_.cancel();
    io_.stop();
  });
}

}  // namespace corral::supervisor
