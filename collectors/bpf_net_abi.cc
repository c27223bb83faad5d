// NetPolicy -> struct net_policy and struct net_event -> Event (see bpf_net_abi.h).
#include "collectors/bpf_net_abi.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>

namespace corral::collectors {

namespace {

net_rule to_kernel_rule(const NetRule& r) {
  net_rule k{};
  switch (r.family) {
    case NetRule::Family::kAny:
      k.family = CORRAL_NET_ANY;
      break;
    case NetRule::Family::kV4:
      k.family = CORRAL_NET_V4;
      break;
    case NetRule::Family::kV6:
      k.family = CORRAL_NET_V6;
      break;
  }
  std::array<uint8_t, 16> mask = net_rule_mask(r);
  std::array<uint8_t, 16> net{};
  for (size_t i = 0; i < net.size(); ++i) net[i] = r.addr[i] & mask[i];
  std::memcpy(k.net, net.data(), sizeof k.net);
  std::memcpy(k.mask, mask.data(), sizeof k.mask);
  k.port = htons(r.port);
  return k;
}

}  // namespace

net_policy to_kernel_policy(const NetPolicy& p) {
  net_policy k{};
  for (size_t i = 0; i < p.connect.size() && i < CORRAL_NET_MAX_RULES; ++i) {
    k.connect[i] = to_kernel_rule(p.connect[i]);
    k.n_connect = static_cast<__u32>(i + 1);
  }
  for (size_t i = 0; i < p.bind.size() && i < CORRAL_NET_MAX_RULES; ++i) {
    k.bind[i] = to_kernel_rule(p.bind[i]);
    k.n_bind = static_cast<__u32>(i + 1);
  }
  return k;
}

std::string format_endpoint(int family, const __u32 addr[4], __u16 port_be) {
  char buf[INET6_ADDRSTRLEN] = {};
  std::string port = std::to_string(ntohs(port_be));
  if (family == AF_INET) {
    if (::inet_ntop(AF_INET, addr, buf, sizeof buf) == nullptr) return "?:" + port;
    return std::string(buf) + ":" + port;
  }
  if (::inet_ntop(AF_INET6, addr, buf, sizeof buf) == nullptr) return "[?]:" + port;
  return "[" + std::string(buf) + "]:" + port;
}

std::optional<Event> decode_net_event(std::span<const std::byte> record) {
  if (record.size() < sizeof(net_event)) return std::nullopt;
  net_event e;
  std::memcpy(&e, record.data(), sizeof e);
  Event out;
  out.source = Source::kBpf;
  out.cgroup_id = e.cgroup_id;
  out.at_ns = static_cast<int64_t>(e.at_ns);
  out.pid = static_cast<pid_t>(e.pid);
  switch (e.kind) {
    case CORRAL_NET_EV_CONNECT_DENIED:
    case CORRAL_NET_EV_BIND_DENIED:
      out.kind = e.kind == CORRAL_NET_EV_CONNECT_DENIED ? EventKind::kConnectDenied
                                                        : EventKind::kBindDenied;
      out.value = ntohs(e.port);
      out.detail = format_endpoint(e.family, e.addr, e.port);
      return out;
    case CORRAL_NET_EV_SOCKET_DENIED:
      out.kind = EventKind::kSocketDenied;
      out.value = e.family;
      out.detail = "family " + std::to_string(e.family) + " type " + std::to_string(e.type) +
                   " protocol " + std::to_string(e.protocol);
      return out;
    default:
      return std::nullopt;
  }
}

}  // namespace corral::collectors
