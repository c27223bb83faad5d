#include "ctl/security_commands.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <thread>

#include "ctl/exit_codes.h"
#include "ctl/recovery_format.h"

namespace corral::ctl {

namespace {

std::string join(const auto& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + std::string(i);
  return out.empty() ? "none" : out;
}

}  // namespace

std::string format_whoami(const v1::HelloResponse& h) {
  const auto& p = h.peer();
  std::string out = "uid " + std::to_string(p.uid()) + ", gid " + std::to_string(p.gid());
  std::vector<std::string> groups;
  for (auto g : p.groups()) groups.push_back(std::to_string(g));
  out += ", groups " + join(groups) + "\n";
  out += "exe          " + p.exe() + " (via " + p.identity_source() + ")\n";
  out += "roles        " + join(p.roles()) + "\n";
  out += "permissions  " + join(p.permissions()) + "\n";
  out += "rate         " +
         (p.requests_per_second() == 0
              ? std::string("unlimited")
              : std::to_string(static_cast<int64_t>(p.requests_per_second())) +
                    " requests/s, burst " + std::to_string(p.burst())) +
         "\n";
  std::vector<std::string> allowed, denied;
  for (const auto& c : h.commands()) (c.allowed() ? allowed : denied).push_back(c.name());
  out += "may run      " + join(allowed) + "\n";
  out += "may not run  " + join(denied) + "\n";
  out += "protocol     v" + std::to_string(h.version()) + " (frame timeout " +
         std::to_string(h.frame_timeout_ms()) + " ms, idle timeout " +
         std::to_string(h.idle_timeout_ms()) + " ms)";
  return out;
}

std::string format_subscribed(const v1::RecoveryEvent& e) {
  std::string out = "#" + std::to_string(e.seq()) + "  " + format_event(e) + "  [" +
                    (e.severity().empty() ? "info" : e.severity());
  if (!e.correlation_id().empty()) out += ", correlation " + e.correlation_id();
  if (!e.causation_id().empty()) out += ", caused by " + e.causation_id();
  return out + "]";
}

int run_whoami(Client& c, bool json, const CtlHooks& hooks) {
  if (json) {
    hooks.print_json(c.hello());
  } else {
    std::cout << format_whoami(c.hello()) << "\n";
  }
  return kExitOk;
}

int run_subscribe(const ClientOptions& co, const SubscribeOptions& o, const CtlHooks& hooks) {
  uint64_t last = o.after;
  auto backoff = std::chrono::milliseconds(100);
  for (int attempt = 0;; ++attempt) {
    auto client = Client::connect(co);
    if (!client) {
      if (!o.follow || !o.resume || attempt == 0 || hooks.interrupted()) {
        return hooks.fail(client.error());
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    if (client->hello().version() < 2) {
      return hooks.fail(Error{Code::kUnimplemented, 0,
                              "subscribe needs protocol v2; corrald speaks v" +
                                  std::to_string(client->hello().version())});
    }
    if (attempt > 0) std::cerr << "corralctl: resuming after seq " << last << "\n";
    v1::Request req;
    auto* s = req.mutable_subscribe();
    for (const auto& p : o.plugins) s->add_plugins(p);
    for (const auto& t : o.types) s->add_types(t);
    s->set_min_severity(o.min_severity);
    s->set_after_seq(last);
    s->set_follow(o.follow);
    s->set_max(o.max);
    if (o.follow) {
      client->set_timeout(std::chrono::milliseconds(0));
      hooks.on_stream(client->fd());
    }
    Error dropped{Code::kOk, 0, ""};
    bool first = true;
    auto streamed = client->stream(std::move(req), [&](const v1::Response& resp) {
      if (auto ok = check_status(resp); !ok) {
        dropped = ok.error();
        return false;
      }
      const auto& sub = resp.subscribe();
      if (first && sub.missed() > 0) {
        std::cerr << "corralctl: " << sub.missed() << " event(s) after seq " << last
                  << " were pruned from corrald's store before this asked\n";
      }
      first = false;
      for (const auto& e : sub.events()) {
        last = std::max(last, e.seq());
        if (o.json) {
          hooks.print_json(e);
        } else {
          std::cout << format_subscribed(e) << "\n";
        }
      }
      if (sub.last_seq() > last && sub.events_size() > 0) last = sub.last_seq();
      std::cout << std::flush;
      return true;
    });
    if (hooks.interrupted()) return kExitOk;
    const bool again = o.follow && o.resume;
    if (dropped.code != Code::kOk) {
      if (!again || dropped.code != Code::kResourceExhausted) return hooks.fail(dropped);
      std::cerr << "corralctl: " << dropped.message << "\n";
    } else if (!streamed) {
      if (!again) return hooks.fail(streamed.error());
      std::cerr << "corralctl: " << streamed.error().describe() << "\n";
    } else {
      return kExitOk;
    }
    backoff = std::chrono::milliseconds(100);
    std::this_thread::sleep_for(backoff);
  }
}

}  // namespace corral::ctl
