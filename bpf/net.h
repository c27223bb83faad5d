/* ABI between bpf/net.bpf.c and collectors/bpf_net_collector.cc: the per-cgroup allow-list
 * (map `policies`), the per-cgroup counters (per-CPU map `counters`, summed by userspace), the
 * live AF_UNIX/netlink counts the iterators fill (map `iter_live`) and the ring-buffer event.
 * Plain C, fixed-width fields only; userspace static_asserts every size. Addresses and ports are
 * in network byte order exactly as the kernel hands them to the hooks. */
#ifndef CORRAL_BPF_NET_H
#define CORRAL_BPF_NET_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define CORRAL_NET_MAX_RULES 32 /* per list (connect, bind) of one cgroup */
#define CORRAL_NET_MAX_CGROUPS 4096

/* net_rule.family */
#define CORRAL_NET_ANY 0 /* "*": both families, any address */
#define CORRAL_NET_V4 4
#define CORRAL_NET_V6 6

/* One allowed address range and port. A v4 rule uses word 0 of net/mask. The address a hook
 * sees matches when (addr[i] & mask[i]) == net[i] for every word, and port == 0 or equal. */
struct net_rule {
  __u32 net[4];
  __u32 mask[4];
  __u16 port; /* network byte order; 0: any port */
  __u8 family;
  __u8 pad[5];
};

/* A cgroup with an entry here is policed: connect/sendmsg destinations must match a connect
 * rule, bind addresses a bind rule; inet sockets other than TCP/UDP are refused. */
struct net_policy {
  __u32 n_connect;
  __u32 n_bind;
  struct net_rule connect[CORRAL_NET_MAX_RULES];
  struct net_rule bind[CORRAL_NET_MAX_RULES];
};

/* Counters of one tracked cgroup (an entry exists only for tracked cgroups; the programs never
 * create one). Live counts are +1/-1 on whichever CPU saw the event: only the sum over CPUs
 * (mod 2^64) is meaningful. */
struct net_counters {
  __u64 inet4_live;
  __u64 inet6_live;
  __u64 created;
  __u64 connects;
  __u64 connects_denied; /* connect() and sendmsg() destinations refused */
  __u64 binds_denied;
  __u64 sockets_denied;
  __u64 accepts;
  __u64 tcp_state_changes;
  __u64 bytes_in;
  __u64 bytes_out;
};

/* Live sockets the iterators (iter/unix, iter/netlink) counted in one pass. */
struct net_iter_live {
  __u64 unix_;
  __u64 netlink;
};

/* net_event.kind */
#define CORRAL_NET_EV_CONNECT_DENIED 1
#define CORRAL_NET_EV_BIND_DENIED 2
#define CORRAL_NET_EV_SOCKET_DENIED 3

struct net_event {
  __u64 at_ns;     /* bpf_ktime_get_ns() */
  __u64 cgroup_id; /* the caller's cgroup2 id */
  __u32 pid;       /* tgid */
  __u8 kind;
  __u8 family; /* AF_INET/AF_INET6 for connect/bind; the requested family for socket */
  __u16 port;  /* network byte order */
  __u32 addr[4];
  __u32 type;     /* socket denied: type and protocol asked for */
  __u32 protocol; /* connect denied: IPPROTO_TCP or IPPROTO_UDP (sendmsg) */
};

#endif /* CORRAL_BPF_NET_H */
