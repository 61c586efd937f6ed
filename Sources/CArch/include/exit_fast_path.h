#ifndef PEREGRINE_EXIT_FAST_PATH_H
#define PEREGRINE_EXIT_FAST_PATH_H
/* Three frames per vCPU: this block, then the 8 KiB port bitmap. */
#define EXIT_FAST_PATH_FRAMES 3
/* The per-vCPU table the world switch serves hot exits from without returning to Swift
 * (boot/svm_world_switch.asm; docs/exit-path.md). Filled by the kernel (SVMFastPath.swift)
 * from the handlers' own policy; the offsets are pinned below and in boot/exit_fast_path.inc. */
#include <stddef.h>
#include <stdint.h>

/* One CPUID leaf's answer. flags bit 0: valid; bit 1: only for ECX == subleaf. */
struct exit_fast_cpuid_entry {
  uint32_t flags;
  uint32_t subleaf;
  uint32_t eax, ebx, ecx, edx;
  uint64_t reserved;
};

/* Leaves 0-0x1F, 0x4000_0000-0x4000_001F, 0x8000_0000-0x8000_001F: index
 * (leaf >> 30) * 32 + (leaf & 0x1F). */
#define EXIT_FAST_CPUID_ENTRIES 96

struct exit_fast_path {
  uint64_t enabled;        /* 0: every exit returns to the run loop */
  /* Proof that the bytes at RIP are the exiting instruction (the code-page cache's): the
   * linear page (CS.base + RIP), the address space (CR3, or ~0 with paging off), the host
   * page, and the guest page-table entries the walk read (unused ones point at `unused`). */
  uint64_t linear_page;
  uint64_t address_space;
  uint64_t host_page;
  uint64_t path_host[4];
  uint64_t path_value[4];
  uint64_t unused;         /* always 0 */
  uint64_t cpuid_served;   /* exits served here since the run loop last counted them */
  uint64_t proof_generation; /* the CodePageCache generation copied, for the run loop */
  uint64_t reserved;
  struct exit_fast_cpuid_entry cpuid[EXIT_FAST_CPUID_ENTRIES];
  /* IN/OUT: the 8 KiB bitmap of ports a device claims (set: the slow path), host address
   * (0: none served), and the device-table size it was filled for. */
  uint64_t port_bitmap;
  uint64_t ports_filled_for;
  uint64_t port_reads_served;
  uint64_t port_writes_served;
  /* VMMCALL "identify" (RAX = 0 at CPL 0): HypercallHandler's answer in RBX, RCX. */
  uint64_t hypercalls_served;
  uint64_t identify_rbx;
  uint64_t identify_rcx;
  uint64_t served;         /* every exit served here, for one test in the run loop */
  /* VT-x: the TSC at which the slice or a guest timer ends (the VMX-preemption timer
   * restarts at each VMRESUME): later exits go to the run loop. */
  uint64_t deadline;
};

_Static_assert(offsetof(struct exit_fast_path, linear_page) == 8, "fast path layout");
_Static_assert(offsetof(struct exit_fast_path, address_space) == 16, "fast path layout");
_Static_assert(offsetof(struct exit_fast_path, host_page) == 24, "fast path layout");
_Static_assert(offsetof(struct exit_fast_path, path_host) == 32, "fast path layout");
_Static_assert(offsetof(struct exit_fast_path, path_value) == 64, "fast path layout");
_Static_assert(offsetof(struct exit_fast_path, unused) == 96, "fast path layout");
_Static_assert(offsetof(struct exit_fast_path, cpuid_served) == 104, "fast path layout");
_Static_assert(offsetof(struct exit_fast_path, cpuid) == 128, "fast path layout");
_Static_assert(sizeof(struct exit_fast_cpuid_entry) == 32, "fast path layout");
_Static_assert(offsetof(struct exit_fast_path, port_bitmap) == 3200, "fast path layout");
_Static_assert(offsetof(struct exit_fast_path, port_reads_served) == 3216, "fast path layout");
_Static_assert(offsetof(struct exit_fast_path, port_writes_served) == 3224, "fast path layout");
_Static_assert(offsetof(struct exit_fast_path, hypercalls_served) == 3232, "fast path layout");
_Static_assert(offsetof(struct exit_fast_path, identify_rbx) == 3240, "fast path layout");
_Static_assert(offsetof(struct exit_fast_path, identify_rcx) == 3248, "fast path layout");
_Static_assert(offsetof(struct exit_fast_path, served) == 3256, "fast path layout");
_Static_assert(offsetof(struct exit_fast_path, deadline) == 3264, "fast path layout");
_Static_assert(sizeof(struct exit_fast_path) <= 4096, "one frame");
#endif
