// corralctl: the command-line client for corrald (docs/reference.md lists commands and exit codes).
#include <sys/socket.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>

#include <google/protobuf/util/json_util.h>
#include <CLI/CLI.hpp>

#include "ctl/client.h"
#include "ctl/exit_codes.h"
#include "ctl/format.h"

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
};

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

int run(const std::string& cmd, const Options& o) {
  ctl::ClientOptions co;
  co.socket_path = o.socket.empty() ? ctl::default_socket_path() : o.socket;
  co.timeout = std::chrono::milliseconds(o.timeout_ms);
  co.client_name = std::string("corralctl/") + CORRAL_VERSION;
  auto client = ctl::Client::connect(co);
  if (!client) return fail(client.error());
  ctl::Client& c = *client;

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
  if (cmd == "logs") {
    v1::Request req;
    req.mutable_logs()->set_name(o.name);
    req.mutable_logs()->set_tail(o.tail);
    req.mutable_logs()->set_follow(o.follow);
    if (o.follow) {
      c.set_timeout(std::chrono::milliseconds(0));
      stop_following_on_sigint(c.fd());
    }
    int code = 0;
    auto streamed = c.stream(std::move(req), [&](const v1::Response& resp) {
      if (auto ok = ctl::check_status(resp); !ok) {
        code = fail(ok.error());
        return false;
      }
      if (o.json) {
        print_json(resp.logs());
      } else {
        for (const auto& l : resp.logs().lines()) std::cout << ctl::format_log_line(l) << "\n";
        std::cout << std::flush;
      }
      return true;
    });
    if (g_interrupted != 0) return code;
    if (!streamed) return fail(streamed.error());
    return code;
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

  app.add_subcommand("version", "client and daemon versions, negotiated protocol");
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : corral::ctl::kExitUsage;
  }
  return run(app.get_subcommands().front()->get_name(), o);
}
