import Memory

/// The host I/O page tables of one AMD-Vi domain (AMD IOMMU spec #48882 rev 3.x §2.2.3):
/// built from a VM's guest-physical map like the VT-d domain, so a device reaches exactly the
/// VM's RAM at the addresses the guest knows. The page-table walk is shared with the other
/// x86-shaped formats (512 entries, 9 bits a level); only the entry bits differ
/// (`AMDIOPageTableFormat`). Always 4 levels (DTE Mode 4, 48-bit addresses): every IOMMU
/// offers at least that (EFR.HATS 00b = 4 levels).
public struct AMDViDomainTables<Memory: PhysicalMemoryAccess> {
  public enum BuildError: Error, Equatable {
    case outOfMemory
    case beyondAddressWidth
    case pageTables
  }

  public private(set) var builder: PageTableBuilder<AMDIOPageTableFormat, Memory>
  public static var levels: Int { 4 }
  public var root: UInt64 { builder.root }

  /// `readOnly`: 4 KiB pages a device may read only, as `RemappingDomainTables.build`.
  public static func build<Frames: FrameSource>(
    map: GuestMemoryMap, readOnly: [(iova: UInt64, host: UInt64)] = [], largestPage: PageSize,
    memory: Memory, frames: inout Frames
  ) -> Result<AMDViDomainTables, BuildError> {
    guard map.end <= 1 << 48, readOnly.allSatisfy({ $0.iova < (1 << 48) - 4096 }) else {
      return .failure(.beyondAddressWidth)
    }
    var builder: PageTableBuilder<AMDIOPageTableFormat, Memory>
    do {
      builder = try PageTableBuilder(memory: memory, frames: &frames)
      try builder.mapDMADomain(
        map, readOnly: readOnly, largestPage: largestPage, frames: &frames)
    } catch {
      return .failure(error == .outOfMemory ? .outOfMemory : .pageTables)
    }
    return .success(AMDViDomainTables(builder: builder))
  }
}
