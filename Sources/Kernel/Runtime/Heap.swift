import CArch
import HypervisorCore
import Memory

/// The kernel heap: the Embedded Swift runtime allocates every class instance and array
/// buffer through posix_memalign and releases it through free. Both run on a HeapAllocator
/// over the arena linker.ld reserves, and really return memory (boundary-tag coalescing).
enum KernelHeap {
  static var allocator = HeapAllocator(
    arena: UnsafeMutableRawPointer(bitPattern: UInt(linker_heap_start()))!,
    size: Int(linker_heap_end() - linker_heap_start()))

  /// Every CPU allocates (each Swift object, each array buffer): one lock, held briefly.
  static let lock = TicketLock()

  static var range: (start: UInt64, end: UInt64) {
    (linker_heap_start(), linker_heap_end())
  }
}

@_cdecl("peregrine_heap_allocate")
func heapAllocate(_ size: Int, _ alignment: Int) -> UnsafeMutableRawPointer? {
  KernelHeap.lock.withLock { KernelHeap.allocator.allocate(size: size, alignment: alignment) }
}

@_cdecl("peregrine_heap_free")
func heapFree(_ pointer: UnsafeMutableRawPointer) {
  KernelHeap.lock.withLock { KernelHeap.allocator.free(pointer) }
}
