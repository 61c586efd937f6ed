#ifndef PEREGRINE_TRAP_FRAME_H
#define PEREGRINE_TRAP_FRAME_H
#include <stdint.h>

/* The stack as boot/interrupt_stubs.asm leaves it: the pushed registers (last pushed
 * first), the stub's vector and error code, then the CPU's interrupt frame (SDM 3A §6.14.1). */
typedef struct TrapFrame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
  uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
  uint64_t vector, error_code;
  uint64_t rip, cs, rflags, rsp, ss;
} TrapFrame;

#endif
