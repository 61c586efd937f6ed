#ifndef PEREGRINE_ARCH_H
#define PEREGRINE_ARCH_H
/* The privileged x86 instructions Swift cannot express, as ARCH_INLINE functions so each
 * compiles to the one instruction it wraps. Only Sources/Kernel imports this module. */
#include <stdint.h>
#include <stdbool.h>

/* Each wrapper must become its one instruction inside the Swift caller: the exit path is
 * counted in instructions. */
#define ARCH_INLINE static inline __attribute__((always_inline))

/* Port I/O (SDM 2A IN/OUT). */
ARCH_INLINE void arch_outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
ARCH_INLINE void arch_outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
ARCH_INLINE void arch_outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
ARCH_INLINE uint8_t arch_inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
ARCH_INLINE uint16_t arch_inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
ARCH_INLINE uint32_t arch_inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* Model-specific registers. */
ARCH_INLINE uint64_t arch_rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return ((uint64_t)hi << 32) | lo;
}

/* RDRAND (Intel SDM Vol. 2B "RDRAND"; CPUID.1:ECX[30]): CF=1 when a random value was
   delivered. Returns 1 and stores it, or 0 when the DRNG had none (the caller retries). */
ARCH_INLINE int arch_rdrand64(uint64_t *value) {
  unsigned char ok;
  uint64_t v;
  __asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok) : : "cc");
  *value = v;
  return ok;
}
ARCH_INLINE void arch_wrmsr(uint32_t msr, uint64_t v) {
  __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

typedef struct CPUIDResult { uint32_t eax, ebx, ecx, edx; } CPUIDResult;
ARCH_INLINE CPUIDResult arch_cpuid(uint32_t leaf, uint32_t subleaf) {
  CPUIDResult r;
  __asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
  return r;
}

ARCH_INLINE uint64_t arch_rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

/* Control registers. */
#define ARCH_CR(n)                                                                               \
  ARCH_INLINE uint64_t arch_read_cr##n(void) { uint64_t v; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
  ARCH_INLINE void arch_write_cr##n(uint64_t v) { __asm__ volatile("mov %0, %%cr" #n ::"r"(v) : "memory"); }
ARCH_CR(0)
ARCH_CR(2)
ARCH_CR(3)
ARCH_CR(4)
#undef ARCH_CR

ARCH_INLINE uint64_t arch_read_rflags(void) { uint64_t v; __asm__ volatile("pushfq; popq %0" : "=r"(v)); return v; }
ARCH_INLINE uint64_t arch_read_frame_pointer(void) { uint64_t v; __asm__ volatile("mov %%rbp, %0" : "=r"(v)); return v; }
ARCH_INLINE uint64_t arch_read_xcr0(void) { uint32_t lo, hi; __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0)); return ((uint64_t)hi << 32) | lo; }

/* PKRU (SDM 2B RDPKRU/WRPKRU): ECX = 0, EDX = 0 for WRPKRU; #UD unless CR4.PKE = 1. Encoded
 * as bytes so no assembler needs to know the mnemonics. */
ARCH_INLINE uint32_t arch_rdpkru(void) {
  uint32_t lo, hi;
  __asm__ volatile(".byte 0x0f, 0x01, 0xee" : "=a"(lo), "=d"(hi) : "c"(0));
  return lo;
}
ARCH_INLINE void arch_wrpkru(uint32_t v) {
  __asm__ volatile(".byte 0x0f, 0x01, 0xef" ::"a"(v), "c"(0), "d"(0) : "memory");
}

ARCH_INLINE void arch_cli(void) { __asm__ volatile("cli" ::: "memory"); }
ARCH_INLINE void arch_sti(void) { __asm__ volatile("sti" ::: "memory"); }
ARCH_INLINE void arch_hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
/* STI's one-instruction shadow covers the HLT: an interrupt that arrives in between still
 * wakes it (SDM 2B STI), so a CPU cannot sleep through the kick it just checked for. */
ARCH_INLINE void arch_sti_hlt_cli(void) { __asm__ volatile("sti; hlt; cli" ::: "memory"); }
ARCH_INLINE void arch_pause(void) { __asm__ volatile("pause"); }
ARCH_INLINE void arch_invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory"); }

/* Descriptor tables (SDM 3A §2.4). */
typedef struct __attribute__((packed)) DescriptorPointer { uint16_t limit; uint64_t base; } DescriptorPointer;
ARCH_INLINE void arch_lidt(uint64_t base, uint16_t limit) {
  DescriptorPointer p = {limit, base};
  __asm__ volatile("lidt %0" ::"m"(p));
}
ARCH_INLINE void arch_ltr(uint16_t selector) { __asm__ volatile("ltr %0" ::"r"(selector)); }
/* Loads a new GDT and reloads every segment register: CS through a far return. */
ARCH_INLINE void arch_load_gdt(uint64_t base, uint16_t limit, uint16_t code, uint16_t data) {
  DescriptorPointer p = {limit, base};
  __asm__ volatile(
      "lgdt %0\n\t"
      "pushq %q1\n\t"
      "leaq 1f(%%rip), %%rax\n\t"
      "pushq %%rax\n\t"
      "lretq\n\t"
      "1:\n\t"
      "mov %w2, %%ds\n\t"
      "mov %w2, %%es\n\t"
      "mov %w2, %%ss\n\t"
      :
      : "m"(p), "r"((uint64_t)code), "r"(data)
      : "rax", "memory");
}

/* Floating-point state, saved around guest execution because host Swift code uses SSE. */
ARCH_INLINE void arch_fxsave(void *area) { __asm__ volatile("fxsave64 (%0)" ::"r"(area) : "memory"); }
ARCH_INLINE void arch_fxrstor(void *area) { __asm__ volatile("fxrstor64 (%0)" ::"r"(area) : "memory"); }

/* AMD SVM (APM Vol 2 §15.5, §15.17). */
ARCH_INLINE void arch_clgi(void) { __asm__ volatile("clgi" ::: "memory"); }
ARCH_INLINE void arch_stgi(void) { __asm__ volatile("stgi" ::: "memory"); }
ARCH_INLINE void arch_vmsave(uint64_t vmcb) { __asm__ volatile("vmsave %%rax" ::"a"(vmcb) : "memory"); }
ARCH_INLINE void arch_vmload(uint64_t vmcb) { __asm__ volatile("vmload %%rax" ::"a"(vmcb) : "memory"); }
ARCH_INLINE void arch_invlpga(uint64_t va, uint32_t asid) { __asm__ volatile("invlpga %%rax, %%ecx" ::"a"(va), "c"(asid) : "memory"); }

/* Intel VMX (SDM 3C §31). Each returns true on VMsucceed (CF = ZF = 0). */
ARCH_INLINE bool arch_vmxon(uint64_t region) {
  bool ok;
  __asm__ volatile("vmxon %1; setna %0" : "=qm"(ok) : "m"(region) : "cc", "memory");
  return !ok;
}
ARCH_INLINE void arch_vmxoff(void) { __asm__ volatile("vmxoff" ::: "cc"); }
ARCH_INLINE bool arch_vmclear(uint64_t vmcs) {
  bool fail;
  __asm__ volatile("vmclear %1; setna %0" : "=qm"(fail) : "m"(vmcs) : "cc", "memory");
  return !fail;
}
ARCH_INLINE bool arch_vmptrld(uint64_t vmcs) {
  bool fail;
  __asm__ volatile("vmptrld %1; setna %0" : "=qm"(fail) : "m"(vmcs) : "cc", "memory");
  return !fail;
}
ARCH_INLINE uint64_t arch_vmread(uint64_t field) {
  uint64_t v;
  __asm__ volatile("vmread %1, %0" : "=r"(v) : "r"(field) : "cc");
  return v;
}
ARCH_INLINE bool arch_vmwrite(uint64_t field, uint64_t value) {
  bool fail;
  __asm__ volatile("vmwrite %2, %1; setna %0" : "=qm"(fail) : "r"(field), "rm"(value) : "cc");
  return !fail;
}
typedef struct __attribute__((aligned(16))) InvalidationDescriptor { uint64_t low, high; } InvalidationDescriptor;
ARCH_INLINE bool arch_invept(uint64_t type, uint64_t eptp) {
  InvalidationDescriptor d = {eptp, 0};
  bool fail;
  __asm__ volatile("invept %1, %2; setna %0" : "=qm"(fail) : "m"(d), "r"(type) : "cc", "memory");
  return !fail;
}
ARCH_INLINE bool arch_invvpid(uint64_t type, uint16_t vpid, uint64_t address) {
  InvalidationDescriptor d = {vpid, address};
  bool fail;
  __asm__ volatile("invvpid %1, %2; setna %0" : "=qm"(fail) : "m"(d), "r"(type) : "cc", "memory");
  return !fail;
}


/* Per-CPU data (Sources/Kernel/SMP/CPULocal.swift). IA32_GS_BASE points at this CPU's
 * CPULocalArea, so one GS-relative load reaches it from anywhere in the hypervisor. The boot
 * stub and the AP trampoline set GS base before any Swift code runs. */
typedef struct CPULocalArea {
  uint64_t cpu;      /* the PhysicalCPU object, 0 until the CPU's block exists */
  uint64_t index;    /* dense CPU number: 0 is the bootstrap processor */
  uint64_t apic_id;
  uint64_t stack_top;
} CPULocalArea;
ARCH_INLINE uint64_t arch_cpu_local_object(void) { uint64_t v; __asm__ volatile("movq %%gs:0, %0" : "=r"(v)); return v; }
ARCH_INLINE uint64_t arch_cpu_local_index(void) { uint64_t v; __asm__ volatile("movq %%gs:8, %0" : "=r"(v)); return v; }
extern CPULocalArea bsp_cpu_local;

#endif
