/* The C library routines the Embedded Swift runtime and clang's code generation call.
 * String instructions keep the compiler from turning these loops back into calls to
 * themselves. posix_memalign and free are in Swift (Sources/Kernel/Runtime/Heap.swift). */
#include <stddef.h>
#include <stdint.h>

/* Whole quadwords first: an emulator runs REP STOS one element per iteration (TCG, and Bochs
 * without its repeat speedups), so zeroing a guest's RAM takes an eighth of the iterations. */
void *memset(void *dst, int value, size_t n) {
  void *d = dst;
  uint64_t pattern = 0x0101010101010101ull * (unsigned char)value;
  size_t quads = n / 8, rest = n % 8;
  __asm__ volatile("rep stosq" : "+D"(d), "+c"(quads) : "a"(pattern) : "memory");
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(rest) : "a"(value) : "memory");
  return dst;
}

void *memcpy(void *dst, const void *src, size_t n) {
  void *d = dst;
  size_t quads = n / 8, rest = n % 8;
  __asm__ volatile("rep movsq" : "+D"(d), "+S"(src), "+c"(quads)::"memory");
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(rest)::"memory");
  return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  if (d <= s || d >= s + n) return memcpy(dst, src, n);
  /* Overlapping with the destination above the source: copy backwards. */
  d += n - 1;
  s += n - 1;
  __asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n)::"memory");
  return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}

size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

/* The Embedded Swift runtime's allocator entry points, forwarded to the Swift heap
 * (Sources/Kernel/Runtime/Heap.swift): Swift may not define these names itself. */
void *peregrine_heap_allocate(size_t size, size_t alignment);
void peregrine_heap_free(void *pointer);

int posix_memalign(void **result, size_t alignment, size_t size) {
  void *p = peregrine_heap_allocate(size, alignment);
  *result = p;
  return p ? 0 : 12; /* ENOMEM */
}

void free(void *pointer) {
  if (pointer) peregrine_heap_free(pointer);
}

/* Seeds Swift's hashing. A fixed seed would make hash-flooding by a guest predictable, so
 * mix the time stamp counter through splitmix64. */
void arc4random_buf(void *buffer, size_t n) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  uint64_t state = ((uint64_t)hi << 32 | lo) ^ 0x9E3779B97F4A7C15ull;
  unsigned char *out = buffer;
  for (size_t i = 0; i < n; i++) {
    if (i % 8 == 0) {
      state += 0x9E3779B97F4A7C15ull;
      uint64_t z = state;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      state ^= z ^ (z >> 31);
    }
    out[i] = (unsigned char)(state >> (8 * (i % 8)));
  }
}
