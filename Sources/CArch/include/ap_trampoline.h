#ifndef PEREGRINE_AP_TRAMPOLINE_H
#define PEREGRINE_AP_TRAMPOLINE_H
/* The application processors' start-up code (boot/ap_trampoline.asm) and the block through
 * which the bootstrap processor hands each one its parameters. The BSP copies the code to
 * AP_TRAMPOLINE_BASE, a page below 1 MiB (a start-up IPI's vector names a page there:
 * SDM 3A §9.4.4.1), and starts one AP at a time. */
#include <stdint.h>
#include <stdbool.h>

#define AP_TRAMPOLINE_BASE 0x8000u
/* The page a CPU is sent to by the smp_test_fail hook: `cli; hlt` only. */
#define AP_MUTE_PAGE_BASE 0x9000u

/* APTrampolineParameters.state */
#define AP_SLOT_WAITING 0u   /* filled in by the BSP, not yet taken */
#define AP_SLOT_CLAIMED 1u   /* the AP with apic_id took it: its stack and GS area are in use */
#define AP_SLOT_CANCELLED 2u /* the BSP gave up on this AP: a late start parks in the trampoline */

/* Layout shared with boot/ap_trampoline.asm (offsets in its comments). */
typedef struct APTrampolineParameters {
  uint64_t kernel_cr3; /* +0  KernelPageTables.root, loaded in 64-bit mode */
  uint64_t cr0;        /* +8  the BSP's CR0: PG, WP, NE, MP, PE */
  uint64_t cr4;        /* +16 the BSP's CR4 without VMXE: PAE, OSFXSR, OSXMMEXCPT */
  uint64_t efer;       /* +24 LME and, as on the BSP, NXE */
  uint64_t local_area; /* +32 the AP's CPULocalArea: IA32_GS_BASE */
  uint64_t stack_top;  /* +40 the AP's RSP */
  uint32_t apic_id;    /* +48 the only AP that may claim this block */
  uint32_t state;      /* +52 AP_SLOT_* */
  uint32_t started;    /* +56 incremented by every AP that runs the trampoline's first lines */
  uint32_t reserved;
} APTrampolineParameters;
_Static_assert(sizeof(APTrampolineParameters) == 64, "layout shared with ap_trampoline.asm");

extern const uint8_t ap_trampoline_start[], ap_trampoline_end[], ap_trampoline_parameters[];
extern const uint8_t ap_mute_start[], ap_mute_end[];

static inline uint64_t ap_trampoline_code(void) { return (uint64_t)(uintptr_t)ap_trampoline_start; }
static inline uint64_t ap_trampoline_size(void) { return (uint64_t)(ap_trampoline_end - ap_trampoline_start); }
/* Where the parameter block lands once the code is copied to AP_TRAMPOLINE_BASE. */
static inline APTrampolineParameters *ap_trampoline_block(void) {
  return (APTrampolineParameters *)(uintptr_t)(AP_TRAMPOLINE_BASE + (ap_trampoline_parameters - ap_trampoline_start));
}
static inline uint64_t ap_mute_code(void) { return (uint64_t)(uintptr_t)ap_mute_start; }
static inline uint64_t ap_mute_size(void) { return (uint64_t)(ap_mute_end - ap_mute_start); }

/* The block is shared with a CPU that runs without any Swift: plain atomics. */
static inline uint32_t ap_block_load_state(void) {
  return __atomic_load_n(&ap_trampoline_block()->state, __ATOMIC_ACQUIRE);
}
static inline uint32_t ap_block_load_started(void) {
  return __atomic_load_n(&ap_trampoline_block()->started, __ATOMIC_ACQUIRE);
}
/* The BSP gives up on the AP: true unless the AP claimed the block first. */
static inline bool ap_block_cancel(void) {
  uint32_t expected = AP_SLOT_WAITING;
  return __atomic_compare_exchange_n(&ap_trampoline_block()->state, &expected, AP_SLOT_CANCELLED,
                                     false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
/* Publishes the parameters: everything written before is visible to the AP that claims it. */
static inline void ap_block_open(uint32_t apic_id) {
  ap_trampoline_block()->apic_id = apic_id;
  __atomic_store_n(&ap_trampoline_block()->state, AP_SLOT_WAITING, __ATOMIC_RELEASE);
}

/* STI's one-instruction interrupt shadow covers HLT: an interrupt already pending is taken
 * after HLT begins and wakes it, never lost between the two (SDM 2B STI). */

#endif
