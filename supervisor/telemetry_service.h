// TelemetryService: corrald's view of every running plugin through the collectors. It tracks
// each run's cgroup (RunObserver), installs its network allow-list before the program starts,
// samples every run each interval, evaluates the manifest's [thresholds] on every sample and on
// every kernel event (an OOM kill, a denied connect) as it arrives, reads the level metrics of
// runs with such thresholds (fds, sockets, memory, forks) every watch interval as well, and keeps
// the result for `corralctl stats` and `top`. All methods run on the event loop.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "collectors/bpf_net_collector.h"
#include "collectors/telemetry_hub.h"
#include "corral/v1/control.pb.h"
#include "supervisor/config.h"
#include "supervisor/run_observer.h"
#include "supervisor/thresholds.h"

namespace corral::supervisor {

// One violation or notable kernel event, as corrald records it (newest last).
struct TelemetryEvent {
  uint64_t seq = 0;
  int64_t at_unix_ms = 0;
  int64_t at_ns = 0;        // CLOCK_MONOTONIC, when the kernel (or the sample) saw it
  int64_t recorded_ns = 0;  // CLOCK_MONOTONIC, when corrald recorded it
  std::string plugin;
  Violation violation;
  std::string detail;  // the kernel event's own detail ("pid 4242 comm python3", "10.0.0.1:443")
};

class TelemetryService final : public RunObserver {
 public:
  // Called for every violation as it is recorded (corrald's log, later the breakers).
  using Listener = std::function<void(const TelemetryEvent&)>;

  // Builds the collectors this host supports (BPF first unless mode is kFallback); `v2_parent`
  // is the cgroup2 directory above every plugin's node ("" when none: no network programs).
  // `watch` is the watch interval (0: none).
  [[nodiscard]] static std::unique_ptr<TelemetryService> create(boost::asio::io_context& io,
                                                                DaemonConfig::TelemetryMode mode,
                                                                std::chrono::milliseconds interval,
                                                                std::chrono::milliseconds watch,
                                                                const std::string& v2_parent);
  // For tests: a hub assembled by the caller (and an optional enforcer among its collectors).
  TelemetryService(boost::asio::io_context& io, std::unique_ptr<collectors::TelemetryHub> hub,
                   collectors::BpfNetCollector* net, std::chrono::milliseconds interval,
                   std::chrono::milliseconds watch = std::chrono::milliseconds(5));
  ~TelemetryService() override;

  Result<void> run_starting(const std::string& plugin, const Manifest& manifest,
                            sandbox::Cgroup& cgroup) override;
  void run_started(const std::string& plugin, sandbox::Cgroup& cgroup) override;
  void run_ended(const std::string& plugin) override;
  Result<void> cut_network(const std::string& plugin, bool cut) override;
  // Called with each new sample of a run (recovery's leak trends).
  using SampleListener = std::function<void(const std::string&, const collectors::Sample&)>;
  void add_sample_listener(SampleListener l) { sample_listeners_.push_back(std::move(l)); }

  void add_listener(Listener l) { listeners_.push_back(std::move(l)); }
  // Samples every run now (the timer does it each interval).
  void sample_now();
  // Reads the watched metrics of every watched run now (the watch timer does it each watch
  // interval while there is one).
  void watch_now();
  void stop();

  // The latest stats of one plugin's current run; false when it has none.
  bool fill_stats(const std::string& plugin, v1::PluginStats& out) const;
  // `doctor`: which source feeds each metric, what could not be used and why.
  void fill_doctor(v1::DoctorResponse& out) const;
  [[nodiscard]] const std::deque<TelemetryEvent>& events() const { return events_; }
  [[nodiscard]] const collectors::TelemetryHub& hub() const { return *hub_; }
  [[nodiscard]] std::chrono::milliseconds interval() const { return interval_; }

 private:
  struct Run {
    collectors::Target target;
    ThresholdMonitor monitor;
    std::optional<collectors::Sample> prev, last;
    bool policed = false;
    bool tracked = false;               // from run_started on
    std::string policy;                 // the allow-list as text, when policed
    uint64_t events = 0;                // kernel events attributed to this run
    std::deque<TelemetryEvent> recent;  // its last violations
    ThresholdMask watched = 0;          // metrics the watch evaluates (and sample_now does not)
    // The watch's (time, forks so far) of the last second and a bit: forks in the trailing
    // second.
    std::deque<std::pair<int64_t, uint64_t>> forks_seen;
    std::optional<collectors::NetPolicy> net_policy;  // the manifest's allow-list
    bool cut = false;                                 // recovery cut its network
  };

  void arm_timer();
  void arm_watch_timer();
  void watch_events();
  void arm_watch(boost::asio::posix::stream_descriptor* watch);
  void on_events();
  void record(Run& run, const std::string& plugin, Violation v, std::string detail);
  Run* find_by_cgroup(uint64_t id, const std::string& target_name, std::string* plugin);

  boost::asio::io_context& io_;
  std::unique_ptr<collectors::TelemetryHub> hub_;
  collectors::BpfNetCollector* net_;  // owned by hub_; null when there is none
  std::chrono::milliseconds interval_;
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds watch_interval_;
  boost::asio::steady_timer watch_timer_;
  bool watch_armed_ = false;
  uint64_t watch_passes_ = 0;
  int64_t watch_ns_ = 0;  // time spent in watch passes, in all
  int64_t last_pass_ns_ = 0;
  std::vector<std::unique_ptr<boost::asio::posix::stream_descriptor>> event_watches_;
  std::map<std::string, Run, std::less<>> runs_;
  std::unordered_map<uint64_t, std::string> by_cgroup_;  // v2 cgroup id -> the run's plugin
  std::deque<TelemetryEvent> events_;                    // the last kEventLog, every plugin
  std::vector<Listener> listeners_;
  std::vector<SampleListener> sample_listeners_;
  uint64_t seq_ = 0;
  uint64_t unattributed_ = 0;  // events whose cgroup is no run of ours (a run just ended)
  bool stopped_ = false;
};

}  // namespace corral::supervisor
