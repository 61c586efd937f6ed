import Memory

/// The second-level page tables of one DMA-remapping domain (VT-d spec rev 4.1 §3.7): built
/// from a VM's guest-physical map, so a device in the domain reaches exactly the VM's RAM at
/// the addresses the guest knows, read and write, and faults anywhere else.
public struct RemappingDomainTables<Memory: PhysicalMemoryAccess> {
  public enum BuildError: Error, Equatable {
    case outOfMemory
    /// The VM's RAM reaches past what a 3-level (39-bit) domain can translate.
    case beyondAddressWidth
    case pageTables
  }

  public private(set) var builder: PageTableBuilder<RemappingPageTableFormat, Memory>
  /// 3 or 4 (CAP.SAGAW, §11.4.2).
  public let levels: Int

  /// The table the context entry points at: the PML4 for 4 levels; for 3 levels the table
  /// PML4 entry 0 points at, which covers [0, 512 GiB), all a 39-bit domain translates.
  public var top: UInt64 {
    levels == 4
      ? builder.root
      : RemappingPageTableFormat.address(
        of: memory.pointer(to: builder.root).load(as: UInt64.self))
  }
  let memory: Memory

  /// Maps every region of `map` guest-physical → host-physical with read and write, using
  /// pages up to `largestPage` (2 MiB only when CAP.SLLPS offers it), and each 4 KiB page of
  /// `readOnly` (I/O virtual → host-physical) for device reads only: node-owned pages a
  /// device of the domain fetches from but must never write (an NVMe VF's shadow admin
  /// queue, docs/passthrough.md), at addresses outside the VM's RAM.
  public static func build<Frames: FrameSource>(
    map: GuestMemoryMap, readOnly: [(iova: UInt64, host: UInt64)] = [], levels: Int,
    largestPage: PageSize, memory: Memory, frames: inout Frames
  ) -> Result<RemappingDomainTables, BuildError> {
    let limit: UInt64 = levels == 4 ? 1 << 48 : 1 << 39
    guard map.end <= limit, readOnly.allSatisfy({ $0.iova < limit - 4096 }) else {
      return .failure(.beyondAddressWidth)
    }
    var builder: PageTableBuilder<RemappingPageTableFormat, Memory>
    do {
      builder = try PageTableBuilder(memory: memory, frames: &frames)
      // A 3-level domain needs its level-3 table to exist even with no RAM mapped.
      if levels == 3 {
        guard let pdpt = frames.allocateZeroedFrame() else { return .failure(.outOfMemory) }
        memory.pointer(to: builder.root).storeBytes(
          of: RemappingPageTableFormat.tableEntry(physical: pdpt), as: UInt64.self)
      }
      try builder.mapDMADomain(
        map, readOnly: readOnly, largestPage: largestPage, frames: &frames)
    } catch {
      return .failure(error == .outOfMemory ? .outOfMemory : .pageTables)
    }
    return .success(RemappingDomainTables(builder: builder, levels: levels, memory: memory))
  }
}
