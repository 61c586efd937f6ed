/* nvmeio: 4 KiB O_DIRECT reads or writes on a block device with a fixed number in flight,
 * and their CPU cost, for the NVMe bench (scripts/bench-nvme.py, docs/passthrough.md "NVMe
 * VF against native"). Built static into the test initramfs by scripts/fetch-linux-fixtures.sh.
 *
 *   nvmeio DEVICE read|write DEPTH OFFSET COUNT FILE LABEL [HOLD_MS]
 *
 * COUNT I/Os of 4 KiB at OFFSET, OFFSET + 4096, ... (bytes; each I/O its own block), kept
 * DEPTH in flight through Linux AIO (io_setup/io_submit/io_getevents as raw syscalls, no
 * libaio; O_DIRECT on a block device is truly asynchronous: DEPTH requests at the device at
 * once), one iocb per io_submit (no plug that could merge neighbours). A write sends FILE's
 * first COUNT * 4096 bytes, loaded before the window; a read stores what it read into FILE
 * after the window (the caller compares sha256 sums).
 *
 * The cost, as guests/linux/init's cost_sample/cost_report: busy = CLOCK_MONOTONIC times the
 * CPUs minus their idle and iowait sleep (/proc/timer_list, ns), sampled right before the
 * first submission and right after the last completion; then an empty window as long (a
 * usleep between two samples) whose busy time is the baseline. Under QEMU -icount shift=0 a
 * busy ns is an emulated instruction. Prints, once the I/O window has closed:
 *   NVBENCH-IO-DONE label=<LABEL>
 * then sleeps HOLD_MS ms (default 0: the bench reads the VM's exit counters meanwhile, before
 * anything else runs or prints), and after the empty window and FILE:
 *   NVBENCH-COST label=<LABEL> op=<op> depth=<D> ios=<COUNT> busy_ns=<B> window_ns=<W>
 *     base_busy_ns=<b> base_window_ns=<w> cpus=<n> peak=<most in flight> errors=<n>
 * Exit status 0 when every I/O completed with 4096 bytes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096
#define MAX_DEPTH 64

/* struct iocb and struct io_event of <linux/aio_abi.h> (x86-64, little-endian), spelled
 * out so the tool builds without kernel headers. */
struct iocb {
  uint64_t data;
  uint32_t key, rw_flags;
  uint16_t opcode;
  int16_t reqprio;
  uint32_t fd;
  uint64_t buf, nbytes;
  int64_t offset;
  uint64_t reserved2;
  uint32_t flags, resfd;
};
struct io_event {
  uint64_t data, obj;
  int64_t res, res2;
};
enum { IOCB_CMD_PREAD = 0, IOCB_CMD_PWRITE = 1 };

struct sample {
  uint64_t now, busy;
  int cpus;
};

/* busy = cpus * now - (idle + iowait sleep), all ns, from /proc/timer_list. */
static int sample(struct sample *s) {
  static char text[1 << 20];
  int fd = open("/proc/timer_list", O_RDONLY);
  if (fd < 0) return -1;
  size_t used = 0;
  for (;;) {
    ssize_t n = read(fd, text + used, sizeof text - 1 - used);
    if (n <= 0) break;
    used += (size_t)n;
    if (used >= sizeof text - 1) break;
  }
  close(fd);
  text[used] = 0;
  uint64_t now = 0, slept = 0;
  int cpus = 0;
  for (char *line = text; line && *line;) {
    char *next = strchr(line, '\n');
    if (next) *next++ = 0;
    if (!strncmp(line, "now at ", 7)) {
      now = strtoull(line + 7, NULL, 10);
    } else if (!strncmp(line, "cpu: ", 5)) {
      cpus++;
    } else if (!strncmp(line, "  .idle_sleeptime", 17) ||
               !strncmp(line, "  .iowait_sleeptime", 19)) {
      char *colon = strchr(line, ':');
      if (colon) slept += strtoull(colon + 1, NULL, 10);
    }
    line = next;
  }
  s->now = now;
  s->cpus = cpus;
  s->busy = (uint64_t)cpus * now - slept;
  return now ? 0 : -1;
}

static long sys_io_setup(unsigned n, uint64_t *ctx) { return syscall(SYS_io_setup, n, ctx); }
static long sys_io_submit(uint64_t ctx, long n, struct iocb **iocbs) {
  return syscall(SYS_io_submit, ctx, n, iocbs);
}
static long sys_io_getevents(uint64_t ctx, long min, long max, struct io_event *events) {
  return syscall(SYS_io_getevents, ctx, min, max, events, NULL);
}

int main(int argc, char **argv) {
  if (argc < 8 || argc > 9 || (strcmp(argv[2], "read") && strcmp(argv[2], "write"))) {
    fprintf(stderr, "usage: nvmeio DEVICE read|write DEPTH OFFSET COUNT FILE LABEL [HOLD_MS]\n");
    return 2;
  }
  int writing = !strcmp(argv[2], "write");
  long depth = strtol(argv[3], NULL, 10);
  long long offset = strtoll(argv[4], NULL, 10);
  long count = strtol(argv[5], NULL, 10);
  const char *file = argv[6], *label = argv[7];
  long hold = argc == 9 ? strtol(argv[8], NULL, 10) : 0;
  if (depth < 1 || depth > MAX_DEPTH || count < 1 || offset < 0 || offset % BLOCK) {
    fprintf(stderr, "nvmeio: bad depth, count or offset\n");
    return 2;
  }
  void *buffer;
  if (posix_memalign(&buffer, BLOCK, (size_t)count * BLOCK)) return 1;
  /* Every page touched before the window: no page faults inside it. */
  memset(buffer, 0, (size_t)count * BLOCK);
  if (writing) {
    int in = open(file, O_RDONLY);
    size_t got = 0;
    while (in >= 0 && got < (size_t)count * BLOCK) {
      ssize_t n = read(in, (char *)buffer + got, (size_t)count * BLOCK - got);
      if (n <= 0) break;
      got += (size_t)n;
    }
    if (in < 0 || got != (size_t)count * BLOCK) {
      fprintf(stderr, "nvmeio: %s holds less than %ld bytes\n", file, count * BLOCK);
      return 1;
    }
    close(in);
  }
  int fd = open(argv[1], (writing ? O_WRONLY : O_RDONLY) | O_DIRECT);
  uint64_t ctx = 0;
  if (fd < 0 || sys_io_setup((unsigned)depth, &ctx) < 0) {
    fprintf(stderr, "nvmeio: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  static struct iocb iocbs[MAX_DEPTH];
  static struct io_event events[MAX_DEPTH];
  long free_slots[MAX_DEPTH], nfree = depth;
  for (long i = 0; i < depth; i++) free_slots[i] = i;

  struct sample s0, s1, b0, b1;
  long next = 0, done = 0, inflight = 0, peak = 0, errors = 0;
  if (sample(&s0)) return 1;
  while (done < count) {
    while (next < count && nfree > 0) {
      struct iocb *cb = &iocbs[free_slots[--nfree]];
      memset(cb, 0, sizeof *cb);
      cb->data = (uint64_t)next;
      cb->opcode = writing ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
      cb->fd = (uint32_t)fd;
      cb->buf = (uint64_t)(uintptr_t)((char *)buffer + (size_t)next * BLOCK);
      cb->nbytes = BLOCK;
      cb->offset = offset + (long long)next * BLOCK;
      struct iocb *one[1] = {cb};
      long r;
      do r = sys_io_submit(ctx, 1, one); while (r < 0 && errno == EINTR);
      if (r != 1) {
        fprintf(stderr, "nvmeio: io_submit: %s\n", strerror(errno));
        return 1;
      }
      next++;
      if (++inflight > peak) peak = inflight;
    }
    long n;
    do n = sys_io_getevents(ctx, 1, depth, events); while (n < 0 && errno == EINTR);
    if (n < 1) {
      fprintf(stderr, "nvmeio: io_getevents: %s\n", strerror(errno));
      return 1;
    }
    for (long i = 0; i < n; i++) {
      if (events[i].res != BLOCK) errors++;
      free_slots[nfree++] = (struct iocb *)(uintptr_t)events[i].obj - iocbs;
      inflight--;
      done++;
    }
  }
  if (sample(&s1)) return 1;
  printf("NVBENCH-IO-DONE label=%s\n", label);
  fflush(stdout);
  if (hold > 0) {
    struct timespec held = {hold / 1000, (hold % 1000) * 1000000L};
    while (nanosleep(&held, &held) < 0 && errno == EINTR) {
    }
  }
  /* The empty window: the same sampling around a sleep as long as the I/O's window. */
  if (sample(&b0)) return 1;
  uint64_t window = s1.now - s0.now;
  struct timespec pause = {(time_t)(window / 1000000000u), (long)(window % 1000000000u)};
  while (nanosleep(&pause, &pause) < 0 && errno == EINTR) {
  }
  if (sample(&b1)) return 1;
  if (!writing) {
    int out = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    size_t put = 0;
    while (out >= 0 && put < (size_t)count * BLOCK) {
      ssize_t n = write(out, (char *)buffer + put, (size_t)count * BLOCK - put);
      if (n <= 0) break;
      put += (size_t)n;
    }
    if (out < 0 || put != (size_t)count * BLOCK) {
      fprintf(stderr, "nvmeio: could not write %s\n", file);
      return 1;
    }
    close(out);
  }
  printf("NVBENCH-COST label=%s op=%s depth=%ld ios=%ld busy_ns=%llu window_ns=%llu"
         " base_busy_ns=%llu base_window_ns=%llu cpus=%d peak=%ld errors=%ld\n",
         label, argv[2], depth, count, (unsigned long long)(s1.busy - s0.busy),
         (unsigned long long)window, (unsigned long long)(b1.busy - b0.busy),
         (unsigned long long)(b1.now - b0.now), s0.cpus, peak, errors);
  return errors ? 1 : 0;
}
