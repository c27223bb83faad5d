// OomWatcher: inotify/eventfd wakeups turned into kOomKill events; see the header.
#include "collectors/oom_watcher.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cstring>

#include "collectors/parsers.h"
#include "collectors/target_files.h"
#include "common/files.h"

namespace corral::collectors {

namespace {

constexpr uint64_t kInotifyKey = 0;
constexpr uint64_t kTimerKey = 1;
// v1 notifies before the kill is counted: the counter is re-read every millisecond for up to 2 s
// after a notification (a 10 ms cadence put the event's p99 at 10.1 ms; the timer only runs
// while a notification is pending).
constexpr int kRetries = 2000;  // x 1 ms
constexpr long kRetryNs = 1'000'000;

Result<uint64_t> read_kills(const std::string& file) {
  auto kv = read_key_values(file);
  if (!kv) return std::unexpected(kv.error());
  return parsers::get(*kv, "oom_kill");
}

Result<void> epoll_add(int epfd, int fd, uint64_t key) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = key;
  if (::epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) return sys_error("epoll_ctl(ADD)");
  return {};
}

}  // namespace

Result<std::unique_ptr<OomWatcher>> OomWatcher::create() {
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) return sys_error("oom watcher: epoll_create1");
  UniqueFd in(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!in) return sys_error("oom watcher: inotify_init1");
  UniqueFd tm(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!tm) return sys_error("oom watcher: timerfd_create");
  if (auto r = epoll_add(ep.get(), in.get(), kInotifyKey); !r) return std::unexpected(r.error());
  if (auto r = epoll_add(ep.get(), tm.get(), kTimerKey); !r) return std::unexpected(r.error());
  return std::unique_ptr<OomWatcher>(new OomWatcher(std::move(ep), std::move(in), std::move(tm)));
}

Result<void> OomWatcher::watch_v2(Watch& w) {
  w.wd = ::inotify_add_watch(inotify_.get(), w.counter_file.c_str(), IN_MODIFY);
  if (w.wd < 0) return sys_error("inotify_add_watch " + w.counter_file);
  return {};
}

Result<void> OomWatcher::watch_v1(Watch& w, uint64_t key) {
  const std::string& dir = w.target.memory_dir;
  w.eventfd = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!w.eventfd) return sys_error("eventfd");
  UniqueFd control(::open(w.counter_file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!control) return sys_error("cannot open " + w.counter_file);
  // The registration keeps the eventfd; closing it unregisters. The control fd may go.
  std::string line = std::to_string(w.eventfd.get()) + " " + std::to_string(control.get());
  if (auto r = write_file(dir + "/cgroup.event_control", line); !r) return r;
  return epoll_add(epoll_.get(), w.eventfd.get(), key);
}

Result<void> OomWatcher::track(const Target& t) {
  for (const auto& [key, w] : watches_) {
    if (w.target.name == t.name) {
      return make_error(Code::kAlreadyExists, "oom watcher: " + t.name + " is already tracked");
    }
  }
  Watch w;
  w.target = t;
  bool v2 = t.v2_only || (t.memory_dir.empty() && !t.v2_dir.empty());
  if (!v2 && t.memory_dir.empty()) {
    return make_error(Code::kFailedPrecondition,
                      "oom watcher: " + t.name + " has no memory cgroup");
  }
  w.counter_file = v2 ? t.v2_dir + "/memory.events" : t.memory_dir + "/memory.oom_control";
  auto kills = read_kills(w.counter_file);
  if (!kills) return std::unexpected(kills.error().wrap("oom watcher: " + t.name));
  w.baseline = w.seen = *kills;
  if (t.fresh) {
    // A new cgroup's counter was 0: kills already counted are this run's, reported next drain.
    w.baseline = w.seen = 0;
    w.force = *kills > 0;
  }
  uint64_t key = next_key_++;
  auto r = v2 ? watch_v2(w) : watch_v1(w, key);
  if (!r) {
    if (w.wd >= 0) (void)::inotify_rm_watch(inotify_.get(), w.wd);
    return std::unexpected(r.error().wrap("oom watcher: " + t.name));
  }
  const bool force = w.force;
  watches_.emplace(key, std::move(w));
  if (force) arm_timer(true);  // wakes the event loop, whose drain reports them
  return {};
}

void OomWatcher::untrack(const Target& t) {
  for (auto it = watches_.begin(); it != watches_.end(); ++it) {
    if (it->second.target.name != t.name) continue;
    Watch& w = it->second;
    // The watch may already be gone with its cgroup (IN_IGNORED): EINVAL is expected then.
    if (w.wd >= 0) (void)::inotify_rm_watch(inotify_.get(), w.wd);
    if (w.eventfd) (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, w.eventfd.get(), nullptr);
    watches_.erase(it);
    return;
  }
}

void OomWatcher::check(Watch& w, std::vector<Event>& out) {
  auto kills = read_kills(w.counter_file);
  if (!kills) {
    ++read_errors_;  // the cgroup is going away; untrack() follows
    w.retries = 0;
    return;
  }
  if (*kills <= w.seen) return;
  int64_t now = monotonic_ns();
  for (uint64_t k = w.seen; k < *kills; ++k) {
    Event e;
    e.kind = EventKind::kOomKill;
    e.source = Source::kCgroupEvents;
    e.cgroup_id = w.target.cgroup_id;
    e.target = w.target.name;
    e.at_ns = now;
    out.push_back(std::move(e));
  }
  w.seen = *kills;
  w.retries = 0;
}

void OomWatcher::arm_timer(bool on) {
  if (on == timer_armed_) return;
  itimerspec spec{};
  if (on) spec.it_value.tv_nsec = spec.it_interval.tv_nsec = kRetryNs;
  // Only EINVAL/EBADF can fail here, both programming errors; stay disarmed-safe either way.
  timer_armed_ = ::timerfd_settime(timer_.get(), 0, &spec, nullptr) == 0 && on;
}

void OomWatcher::drain_events(std::vector<Event>& out) {
  epoll_event evs[32];
  bool any_inotify = false;
  bool tick = false;
  for (;;) {
    int n = ::epoll_wait(epoll_.get(), evs, 32, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (int i = 0; i < n; ++i) {
      uint64_t key = evs[i].data.u64;
      if (key == kInotifyKey) {
        alignas(inotify_event) char buf[4096];
        while (::read(inotify_.get(), buf, sizeof buf) > 0) {
        }
        any_inotify = true;
      } else if (key == kTimerKey) {
        uint64_t expirations;
        if (::read(timer_.get(), &expirations, sizeof expirations) > 0) tick = true;
      } else if (auto it = watches_.find(key); it != watches_.end()) {
        uint64_t count;
        if (::read(it->second.eventfd.get(), &count, sizeof count) > 0) {
          it->second.retries = kRetries;
        }
      }
    }
    if (n < 32) break;
  }
  // Re-read every counter the wakeups may concern: all v2 files on an inotify wakeup (cheap,
  // and robust to coalesced events), the v1 ones with a pending notification.
  bool pending = false;
  for (auto& [key, w] : watches_) {
    bool v2 = w.wd >= 0;
    if ((v2 && any_inotify) || (!v2 && w.retries > 0) || w.force) check(w, out);
    w.force = false;
    if (!v2 && w.retries > 0 && tick) --w.retries;
    pending = pending || w.retries > 0;
  }
  arm_timer(pending);
}

Result<void> OomWatcher::sample(std::span<const Target* const> targets,
                                std::span<Sample* const> out, MetricSet which) {
  if (targets.size() != out.size()) {
    return make_error(Code::kInvalidArgument, "oom watcher: targets and samples differ in number");
  }
  if (!which.has(Metric::kOom)) return {};
  for (size_t i = 0; i < targets.size(); ++i) {
    for (auto& [key, w] : watches_) {
      if (w.target.name != targets[i]->name) continue;
      auto kills = read_kills(w.counter_file);
      if (!kills) return std::unexpected(kills.error().wrap("oom watcher: " + w.target.name));
      out[i]->oom.kills = *kills >= w.baseline ? *kills - w.baseline : 0;
      out[i]->set_source(Metric::kOom, Source::kCgroupEvents);
      if (out[i]->at_ns == 0) out[i]->at_ns = monotonic_ns();
    }
  }
  return {};
}

std::vector<std::pair<std::string, std::string>> OomWatcher::describe() const {
  size_t v1 = 0;
  for (const auto& [key, w] : watches_) v1 += w.wd < 0 ? 1 : 0;
  return {{"oom",
           "cgroup events: inotify on memory.events (v2), eventfd on memory.oom_control "
           "(v1)"},
          {"oom targets v2", std::to_string(watches_.size() - v1)},
          {"oom targets v1", std::to_string(v1)},
          {"oom read errors", std::to_string(read_errors_)}};
}

}  // namespace corral::collectors
