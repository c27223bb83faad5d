/* tc_hostile: a hostile plugin that tries one thing and says how it went, for the containment
 * tests. It prints one line and exits 0 when the attempt was refused ("blocked: <why>"), 1 when it
 * worked ("ESCAPED: <what>"), 2 on a usage error. The tests also check the kernel's view.
 *   tc_hostile <attempt> [arg]
 * Attempts: read FILE, write FILE, signal PID, ptrace-init, mount, userns, kmod, bpf, perf,
 * keyctl, open-by-handle, chroot, sysrq, sys, tiocsti, euid, caps, raw-socket, connect PORT,
 * fds, sethostname, fill FILE, procs. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int blocked(const char* what) {
  printf("blocked: %s: %s\n", what, strerror(errno));
  return 0;
}
static int escaped(const char* what) {
  printf("ESCAPED: %s\n", what);
  return 1;
}
#define TRY(cond, what) ((cond) ? escaped(what) : blocked(what))

static int caps_line(void) {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  int esc = 0;
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, "CapEff:", 7) == 0 || strncmp(line, "CapPrm:", 7) == 0) {
      fputs(line, stdout);
      if (strtoull(line + 7, NULL, 16) != 0) esc = 1;
    }
  }
  if (f) fclose(f);
  printf("euid %d\n", (int)geteuid());
  return esc || geteuid() == 0;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* a = argv[1];
  const char* arg = argc > 2 ? argv[2] : "";
  setvbuf(stdout, NULL, _IONBF, 0);
  if (!strcmp(a, "read")) return TRY(open(arg, O_RDONLY) >= 0, "read");
  if (!strcmp(a, "write")) return TRY(open(arg, O_WRONLY | O_CREAT, 0644) >= 0, "write");
  if (!strcmp(a, "signal")) return TRY(kill(atoi(arg), SIGKILL) == 0, "signal");
  if (!strcmp(a, "ptrace-init")) return TRY(ptrace(PTRACE_ATTACH, 1, 0, 0) == 0, "ptrace pid 1");
  if (!strcmp(a, "mount")) return TRY(mount("none", "/tmp", "tmpfs", 0, NULL) == 0, "mount");
  if (!strcmp(a, "userns")) {
    /* A nested user namespace would give full capabilities over itself. */
    if (unshare(CLONE_NEWUSER) != 0) return blocked("unshare(CLONE_NEWUSER)");
    int fd = open("/proc/self/uid_map", O_WRONLY);
    char map[64];
    snprintf(map, sizeof map, "0 %d 1\n", (int)getuid());
    if (fd >= 0 && write(fd, map, strlen(map)) > 0 && setuid(0) == 0 &&
        mount("none", "/tmp", "tmpfs", 0, NULL) == 0)
      return escaped("root and a mount in a nested user namespace");
    return escaped("created a nested user namespace");
  }
  if (!strcmp(a, "kmod"))
    return TRY(syscall(SYS_finit_module, 0, "", 0) == 0 || errno == EBADF, "finit_module");
  if (!strcmp(a, "bpf")) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    return TRY(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr) >= 0, "bpf map create");
  }
  if (!strcmp(a, "perf")) {
    struct perf_event_attr pe;
    memset(&pe, 0, sizeof pe);
    pe.type = PERF_TYPE_SOFTWARE;
    pe.size = sizeof pe;
    pe.config = PERF_COUNT_SW_CPU_CLOCK;
    return TRY(syscall(SYS_perf_event_open, &pe, -1, 0, -1, 0) >= 0, "perf_event_open (all tasks)");
  }
  if (!strcmp(a, "keyctl"))
    return TRY(syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "corral-test") >= 0, "keyctl");
  if (!strcmp(a, "open-by-handle")) {
    struct {
      unsigned int handle_bytes;
      int handle_type;
      unsigned char f_handle[8];
    } h = {8, 1, {2, 0, 0, 0, 0, 0, 0, 0}};
    return TRY(syscall(SYS_open_by_handle_at, AT_FDCWD, &h, O_RDONLY) >= 0, "open_by_handle_at");
  }
  if (!strcmp(a, "chroot")) {
    mkdir("/tmp/jail", 0755);
    if (chroot("/tmp/jail") != 0) return blocked("chroot");
    for (int i = 0; i < 64; ++i) (void)chdir("..");
    return TRY(chroot(".") == 0 && access("/etc/shadow", F_OK) == 0, "chroot escape");
  }
  if (!strcmp(a, "sysrq")) return TRY(open("/proc/sysrq-trigger", O_WRONLY) >= 0, "sysrq-trigger");
  if (!strcmp(a, "sys")) {
    int ok = open("/sys/kernel/uevent_helper", O_WRONLY) >= 0 ||
             open("/proc/sys/kernel/hostname", O_WRONLY) >= 0 ||
             open("/proc/sys/vm/drop_caches", O_WRONLY) >= 0;
    return TRY(ok, "writing /sys or /proc/sys");
  }
  if (!strcmp(a, "tiocsti")) {
    char c = 'x';
    if (open("/dev/tty", O_RDWR) >= 0) return escaped("has a controlling terminal");
    return TRY(ioctl(0, TIOCSTI, &c) == 0, "TIOCSTI on stdin");
  }
  if (!strcmp(a, "euid"))
    return caps_line() ? escaped("privileged after exec") : blocked("privileges");
  if (!strcmp(a, "raw-socket"))
    return TRY(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) >= 0, "raw socket");
  if (!strcmp(a, "connect")) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(arg))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return TRY(s >= 0 && connect(s, (struct sockaddr*)&sa, sizeof sa) == 0, "connect to loopback");
  }
  if (!strcmp(a, "fds")) {
    int n = 0;
    while (open("/dev/null", O_RDONLY) >= 0) ++n;
    printf("opened %d\n", n);
    return blocked("fd exhaustion");
  }
  if (!strcmp(a, "sethostname")) return TRY(sethostname("pwned", 5) == 0, "sethostname");
  if (!strcmp(a, "fill")) {
    /* Writes 1 MiB blocks until refused; SIGXFSZ ignored so RLIMIT_FSIZE shows as EFBIG. */
    signal(SIGXFSZ, SIG_IGN);
    int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return blocked("open");
    static char block[1 << 20];
    long total = 0;
    for (;;) {
      ssize_t n = write(fd, block, sizeof block);
      if (n <= 0) break;
      total += n;
    }
    printf("wrote %ld\n", total);
    return blocked("fill");
  }
  if (!strcmp(a, "procs")) {
    DIR* d = opendir("/proc");
    struct dirent* e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL) {
      if (e->d_name[0] >= '0' && e->d_name[0] <= '9') ++n;
    }
    printf("processes %d\n", n);
    return n > 3 ? escaped("sees other processes") : blocked("process view");
  }
  return 2;
}
