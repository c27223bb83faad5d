/* tc_report: prints what a launched program sees, one "key value" line each, then sleeps (if
 * asked) so the test can also inspect it from /proc. Used by the launcher tests.
 *   tc_report [sleep-seconds]
 * Lines: fd N (for each open fd), sigmask HEX, sigpipe dfl|ign, pgid-is-pid 0|1. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  DIR* d = opendir("/proc/self/fd");
  if (d == NULL) return 2;
  int self = dirfd(d);
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd != self) printf("fd %d\n", fd);
  }
  closedir(d);
  sigset_t mask;
  sigprocmask(SIG_SETMASK, NULL, &mask);
  unsigned long bits = 0;
  for (int s = 1; s < 64; ++s) {
    if (sigismember(&mask, s) == 1) bits |= 1ul << (s - 1);
  }
  printf("sigmask %lx\n", bits);
  struct sigaction sa;
  sigaction(SIGPIPE, NULL, &sa);
  printf("sigpipe %s\n", sa.sa_handler == SIG_IGN ? "ign" : "dfl");
  printf("pgid-is-pid %d\n", getpgid(0) == getpid());
  fflush(stdout);
  if (argc > 1) sleep((unsigned)atoi(argv[1]));
  return 0;
}
