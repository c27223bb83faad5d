// NetPolicy's grammar without privileges: what each accepted entry means, that every rejected
// one names itself and the reason, canonical round trips, the list caps, and the conversions to
// and from the BPF ABI (rule masks in network order, ring-buffer records as Events).
#include "collectors/net_policy.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "collectors/bpf_net_abi.h"

namespace corral::collectors {
namespace {

using ::testing::HasSubstr;

NetRule ok(std::string_view s) {
  auto r = parse_net_rule(s);
  EXPECT_TRUE(r.has_value()) << s << ": " << r.error().describe();
  return r.value_or(NetRule{});
}

std::string why(std::string_view s) {
  auto r = parse_net_rule(s);
  EXPECT_FALSE(r.has_value()) << s << " parsed as " << format_net_rule(*r);
  return r ? "" : r.error().message;
}

TEST(NetRule, Ipv4HostAndPort) {
  NetRule r = ok("127.0.0.1:8080");
  EXPECT_EQ(r.family, NetRule::Family::kV4);
  EXPECT_EQ(r.prefix_len, 32);
  EXPECT_EQ(r.port, 8080);
  EXPECT_EQ(r.addr[0], 127);
  EXPECT_EQ(r.addr[3], 1);
}

TEST(NetRule, Ipv4PrefixAndAnyPort) {
  NetRule r = ok("10.0.0.0/8:*");
  EXPECT_EQ(r.prefix_len, 8);
  EXPECT_EQ(r.port, 0);
  EXPECT_EQ(ok("0.0.0.0/0:443").prefix_len, 0);
}

TEST(NetRule, Ipv6InBrackets) {
  NetRule r = ok("[::1]:8080");
  EXPECT_EQ(r.family, NetRule::Family::kV6);
  EXPECT_EQ(r.prefix_len, 128);
  EXPECT_EQ(r.addr[15], 1);
  NetRule n = ok("[fd00::/8]:*");
  EXPECT_EQ(n.prefix_len, 8);
  EXPECT_EQ(n.addr[0], 0xfd);
}

TEST(NetRule, AnyHost) {
  NetRule r = ok("*:53");
  EXPECT_EQ(r.family, NetRule::Family::kAny);
  EXPECT_EQ(r.port, 53);
  EXPECT_EQ(ok("*:*").port, 0);
}

TEST(NetRule, ErrorsNameTheEntryAndTheReason) {
  EXPECT_THAT(why("127.0.0.1"), HasSubstr("'127.0.0.1': no ':PORT'"));
  EXPECT_THAT(why("127.0.0.1:"), HasSubstr("no port after ':'"));
  EXPECT_THAT(why("127.0.0.1:0"), HasSubstr("port 0 is not a port"));
  EXPECT_THAT(why("127.0.0.1:65536"), HasSubstr("above 65535"));
  EXPECT_THAT(why("127.0.0.1:+80"), HasSubstr("not a decimal number"));
  EXPECT_THAT(why("127.0.0.1:080"), HasSubstr("leading zero"));
  EXPECT_THAT(why("127.0.0.1:http"), HasSubstr("not a decimal number"));
  EXPECT_THAT(why("localhost:80"), HasSubstr("'localhost' is not an IPv4 address"));
  EXPECT_THAT(why("1.2.3:80"), HasSubstr("not an IPv4 address"));
  EXPECT_THAT(why("::1:80"), HasSubstr("IPv6 addresses go in brackets"));
  EXPECT_THAT(why("[::1]"), HasSubstr("no ':PORT' after ']'"));
  EXPECT_THAT(why("[::1:80"), HasSubstr("'[' without ']'"));
  EXPECT_THAT(why("[127.0.0.1]:80"), HasSubstr("not an IPv6 address"));
  EXPECT_THAT(why("[fe80::1%eth0]:80"), HasSubstr("not an IPv6 address"));
  EXPECT_THAT(why("10.0.0.0/33:80"), HasSubstr("prefix length '33' is not 0..32"));
  EXPECT_THAT(why("[::/129]:80"), HasSubstr("is not 0..128"));
  EXPECT_THAT(why("10.0.0.0/:80"), HasSubstr("no prefix length"));
  EXPECT_THAT(why("10.0.0.1/8:443"), HasSubstr("did you mean 10.0.0.0/8?"));
  EXPECT_THAT(why("[fd00::1/8]:*"), HasSubstr("did you mean [fd00::/8]?"));
  EXPECT_THAT(why("*/0:80"), HasSubstr("not an IPv4 address"));
  EXPECT_THAT(why(""), HasSubstr("empty"));
  EXPECT_THAT(why(std::string("1.2.3.4\n:80")), HasSubstr("'1.2.3.4?:80'"));
}

TEST(NetRule, FormatIsCanonicalAndRoundTrips) {
  for (const char* s : {"127.0.0.1:8080", "10.0.0.0/8:443", "[::1]:8080", "[fd00::/8]:*", "*:53",
                        "*:*", "0.0.0.0/0:*", "[::ffff:127.0.0.1]:1"}) {
    NetRule r = ok(s);
    EXPECT_EQ(format_net_rule(r), s);
    EXPECT_EQ(ok(format_net_rule(r)), r);
  }
  EXPECT_EQ(format_net_rule(ok("[0:0::1]:80")), "[::1]:80");
}

TEST(NetPolicy, ListsAndTheirCap) {
  std::vector<std::string> connect = {"127.0.0.1:80", "[::1]:*"};
  std::vector<std::string> bind = {"127.0.0.1:*"};
  auto p = parse_net_policy(connect, bind);
  ASSERT_TRUE(p.has_value()) << p.error().describe();
  EXPECT_EQ(p->connect.size(), 2u);
  EXPECT_EQ(p->bind.size(), 1u);

  std::vector<std::string> bad_bind = {"127.0.0.1:*", "nope"};
  auto b = parse_net_policy(connect, bad_bind);
  ASSERT_FALSE(b.has_value());
  EXPECT_THAT(b.error().message, HasSubstr("bind: network entry 'nope'"));

  std::vector<std::string> many(kMaxNetRules + 1, "127.0.0.1:80");
  auto m = parse_net_policy(many, {});
  ASSERT_FALSE(m.has_value());
  EXPECT_THAT(m.error().message, HasSubstr("too many connect entries: 33 (at most 32)"));
  many.pop_back();
  EXPECT_TRUE(parse_net_policy(many, {}).has_value());
}

TEST(NetPolicy, Text) {
  auto p = parse_net_policy_text(
      "# a plugin that talks to its database\n"
      "connect 127.0.0.1:5432\n"
      "  connect\t[::1]:5432  \r\n"
      "\n"
      "bind 127.0.0.1:*\n");
  ASSERT_TRUE(p.has_value()) << p.error().describe();
  EXPECT_EQ(p->connect.size(), 2u);
  ASSERT_EQ(p->bind.size(), 1u);
  EXPECT_EQ(format_net_rule(p->bind[0]), "127.0.0.1:*");
  auto verb = parse_net_policy_text("connect 1.2.3.4:80\nlisten 1.2.3.4:80\n");
  ASSERT_FALSE(verb.has_value());
  EXPECT_THAT(verb.error().message, HasSubstr("line 2: 'listen' is not 'connect' or 'bind'"));
  auto empty = parse_net_policy_text("bind\n");
  ASSERT_FALSE(empty.has_value());
  EXPECT_THAT(empty.error().message, HasSubstr("line 1: no entry after bind"));
  EXPECT_TRUE(parse_net_policy_text("").has_value());
}

TEST(NetPolicy, ValidateCatchesHandMadeRules) {
  NetPolicy p;
  NetRule r = ok("10.0.0.0/8:*");
  r.addr[3] = 1;
  p.connect.push_back(r);
  EXPECT_FALSE(validate_net_policy(p).has_value());
  p.connect[0] = NetRule{};
  p.connect[0].prefix_len = 3;  // "*" with a prefix
  EXPECT_FALSE(validate_net_policy(p).has_value());
  p.connect[0].prefix_len = 0;
  EXPECT_TRUE(validate_net_policy(p).has_value());
}

TEST(BpfNetAbi, KernelRulesAreMaskedInNetworkOrder) {
  NetPolicy p;
  p.connect = {ok("10.1.0.0/16:443"), ok("[fd00::/12]:*"), ok("*:53")};
  p.bind = {ok("127.0.0.1:*")};
  net_policy k = to_kernel_policy(p);
  ASSERT_EQ(k.n_connect, 3u);
  ASSERT_EQ(k.n_bind, 1u);
  EXPECT_EQ(k.connect[0].family, CORRAL_NET_V4);
  EXPECT_EQ(k.connect[0].net[0], htonl(0x0a010000));
  EXPECT_EQ(k.connect[0].mask[0], htonl(0xffff0000));
  EXPECT_EQ(k.connect[0].mask[1], 0u);
  EXPECT_EQ(k.connect[0].port, htons(443));
  EXPECT_EQ(k.connect[1].family, CORRAL_NET_V6);
  EXPECT_EQ(k.connect[1].mask[0], htonl(0xfff00000));
  EXPECT_EQ(k.connect[1].net[0], htonl(0xfd000000));
  EXPECT_EQ(k.connect[2].family, CORRAL_NET_ANY);
  EXPECT_EQ(k.connect[2].mask[0], 0u);
  EXPECT_EQ(k.bind[0].mask[0], 0xffffffffu);
  EXPECT_EQ(k.bind[0].port, 0);
}

std::vector<std::byte> record(const net_event& e) {
  std::vector<std::byte> b(sizeof e);
  std::memcpy(b.data(), &e, sizeof e);
  return b;
}

TEST(BpfNetAbi, EventsDecode) {
  net_event e{};
  e.at_ns = 5;
  e.cgroup_id = 77;
  e.pid = 1234;
  e.kind = CORRAL_NET_EV_CONNECT_DENIED;
  e.family = AF_INET;
  e.port = htons(9999);
  e.addr[0] = htonl(0x7f000001);
  auto ev = decode_net_event(record(e));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->kind, EventKind::kConnectDenied);
  EXPECT_EQ(ev->source, Source::kBpf);
  EXPECT_EQ(ev->cgroup_id, 77u);
  EXPECT_EQ(ev->pid, 1234);
  EXPECT_EQ(ev->value, 9999u);
  EXPECT_EQ(ev->detail, "127.0.0.1:9999");

  e.kind = CORRAL_NET_EV_BIND_DENIED;
  e.family = AF_INET6;
  std::memset(e.addr, 0, sizeof e.addr);
  e.addr[3] = htonl(1);
  ev = decode_net_event(record(e));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->kind, EventKind::kBindDenied);
  EXPECT_EQ(ev->detail, "[::1]:9999");

  e.kind = CORRAL_NET_EV_SOCKET_DENIED;
  e.family = AF_PACKET;
  e.type = SOCK_RAW;
  ev = decode_net_event(record(e));
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->kind, EventKind::kSocketDenied);
  EXPECT_EQ(ev->value, static_cast<uint64_t>(AF_PACKET));

  e.kind = 99;
  EXPECT_FALSE(decode_net_event(record(e)).has_value());
  auto shortrec = record(e);
  shortrec.pop_back();
  EXPECT_FALSE(decode_net_event(shortrec).has_value());
}

}  // namespace
}  // namespace corral::collectors
