/* Per-plugin network allow-lists and socket telemetry, attached once to corrald's parent cgroup
 * (BPF_F_ALLOW_MULTI) so it acts for every plugin below it. A cgroup with a `policies` entry is
 * policed (connect/sendmsg/bind must match a rule; return 0 makes the syscall fail with EPERM);
 * one with a `counters` entry is tracked. Everything else is allowed and not counted. */
#include "bpf/common.bpf.h"
#include "bpf/net.h"

#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, CORRAL_NET_MAX_CGROUPS);
  __type(key, __u64);
  __type(value, struct net_policy);
} policies SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, CORRAL_NET_MAX_CGROUPS);
  __type(key, __u64);
  __type(value, struct net_counters);
} counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, CORRAL_NET_MAX_CGROUPS);
  __type(key, __u64);
  __type(value, struct net_iter_live);
} iter_live SEC(".maps");

/* The tracked cgroup an inet socket was created in; cloned into accepted children, so the
 * softirq-time hooks (sockops) attribute by the socket, never by the interrupted task. */
struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
  __type(key, int);
  __type(value, __u64);
} sk_cgroup SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024); /* userspace may resize before load */
} events SEC(".maps");

__u64 lost_events = 0; /* ring-buffer reserves that failed */

static __always_inline struct net_counters *counters_of(__u64 cg) {
  return bpf_map_lookup_elem(&counters, &cg);
}

static __always_inline void emit(__u8 kind, __u64 cg, __u8 family, __u16 port, const __u32 *addr,
                                 __u32 type, __u32 protocol) {
  struct net_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    __sync_fetch_and_add(&lost_events, 1);
    return;
  }
  e->at_ns = bpf_ktime_get_ns();
  e->cgroup_id = cg;
  e->pid = bpf_get_current_pid_tgid() >> 32;
  e->kind = kind;
  e->family = family;
  e->port = port;
  for (int i = 0; i < 4; i++) e->addr[i] = addr ? addr[i] : 0;
  e->type = type;
  e->protocol = protocol;
  bpf_ringbuf_submit(e, 0);
}

static __always_inline int rule_matches(const struct net_rule *r, __u8 fam, const __u32 *a,
                                        __u16 port) {
  if (r->port != 0 && r->port != port) return 0;
  if (r->family == CORRAL_NET_ANY) return 1;
  if (r->family != fam) return 0;
  if ((a[0] & r->mask[0]) != r->net[0]) return 0;
  if (fam == CORRAL_NET_V4) return 1;
  return (a[1] & r->mask[1]) == r->net[1] && (a[2] & r->mask[2]) == r->net[2] &&
         (a[3] & r->mask[3]) == r->net[3];
}

/* fam is CORRAL_NET_V4 (a[0] is the address) or CORRAL_NET_V6. */
static __always_inline int allowed(const struct net_rule *rules, __u32 n, __u8 fam, const __u32 *a,
                                   __u16 port) {
  for (__u32 i = 0; i < CORRAL_NET_MAX_RULES; i++) {
    if (i >= n) break;
    if (rule_matches(&rules[i], fam, a, port)) return 1;
  }
  return 0;
}

/* An IPv6 address as the rules see it: v4-mapped (::ffff:a.b.c.d) addresses are IPv4. */
static __always_inline __u8 v6_view(__u32 *a) {
  if (a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff)) {
    a[0] = a[3];
    a[1] = a[2] = a[3] = 0;
    return CORRAL_NET_V4;
  }
  return CORRAL_NET_V6;
}

enum check { kConnect, kSendmsg, kBind };

/* The verdict for one destination (connect, sendmsg) or local address (bind). */
static __always_inline int check(enum check what, __u8 family, __u32 *raw, __u16 port,
                                 __u32 protocol) {
  __u64 cg = bpf_get_current_cgroup_id();
  struct net_counters *c = counters_of(cg);
  struct net_policy *p = bpf_map_lookup_elem(&policies, &cg);
  if (!p) {
    if (c && what == kConnect) __sync_fetch_and_add(&c->connects, 1);
    return 1;
  }
  __u32 a[4] = {raw[0], raw[1], raw[2], raw[3]};
  __u8 fam = family == AF_INET ? CORRAL_NET_V4 : v6_view(a);
  int ok = what == kBind ? allowed(p->bind, p->n_bind, fam, a, port)
                         : allowed(p->connect, p->n_connect, fam, a, port);
  if (ok) {
    if (c && what == kConnect) __sync_fetch_and_add(&c->connects, 1);
    return 1;
  }
  if (c) __sync_fetch_and_add(what == kBind ? &c->binds_denied : &c->connects_denied, 1);
  emit(what == kBind ? CORRAL_NET_EV_BIND_DENIED : CORRAL_NET_EV_CONNECT_DENIED, cg, family, port,
       raw, 0, protocol);
  return 0;
}

static __always_inline int check4(enum check what, struct bpf_sock_addr *ctx) {
  __u32 raw[4] = {ctx->user_ip4, 0, 0, 0};
  return check(what, AF_INET, raw, (__u16)ctx->user_port, ctx->protocol);
}

static __always_inline int check6(enum check what, struct bpf_sock_addr *ctx) {
  __u32 raw[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};
  return check(what, AF_INET6, raw, (__u16)ctx->user_port, ctx->protocol);
}

SEC("cgroup/connect4")
int net_connect4(struct bpf_sock_addr *ctx) { return check4(kConnect, ctx); }

SEC("cgroup/connect6")
int net_connect6(struct bpf_sock_addr *ctx) { return check6(kConnect, ctx); }

SEC("cgroup/sendmsg4")
int net_sendmsg4(struct bpf_sock_addr *ctx) { return check4(kSendmsg, ctx); }

SEC("cgroup/sendmsg6")
int net_sendmsg6(struct bpf_sock_addr *ctx) { return check6(kSendmsg, ctx); }

SEC("cgroup/bind4")
int net_bind4(struct bpf_sock_addr *ctx) { return check4(kBind, ctx); }

SEC("cgroup/bind6")
int net_bind6(struct bpf_sock_addr *ctx) { return check6(kBind, ctx); }

/* Runs for AF_INET/AF_INET6 only (the kernel has no cgroup hook for other families): a policed
 * cgroup gets TCP and UDP, nothing else (raw, ICMP, SCTP, MPTCP would bypass the rules). */
SEC("cgroup/sock_create")
int net_sock_create(struct bpf_sock *sk) {
  __u64 cg = bpf_get_current_cgroup_id();
  __u32 family = sk->family, type = sk->type, protocol = sk->protocol;
  if (bpf_map_lookup_elem(&policies, &cg)) {
    int tcp = type == SOCK_STREAM && protocol == IPPROTO_TCP;
    int udp = type == SOCK_DGRAM && protocol == IPPROTO_UDP;
    if (!tcp && !udp) {
      struct net_counters *c = counters_of(cg);
      if (c) __sync_fetch_and_add(&c->sockets_denied, 1);
      emit(CORRAL_NET_EV_SOCKET_DENIED, cg, family, 0, 0, type, protocol);
      return 0;
    }
  }
  struct net_counters *c = counters_of(cg);
  if (!c) return 1;
  __u64 *owner = bpf_sk_storage_get(&sk_cgroup, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
  if (owner) *owner = cg;
  __sync_fetch_and_add(&c->created, 1);
  __sync_fetch_and_add(family == AF_INET ? &c->inet4_live : &c->inet6_live, 1);
  return 1;
}

SEC("cgroup/sock_release")
int net_sock_release(struct bpf_sock *sk) {
  __u64 *owner = bpf_sk_storage_get(&sk_cgroup, sk, 0, 0);
  if (!owner) return 1;
  struct net_counters *c = counters_of(*owner);
  if (c) __sync_fetch_and_add(sk->family == AF_INET ? &c->inet4_live : &c->inet6_live, -1);
  return 1;
}

/* TCP events, possibly in softirq: attributed by the socket's owner (sk_cgroup). */
SEC("sockops")
int net_sockops(struct bpf_sock_ops *skops) {
  __u32 op = skops->op;
  if (op != BPF_SOCK_OPS_TCP_CONNECT_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB &&
      op != BPF_SOCK_OPS_STATE_CB)
    return 1;
  struct bpf_sock *sk = skops->sk;
  if (!sk) return 1;
  __u64 *owner = bpf_sk_storage_get(&sk_cgroup, sk, 0, 0);
  if (!owner) return 1;
  struct net_counters *c = counters_of(*owner);
  if (!c) return 1;
  if (op == BPF_SOCK_OPS_STATE_CB) {
    __sync_fetch_and_add(&c->tcp_state_changes, 1);
    return 1;
  }
  if (op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB) __sync_fetch_and_add(&c->accepts, 1);
  bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
  return 1;
}

/* Bytes by the socket's cgroup (skb->sk, also set on ingress), IP header included. */
SEC("cgroup_skb/egress")
int net_egress(struct __sk_buff *skb) {
  struct net_counters *c = counters_of(bpf_skb_cgroup_id(skb));
  if (c) __sync_fetch_and_add(&c->bytes_out, skb->len);
  return 1;
}

SEC("cgroup_skb/ingress")
int net_ingress(struct __sk_buff *skb) {
  struct net_counters *c = counters_of(bpf_skb_cgroup_id(skb));
  if (c) __sync_fetch_and_add(&c->bytes_in, skb->len);
  return 1;
}

/* Live AF_UNIX and netlink sockets, counted by walking them at sample time (no cgroup hook sees
 * their creation). Userspace zeroes the tracked entries before each walk. */
static __always_inline void count_live(struct sock *sk, int netlink) {
  __u64 cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
  struct net_iter_live *l = bpf_map_lookup_elem(&iter_live, &cg);
  if (!l) return;
  __sync_fetch_and_add(netlink ? &l->netlink : &l->unix_, 1);
}

SEC("iter/unix")
int net_iter_unix(struct bpf_iter__unix *ctx) {
  struct unix_sock *u = ctx->unix_sk;
  if (u) count_live(&u->sk, 0);
  return 0;
}

SEC("iter/netlink")
int net_iter_netlink(struct bpf_iter__netlink *ctx) {
  struct netlink_sock *n = ctx->sk;
  if (n) count_live(&n->sk, 1);
  return 0;
}

/* Where the kernel has BPF-LSM (lsm_cgroup, 6.0+): a policed cgroup may create AF_INET,
 * AF_INET6 and AF_UNIX sockets only. Loaded only if the kernel accepts it (see the loader). */
#define AF_UNIX 1
SEC("lsm_cgroup/socket_create")
int BPF_PROG(net_lsm_socket_create, int family, int type, int protocol, int kern) {
  if (kern || family == AF_INET || family == AF_INET6 || family == AF_UNIX) return 1;
  __u64 cg = bpf_get_current_cgroup_id();
  if (!bpf_map_lookup_elem(&policies, &cg)) return 1;
  struct net_counters *c = counters_of(cg);
  if (c) __sync_fetch_and_add(&c->sockets_denied, 1);
  emit(CORRAL_NET_EV_SOCKET_DENIED, cg, family, 0, 0, type, protocol);
  return 0;
}
