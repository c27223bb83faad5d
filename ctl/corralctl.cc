// corralctl: the command-line client for corrald (docs/reference.md lists commands and exit codes).
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <CLI/CLI.hpp>

#include "ctl/client.h"
#include "ctl/exit_codes.h"
#include "ctl/format.h"
#include "ctl/recovery_format.h"
#include "ctl/security_commands.h"
#include "ctl/stats_format.h"
#include "ctl/store_commands.h"
#include "proto/request_signature.h"

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "0.0.0"
#endif

namespace {

using namespace corral;

struct Options {
  std::string socket;
  bool json = false;
  uint32_t timeout_ms = 5000;
  std::string name;
  uint32_t stop_timeout_ms = 0;
  uint32_t tail = 100;
  bool follow = false;
  // run
  std::string profile;
  std::vector<std::string> writable, ro_binds, binds, setenv, command;
  std::string chdir, memory, network;
  uint64_t pids = 0;
  // stats, top
  bool watch = false;
  uint32_t interval_ms = 1000;
  uint32_t iterations = 0;  // 0: until Ctrl-C
  // events
  std::string plugin;
  uint64_t after = 0;
  // signed requests (for a client acting on behalf of a token's subject)
  std::string sign_as, secret_file, subject, session;
  std::vector<std::string> token_permissions;
  uint32_t token_ttl_s = 300;
  ctl::SubscribeOptions sub;
};

// "256M", "2G", "4096": bytes (powers of 1024).
std::optional<uint64_t> parse_bytes(const std::string& s) {
  if (s.empty()) return std::nullopt;
  uint64_t mult = 1;
  std::string digits = s;
  switch (s.back()) {
    case 'K':
      mult = 1ull << 10;
      break;
    case 'M':
      mult = 1ull << 20;
      break;
    case 'G':
      mult = 1ull << 30;
      break;
    case 'T':
      mult = 1ull << 40;
      break;
    default:
      break;
  }
  if (mult != 1) digits.pop_back();
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  uint64_t v = std::stoull(digits);
  if (v > UINT64_MAX / mult) return std::nullopt;
  return v * mult;
}

// CMD as corrald needs it: absolute. A bare name is looked up in our PATH, a relative path
// against our working directory (corrald shows the file read-only at that path).
std::optional<std::string> resolve_command(const std::string& cmd) {
  if (cmd.empty()) return std::nullopt;
  if (cmd[0] == '/') return cmd;
  if (cmd.find('/') != std::string::npos) {
    char buf[PATH_MAX];
    if (::realpath(cmd.c_str(), buf) == nullptr) return std::nullopt;
    return std::string(buf);
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (!dir.empty()) {
      std::string full = dir + "/" + cmd;
      if (::access(full.c_str(), X_OK) == 0) return full[0] == '/' ? full : resolve_command(full);
    }
    start = end + 1;
  }
  return std::nullopt;
}

// `logs -f` ends on SIGINT with exit 0: the handler shuts the socket down (async-signal-safe),
// which ends the blocked read; the flag tells that end apart from corrald hanging up.
volatile std::sig_atomic_t g_interrupted = 0;
volatile std::sig_atomic_t g_follow_fd = -1;

void on_sigint(int) {
  g_interrupted = 1;
  if (g_follow_fd >= 0) ::shutdown(g_follow_fd, SHUT_RDWR);
}

void stop_following_on_sigint(int fd) {
  g_follow_fd = fd;
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int fail(const Error& e) {
  std::cerr << "corralctl: " << e.describe() << "\n";
  return ctl::exit_code_for(e);
}

void print_json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  auto st = google::protobuf::util::MessageToJsonString(m, &out, o);
  if (!st.ok()) {
    std::cerr << "corralctl: cannot render JSON: " << st.ToString() << "\n";
    return;
  }
  std::cout << out << "\n" << std::flush;
}

// A streamed command (logs, events): each frame's status checked, then printed; with follow, no
// read timeout and Ctrl-C ends it quietly. Returns the exit code.
int follow_stream(ctl::Client& c, v1::Request req, bool follow,
                  const std::function<void(const v1::Response&)>& print) {
  if (follow) {
    c.set_timeout(std::chrono::milliseconds(0));
    stop_following_on_sigint(c.fd());
  }
  int code = 0;
  auto streamed = c.stream(std::move(req), [&](const v1::Response& resp) {
    if (auto ok = ctl::check_status(resp); !ok) {
      code = fail(ok.error());
      return false;
    }
    print(resp);
    std::cout << std::flush;
    return true;
  });
  if (g_interrupted != 0) return code;
  if (!streamed) return fail(streamed.error());
  return code;
}

int run(const std::string& cmd, const Options& o) {
  ctl::ClientOptions co;
  co.socket_path = o.socket.empty() ? ctl::default_socket_path() : o.socket;
  co.timeout = std::chrono::milliseconds(o.timeout_ms);
  co.client_name = std::string("corralctl/") + CORRAL_VERSION;
  if (!o.sign_as.empty()) {
    if (o.secret_file.empty() || o.subject.empty()) {
      std::cerr << "corralctl: --sign-as needs --secret-file and --subject\n";
      return ctl::kExitUsage;
    }
    auto secret = proto::load_client_secret(o.secret_file);
    if (!secret) return fail(secret.error());
    ctl::SignAs s{o.sign_as, std::move(*secret), {}};
    s.token.set_subject(o.subject);
    s.token.set_session_id(o.session);
    for (const auto& p : o.token_permissions) s.token.add_permissions(p);
    if (o.token_permissions.empty()) s.token.add_permissions("*");
    s.token.set_expires_unix_ms(now_ms() + int64_t{o.token_ttl_s} * 1000);
    co.sign = std::move(s);
  }
  const ctl::CtlHooks hooks{[](const google::protobuf::Message& m) { print_json(m); },
                            [](const Error& e) { return fail(e); },
                            [](int fd) { stop_following_on_sigint(fd); },
                            [] { return g_interrupted != 0; }};
  if (cmd == "subscribe") {
    ctl::SubscribeOptions so = o.sub;
    so.follow = o.follow;
    so.after = o.after;
    so.json = o.json;
    if (!o.plugin.empty()) so.plugins.push_back(o.plugin);
    return ctl::run_subscribe(co, so, hooks);
  }
  auto client = ctl::Client::connect(co);
  if (!client) return fail(client.error());
  ctl::Client& c = *client;

  if (cmd == "whoami") return ctl::run_whoami(c, o.json, hooks);
  if (cmd == "version") {
    auto v = c.version();
    if (!v) return fail(v.error());
    if (o.json) {
      print_json(*v);
    } else {
      std::cout << "corralctl " << CORRAL_VERSION << "\ncorrald   " << v->server_version() << " ("
                << v->build() << ")\nprotocol  v" << c.hello().version() << "\n";
    }
    return 0;
  }
  if (cmd == "doctor") {
    auto d = c.doctor();
    if (!d) return fail(d.error());
    if (o.json) {
      print_json(*d);
    } else {
      std::cout << ctl::format_doctor(*d);
    }
    return 0;
  }
  if (cmd == "stats" || cmd == "top") {
    // Repeats until Ctrl-C (or `iterations`), redrawing in place on a terminal.
    bool repeat = cmd == "top" || o.watch;
    bool tty = ::isatty(STDOUT_FILENO) == 1;
    if (repeat) stop_following_on_sigint(-1);
    for (uint32_t i = 0; g_interrupted == 0; ++i) {
      std::string text;
      if (cmd == "stats") {
        auto st = c.stats(o.name);
        if (!st) return g_interrupted != 0 ? 0 : fail(st.error());
        if (o.json) {
          print_json(*st);
        } else {
          text = ctl::format_stats(st->plugins(0), now_ms());
        }
      } else {
        auto list = c.list();
        if (!list) return g_interrupted != 0 ? 0 : fail(list.error());
        auto st = c.stats("");
        if (!st) return g_interrupted != 0 ? 0 : fail(st.error());
        if (o.json) {
          print_json(*st);
        } else {
          winsize ws{};
          size_t width =
              ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 160;
          text = ctl::format_top(*list, *st, now_ms(), width);
        }
      }
      if (!text.empty()) {
        if (repeat && tty) std::cout << "\033[H\033[2J";  // home, clear
        std::cout << text << (repeat && !tty ? "\n" : "") << std::flush;
      }
      if (!repeat || (o.iterations != 0 && i + 1 >= o.iterations)) break;
      for (uint32_t waited = 0; waited < o.interval_ms && g_interrupted == 0; waited += 50) {
        ::usleep(50 * 1000);
      }
    }
    return 0;
  }
  if (cmd == "list") {
    auto list = c.list();
    if (!list) return fail(list.error());
    if (o.json) {
      print_json(*list);
    } else {
      std::cout << ctl::format_table(*list, now_ms());
    }
    return 0;
  }
  if (cmd == "status" || cmd == "start" || cmd == "stop" || cmd == "restart") {
    Result<v1::PluginInfo> info = cmd == "status"  ? c.status(o.name)
                                  : cmd == "start" ? c.start(o.name)
                                  : cmd == "stop"  ? c.stop(o.name, o.stop_timeout_ms)
                                                   : c.restart(o.name, o.stop_timeout_ms);
    if (!info) return fail(info.error());
    if (o.json) {
      print_json(*info);
    } else if (cmd == "status") {
      std::cout << ctl::format_status(*info, now_ms());
    } else {
      std::cout << o.name << ": " << ctl::state_word(info->state())
                << (info->pid() > 0 ? " (pid " + std::to_string(info->pid()) + ")" : "") << "\n";
    }
    return 0;
  }
  if (cmd == "health") {
    auto h = c.health(o.name);
    if (!h) return fail(h.error());
    if (o.json) {
      print_json(*h);
    } else {
      std::cout << ctl::format_health(*h, now_ms());
    }
    return 0;
  }
  if (cmd == "breakers") {
    auto b = c.breakers();
    if (!b) return fail(b.error());
    if (o.json) {
      print_json(*b);
    } else {
      std::cout << ctl::format_breakers(*b, now_ms());
    }
    return 0;
  }
  if (cmd == "reset") {
    auto r = c.reset(o.name);
    if (!r) return fail(r.error());
    if (o.json) {
      print_json(*r);
    } else {
      std::cout << o.name << ": " << ctl::state_word(r->plugin().state()) << ", breaker "
                << r->breaker().state() << "\n";
    }
    return 0;
  }
  if (cmd == "events") {
    v1::Request req;
    req.mutable_events()->set_plugin(o.plugin);
    req.mutable_events()->set_after_seq(o.after);
    req.mutable_events()->set_follow(o.follow);
    req.mutable_events()->set_max(o.tail);
    return follow_stream(c, std::move(req), o.follow, [&](const v1::Response& resp) {
      for (const auto& e : resp.events().events()) {
        if (o.json) {
          print_json(e);
        } else {
          std::cout << ctl::format_event(e) << "\n";
        }
      }
    });
  }
  if (cmd == "logs") {
    v1::Request req;
    req.mutable_logs()->set_name(o.name);
    req.mutable_logs()->set_tail(o.tail);
    req.mutable_logs()->set_follow(o.follow);
    return follow_stream(c, std::move(req), o.follow, [&](const v1::Response& resp) {
      if (o.json) {
        print_json(resp.logs());
      } else {
        for (const auto& l : resp.logs().lines()) std::cout << ctl::format_log_line(l) << "\n";
      }
    });
  }
  if (cmd == "run") {
    auto exec = resolve_command(o.command.front());
    if (!exec) {
      std::cerr << "corralctl: run: command not found: " << o.command.front() << "\n";
      return ctl::kExitUsage;
    }
    v1::Request req;
    auto* r = req.mutable_run();
    r->set_name(o.name);
    r->set_exec(*exec);
    for (size_t i = 1; i < o.command.size(); ++i) r->add_args(o.command[i]);
    for (const auto& kv : o.setenv) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "corralctl: run: --setenv wants KEY=VALUE, got \"" << kv << "\"\n";
        return ctl::kExitUsage;
      }
      (*r->mutable_env())[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    if (!o.setenv.empty() && !r->env().contains("PATH"))
      (*r->mutable_env())["PATH"] = "/usr/bin:/bin";
    r->set_working_dir(o.chdir);
    for (const auto& b : o.ro_binds) r->add_ro_binds(b);
    for (const auto& b : o.binds) r->add_binds(b);
    for (const auto& w : o.writable) r->add_binds(w);
    r->set_seccomp_profile(o.profile);
    if (!o.memory.empty()) {
      auto bytes = parse_bytes(o.memory);
      if (!bytes) {
        std::cerr << "corralctl: run: --memory wants a size such as 256M, got \"" << o.memory
                  << "\"\n";
        return ctl::kExitUsage;
      }
      r->set_memory_max(*bytes);
    }
    r->set_pids_max(o.pids);
    r->set_network(o.network);
    c.set_timeout(std::chrono::milliseconds(0));
    stop_following_on_sigint(c.fd());
    std::optional<v1::ExitInfo> exit;
    int code = 0;
    auto streamed = c.stream(std::move(req), [&](const v1::Response& resp) {
      if (auto ok = ctl::check_status(resp); !ok) {
        code = fail(ok.error());
        return false;
      }
      if (o.json) print_json(resp.run());
      for (const auto& l : resp.run().output()) {
        if (o.json) break;
        if (l.note()) {
          // corrald's own lines: only what the user must know (a denied system call).
          if (l.text().find("seccomp:") != std::string::npos) {
            std::cerr << "corralctl: " << l.text() << "\n" << std::flush;
          }
          continue;
        }
        (l.stream() == v1::STDERR ? std::cerr : std::cout) << ctl::format_log_line(l) << "\n";
      }
      std::cout << std::flush;
      if (resp.run().has_exit()) exit = resp.run().exit();
      return true;
    });
    if (g_interrupted != 0) return 130;
    if (!streamed) return fail(streamed.error());
    if (code != 0) return code;
    if (!exit) {
      std::cerr << "corralctl: run: corrald ended the stream without an exit status\n";
      return ctl::kExitProtocol;
    }
    return exit->signaled() ? 128 + exit->code() : exit->code();
  }
  std::cerr << "corralctl: unknown command " << cmd << "\n";
  return ctl::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"corralctl: control corrald, the Corral plugin supervisor"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.require_subcommand(1);
  app.add_option("--socket", o.socket,
                 "control socket (default $CORRAL_SOCKET, else /run/corral/control.sock)");
  app.add_flag("--json", o.json, "print results as JSON");
  app.add_option("--timeout", o.timeout_ms, "milliseconds to wait for corrald (0: no limit)");
  app.footer(
      "Exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 invalid or not allowed now,\n"
      "69 corrald not running, 75 try again later, 76 protocol error, 77 permission denied.");

  app.add_option("--sign-as", o.sign_as,
                 "sign every request as this client id ([[auth.client]] in corrald.toml)");
  app.add_option("--secret-file", o.secret_file, "the client's secret (mode 0600)");
  app.add_option("--subject", o.subject, "on whose behalf (the token's subject)");
  app.add_option("--session", o.session, "the token's session id");
  app.add_option("--token-permissions", o.token_permissions,
                 "what the token allows (default *: all the peer's role allows)")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--token-ttl", o.token_ttl_s, "seconds until the token expires (default 300)");
  app.add_subcommand("version", "client and daemon versions, negotiated protocol");
  app.add_subcommand("whoami",
                     "who corrald takes you to be: uid, groups, roles, permissions, rate, and the "
                     "commands you may run");
  app.add_subcommand("list", "every plugin with its state");
  app.add_subcommand("doctor", "what this host's kernel offers the sandbox, as corrald sees it");
  app.add_subcommand("status", "one plugin in detail")
      ->add_option("name", o.name, "plugin name")
      ->required();
  app.add_subcommand("start", "start a stopped plugin (no-op if running)")
      ->add_option("name", o.name, "plugin name")
      ->required();
  for (const char* name : {"stop", "restart"}) {
    auto* sub = app.add_subcommand(name, std::string(name) + " a plugin (waits until done)");
    sub->add_option("name", o.name, "plugin name")->required();
    sub->add_option("--timeout", o.stop_timeout_ms,
                    "milliseconds before SIGKILL (default: the manifest's stop timeout)");
  }
  auto* logs = app.add_subcommand("logs", "a plugin's captured stdout and stderr");
  logs->add_option("name", o.name, "plugin name")->required();
  logs->add_option("-n,--tail", o.tail, "number of past lines (default 100)");
  logs->add_flag("-f,--follow", o.follow, "keep printing new lines");

  auto* stats = app.add_subcommand(
      "stats", "a running plugin's telemetry: CPU, memory, fds, sockets, processes, violations");
  stats->add_option("name", o.name, "plugin name")->required();
  stats->add_flag("-w,--watch", o.watch, "refresh until Ctrl-C");
  auto* top = app.add_subcommand("top", "every plugin's telemetry, refreshing until Ctrl-C");
  for (auto* sub : {stats, top}) {
    sub->add_option("-i,--interval", o.interval_ms, "milliseconds between refreshes (default 1000)")
        ->check(CLI::Range(50u, 3600000u));
    sub->add_option("-n,--iterations", o.iterations, "stop after N refreshes (0: never)");
  }

  app.add_subcommand("health", "a plugin's health score, breaker, checks and trends")
      ->add_option("name", o.name, "plugin name")
      ->required();
  app.add_subcommand("breakers", "every plugin's circuit breaker and recovery phase");
  app.add_subcommand("reset",
                     "close a plugin's breaker and clear its backoff, quarantine or escalation "
                     "(a quarantined run is replaced; a plugin that is down is started)")
      ->add_option("name", o.name, "plugin name")
      ->required();
  auto all_of = CLI::MultiOptionPolicy::TakeAll;
  auto* events = app.add_subcommand(
      "events", "signals, breaker transitions and recovery actions, with their causes");
  events->add_option("--plugin", o.plugin, "only this plugin's");
  events->add_option("-n,--tail", o.tail, "at most this many past events (default 100)");
  events->add_option("--after", o.after, "only events after this sequence number");
  events->add_flag("-f,--follow", o.follow, "keep printing new events");
  auto* subscribe = app.add_subcommand(
      "subscribe",
      "events from corrald's store after a seq, filtered, then live (-f); resumes after the last "
      "seq seen when the stream drops or corrald restarts");
  subscribe->add_option("--plugin", o.sub.plugins, "only these plugins' (repeatable)")
      ->multi_option_policy(all_of);
  subscribe->add_option("--type", o.sub.types, "signal, transition, action or alert (repeatable)")
      ->multi_option_policy(all_of);
  subscribe->add_option("--severity", o.sub.min_severity, "at least: info, warning or critical");
  subscribe->add_option("--after", o.after, "only events after this sequence number");
  subscribe->add_option("-n,--max", o.sub.max, "without -f: at most this many (0: all)");
  subscribe->add_flag("-f,--follow", o.follow, "keep printing new events");
  subscribe->add_flag("!--no-resume", o.sub.resume, "with -f: end when the stream drops");

  auto* run_cmd = app.add_subcommand(
      "run",
      "run a command once in a fresh sandbox through corrald, streaming its output; "
      "exits with its exit code (128+N when killed by signal N)");
  auto all = CLI::MultiOptionPolicy::TakeAll;
  run_cmd->add_option("--name", o.name, "name while it runs (default run-<n>)");
  run_cmd->add_option("--profile", o.profile, "seccomp profile: default, strict or none");
  run_cmd->add_option("--writable", o.writable, "a host directory, writable at its own path")
      ->multi_option_policy(all);
  run_cmd->add_option("--ro-bind", o.ro_binds, "SRC[:DST] shown read-only")
      ->multi_option_policy(all);
  run_cmd->add_option("--bind", o.binds, "SRC[:DST] shown writable")->multi_option_policy(all);
  run_cmd->add_option("--setenv", o.setenv, "KEY=VALUE (the environment is otherwise only PATH)")
      ->multi_option_policy(all);
  run_cmd->add_option("--chdir", o.chdir, "working directory inside (default /)");
  run_cmd->add_option("--memory", o.memory, "memory limit, e.g. 256M");
  run_cmd->add_option("--pids", o.pids, "process limit");
  run_cmd->add_option("--network", o.network, "none (default: loopback only) or host");
  run_cmd->add_option("command", o.command, "-- CMD ARGS...")->required()->multi_option_policy(all);

  ctl::StoreCommand sc;
  auto* audit = app.add_subcommand(
      "audit", "the audit trail: every command and automatic action, hash-chained and signed");
  audit->add_option("--since", sc.since, "only records since: 10m, 2h, 1d, or a UTC date/time");
  audit->add_option("--plugin", sc.plugin, "only this plugin's");
  audit->add_option("-n,--limit", sc.limit, "the newest N records (default 1000)");
  auto* verify = audit->add_subcommand(
      "verify", "prove the hash chain and the checkpoints' signatures; name any tampered record");
  verify->add_option("--db", sc.db, "verify this store file offline (a backup) instead");
  verify->add_option("--keys", sc.keys, "trusted public keys for --db (default: its keys/ dir)");
  auto* admin = app.add_subcommand("admin", "corrald's keys and store (uid 0)");
  admin->require_subcommand(1);
  admin->add_subcommand("rotate-key",
                        "a new audit signing key; old public keys are kept for verification");
  admin->add_subcommand("backup", "a consistent copy of the live store (never overwrites)")
      ->add_option("file", sc.file, "where to write it")
      ->required();
  auto* restore = admin->add_subcommand(
      "restore", "replace a stopped corrald's store with a backup (the old one is kept)");
  restore->add_option("file", sc.file, "the backup")->required();
  restore->add_option("--state-dir", sc.state_dir, "corrald's state directory (/var/lib/corral)");
  restore->add_option("--runtime-dir", sc.runtime_dir, "corrald's runtime directory (/run/corral)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : corral::ctl::kExitUsage;
  }
  auto* sub = app.get_subcommands().front();
  if (sub == audit || sub == admin) {
    sc.name = sub->get_name();
    if (!sub->get_subcommands().empty())
      sc.name += " " + sub->get_subcommands().front()->get_name();
    sc.socket = o.socket;
    sc.json = o.json;
    sc.timeout_ms = o.timeout_ms;
    return ctl::run_store_command(sc);
  }
  return run(sub->get_name(), o);
}
