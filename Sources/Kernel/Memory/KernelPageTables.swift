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
}
