/* pollnet: a TCP bulk transfer that never sleeps, for the passthrough case's and the bench's
 * busy-polled runs (docs/passthrough.md, "A continuously busy-polling application"). Built
 * static into the test initramfs by scripts/fetch-linux-fixtures.sh.
 *
 *   pollnet send HOST PORT FILE     connect, send FILE, shut the write side, wait for the
 *                                   peer's close (exit status 3 when the connection is
 *                                   refused: /init retries, as it does for nc)
 *   pollnet recv PORT FILE NSFILE   accept one connection, write what arrives to FILE until
 *                                   EOF, and the ns from the first byte to EOF to NSFILE
 *
 * Every socket call after the connection is made is non-blocking and the loops spin: each
 * empty receive busy-polls the device's NAPI context once (tcp_recvmsg calls sk_busy_loop
 * while the receive queue is empty), so ACKs (sending) and data (receiving) are taken from
 * the ring by the application's own system calls. With SO_PREFER_BUSY_POLL and the device's
 * napi_defer_hard_irqs and gro_flush_timeout set, the end of each busy poll keeps the device
 * interrupt masked and pushes the NAPI watchdog timer gro_flush_timeout ahead (Linux 6.1
 * net/core/dev.c busy_poll_stop, napi_complete_done); while the application keeps polling the
 * device raises no interrupt at all. busybox nc blocks in poll() and write(), where nothing
 * polls the ring, so an nc transfer still takes some interrupts.
 *
 * A spinning application is busy while it waits, so its CPU time is as long as the transfer,
 * which under emulation is the other end's speed. The bench's cost (scripts/bench/
 * net_cost.py) therefore leaves out the waiting. A call is fruitless when it moved nothing:
 * a send refused for a full buffer, a receive that found no data and (sending) freed no send
 * buffer (SIOCOUTQ unchanged). The time from the start of the first fruitless call after a
 * fruitful one to the start of the next fruitful call (the fruitless calls and the loop
 * around them) is waiting; empty_ns is all of it. (It was the empty polls' count times their
 * median length, which left the refused sends and the loop in the cost: with 80-90% of a
 * spinning sender's time waiting, the remaining cost moved by half with how long it waited,
 * 26.7 M or 66 M instructions natively against 42 M with interrupts. A timer interrupt
 * while the application waits is waiting too now.)
 *
 * Prints one line: "POLLNET role=<send|recv> bytes=N napi_id=N waits=N empty_ns=N" (napi_id:
 * SO_INCOMING_NAPI_ID, nonzero once the socket has a NAPI context to poll; waits: each one
 * or more fruitless calls in a row). Exit status 0 when the whole file went across. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "busy-poll.h"

enum { chunk = 64 * 1024 };

static void die(const char *what) {
  fprintf(stderr, "pollnet: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* Busy polling on the connected socket, preferred over interrupts, non-blocking. */
static void spin_mode(int fd) {
  const char *refused = prefer_busy_poll(fd);
  if (refused) die(refused);
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) die("O_NONBLOCK");
}

static unsigned napi_id(int fd);

/* The waits and their time in all. */
static uint64_t waits;
static int64_t empty_total_ns;

/* Waiting: since when (-1: the last call was fruitful). */
static int64_t waiting_since = -1;

static void count_empty(int64_t ns);

static void fruitless(int64_t started) {
  if (waiting_since < 0) waiting_since = started;
}

static void fruitful(int64_t started) {
  if (waiting_since >= 0) count_empty(started - waiting_since);
  waiting_since = -1;
}

static void count_empty(int64_t ns) {
  empty_total_ns += ns;
  waits++;
}

static int outq(int fd) {
  int bytes = 0;
  ioctl(fd, SIOCOUTQ, &bytes);
  return bytes;
}

/* One poll of the ring through a receive on the socket: 1 with data to read, 0 at EOF, -1
 * when it found nothing. `unsent`: the send queue before it, kept up to date (sending);
 * `start`: when the attempt it belongs to began (a refused send before it). */
static int poll_once(int fd, int *unsent, int64_t start) {
  char probe;
  ssize_t n = recv(fd, &probe, 1, MSG_PEEK);
  if (n >= 0) {
    fruitful(start);
    return n > 0 ? 1 : 0;
  }
  if (errno != EAGAIN && errno != EINTR) die("recv");
  int queued = outq(fd);
  if (queued == *unsent) {
    fruitless(start);
  } else {
    fruitful(start);
  }
  *unsent = queued;
  return -1;
}

static void print_line(const char *role, size_t bytes, int fd) {
  printf("POLLNET role=%s bytes=%zu napi_id=%u waits=%llu empty_ns=%lld\n", role, bytes,
         napi_id(fd), (unsigned long long)waits, (long long)empty_total_ns);
}

static unsigned napi_id(int fd) {
  unsigned id = 0;
  socklen_t length = sizeof id;
  getsockopt(fd, SOL_SOCKET, SO_INCOMING_NAPI_ID, &id, &length);
  return id;
}

static char *read_file(const char *path, size_t *size) {
  int fd = open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) die(path);
  char *data = malloc(st.st_size ? st.st_size : 1);
  size_t done = 0;
  while (done < (size_t)st.st_size) {
    ssize_t n = read(fd, data + done, st.st_size - done);
    if (n <= 0) die(path);
    done += n;
  }
  close(fd);
  *size = done;
  return data;
}

static int send_file(const char *host, int port, const char *path) {
  size_t size;
  char *data = read_file(path, &size);
  struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &peer.sin_addr) != 1) {
    fprintf(stderr, "pollnet: %s is no IPv4 address\n", host);
    return 2;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  if (connect(fd, (struct sockaddr *)&peer, sizeof peer) < 0) {
    if (errno == ECONNREFUSED) return 3;
    die("connect");
  }
  spin_mode(fd);
  size_t sent = 0;
  int unsent = 0;
  while (sent < size) {
    int64_t start = now_ns();
    ssize_t n = send(fd, data + sent, size - sent < chunk ? size - sent : chunk, MSG_NOSIGNAL);
    if (n > 0) {
      fruitful(start);
      sent += n;
      unsent = outq(fd);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) die("send");
    /* The send buffer is full: poll the ring for the ACKs that free it. */
    if (poll_once(fd, &unsent, start) == 0) break;
  }
  if (shutdown(fd, SHUT_WR) < 0) die("shutdown");
  /* The peer closes once it has read everything: that is the end of the transfer. */
  for (;;) {
    int polled = poll_once(fd, &unsent, now_ns());
    if (polled == 0) break;
    if (polled > 0) {
      char discard;
      recv(fd, &discard, 1, 0);
    }
  }
  print_line("send", sent, fd);
  close(fd);
  return sent == size ? 0 : 1;
}

static int receive_file(int port, const char *path, const char *ns_path) {
  int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (listener < 0) die("socket");
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (bind(listener, (struct sockaddr *)&any, sizeof any) < 0) die("bind");
  if (listen(listener, 1) < 0) die("listen");
  int fd = accept(listener, NULL, NULL);
  if (fd < 0) die("accept");
  close(listener);
  spin_mode(fd);
  int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0) die(path);
  static char buffer[256 * 1024];
  size_t received = 0;
  int64_t first = 0;
  for (;;) {
    int64_t start = now_ns();
    ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) die("recv");
      fruitless(start);
      continue;
    }
    fruitful(start);
    if (n == 0) break;
    if (!received) first = now_ns();
    received += n;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(out, buffer + done, n - done);
      if (w <= 0) die(path);
      done += w;
    }
  }
  int64_t last = now_ns();
  close(out);
  FILE *ns = fopen(ns_path, "w");
  if (!ns) die(ns_path);
  fprintf(ns, "%lld\n", (long long)(received ? last - first : 0));
  fclose(ns);
  print_line("recv", received, fd);
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && !strcmp(argv[1], "send")) return send_file(argv[2], atoi(argv[3]), argv[4]);
  if (argc == 5 && !strcmp(argv[1], "recv")) return receive_file(atoi(argv[2]), argv[3], argv[4]);
  fprintf(stderr, "usage: pollnet send HOST PORT FILE | pollnet recv PORT FILE NSFILE\n");
  return 2;
}
