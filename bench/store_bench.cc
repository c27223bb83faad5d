// store_bench: the cost of durability.
//   1. the floors, in this process on the same file system as the store (/tmp here): one
//      write + fdatasync, and one SQLite INSERT committed with synchronous=FULL (WAL);
//   2. Corral's store in-process: a journal entry (FULL), an audit record (FULL and NORMAL);
//   3. durable mutating commands through a real corrald: `stop` of a stopped plugin (journaled
//      with an fsync, audited with another, then answered) from 1 and 8 concurrent clients,
//      and `status` (audited, not fsync'd) for comparison;
//   4. crash-only restart with N live sandboxed plugins: kill -9 corrald, start a new one on the
//      same directories, time until it answers and until all N are RUNNING again with the same
//      pids (adopted); the peer, in the same run: the cold start of the same N.
//   store_bench [SECONDS] [N]   (default 3 s per corrald line, N = 200)
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_stats.h"
#include "bench/corrald_runner.h"
#include "supervisor/store/store.h"

namespace corral::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "store_bench: %s\n", what.c_str());
  std::exit(1);
}

double us_since(Clock::time_point t) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t).count();
}

void floors(const std::string& dir, int n) {
  {
    std::string path = dir + "/fsync.dat";
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0) die("open " + path);
    std::string rec(200, 'x');
    std::vector<double> us;
    for (int i = 0; i < n; ++i) {
      auto t = Clock::now();
      if (::write(fd, rec.data(), rec.size()) != static_cast<ssize_t>(rec.size()) ||
          ::fdatasync(fd) != 0) {
        die("write/fdatasync");
      }
      us.push_back(us_since(t));
    }
    ::close(fd);
    report("peer: write(200 B) + fdatasync", us);
  }
  {
    auto db = supervisor::store::Db::open(dir + "/raw.db", true);
    if (!db || !db->exec("CREATE TABLE t(x INTEGER PRIMARY KEY, b BLOB)")) die("raw sqlite");
    std::vector<double> us;
    for (int i = 0; i < n; ++i) {
      auto t = Clock::now();
      auto s = db->prepare("INSERT INTO t(b) VALUES (?1)");
      if (!s) die("prepare");
      s->bind_blob(1, std::string(200, 'y'));
      if (!s->run()) die("insert");
      us.push_back(us_since(t));
    }
    report("peer: SQLite INSERT, autocommit, sync=FULL", us);
  }
}

void in_process(const std::string& dir, int n) {
  auto store = supervisor::store::Store::open(dir + "/store");
  if (!store) die(store.error().describe());
  std::vector<double> j, af, an;
  for (int i = 0; i < n; ++i) {
    supervisor::store::JournalEntry e;
    e.plugin = "p" + std::to_string(i % 50);
    e.body.mutable_wanted()->set_wanted(i % 2 ? v1::WANTED_UP : v1::WANTED_DOWN);
    e.body.mutable_wanted()->set_command("bench");
    auto t = Clock::now();
    if (!(*store)->journal().append(e, i)) die("journal append");
    j.push_back(us_since(t));
  }
  for (auto* out : {&af, &an}) {
    for (int i = 0; i < n; ++i) {
      supervisor::store::AuditRecord r;
      r.kind = "command";
      r.command = "stop";
      r.plugin = "p";
      r.args_digest = std::string(64, 'a');
      r.result = "ok";
      auto sync = out == &af ? supervisor::store::Sync::kFull : supervisor::store::Sync::kNormal;
      auto t = Clock::now();
      if (!(*store)->audit().append(r, sync)) die("audit append");
      out->push_back(us_since(t));
    }
  }
  report("corral: journal entry (sync=FULL)", j);
  report("corral: audit record (sync=FULL, mutating)", af);
  report("corral: audit record (sync=NORMAL, reads)", an);
}

void through_corrald(int clients, const std::string& command, std::chrono::seconds dur) {
  CorraldRunner d("store-bench", "[telemetry]\nmode = \"off\"\n[cgroup]\nmode = \"none\"\n",
                  {{"idle",
                    "name = \"idle\"\nexec = \"/bin/sleep\"\nargs = [\"600\"]\n"
                    "autostart = false\n"}});
  std::vector<ctl::Client> cs;
  for (int i = 0; i < clients; ++i) {
    Result<ctl::Client> c = std::unexpected(Error{});
    for (int t = 0; t < 200 && !c; ++t) {
      c = d.client(5s);
      if (!c) std::this_thread::sleep_for(20ms);
    }
    if (!c) die("connect: " + c.error().describe());
    cs.push_back(std::move(*c));
  }
  std::mutex mu;
  std::vector<double> all;
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  auto until = Clock::now() + dur;
  for (auto& c : cs) {
    threads.emplace_back([&, cp = &c] {
      std::vector<double> mine;
      while (!go.load()) std::this_thread::yield();
      while (Clock::now() < until) {
        auto t = Clock::now();
        auto r = command == "stop" ? cp->stop("idle", 0) : cp->status("idle");
        if (!r) die(command + ": " + r.error().describe());
        mine.push_back(us_since(t));
      }
      std::lock_guard lk(mu);
      all.insert(all.end(), mine.begin(), mine.end());
    });
  }
  auto t0 = Clock::now();
  go = true;
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  char label[96];
  std::snprintf(label, sizeof label, "corrald: %s, %d client(s): %.0f/s", command.c_str(), clients,
                static_cast<double>(all.size()) / secs);
  report(label, all);
  cs.clear();
  if (d.stop() != 0) die("corrald did not stop cleanly: " + d.log_tail());
}

std::map<std::string, int> running_pids(CorraldRunner& d) {
  std::map<std::string, int> out;
  auto c = d.client(5s);
  if (!c) return out;
  auto l = c->list();
  if (!l) return out;
  for (const auto& p : l->plugins()) {
    if (p.state() == v1::RUNNING) out[p.name()] = p.pid();
  }
  return out;
}

void restart(int n) {
  std::map<std::string, std::string> manifests;
  for (int i = 0; i < n; ++i) {
    std::string name = "p" + std::to_string(i);
    manifests[name] = "name = \"" + name + "\"\nexec = \"/bin/sleep\"\nargs = [\"600\"]\n";
  }
  CorraldRunner d(
      "store-restart",
      "[cgroup]\nparent = \"corral-restart-bench-" + std::to_string(::getpid()) + "\"\n",
      manifests);
  auto t0 = Clock::now();
  std::map<std::string, int> before;
  while (static_cast<int>((before = running_pids(d)).size()) < n) {
    if (Clock::now() - t0 > 120s) die("the plugins did not all start: " + d.log_tail());
    std::this_thread::sleep_for(5ms);
  }
  double cold_ms = us_since(t0) / 1000;
  d.kill9();
  auto t1 = Clock::now();
  d.respawn();
  double answer_ms = 0;
  for (;;) {
    if (d.client(1s)) break;
    if (Clock::now() - t1 > 60s) die("corrald did not come back: " + d.log_tail());
    std::this_thread::sleep_for(1ms);
  }
  answer_ms = us_since(t1) / 1000;
  std::map<std::string, int> after;
  while ((after = running_pids(d)).size() < before.size()) {
    if (Clock::now() - t1 > 60s) die("not all adopted: " + d.log_tail());
    std::this_thread::sleep_for(1ms);
  }
  double resumed_ms = us_since(t1) / 1000;
  int same = 0;
  for (const auto& [name, pid] : before) same += after.count(name) && after[name] == pid ? 1 : 0;
  std::printf("crash-only restart, %d sandboxed plugins:\n", n);
  std::printf("  kill -9 -> new corrald answers           %9.1f ms\n", answer_ms);
  std::printf(
      "  kill -9 -> all %d RUNNING again          %9.1f ms (%d/%d with the same pid: "
      "adopted)\n",
      n, resumed_ms, same, n);
  std::printf("  peer: cold start of the same %d plugins  %9.1f ms\n", n, cold_ms);
  if (d.stop() != 0) die("corrald did not stop cleanly: " + d.log_tail());
}

}  // namespace
}  // namespace corral::bench

int main(int argc, char** argv) {
  using namespace corral::bench;
  int secs = argc > 1 ? std::atoi(argv[1]) : 3;
  int plugins = argc > 2 ? std::atoi(argv[2]) : 200;
  char tmpl[] = "/tmp/corral-store-bench.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) die("mkdtemp");
  std::string dir = tmpl;
  std::printf("store_bench: %s (fs of /tmp), %d s per corrald line\n", dir.c_str(), secs);
  floors(dir, 300);
  in_process(dir, 300);
  for (int c : {1, 8}) through_corrald(c, "stop", std::chrono::seconds(secs));
  for (int c : {1, 8}) through_corrald(c, "status", std::chrono::seconds(secs));
  restart(plugins);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
