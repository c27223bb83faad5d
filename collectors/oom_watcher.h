// OomWatcher: OOM kills as events without BPF (EventKind::kOomKill, Source::kCgroupEvents, pid
// and RSS unknown: 0). v2: inotify IN_MODIFY on each target's memory.events; v1: an eventfd
// registered through cgroup.event_control on memory.oom_control. On either wakeup the oom_kill
// counter is re-read and one event is emitted per increment. One epoll fd (event_fd()) covers
// the inotify fd, every eventfd and a retry timer: v1 notifies when the OOM starts, before the
// kill is counted, so the counter is re-read every 1 ms for up to 2 s after a notification.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "collectors/telemetry.h"
#include "common/unique_fd.h"

namespace corral::collectors {

class OomWatcher final : public Collector {
 public:
  // Fails when inotify, epoll or timerfd cannot be created.
  [[nodiscard]] static Result<std::unique_ptr<OomWatcher>> create();

  [[nodiscard]] std::string_view name() const override { return "oom-watcher"; }
  [[nodiscard]] Source source() const override { return Source::kCgroupEvents; }
  [[nodiscard]] MetricSet metrics() const override { return {Metric::kOom}; }
  // Needs the target's memory.events (v2) or memory.oom_control (v1); tracking twice is an error.
  [[nodiscard]] Result<void> track(const Target& t) override;
  void untrack(const Target& t) override;
  // kOom: the kills counted since track() (as of the last drain or this call's re-read).
  [[nodiscard]] Result<void> sample(std::span<const Target* const> targets,
                                    std::span<Sample* const> out, MetricSet which) override;
  [[nodiscard]] int event_fd() const override { return epoll_.get(); }
  void drain_events(std::vector<Event>& out) override;
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> describe() const override;

 private:
  struct Watch {
    Target target;
    std::string counter_file;  // memory.events or memory.oom_control
    int wd = -1;               // v2: the inotify watch
    UniqueFd eventfd;          // v1: registered with cgroup.event_control
    uint64_t baseline = 0;     // oom_kill at track()
    uint64_t seen = 0;         // oom_kill at the last read
    int retries = 0;           // v1: timer re-reads left after a notification
    bool force = false;        // re-read at the next drain (kills before track(), fresh cgroup)
  };
  OomWatcher(UniqueFd epoll, UniqueFd inotify, UniqueFd timer)
      : epoll_(std::move(epoll)), inotify_(std::move(inotify)), timer_(std::move(timer)) {}
  Result<void> watch_v2(Watch& w);
  Result<void> watch_v1(Watch& w, uint64_t key);
  // Re-reads w's counter and appends one event per new kill.
  void check(Watch& w, std::vector<Event>& out);
  void arm_timer(bool on);

  UniqueFd epoll_;
  UniqueFd inotify_;
  UniqueFd timer_;
  bool timer_armed_ = false;
  uint64_t next_key_ = 2;              // epoll keys: 0 inotify, 1 timer, then one per v1 watch
  std::map<uint64_t, Watch> watches_;  // by key
  uint64_t read_errors_ = 0;
};

}  // namespace corral::collectors
