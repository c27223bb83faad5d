/* tc_workload: a ground-truth workload for the telemetry tests. Runs its actions in order, prints
 * one flushed line per action saying what it did, then prints "ready" and pauses until SIGTERM
 * (exit 0), unless the last action is `exit`. Everything it opens stays open until it exits.
 *   tc_workload ACTION [ARGS]... [ACTION [ARGS]...]...
 * Actions (HOST is IPv4 or [IPv6]; lines printed in quotes):
 *   cpu MS             burn MS ms of this thread's CPU time     "cpu MS thread_ns N"
 *   mem MIB            malloc and touch MIB MiB                 "mem MIB"
 *   fds K              open K fds of /dev/null                  "fds K"
 *   sockets S          S AF_INET UDP sockets                    "sockets S"
 *   sockets6 S         S AF_INET6 UDP sockets                   "sockets6 S"
 *   unix S             S socketpairs (2S AF_UNIX sockets)       "unix S"
 *   listen PORT        TCP listen on 127.0.0.1:PORT (0: any)    "listen PORT" (the bound port)
 *   accept N           accept N on the last listener, read each to EOF   "accept N bytes TOTAL"
 *   send HOST:PORT B   TCP connect, send B bytes, keep open     "send HOST:PORT ok B" | "... errno
 * E" connect HOST:PORT  TCP connect, keep open                   "connect HOST:PORT ok" | "...
 * errno E" udp HOST:PORT B    one UDP socket, sendto B bytes (<=60000 per datagram), kept open "udp
 * HOST:PORT ok B" | "... errno E" fork F             fork F children that _exit(0), each waited
 * "fork F" exec F             F times fork + execve /bin/true, each waited          "exec F"
 *   threads T          T threads that sleep                     "threads T"
 *   oom                allocate and touch 1 MiB at a time forever            "oom" (printed first)
 *   sleep MS           sleep MS ms                              "sleep MS"
 *   exit               exit 0 now                               "exit"
 * A bad command line prints "usage: ..." to stderr and exits 2; a failed setup step (not a
 * refused connect/send) prints "ACTION error errno E" and exits 1. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int g_listener = -1;
/* Memory we touched escapes here, so the compiler cannot drop the malloc and memset. */
static void* volatile g_sink;

static void on_term(int sig) {
  (void)sig;
  _exit(0);
}

static void usage(const char* why) {
  fprintf(stderr, "usage: tc_workload ACTION [ARGS]... (%s)\n", why);
  exit(2);
}

static void fail(const char* action) {
  printf("%s error errno %d\n", action, errno);
  fflush(stdout);
  exit(1);
}

static long number(const char* s) {
  char* end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0) usage("bad number");
  return v;
}

static int64_t thread_cpu_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) fail("cpu");
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* "1.2.3.4:80" or "[::1]:80" -> a sockaddr; returns its length, 0 when malformed. */
static socklen_t parse_addr(const char* text, struct sockaddr_storage* out) {
  char host[128];
  const char* port;
  memset(out, 0, sizeof(*out));
  if (text[0] == '[') {
    const char* close = strchr(text, ']');
    if (close == NULL || close[1] != ':' || (size_t)(close - text - 1) >= sizeof(host)) return 0;
    memcpy(host, text + 1, (size_t)(close - text - 1));
    host[close - text - 1] = '\0';
    port = close + 2;
  } else {
    const char* colon = strrchr(text, ':');
    if (colon == NULL || (size_t)(colon - text) >= sizeof(host)) return 0;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    port = colon + 1;
  }
  long p = number(port);
  if (p > 65535) return 0;
  struct sockaddr_in* v4 = (struct sockaddr_in*)out;
  struct sockaddr_in6* v6 = (struct sockaddr_in6*)out;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)p);
    return sizeof(*v4);
  }
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)p);
    return sizeof(*v6);
  }
  return 0;
}

static void do_cpu(long ms) {
  int64_t start = thread_cpu_ns();
  volatile uint64_t x = 1;
  while (thread_cpu_ns() - start < ms * 1000000) {
    for (int i = 0; i < 10000; ++i) x = x * 6364136223846793005ull + 1;
  }
  printf("cpu %ld thread_ns %lld\n", ms, (long long)(thread_cpu_ns() - start));
}

static void touch_mib(long mib) {
  size_t len = (size_t)mib << 20;
  char* p = malloc(len);
  if (p == NULL) fail("mem");
  memset(p, 0x5a, len); /* every page, so it is resident (anon) memory */
  g_sink = p;
}

static void do_sockets(const char* action, int family, long n) {
  for (long i = 0; i < n; ++i) {
    if (socket(family, SOCK_DGRAM, 0) < 0) fail(action);
  }
  printf("%s %ld\n", action, n);
}

static void do_listen(long port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail("listen");
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) fail("listen");
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr*)&a, sizeof(a)) != 0 || listen(fd, 128) != 0) fail("listen");
  socklen_t len = sizeof(a);
  if (getsockname(fd, (struct sockaddr*)&a, &len) != 0) fail("listen");
  g_listener = fd;
  printf("listen %u\n", (unsigned)ntohs(a.sin_port));
}

static void do_accept(long n) {
  if (g_listener < 0) usage("accept without listen");
  long long total = 0;
  char buf[65536];
  for (long i = 0; i < n; ++i) {
    int c = accept(g_listener, NULL, NULL);
    if (c < 0) fail("accept");
    for (;;) {
      ssize_t r = read(c, buf, sizeof(buf));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) fail("accept");
      if (r == 0) break;
      total += r;
    }
  }
  printf("accept %ld bytes %lld\n", n, total);
}

/* TCP connect to `where` and send `bytes` (0: none); the socket stays open. */
static void do_connect(const char* action, const char* where, long bytes) {
  struct sockaddr_storage a;
  socklen_t len = parse_addr(where, &a);
  if (len == 0) usage("bad HOST:PORT");
  int fd = socket(a.ss_family, SOCK_STREAM, 0);
  if (fd < 0) fail(action);
  if (connect(fd, (struct sockaddr*)&a, len) != 0) {
    printf("%s %s errno %d\n", action, where, errno);
    return;
  }
  char buf[65536];
  memset(buf, 'w', sizeof(buf));
  long sent = 0;
  while (sent < bytes) {
    size_t chunk = (size_t)(bytes - sent) < sizeof(buf) ? (size_t)(bytes - sent) : sizeof(buf);
    ssize_t w = send(fd, buf, chunk, 0);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      printf("%s %s errno %d\n", action, where, errno);
      return;
    }
    sent += w;
  }
  if (strcmp(action, "send") == 0) {
    printf("%s %s ok %ld\n", action, where, sent);
  } else {
    printf("%s %s ok\n", action, where);
  }
}

static void do_udp(const char* where, long bytes) {
  struct sockaddr_storage a;
  socklen_t len = parse_addr(where, &a);
  if (len == 0) usage("bad HOST:PORT");
  int fd = socket(a.ss_family, SOCK_DGRAM, 0);
  if (fd < 0) fail("udp");
  char buf[60000];
  memset(buf, 'u', sizeof(buf));
  long sent = 0;
  do {
    size_t chunk = (size_t)(bytes - sent) < sizeof(buf) ? (size_t)(bytes - sent) : sizeof(buf);
    ssize_t w = sendto(fd, buf, chunk, 0, (struct sockaddr*)&a, len);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      printf("udp %s errno %d\n", where, errno);
      return;
    }
    sent += w;
  } while (sent < bytes);
  printf("udp %s ok %ld\n", where, sent);
}

static void wait_child(const char* action, pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) fail(action);
  }
}

static void do_fork(long n, int exec_true) {
  const char* action = exec_true ? "exec" : "fork";
  for (long i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid < 0) fail(action);
    if (pid == 0) {
      if (exec_true) {
        char* argv[] = {"true", NULL};
        char* envp[] = {NULL};
        signal(SIGTERM, SIG_DFL);
        execve("/bin/true", argv, envp);
        _exit(127);
      }
      _exit(0);
    }
    wait_child(action, pid);
  }
  printf("%s %ld\n", action, n);
}

static void* sleeper(void* arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

static void do_threads(long n) {
  for (long i = 0; i < n; ++i) {
    pthread_t t;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) fail("threads");
    pthread_attr_setstacksize(&attr, 64 * 1024);
    int rc = pthread_create(&t, &attr, sleeper, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      errno = rc;
      fail("threads");
    }
    pthread_detach(t);
  }
  printf("threads %ld\n", n);
}

static void do_oom(void) {
  printf("oom\n");
  fflush(stdout);
  for (;;) {
    char* p = malloc(1 << 20);
    if (p != NULL) memset(p, 0x6f, 1 << 20);
    g_sink = p;
  }
}

static void do_sleep(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  printf("sleep %ld\n", ms);
}

int main(int argc, char** argv) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_term;
  if (sigaction(SIGTERM, &sa, NULL) != 0) return 1;
  signal(SIGPIPE, SIG_IGN); /* a refused send reports EPIPE instead of killing us */
  if (argc < 2) usage("no action");
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    int left = argc - i - 1;
#define NEED(n) \
  if (left < (n)) usage("missing argument")
    if (strcmp(a, "cpu") == 0) {
      NEED(1);
      do_cpu(number(argv[++i]));
    } else if (strcmp(a, "mem") == 0) {
      NEED(1);
      long mib = number(argv[++i]);
      touch_mib(mib);
      printf("mem %ld\n", mib);
    } else if (strcmp(a, "fds") == 0) {
      NEED(1);
      long k = number(argv[++i]);
      for (long j = 0; j < k; ++j) {
        if (open("/dev/null", O_RDONLY) < 0) fail("fds");
      }
      printf("fds %ld\n", k);
    } else if (strcmp(a, "sockets") == 0) {
      NEED(1);
      do_sockets(a, AF_INET, number(argv[++i]));
    } else if (strcmp(a, "sockets6") == 0) {
      NEED(1);
      do_sockets(a, AF_INET6, number(argv[++i]));
    } else if (strcmp(a, "unix") == 0) {
      NEED(1);
      long s = number(argv[++i]);
      for (long j = 0; j < s; ++j) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) fail("unix");
      }
      printf("unix %ld\n", s);
    } else if (strcmp(a, "listen") == 0) {
      NEED(1);
      long port = number(argv[++i]);
      if (port > 65535) usage("bad port");
      do_listen(port);
    } else if (strcmp(a, "accept") == 0) {
      NEED(1);
      do_accept(number(argv[++i]));
    } else if (strcmp(a, "send") == 0) {
      NEED(2);
      const char* where = argv[++i];
      do_connect("send", where, number(argv[++i]));
    } else if (strcmp(a, "connect") == 0) {
      NEED(1);
      do_connect("connect", argv[++i], 0);
    } else if (strcmp(a, "udp") == 0) {
      NEED(2);
      const char* where = argv[++i];
      do_udp(where, number(argv[++i]));
    } else if (strcmp(a, "fork") == 0) {
      NEED(1);
      do_fork(number(argv[++i]), 0);
    } else if (strcmp(a, "exec") == 0) {
      NEED(1);
      do_fork(number(argv[++i]), 1);
    } else if (strcmp(a, "threads") == 0) {
      NEED(1);
      do_threads(number(argv[++i]));
    } else if (strcmp(a, "oom") == 0) {
      do_oom();
    } else if (strcmp(a, "sleep") == 0) {
      NEED(1);
      do_sleep(number(argv[++i]));
    } else if (strcmp(a, "exit") == 0) {
      printf("exit\n");
      fflush(stdout);
      return 0;
    } else {
      usage("unknown action");
    }
#undef NEED
    fflush(stdout);
  }
  printf("ready\n");
  fflush(stdout);
  for (;;) pause();
}
