#ifndef PEREGRINE_LINKER_SYMBOLS_H
#define PEREGRINE_LINKER_SYMBOLS_H
#include <stdint.h>
/* Section boundaries that linker.ld defines, as addresses Swift can read. */
#define LINKER_SYMBOL(name)                                                                    \
  extern char __##name[];                                                                      \
  static inline uint64_t linker_##name(void) { return (uint64_t)(uintptr_t)__##name; }
LINKER_SYMBOL(kernel_start)
LINKER_SYMBOL(kernel_end)
LINKER_SYMBOL(text_start)
LINKER_SYMBOL(text_end)
LINKER_SYMBOL(rodata_start)
LINKER_SYMBOL(rodata_end)
LINKER_SYMBOL(data_start)
LINKER_SYMBOL(bss_end)
LINKER_SYMBOL(heap_start)
LINKER_SYMBOL(heap_end)
LINKER_SYMBOL(stack_guard)
LINKER_SYMBOL(stack_top)
#undef LINKER_SYMBOL

extern uint64_t trap_stub_table[256];
static inline uint64_t linker_trap_stub(int vector) { return trap_stub_table[vector]; }
#endif
