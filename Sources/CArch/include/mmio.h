#pragma once
#include <stdint.h>

/* Device register access: volatile, so every read and write reaches the device once, in
 * program order, and none is merged, hoisted out of a polling loop or dropped. */
static inline __attribute__((always_inline)) uint8_t mmio_read8(uint64_t a) { return *(volatile uint8_t *)a; }
static inline __attribute__((always_inline)) uint16_t mmio_read16(uint64_t a) { return *(volatile uint16_t *)a; }
static inline __attribute__((always_inline)) uint32_t mmio_read32(uint64_t a) { return *(volatile uint32_t *)a; }
static inline __attribute__((always_inline)) void mmio_write8(uint64_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static inline __attribute__((always_inline)) void mmio_write16(uint64_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static inline __attribute__((always_inline)) void mmio_write32(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
/* A 64-bit register written as two 32-bit halves, low first (virtio 1.1 §4.1.3.1 lets the
 * driver use 32-bit accesses for 64-bit fields). */
static inline __attribute__((always_inline)) void mmio_write64_halves(uint64_t a, uint64_t v) {
  *(volatile uint32_t *)a = (uint32_t)v;
  *(volatile uint32_t *)(a + 4) = (uint32_t)(v >> 32);
}
/* Orders the CPU's accesses to descriptor memory and device registers (SDM 3A §9.2.5). */
static inline __attribute__((always_inline)) void mmio_barrier(void) { __asm__ volatile("mfence" ::: "memory"); }
