import CArch

/// Where linker.ld put the kernel's pieces (physical = virtual: the kernel is identity mapped).
enum KernelLayout {
  static var start: UInt64 { linker_kernel_start() }
  static var end: UInt64 { linker_kernel_end() }
  static var text: (start: UInt64, end: UInt64) { (linker_text_start(), linker_text_end()) }
  static var rodata: (start: UInt64, end: UInt64) { (linker_rodata_start(), linker_rodata_end()) }
  /// Data and bss, stacks and heap included.
  static var data: (start: UInt64, end: UInt64) { (linker_data_start(), linker_bss_end()) }
  static var stackGuard: UInt64 { linker_stack_guard() }
  static var stackTop: UInt64 { linker_stack_top() }

  /// Stacks allocated later (per-CPU stacks) register here so backtraces can follow them.
  static var extraStacks: [(start: UInt64, end: UInt64)] = []

  static func isKernelStackOrData(_ address: UInt64) -> Bool {
    if address >= data.start && address + 16 <= data.end { return true }
    for stack in extraStacks where address >= stack.start && address + 16 <= stack.end {
      return true
    }
    return false
  }
}
