/* ABI of bpf/proc.bpf.c, shared with its loader collectors/bpf_proc_collector.cc: the values of
 * its maps and the records of its ring buffer. Counters are per-CPU and keyed by the cgroup2 id;
 * the loader sums them (max for runq_max_ns). Times are bpf_ktime_get_ns() (CLOCK_MONOTONIC). */
#pragma once

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define CORRAL_PROC_COMM_LEN 16

/* `stats` (BPF_MAP_TYPE_PERCPU_HASH, cgroup id -> one of these per CPU). */
struct corral_proc_stats {
  __u64 oncpu_ns;     /* sched_switch: the slice prev ran, from its switch-in on this CPU */
  __u64 runq_wait_ns; /* wakeup (or preemption) to switch-in */
  __u64 runq_waits;
  __u64 runq_max_ns; /* per CPU; the loader takes the maximum */
  __u64 forks;       /* new processes (thread-group leaders), not threads */
  __u64 execs;
  __u64 exits;     /* processes: counted when the thread-group leader exits */
  __u64 oom_kills; /* victims in this cgroup */
};

/* `tracked` (BPF_MAP_TYPE_HASH, cgroup id -> this): the filter, and where the task_file iterator
 * leaves its count: `fds` is this pass's count when fd_gen equals the pass's generation. */
struct corral_proc_tracked {
  __u64 fd_gen;
  __u64 fds;
  __u64 run_gen;    /* the running_slices pass that last wrote running_ns */
  __u64 running_ns; /* slices running at that pass: charged since their switch-in */
};

/* `oncpu` (BPF_MAP_TYPE_PERCPU_ARRAY, one entry): the tracked task this CPU switched to, when
 * (since_ns 0: none) and its se.sum_exec_runtime then. The loader adds running slices to
 * oncpu_ns at sample time. */
struct corral_proc_oncpu {
  __u64 since_ns;
  __u64 runtime_ns;
  __u64 cgroup_id;
  __u32 pid;
  __u32 pad;
};

enum corral_proc_event_kind {
  CORRAL_PROC_EXEC = 1,     /* pid: the process (tgid); comm: the new comm */
  CORRAL_PROC_OOM_KILL = 2, /* pid: the victim (tgid); value: its RSS in bytes (0: unknown) */
};

/* A ring-buffer record (`events`, BPF_MAP_TYPE_RINGBUF). */
struct corral_proc_event {
  __u64 at_ns;
  __u64 cgroup_id;
  __u64 value;
  __u32 kind; /* enum corral_proc_event_kind */
  __s32 pid;
  char comm[CORRAL_PROC_COMM_LEN];
};
