import CArch
import Memory

extension KernelPageTables {
  /// Makes a device's MMIO range `[physical, physical + length)` reachable at the same
  /// virtual address. Below the identity map's top it already is (the boot tables map
  /// everything below 4 GiB; the firmware's MTRRs make the PCI hole uncacheable, and an
  /// MTRR UC wins over the page's WB, SDM 3A §12.5.2.2). Pages not mapped yet (a 64-bit BAR
  /// placed above RAM) are mapped read-write, non-executable and uncacheable (PCD|PWT).
  /// Runs on the bootstrap processor before the others start.
  static func mapDevice(physical: UInt64, length: UInt64) -> Bool {
    let start = physical & ~0xFFF
    let end = (physical &+ length &+ 0xFFF) & ~0xFFF
    guard end > start else { return false }
    var frames = KernelFrameSource()
    var tables = PageTableBuilder<HostPagingFormat, IdentityMappedMemory>(
      memory: IdentityMappedMemory(), existingRoot: root)
    var page = start
    while page < end {
      if tables.translate(page) == nil {
        do {
          try tables.map(
            virtual: page, physical: page, length: 4096, permissions: [.read, .write],
            memoryType: .uncacheable, largestPage: .size4K, frames: &frames)
        } catch {
          return false
        }
        arch_invlpg(page)
      }
      page += 4096
    }
    return true
  }
}
