/* Per-cgroup scheduling, process and OOM counters, and an fd-counting task_file iterator, for the
 * cgroups userspace puts in `tracked` (everything else costs one hash lookup per task seen).
 * Every hook has variants (tp_btf, raw_tp, tracepoint) marked "?" (not loaded unless chosen):
 * the loader picks, per hook, the first that loads and attaches here. ABI: bpf/proc.h. */
#include "bpf/common.bpf.h"
#include "bpf/proc.h"

char LICENSE[] SEC("license") = "GPL";

#define TASK_RUNNING 0
#define MAX_CGROUPS 1024
#define MAX_QUEUED 16384

/* Set by the loader before load. */
const volatile __u32 self_tgid = 0;       /* the loader's own process: never counted */
const volatile __u64 page_size = 4096;    /* for RSS from mm counters (pages) */
const volatile bool exec_events = true;   /* emit CORRAL_PROC_EXEC records */

/* Written by the loader before each iterator pass (the pass's generation). */
__u64 fd_gen = 0;
__u64 run_gen = 0;
/* Slices of tracked tasks that ended without their switch-in seen here (credited from the
 * scheduler's own start of the slice instead), since load. */
__u64 unseen_switch_ins = 0;
/* The iterator's cache: the task whose files it is walking, and whether it is tracked. */
__u32 iter_last_pid = 0;
bool iter_last_hit = false;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, MAX_CGROUPS);
  __type(key, __u64);
  __type(value, struct corral_proc_tracked);
} tracked SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, MAX_CGROUPS);
  __type(key, __u64);
  __type(value, struct corral_proc_stats);
} stats SEC(".maps");

/* When each tracked task became runnable (woken, or preempted and still runnable), by tid. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, MAX_QUEUED);
  __type(key, __u32);
  __type(value, __u64);
} queued SEC(".maps");

/* Which tracked task this CPU switched to, and when. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct corral_proc_oncpu);
} oncpu SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024); /* the loader sets the real size */
} events SEC(".maps");

/* Records bpf_ringbuf_reserve could not place. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} ringbuf_lost SEC(".maps");

/* Kernels before 5.14 called task_struct::__state `state`. */
struct task_struct___pre514 {
  long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t) {
  if (bpf_core_field_exists(t->__state)) return BPF_CORE_READ(t, __state);
  return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

static __always_inline __u64 task_cgroup_id(struct task_struct *t) {
  return BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
}

/* The counters of t's cgroup if it is tracked (the one lookup untracked tasks cost), else 0. */
static __always_inline struct corral_proc_stats *tracked_stats(struct task_struct *t, __u64 *cgid) {
  *cgid = task_cgroup_id(t);
  if (!bpf_map_lookup_elem(&tracked, cgid)) return 0;
  if (BPF_CORE_READ(t, tgid) == self_tgid) return 0;
  return bpf_map_lookup_elem(&stats, cgid);
}

static __always_inline struct corral_proc_event *reserve_event(void) {
  struct corral_proc_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    __u32 zero = 0;
    __u64 *lost = bpf_map_lookup_elem(&ringbuf_lost, &zero);
    if (lost) *lost += 1;
  }
  return e;
}

/* ---- sched: on-CPU time and run-queue latency ---- */

static __always_inline void on_wakeup(struct task_struct *p) {
  __u64 cgid;
  if (!tracked_stats(p, &cgid)) return;
  __u32 pid = BPF_CORE_READ(p, pid);
  __u64 now = bpf_ktime_get_ns();
  bpf_map_update_elem(&queued, &pid, &now, BPF_ANY);
}

static __always_inline void on_switch(struct task_struct *prev, struct task_struct *next) {
  __u64 now = bpf_ktime_get_ns();
  __u32 zero = 0;
  __u64 cgid;
  struct corral_proc_stats *s = tracked_stats(prev, &cgid);
  if (s) {
    __u32 pid = BPF_CORE_READ(prev, pid);
    struct corral_proc_oncpu *slot = bpf_map_lookup_elem(&oncpu, &zero);
    /* The slice's length as the scheduler charged it (se.sum_exec_runtime is brought up to date
     * before this tracepoint), not wall time: time the hypervisor stole from this vCPU is not
     * the task's, and cpuacct/cpu.stat leave it out too. */
    __u64 runtime = BPF_CORE_READ(prev, se.sum_exec_runtime);
    if (slot && slot->pid == pid && slot->since_ns != 0) {
      if (runtime > slot->runtime_ns) s->oncpu_ns += runtime - slot->runtime_ns;
      slot->since_ns = 0;
    } else {
      /* A slice whose switch-in this program did not see (under heavy contention about one in
       * twenty of a burner's slices here, with no recursion miss counted): the scheduler set
       * se.prev_sum_exec_runtime when it picked the task, so the slice is the difference. */
      __u64 start = BPF_CORE_READ(prev, se.prev_sum_exec_runtime);
      if (runtime > start) s->oncpu_ns += runtime - start;
      __sync_fetch_and_add(&unseen_switch_ins, 1);
    }
    /* Preempted and still runnable: it waits in the run queue again from now. */
    if (task_state(prev) == TASK_RUNNING) bpf_map_update_elem(&queued, &pid, &now, BPF_ANY);
  }
  s = tracked_stats(next, &cgid);
  if (s) {
    __u32 pid = BPF_CORE_READ(next, pid);
    struct corral_proc_oncpu *slot = bpf_map_lookup_elem(&oncpu, &zero);
    if (slot) {
      slot->pid = pid;
      slot->cgroup_id = cgid;
      slot->since_ns = now;
      slot->runtime_ns = BPF_CORE_READ(next, se.sum_exec_runtime);
    }
    __u64 *since = bpf_map_lookup_elem(&queued, &pid);
    if (since) {
      if (now > *since) {
        __u64 wait = now - *since;
        s->runq_wait_ns += wait;
        s->runq_waits += 1;
        if (wait > s->runq_max_ns) s->runq_max_ns = wait;
      }
      bpf_map_delete_elem(&queued, &pid);
    }
  }
}

SEC("?tp_btf/sched_switch")
int BPF_PROG(switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next) {
  on_switch(prev, next);
  return 0;
}

SEC("?raw_tp/sched_switch")
int BPF_PROG(switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next) {
  on_switch(prev, next);
  return 0;
}

SEC("?tp_btf/sched_wakeup")
int BPF_PROG(wakeup_btf, struct task_struct *p) {
  on_wakeup(p);
  return 0;
}

SEC("?raw_tp/sched_wakeup")
int BPF_PROG(wakeup_raw, struct task_struct *p) {
  on_wakeup(p);
  return 0;
}

SEC("?tp_btf/sched_wakeup_new")
int BPF_PROG(wakeup_new_btf, struct task_struct *p) {
  on_wakeup(p);
  return 0;
}

SEC("?raw_tp/sched_wakeup_new")
int BPF_PROG(wakeup_new_raw, struct task_struct *p) {
  on_wakeup(p);
  return 0;
}

/* ---- processes: forks, execs, exits ---- */

/* The child's own cgroup (CLONE_INTO_CGROUP may differ from the parent's); processes only. */
static __always_inline void on_fork(struct task_struct *child) {
  __u64 cgid;
  struct corral_proc_stats *s = tracked_stats(child, &cgid);
  if (s && BPF_CORE_READ(child, pid) == BPF_CORE_READ(child, tgid)) s->forks += 1;
}

static __always_inline void on_exec(struct task_struct *p) {
  __u64 cgid;
  struct corral_proc_stats *s = tracked_stats(p, &cgid);
  if (!s) return;
  s->execs += 1;
  if (!exec_events) return;
  struct corral_proc_event *e = reserve_event();
  if (!e) return;
  e->at_ns = bpf_ktime_get_ns();
  e->cgroup_id = cgid;
  e->value = 0;
  e->kind = CORRAL_PROC_EXEC;
  e->pid = BPF_CORE_READ(p, tgid);
  BPF_CORE_READ_STR_INTO(&e->comm, p, comm);
  bpf_ringbuf_submit(e, 0);
}

/* Every thread passes here; a process is counted when its thread-group leader exits. */
static __always_inline void on_exit(struct task_struct *p) {
  __u64 cgid;
  struct corral_proc_stats *s = tracked_stats(p, &cgid);
  if (!s) return;
  __u32 pid = BPF_CORE_READ(p, pid);
  bpf_map_delete_elem(&queued, &pid);
  if (pid == BPF_CORE_READ(p, tgid)) s->exits += 1;
}

SEC("?tp_btf/sched_process_fork")
int BPF_PROG(fork_btf, struct task_struct *parent, struct task_struct *child) {
  on_fork(child);
  return 0;
}

SEC("?raw_tp/sched_process_fork")
int BPF_PROG(fork_raw, struct task_struct *parent, struct task_struct *child) {
  on_fork(child);
  return 0;
}

SEC("?tp_btf/sched_process_exec")
int BPF_PROG(exec_btf, struct task_struct *p) {
  on_exec(p);
  return 0;
}

SEC("?raw_tp/sched_process_exec")
int BPF_PROG(exec_raw, struct task_struct *p) {
  on_exec(p);
  return 0;
}

SEC("?tp_btf/sched_process_exit")
int BPF_PROG(exit_btf, struct task_struct *p) {
  on_exit(p);
  return 0;
}

SEC("?raw_tp/sched_process_exit")
int BPF_PROG(exit_raw, struct task_struct *p) {
  on_exit(p);
  return 0;
}

/* ---- oom: the victim, attributed to its own cgroup ---- */

static __always_inline void emit_oom(struct task_struct *victim, __u64 cgid, __s32 pid,
                                     __u64 rss_bytes) {
  struct corral_proc_event *e = reserve_event();
  if (!e) return;
  e->at_ns = bpf_ktime_get_ns();
  e->cgroup_id = cgid;
  e->value = rss_bytes;
  e->kind = CORRAL_PROC_OOM_KILL;
  e->pid = pid;
  e->comm[0] = 0;
  if (victim) BPF_CORE_READ_STR_INTO(&e->comm, victim, comm);
  bpf_ringbuf_submit(e, 0);
}

/* Linux 6.8+: mark_victim(struct task_struct *task, uid_t uid). The direct read of task->tgid
 * makes the verifier refuse this program where the first argument is still `int pid`. */
SEC("?tp_btf/mark_victim")
int BPF_PROG(oom_btf, struct task_struct *task, uid_t uid) {
  __s32 pid = task->tgid;
  __u64 cgid;
  struct corral_proc_stats *s = tracked_stats(task, &cgid);
  if (!s) return 0;
  s->oom_kills += 1;
  __u64 pages = 0;
  struct mm_struct *mm = task->mm;
  if (mm) {
    pages += BPF_CORE_READ(mm, rss_stat[MM_FILEPAGES].count);
    pages += BPF_CORE_READ(mm, rss_stat[MM_ANONPAGES].count);
    pages += BPF_CORE_READ(mm, rss_stat[MM_SHMEMPAGES].count);
  }
  emit_oom(task, cgid, pid, (__s64)pages > 0 ? pages * page_size : 0);
  return 0;
}

/* The classic tracepoint: the victim's pid, and its RSS in kB where the kernel records it. */
static __always_inline __u64 trace_rss_bytes(struct trace_event_raw_mark_victim *ctx) {
  if (!bpf_core_field_exists(ctx->anon_rss)) return 0;
  return (BPF_CORE_READ(ctx, anon_rss) + BPF_CORE_READ(ctx, file_rss) +
          BPF_CORE_READ(ctx, shmem_rss)) * 1024;
}

static __always_inline void trace_comm(struct trace_event_raw_mark_victim *ctx,
                                       struct corral_proc_event *e) {
  if (!bpf_core_field_exists(ctx->__data_loc_comm)) return;
  __u32 loc = BPF_CORE_READ(ctx, __data_loc_comm);
  bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), (void *)ctx + (loc & 0xffff));
}

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;

/* The victim found by pid (kfunc bpf_task_from_pid, Linux 6.2+). */
SEC("?tracepoint/oom/mark_victim")
int oom_tp_kfunc(struct trace_event_raw_mark_victim *ctx) {
  __s32 pid = BPF_CORE_READ(ctx, pid);
  struct task_struct *victim = bpf_task_from_pid(pid);
  if (!victim) return 0;
  __u64 cgid;
  struct corral_proc_stats *s = tracked_stats(victim, &cgid);
  if (s) {
    s->oom_kills += 1;
    struct corral_proc_event *e = reserve_event();
    if (e) {
      e->at_ns = bpf_ktime_get_ns();
      e->cgroup_id = cgid;
      e->value = trace_rss_bytes(ctx);
      e->kind = CORRAL_PROC_OOM_KILL;
      e->pid = pid;
      BPF_CORE_READ_STR_INTO(&e->comm, victim, comm);
      bpf_ringbuf_submit(e, 0);
    }
  }
  bpf_task_release(victim);
  return 0;
}

/* No way to the victim's task: attributed to the cgroup of the task that ran the OOM killer (in
 * a memcg OOM the one whose charge failed, normally in the victim's own group). */
SEC("?tracepoint/oom/mark_victim")
int oom_tp(struct trace_event_raw_mark_victim *ctx) {
  struct task_struct *cur = (struct task_struct *)bpf_get_current_task();
  __u64 cgid;
  struct corral_proc_stats *s = tracked_stats(cur, &cgid);
  if (!s) return 0;
  s->oom_kills += 1;
  struct corral_proc_event *e = reserve_event();
  if (!e) return 0;
  e->at_ns = bpf_ktime_get_ns();
  e->cgroup_id = cgid;
  e->value = trace_rss_bytes(ctx);
  e->kind = CORRAL_PROC_OOM_KILL;
  e->pid = BPF_CORE_READ(ctx, pid);
  e->comm[0] = 0;
  trace_comm(ctx, e);
  bpf_ringbuf_submit(e, 0);
  return 0;
}

/* ---- fds: one iterator pass over every task ---- */

#define FD_WORDS_MAX 4096 /* bitmap words read per table: 262144 fds on 64-bit */

/* Preferred: one visit per task, not per file. A process's open fds are the bits set in its fd
 * table's open_fds bitmap (what /proc/<pid>/fd lists); a thread is counted only when it has a
 * table of its own (unshare(CLONE_FILES)). */
SEC("?iter/task")
int count_fd_tables(struct bpf_iter__task *ctx) {
  struct task_struct *task = ctx->task;
  if (!task) return 0;
  if (task->tgid == self_tgid) return 0;
  __u64 cgid = task_cgroup_id(task);
  struct corral_proc_tracked *t = bpf_map_lookup_elem(&tracked, &cgid);
  if (!t) return 0;
  struct files_struct *files = BPF_CORE_READ(task, files);
  if (!files) return 0; /* exiting */
  if (task->pid != task->tgid && files == BPF_CORE_READ(task, group_leader, files)) return 0;
  struct fdtable *fdt = BPF_CORE_READ(files, fdt);
  if (!fdt) return 0;
  __u32 words = BPF_CORE_READ(fdt, max_fds) / (8 * sizeof(unsigned long));
  unsigned long *open = BPF_CORE_READ(fdt, open_fds);
  if (!open) return 0;
  __u64 n = 0;
  for (__u32 i = 0; i < FD_WORDS_MAX; i++) {
    if (i >= words) break;
    unsigned long w = 0;
    if (bpf_probe_read_kernel(&w, sizeof w, open + i) != 0) break;
    n += __builtin_popcountl(w);
  }
  if (t->fd_gen != fd_gen) {
    t->fd_gen = fd_gen;
    t->fds = 0;
  }
  t->fds += n;
  return 0;
}

/* Slices running now, per tracked cgroup: each task on a CPU has been charged
 * se.sum_exec_runtime - (its runtime at the switch-in this program saw, or, when it saw none,
 * se.prev_sum_exec_runtime, which the scheduler set when it picked the task). One visit per
 * task; reads no files. */
SEC("?iter/task")
int running_slices(struct bpf_iter__task *ctx) {
  struct task_struct *task = ctx->task;
  if (!task) return 0;
  if (!BPF_CORE_READ(task, on_cpu)) return 0;
  if (task->tgid == self_tgid) return 0;
  __u64 cgid = task_cgroup_id(task);
  struct corral_proc_tracked *t = bpf_map_lookup_elem(&tracked, &cgid);
  if (!t) return 0;
  __u32 cpu = BPF_CORE_READ(task, thread_info.cpu);
  __u64 runtime = BPF_CORE_READ(task, se.sum_exec_runtime);
  __u64 start = BPF_CORE_READ(task, se.prev_sum_exec_runtime);
  __u32 zero = 0;
  struct corral_proc_oncpu *slot = bpf_map_lookup_percpu_elem(&oncpu, &zero, cpu);
  if (slot && slot->pid == (__u32)task->pid && slot->since_ns != 0) start = slot->runtime_ns;
  if (t->run_gen != run_gen) {
    t->run_gen = run_gen;
    t->running_ns = 0;
  }
  if (runtime > start) t->running_ns += runtime - start;
  return 0;
}

/* Fallback: counts each (task, fd) the kernel yields for tracked cgroups. The kernel already
 * skips threads that share their group leader's fd table, so a process's table is counted once. */
SEC("?iter/task_file")
int count_fds(struct bpf_iter__task_file *ctx) {
  struct task_struct *task = ctx->task;
  if (!task || !ctx->file) return 0;
  __u32 pid = task->pid;
  if (pid == iter_last_pid && !iter_last_hit) return 0;
  iter_last_pid = pid;
  iter_last_hit = false;
  if (task->tgid == self_tgid) return 0;
  __u64 cgid = task_cgroup_id(task);
  struct corral_proc_tracked *t = bpf_map_lookup_elem(&tracked, &cgid);
  if (!t) return 0;
  iter_last_hit = true;
  if (t->fd_gen != fd_gen) {
    t->fd_gen = fd_gen;
    t->fds = 0;
  }
  t->fds += 1;
  return 0;
}

/* Test-only: the verifier must refuse this (a map value used without its NULL check), so the
 * loader's error carrying the verifier's words can be checked. Never loaded otherwise. */
SEC("?raw_tp/sched_switch")
int selftest_reject(void *ctx) {
  __u64 key = 0;
  struct corral_proc_tracked *t = bpf_map_lookup_elem(&tracked, &key);
  t->fds += 1; /* deliberately unchecked: a hash lookup may return NULL */
  return 0;
}
