import CArch
import Memory

/// The hypervisor's own page tables, built in Swift to replace the boot stub's: all memory
/// identity mapped read-write and non-executable, the kernel text read-only and executable,
/// rodata read-only, and the page below the boot stack left unmapped as a guard.
enum KernelPageTables {
  static var root: UInt64 = 0

  /// - Parameter top: the end of the highest physical address to map (RAM and the MMIO
  ///   below 4 GiB: LAPIC, IOAPIC, firmware).
  static func build(top: UInt64) throws(PageTableError) {
    var frames = KernelFrameSource()
    var tables = try PageTableBuilder<HostPagingFormat, IdentityMappedMemory>(
      memory: IdentityMappedMemory(), frames: &frames)
    let data: PagePermissions = [.read, .write]
    let text = KernelLayout.text
    let rodata = KernelLayout.rodata
    let guard_ = KernelLayout.stackGuard

    // Page 0 stays unmapped so a null pointer faults instead of reading the real-mode IVT.
    try tables.map(
      virtual: 0x1000, physical: 0x1000, length: text.start - 0x1000, permissions: data,
      frames: &frames)
    try tables.map(
      virtual: text.start, physical: text.start, length: text.end - text.start,
      permissions: [.read, .execute], frames: &frames)
    try tables.map(
      virtual: rodata.start, physical: rodata.start, length: rodata.end - rodata.start,
      permissions: [.read], frames: &frames)
    try tables.map(
      virtual: rodata.end, physical: rodata.end, length: guard_ - rodata.end, permissions: data,
      frames: &frames)
    let afterGuard = guard_ + 4096
    try tables.map(
      virtual: afterGuard, physical: afterGuard, length: top - afterGuard, permissions: data,
      largestPage: .size1G, frames: &frames)
    root = tables.root
    arch_write_cr3(root)
  }

  /// Makes the 4 KiB page at `address` not present (a stack guard page), splitting the large
  /// page that maps it, and flushes it from this CPU's TLB. Run before the CPUs that would
  /// use the page start: other CPUs are not flushed.
  static func unmapPage(_ address: UInt64) throws(PageTableError) {
    var frames = KernelFrameSource()
    var tables = PageTableBuilder<HostPagingFormat, IdentityMappedMemory>(
      memory: IdentityMappedMemory(), existingRoot: root)
    try tables.splitLargePages(containing: address, frames: &frames)
    try tables.unmap(virtual: address, length: 4096)
    arch_invlpg(address)
  }

  /// Maps the 4 KiB page at `address` again as data (read-write, NX): a guard page given back.
  static func remapPage(_ address: UInt64) throws(PageTableError) {
    var frames = KernelFrameSource()
    var tables = PageTableBuilder<HostPagingFormat, IdentityMappedMemory>(
      memory: IdentityMappedMemory(), existingRoot: root)
    try tables.map(
      virtual: address, physical: address, length: 4096, permissions: [.read, .write],
      largestPage: .size4K, frames: &frames)
    arch_invlpg(address)
  }
}
