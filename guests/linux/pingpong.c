/* pingpong: UDP round trips, each costed on the two CPUs that make it, the wire left out
 * (docs/passthrough.md, "Round-trip latency, the wire left out"). Built static into the test
 * initramfs by scripts/fetch-linux-fixtures.sh.
 *
 *   pingpong serve PORT [NAPI]            echo every datagram back to its sender until one
 *                                         says "end" (or 300 s pass without any)
 *   pingpong ask HOST PORT MODE N [NAPI]  N + 5 round trips (the first 5 warm the path up
 *                                         and are not reported); MODE i: each reply is
 *                                         waited for in a blocking recv (the device's
 *                                         interrupt wakes the task), MODE p: in a spinning
 *                                         non-blocking recv that busy-polls the device's
 *                                         NAPI context (SO_PREFER_BUSY_POLL)
 *   pingpong end HOST PORT                tell the server to stop
 * NAPI = IFACE DEFER FLUSH_NS: while busy-polling, the interface's napi_defer_hard_irqs and
 * gro_flush_timeout are DEFER and FLUSH_NS (the device interrupt stays masked while the
 * task polls, as in the bench's spinning transfers); 0 and 0 otherwise.
 *
 * Why not the plain round-trip time: under emulation the wire is two emulator processes and
 * the host's scheduler, and under QEMU's -icount a halted CPU's clock follows the host's.
 * What a round trip costs each end is its CPU's time on it, and that is what is measured:
 * - MODE i: a SCHED_IDLE child spins whenever the task waits, so the CPU never halts and its
 *   clock only counts work. In a page both share it stamps the time it first ran after the
 *   task blocked and, on every loop, the time it last ran. A round's path is the task's time
 *   from its send to that first stamp (the send and going to sleep) plus the time from the
 *   child's last stamp to the reply's arrival in user space (the interrupt and everything it
 *   costs, a hypervisor's exit included, the wake-up and the receive). What the child was
 *   preempted for in between (the timer's ticks) is the wait's, whose length the other
 *   emulator sets. The interrupt still wakes the task at once: any task preempts a
 *   SCHED_IDLE one.
 * - MODE p: the task spins itself; a round's path is its send call plus the receive call
 *   that found the reply (the empty polls before it are the wait).
 * The server costs each echo the same way: in MODE i from its last reply to the child's
 * first stamp plus from the child's last stamp to this reply's send, in MODE p the receive
 * that found the datagram plus the send. A round trip without its wire is the asker's path
 * plus the server's for that round.
 *
 * A datagram is "PP <mode> <seq>" (seq counts from 0 over the warm-up too); a reply is the
 * same bytes. Lines printed (ns lists comma-separated, consecutive seqs from `seq`, a few
 * per line):
 *   PINGPONG mode=<i|p> seq=<seq> rtt=<ns,...> path=<ns,...>   (the asker, from seq 5)
 *   PINGPONG-PATH mode=<i|p> seq=<seq> path=<ns,...>   (the server, per mode, from seq 5;
 *     -1 for a seq it did not see)
 *   PINGPONG-SERVED echoed=<N>
 * Exit status 0 when every reply came back; 2 when the server never answered. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "busy-poll.h"

#ifndef SCHED_IDLE
#define SCHED_IDLE 5
#endif

enum { warm_up = 5, most_rounds = 2000 };

static void die(const char *what) {
  fprintf(stderr, "pingpong: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* The idle spinner: a SCHED_IDLE child that stamps, in a page shared with its parent, the
 * time it first ran since the parent cleared `first` and the time it last ran. */
struct stamps {
  volatile int64_t first, last;
};

struct spinner {
  pid_t child;
  struct stamps *stamps;
};

static struct spinner start_spinner(void) {
  struct spinner spinner;
  void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) die("mmap");
  spinner.stamps = page;
  spinner.child = fork();
  if (spinner.child < 0) die("fork");
  if (spinner.child == 0) {
    struct sched_param none = {0};
    if (sched_setscheduler(0, SCHED_IDLE, &none) < 0) die("SCHED_IDLE");
    pid_t parent = getppid();
    /* Each stamp is read right before it is stored: a stamp read before the child was
     * preempted (for the parent's whole round) would otherwise be stored after it. */
    for (unsigned long n = 1;; n++) {
      if (spinner.stamps->first == 0) spinner.stamps->first = now_ns();
      spinner.stamps->last = now_ns();
      if ((n & 0xFFFFF) == 0 && getppid() != parent) _exit(0);
    }
  }
  return spinner;
}

/* Before the task may block: the child's next run is its first since. */
static void clear_first(const struct spinner *spinner) {
  spinner->stamps->first = 0;
}

/* The task's own time between `since` and `until` with a wait in between: up to the
 * child's first stamp and after its last (all of it when the child never ran). */
static int64_t path_around_wait(const struct spinner *spinner, int64_t since, int64_t until) {
  int64_t first = spinner->stamps->first, last = spinner->stamps->last;
  if (first == 0 || first < since || last < first || last > until) return until - since;
  return (first - since) + (until - last);
}

static void stop_spinner(const struct spinner *spinner) {
  kill(spinner->child, SIGKILL);
}

/* The interface whose NAPI settings follow the mode (NAPI arguments), or none. */
static const char *napi_interface;
static long napi_defer, napi_flush_ns;

static void write_setting(const char *name, long value) {
  char path[128];
  snprintf(path, sizeof path, "/sys/class/net/%s/%s", napi_interface, name);
  FILE *file = fopen(path, "w");
  if (!file || fprintf(file, "%ld\n", value) < 0 || fclose(file) != 0) die(path);
}

static void set_napi(int spin) {
  if (!napi_interface) return;
  write_setting("napi_defer_hard_irqs", spin ? napi_defer : 0);
  write_setting("gro_flush_timeout", spin ? napi_flush_ns : 0);
}

static int udp_socket(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  /* Busy polling is used only where a receive does not block (MODE p); the options are
   * harmless for a blocking one, whose wait the interrupt ends. */
  const char *refused = prefer_busy_poll(fd);
  if (refused) die(refused);
  return fd;
}

static void set_timeout(int fd, int seconds) {
  struct timeval t = {.tv_sec = seconds};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t) < 0) die("SO_RCVTIMEO");
}

/* One datagram into `buffer`, NUL-terminated: blocking (SO_RCVTIMEO ends the wait), or
 * spinning on MSG_DONTWAIT until `seconds` pass. -1 on the timeout. With `call_ns`, the
 * length of the call that returned the datagram. */
static ssize_t receive(int fd, char *buffer, size_t size, int spin, int seconds,
                       struct sockaddr_in *from, int64_t *call_ns) {
  socklen_t length = sizeof *from;
  int64_t deadline = now_ns() + (int64_t)seconds * 1000000000;
  for (;;) {
    int64_t start = now_ns();
    ssize_t n = recvfrom(fd, buffer, size - 1, spin ? MSG_DONTWAIT : 0,
                         (struct sockaddr *)from, &length);
    if (n >= 0) {
      if (call_ns) *call_ns = now_ns() - start;
      buffer[n] = 0;
      return n;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (spin && now_ns() < deadline) continue;
      return -1;
    }
    /* The server's port was closed (an ICMP port unreachable for an earlier datagram). */
    if (errno == ECONNREFUSED) return -1;
    die("recvfrom");
  }
}

/* Lines stay short: a node's console cuts a VM's lines at 256 bytes. */
enum { asked_per_line = 12, served_per_line = 24 };

static void print_list(const int64_t *values, int first, int end) {
  for (int i = first; i < end; i++) printf("%s%lld", i == first ? "" : ",", (long long)values[i]);
}

/* The server's cost of each echo, per mode and seq (-1: not seen). */
static int64_t served[2][most_rounds + warm_up];
static int served_end[2];

static void note_served(const char *datagram, int64_t path_ns) {
  char mode;
  int seq;
  if (sscanf(datagram, "PP %c %d", &mode, &seq) != 2 || (mode != 'i' && mode != 'p')) return;
  if (seq < 0 || seq >= most_rounds + warm_up) return;
  int m = mode == 'p';
  served[m][seq] = path_ns;
  if (seq + 1 > served_end[m]) served_end[m] = seq + 1;
}

static int serve(int port) {
  int fd = udp_socket();
  struct sockaddr_in self = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (bind(fd, (struct sockaddr *)&self, sizeof self) < 0) die("bind");
  set_timeout(fd, 300);
  for (int m = 0; m < 2; m++)
    for (int i = 0; i < most_rounds + warm_up; i++) served[m][i] = -1;
  struct spinner spinner = start_spinner();
  char buffer[64];
  int spin = 0;
  unsigned long echoed = 0;
  int64_t last_sent = now_ns();
  clear_first(&spinner);
  for (;;) {
    struct sockaddr_in from;
    int64_t received_ns;
    ssize_t n = receive(fd, buffer, sizeof buffer, spin, 300, &from, &received_ns);
    if (n < 0 || strcmp(buffer, "end") == 0) break;
    int64_t send_start = now_ns();
    if (sendto(fd, buffer, n, 0, (struct sockaddr *)&from, sizeof from) != n) die("sendto");
    int64_t sent = now_ns();
    note_served(buffer, spin ? received_ns + (sent - send_start)
                             : path_around_wait(&spinner, last_sent, sent));
    last_sent = sent;
    clear_first(&spinner);
    echoed++;
    /* The next datagram is most likely of the same mode as this one. */
    int was = spin;
    spin = strncmp(buffer, "PP p ", 5) == 0;
    if (spin != was) set_napi(spin);
  }
  set_napi(0);
  stop_spinner(&spinner);
  for (int m = 0; m < 2; m++) {
    for (int seq = warm_up; seq < served_end[m]; seq += served_per_line) {
      int end = seq + served_per_line < served_end[m] ? seq + served_per_line : served_end[m];
      printf("PINGPONG-PATH mode=%c seq=%d path=", m ? 'p' : 'i', seq);
      print_list(served[m], seq, end);
      printf("\n");
    }
  }
  printf("PINGPONG-SERVED echoed=%lu\n", echoed);
  return 0;
}

static struct sockaddr_in address_of(const char *host, int port) {
  struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &peer.sin_addr) != 1) {
    fprintf(stderr, "pingpong: not an IPv4 address: %s\n", host);
    exit(1);
  }
  return peer;
}

static void settle(void);

static int ask(const char *host, int port, char mode, int rounds) {
  if ((mode != 'i' && mode != 'p') || rounds < 1 || rounds > most_rounds) {
    fprintf(stderr, "pingpong: MODE is i or p, N 1 to %d\n", most_rounds);
    return 1;
  }
  int fd = udp_socket();
  struct sockaddr_in peer = address_of(host, port);
  if (connect(fd, (struct sockaddr *)&peer, sizeof peer) < 0) die("connect");
  char buffer[64], expected[64];
  /* Until the server answers (it may still be starting, and a datagram to its port before
   * it binds comes back refused): one try a second, 120 tries. */
  set_timeout(fd, 1);
  int answered = 0;
  for (int tries = 0; tries < 120 && !answered; tries++) {
    int length = snprintf(expected, sizeof expected, "PP %c hello", mode);
    if (send(fd, expected, length, 0) != length && errno != ECONNREFUSED) die("send");
    struct sockaddr_in from;
    answered = receive(fd, buffer, sizeof buffer, 0, 1, &from, NULL) >= 0 &&
               strcmp(buffer, expected) == 0;
    if (!answered && errno == ECONNREFUSED) sleep(1);
  }
  if (!answered) {
    fprintf(stderr, "pingpong: no answer from %s:%d\n", host, port);
    return 2;
  }
  set_timeout(fd, 5);
  static int64_t rtt[most_rounds + warm_up], path[most_rounds + warm_up];
  struct spinner spinner = start_spinner();
  int spin = mode == 'p';
  set_napi(spin);
  for (int seq = 0; seq < rounds + warm_up; seq++) {
    settle();
    int length = snprintf(expected, sizeof expected, "PP %c %d", mode, seq);
    int64_t start = now_ns();
    clear_first(&spinner);
    if (send(fd, expected, length, 0) != length) die("send");
    int64_t sent = now_ns();
    struct sockaddr_in from;
    int64_t received_ns;
    /* A stale reply (a hello answered twice) is skipped; a lost one fails the run. */
    do {
      if (receive(fd, buffer, sizeof buffer, spin, 5, &from, &received_ns) < 0) {
        set_napi(0);
        stop_spinner(&spinner);
        fprintf(stderr, "pingpong: round %d got no reply\n", seq);
        return 1;
      }
    } while (strcmp(buffer, expected) != 0);
    int64_t end = now_ns();
    rtt[seq] = end - start;
    path[seq] = spin ? (sent - start) + received_ns : path_around_wait(&spinner, start, end);
  }
  set_napi(0);
  stop_spinner(&spinner);
  for (int seq = warm_up; seq < rounds + warm_up; seq += asked_per_line) {
    int end = seq + asked_per_line < rounds + warm_up ? seq + asked_per_line : rounds + warm_up;
    printf("PINGPONG mode=%c seq=%d rtt=", mode, seq);
    print_list(rtt, seq, end);
    printf(" path=");
    print_list(path, seq, end);
    printf("\n");
  }
  return 0;
}

/* Between two rounds the asker computes for about a millisecond (no system call, no exit):
 * the server, another emulator, has then finished the last round and waits for the next
 * datagram in the host's time too. Without it, a datagram that arrived before the server
 * blocked spared it the sleep and the wake-up, and that round's cost depended on the two
 * emulators' speeds: measured beside other emulators, 15% of the server's rounds came out
 * 10-60 us cheaper. */
static void settle(void) {
  for (volatile unsigned long n = 0; n < 200000; n++) {
  }
}

static int end(const char *host, int port) {
  int fd = udp_socket();
  struct sockaddr_in peer = address_of(host, port);
  /* Three times: one lost datagram must not leave the server waiting out its timeout. */
  for (int i = 0; i < 3; i++)
    if (sendto(fd, "end", 3, 0, (struct sockaddr *)&peer, sizeof peer) != 3) die("sendto");
  return 0;
}

/* The optional NAPI arguments at argv[first]: IFACE DEFER FLUSH_NS. */
static int take_napi(int argc, char **argv, int first) {
  if (argc == first) return 1;
  if (argc != first + 3) return 0;
  napi_interface = argv[first];
  napi_defer = atol(argv[first + 1]);
  napi_flush_ns = atol(argv[first + 2]);
  return strchr(napi_interface, '/') == NULL;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 3 && strcmp(argv[1], "serve") == 0 && take_napi(argc, argv, 3))
    return serve(atoi(argv[2]));
  if (argc >= 6 && strcmp(argv[1], "ask") == 0 && strlen(argv[4]) == 1 &&
      take_napi(argc, argv, 6))
    return ask(argv[2], atoi(argv[3]), argv[4][0], atoi(argv[5]));
  if (argc == 4 && strcmp(argv[1], "end") == 0) return end(argv[2], atoi(argv[3]));
  fprintf(stderr, "usage: pingpong serve PORT [IFACE DEFER FLUSH_NS] | ask HOST PORT i|p N"
                  " [IFACE DEFER FLUSH_NS] | end HOST PORT\n");
  return 1;
}
