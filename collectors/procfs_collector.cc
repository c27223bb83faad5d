// ProcfsCollector: fd counts and schedstat sums over a target's processes; see the header.
#include "collectors/procfs_collector.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collectors/parsers.h"
#include "collectors/proc_dir.h"
#include "collectors/target_files.h"
#include "common/files.h"
#include "common/unique_fd.h"

namespace corral::collectors {

namespace {

std::string proc_path(pid_t pid, std::string_view rest) {
  return "/proc/" + std::to_string(pid) + std::string(rest);
}

// Reads a small file relative to dirfd; nullopt when it is gone.
Result<std::optional<std::string>> read_at(int dirfd, const std::string& rel) {
  UniqueFd fd(::openat(dirfd, rel.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (vanished(errno)) return std::optional<std::string>();
    return sys_error("cannot open " + rel);
  }
  char buf[256];
  ssize_t n;
  do {
    n = ::read(fd.get(), buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (vanished(errno)) return std::optional<std::string>();
    return sys_error("cannot read " + rel);
  }
  return std::optional<std::string>(std::string(buf, static_cast<size_t>(n)));
}

}  // namespace

Result<std::optional<uint64_t>> count_fds(pid_t pid, FdCounting how) {
  std::string dir = proc_path(pid, "/fd");
  if (how == FdCounting::kStat) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
      if (vanished(errno)) return std::optional<uint64_t>();
      return sys_error("cannot stat " + dir);
    }
    return std::optional<uint64_t>(static_cast<uint64_t>(st.st_size));
  }
  uint64_t n = 0;
  auto listed = for_each_entry(dir, [&](std::string_view, int) { ++n; });
  if (!listed) return std::unexpected(listed.error());
  if (*listed == Listed::kGone) return std::optional<uint64_t>();
  return std::optional<uint64_t>(n);
}

Result<bool> add_schedstat(pid_t pid, SchedStats& out) {
  SchedStats sum;
  Result<void> failed;
  auto listed = for_each_entry(proc_path(pid, "/task"), [&](std::string_view tid, int dirfd) {
    if (!failed) return;
    auto text = read_at(dirfd, std::string(tid) + "/schedstat");
    if (!text) {
      failed = std::unexpected(text.error());
      return;
    }
    if (!*text) return;  // the thread exited
    auto s = parsers::schedstat(**text);
    if (!s) {
      failed = make_error(Code::kInternal, "unparsable schedstat of task " + std::string(tid));
      return;
    }
    sum.oncpu_ns += s->oncpu_ns;
    sum.runq_wait_ns += s->runq_wait_ns;
    sum.runq_waits += s->timeslices;  // each timeslice ends one run-queue wait
  });
  if (!listed) return std::unexpected(listed.error());
  if (!failed) return std::unexpected(failed.error());
  if (*listed == Listed::kGone) return false;
  out.oncpu_ns += sum.oncpu_ns;
  out.runq_wait_ns += sum.runq_wait_ns;
  out.runq_waits += sum.runq_waits;
  return true;
}

Result<std::unique_ptr<ProcfsCollector>> ProcfsCollector::create() {
  // Probe fd counting with one fd we know is open.
  UniqueFd probe(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!probe) return sys_error("procfs collector: cannot open /dev/null");
  auto by_stat = count_fds(::getpid(), FdCounting::kStat);
  auto by_list = count_fds(::getpid(), FdCounting::kGetdents);
  if (!by_list) return std::unexpected(by_list.error().wrap("procfs collector"));
  if (!*by_list || **by_list == 0) {
    return make_error(Code::kFailedPrecondition, "procfs collector: /proc/self/fd lists nothing");
  }
  FdCounting how = by_stat && *by_stat && **by_stat > 0 ? FdCounting::kStat : FdCounting::kGetdents;
  MetricSet m{Metric::kFds};
  SchedStats self;
  if (auto s = add_schedstat(::getpid(), self); s && *s) m.add(Metric::kSched);
  return std::unique_ptr<ProcfsCollector>(new ProcfsCollector(m, how));
}

Result<void> ProcfsCollector::sample(std::span<const Target* const> targets,
                                     std::span<Sample* const> out, MetricSet which) {
  if (targets.size() != out.size()) {
    return make_error(Code::kInvalidArgument, "procfs: targets and samples differ in number");
  }
  bool fds = which.has(Metric::kFds) && metrics_.has(Metric::kFds);
  bool sched = which.has(Metric::kSched) && metrics_.has(Metric::kSched);
  if (!fds && !sched) return {};
  for (size_t i = 0; i < targets.size(); ++i) {
    const Target& t = *targets[i];
    Sample& s = *out[i];
    auto fail = [&](const Error& e) { return std::unexpected(e.wrap("procfs: " + t.name)); };
    auto pids = target_procs(t);
    if (!pids) return fail(pids.error());
    FdStats fd_sum;
    SchedStats sched_sum;
    for (pid_t pid : *pids) {
      if (fds) {
        auto n = count_fds(pid, counting_);
        if (!n) return fail(n.error());
        fd_sum.open += n->value_or(0);
      }
      if (sched) {
        if (auto r = add_schedstat(pid, sched_sum); !r) return fail(r.error());
      }
    }
    if (fds) {
      s.fds = fd_sum;
      s.set_source(Metric::kFds, Source::kProcfs);
    }
    if (sched) {
      s.sched = sched_sum;
      s.set_source(Metric::kSched, Source::kProcfs);
    }
    if (s.at_ns == 0) s.at_ns = monotonic_ns();
  }
  return {};
}

std::vector<std::pair<std::string, std::string>> ProcfsCollector::describe() const {
  std::vector<std::pair<std::string, std::string>> d;
  d.emplace_back("fds", counting_ == FdCounting::kStat ? "procfs: st_size of /proc/<pid>/fd"
                                                       : "procfs: getdents64 of /proc/<pid>/fd");
  if (metrics_.has(Metric::kSched)) {
    d.emplace_back("sched", "procfs: /proc/<pid>/task/<tid>/schedstat of live tasks");
  }
  return d;
}

}  // namespace corral::collectors
