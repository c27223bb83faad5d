// TelemetryHub with scripted collectors: which collector feeds which group, falling back when
// one fails, events only from the feeder, and targets handed to a collector that takes over.
#include <gtest/gtest.h>

#include "collectors/telemetry_hub.h"

namespace corral::collectors {
namespace {

struct Script {
  std::vector<std::string> tracked;
  int samples = 0;
  bool fail_sample = false;
  bool fail_track = false;
  std::vector<Event> events;
};

class FakeCollector final : public Collector {
 public:
  FakeCollector(std::string name, Source src, MetricSet ms, Script* script)
      : name_(std::move(name)), src_(src), ms_(ms), s_(script) {}
  std::string_view name() const override { return name_; }
  Source source() const override { return src_; }
  MetricSet metrics() const override { return ms_; }
  Result<void> track(const Target& t) override {
    if (s_->fail_track) return make_error(Code::kInternal, "no map space");
    s_->tracked.push_back(t.name);
    return {};
  }
  void untrack(const Target& t) override { std::erase(s_->tracked, t.name); }
  Result<void> sample(std::span<const Target* const> targets, std::span<Sample* const> out,
                      MetricSet which) override {
    ++s_->samples;
    if (s_->fail_sample) return make_error(Code::kInternal, "map read failed");
    for (size_t i = 0; i < targets.size(); ++i) {
      if (which.has(Metric::kCpu)) {
        out[i]->cpu.usage_ns = src_ == Source::kBpf ? 1 : 2;
        out[i]->set_source(Metric::kCpu, src_);
      }
      if (which.has(Metric::kFds)) {
        out[i]->fds.open = 7;
        out[i]->set_source(Metric::kFds, src_);
      }
    }
    return {};
  }
  void drain_events(std::vector<Event>& out) override {
    for (auto& e : s_->events) out.push_back(e);
    s_->events.clear();
  }

 private:
  std::string name_;
  Source src_;
  MetricSet ms_;
  Script* s_;
};

Target target(std::string name) {
  Target t;
  t.name = std::move(name);
  return t;
}

// corrald's watch asks for a few groups: only their feeders are asked, the rest stay unfed.
TEST(TelemetryHub, SamplingSomeGroupsAsksOnlyTheirFeeders) {
  Script bpf, fs;
  TelemetryHub hub;
  hub.add(std::make_unique<FakeCollector>("bpf", Source::kBpf, MetricSet{Metric::kCpu}, &bpf));
  hub.add(std::make_unique<FakeCollector>("fs", Source::kCgroupfs, MetricSet{Metric::kFds}, &fs));
  Target a = target("a");
  hub.track(a);
  const Target* ts[] = {&a};
  auto s = hub.sample(ts, MetricSet{Metric::kFds});
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(bpf.samples, 0);
  EXPECT_EQ(fs.samples, 1);
  EXPECT_EQ(s[0].fds.open, 7u);
  EXPECT_EQ(s[0].source_of(Metric::kCpu), Source::kNone);
  EXPECT_NE(s[0].at_ns, 0);
  (void)hub.sample(ts);
  EXPECT_EQ(bpf.samples, 1);
  EXPECT_EQ(fs.samples, 2);
}

TEST(TelemetryHub, TheFirstCollectorThatProvidesAGroupFeedsIt) {
  Script bpf, fs;
  TelemetryHub hub;
  hub.add(std::make_unique<FakeCollector>("bpf", Source::kBpf, MetricSet{Metric::kCpu}, &bpf));
  hub.add(std::make_unique<FakeCollector>("fs", Source::kCgroupfs,
                                          MetricSet{Metric::kCpu, Metric::kFds}, &fs));
  EXPECT_EQ(hub.feeder(Metric::kCpu)->name(), "bpf");
  EXPECT_EQ(hub.feeder(Metric::kFds)->name(), "fs");
  EXPECT_EQ(hub.feeder(Metric::kMemory), nullptr);
  Target a = target("a");
  hub.track(a);
  const Target* ts[] = {&a};
  auto s = hub.sample(ts);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].cpu.usage_ns, 1u);
  EXPECT_EQ(s[0].source_of(Metric::kCpu), Source::kBpf);
  EXPECT_EQ(s[0].source_of(Metric::kFds), Source::kCgroupfs);
  EXPECT_EQ(s[0].source_of(Metric::kMemory), Source::kNone);
  EXPECT_GT(s[0].at_ns, 0);
}

TEST(TelemetryHub, AFailingCollectorHandsItsGroupsToTheNextInTheSameSample) {
  Script bpf, fs;
  bpf.fail_sample = true;
  TelemetryHub hub;
  hub.add(std::make_unique<FakeCollector>("bpf", Source::kBpf, MetricSet{Metric::kCpu}, &bpf));
  hub.add(std::make_unique<FakeCollector>("fs", Source::kCgroupfs, MetricSet{Metric::kCpu}, &fs));
  Target a = target("a");
  hub.track(a);
  EXPECT_TRUE(fs.tracked.empty());  // not feeding anything yet: not told
  const Target* ts[] = {&a};
  auto s = hub.sample(ts);
  EXPECT_EQ(s[0].cpu.usage_ns, 2u);
  EXPECT_EQ(s[0].source_of(Metric::kCpu), Source::kCgroupfs);
  EXPECT_EQ(hub.feeder(Metric::kCpu)->name(), "fs");
  EXPECT_EQ(fs.tracked, std::vector<std::string>{"a"});  // handed the live target on takeover
  ASSERT_EQ(hub.problems().size(), 1u);
  EXPECT_NE(hub.problems()[0].find("map read failed"), std::string::npos);
  (void)hub.sample(ts);
  EXPECT_EQ(bpf.samples, 1);  // demoted for good
}

TEST(TelemetryHub, ACollectorThatCannotTrackIsDemoted) {
  Script bpf, fs;
  bpf.fail_track = true;
  TelemetryHub hub;
  hub.add(std::make_unique<FakeCollector>("bpf", Source::kBpf, MetricSet{Metric::kFds}, &bpf));
  hub.add(std::make_unique<FakeCollector>("fs", Source::kProcfs, MetricSet{Metric::kFds}, &fs));
  hub.track(target("a"));
  EXPECT_EQ(hub.feeder(Metric::kFds)->name(), "fs");
  EXPECT_EQ(fs.tracked, std::vector<std::string>{"a"});
  hub.untrack(target("a"));
  EXPECT_TRUE(fs.tracked.empty());
}

TEST(TelemetryHub, OnlyTheFeederOfAnEventsMetricDeliversIt) {
  Script bpf, watcher;
  TelemetryHub hub;
  hub.add(std::make_unique<FakeCollector>("bpf", Source::kBpf, MetricSet{Metric::kOom}, &bpf));
  hub.add(std::make_unique<FakeCollector>("watcher", Source::kCgroupEvents, MetricSet{Metric::kOom},
                                          &watcher));
  Event oom;
  oom.kind = EventKind::kOomKill;
  oom.pid = 42;
  Event lost;
  lost.kind = EventKind::kLost;
  lost.value = 3;
  bpf.events = {oom};
  watcher.events = {oom, lost};
  std::vector<Event> got;
  hub.drain_events(got);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].kind, EventKind::kOomKill);
  EXPECT_EQ(got[1].kind, EventKind::kLost);  // lost events are reported whoever loses them
}

TEST(TelemetryHub, DenialsComeFromTheEnforcerWhateverItFeeds) {
  Script net, procs;
  TelemetryHub hub;
  hub.add(std::make_unique<FakeCollector>("net", Source::kBpf, MetricSet{Metric::kSockets}, &net));
  hub.add(std::make_unique<FakeCollector>("procs", Source::kProcConnector,
                                          MetricSet{Metric::kProcesses}, &procs));
  Event denied;
  denied.kind = EventKind::kConnectDenied;
  Event exec;
  exec.kind = EventKind::kExec;
  net.events = {denied, exec};  // an exec from a collector that does not feed processes: dropped
  procs.events = {exec};
  std::vector<Event> got;
  hub.drain_events(got);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].kind, EventKind::kConnectDenied);
  EXPECT_EQ(got[1].kind, EventKind::kExec);
}

}  // namespace
}  // namespace corral::collectors
