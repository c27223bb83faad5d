// corralctl's protocol-v2 commands: `whoami` (who corrald takes this peer to be: the kernel's
// uid/gid/groups, roles, permissions, rate, and which commands it may run) and `subscribe`
// (filtered events, resumed after the last seq seen when the stream drops or corrald restarts).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ctl/client.h"

namespace corral::ctl {

struct SubscribeOptions {
  std::vector<std::string> plugins, types;
  std::string min_severity;
  uint64_t after = 0;
  bool follow = false;
  bool resume = true;  // with follow: reconnect and resume after the last seq seen
  uint32_t max = 0;
  bool json = false;
};

// Hooks into corralctl: print a message as JSON, map an Error to an exit code (printing it),
// set up Ctrl-C for a stream on fd, and whether Ctrl-C was pressed.
struct CtlHooks {
  std::function<void(const google::protobuf::Message&)> print_json;
  std::function<int(const Error&)> fail;
  std::function<void(int fd)> on_stream;
  std::function<bool()> interrupted;
};

[[nodiscard]] std::string format_whoami(const v1::HelloResponse& h);
[[nodiscard]] std::string format_subscribed(const v1::RecoveryEvent& e);
[[nodiscard]] int run_whoami(Client& c, bool json, const CtlHooks& hooks);
[[nodiscard]] int run_subscribe(const ClientOptions& co, const SubscribeOptions& o,
                                const CtlHooks& hooks);

}  // namespace corral::ctl
