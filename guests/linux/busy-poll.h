/* busy-poll.h: what pollnet.c and pingpong.c share: the socket options of Linux's busy
 * polling (asm-generic/socket.h, Linux 5.11+, spelled out for older headers), the clock
 * both time their calls with, and busy polling preferred over the device interrupt. */
#ifndef BUSY_POLL_H
#define BUSY_POLL_H

#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#ifndef SO_BUSY_POLL
#define SO_BUSY_POLL 46
#endif
#ifndef SO_INCOMING_NAPI_ID
#define SO_INCOMING_NAPI_ID 56
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

/* A receive that finds nothing polls the device's NAPI context for up to 50 us, taking up
 * to 64 packets a poll. */
enum { busy_poll_us = 50, busy_poll_budget = 64 };

static inline int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Busy polling on `fd`, preferred over the device interrupt: NULL, or the option refused. */
static inline const char *prefer_busy_poll(int fd) {
  int one = 1, us = busy_poll_us, budget = busy_poll_budget;
  if (setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &us, sizeof us) < 0) return "SO_BUSY_POLL";
  if (setsockopt(fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof one) < 0)
    return "SO_PREFER_BUSY_POLL";
  if (setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof budget) < 0)
    return "SO_BUSY_POLL_BUDGET";
  return NULL;
}

#endif
