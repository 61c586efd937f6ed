import HypervisorCore
import Memory

/// Gives a VM its RAM: 2 MiB-aligned runs of frames (so nested paging can use 2 MiB pages),
/// zeroed, mapped at guest-physical 0 upward in that VM's own nested page tables only.
/// `Format` is NPT's or EPT's entry layout; the builder is the shared platform-neutral one.
enum GuestMemoryBuilder {
  static let chunk: UInt64 = 2 << 20

  enum BuildError: Error {
    case outOfMemory
    case pageTables

    var message: StaticString {
      switch self {
      case .outOfMemory: return "not enough free memory for the VM's RAM"
      case .pageTables: return "could not build the VM's nested page tables"
      }
    }
  }

  static func build<Format: PageTableFormat>(
    size: UInt64, format: Format.Type
  ) -> Result<(memory: GuestMemoryMap, root: UInt64, frames: [(UInt64, Int)]), BuildError> {
    var memory = GuestMemoryMap()
    var owned: [(UInt64, Int)] = []
    var guestPhysical: UInt64 = 0
    while guestPhysical < size {
      let length = min(chunk, size - guestPhysical)
      let count = Int((length + 4095) / 4096)
      guard
        let host = PhysicalFrames.allocateZeroed(
          frames: count, alignment: length == chunk ? chunk : 4096)
      else {
        release(owned)
        return .failure(.outOfMemory)
      }
      owned.append((host, count))
      if let last = memory.regions.last, last.hostAddress + last.size == host,
        last.guestEnd == guestPhysical
      {
        memory.extendLast(by: length)
      } else {
        memory.add(GuestMemoryRegion(guestPhysical: guestPhysical, hostAddress: host, size: length))
      }
      guestPhysical += length
    }
    var frames = KernelFrameSource()
    do {
      var tables = try PageTableBuilder<Format, IdentityMappedMemory>(
        memory: IdentityMappedMemory(), frames: &frames)
      for region in memory.regions {
        try tables.map(
          virtual: region.guestPhysical, physical: region.hostAddress, length: region.size,
          permissions: [.read, .write, .execute, .user], memoryType: .writeBack,
          largestPage: .size2M, frames: &frames)
      }
      return .success((memory, tables.root, owned))
    } catch {
      release(owned)
      return .failure(.pageTables)
    }
  }

  static func release(_ owned: [(UInt64, Int)]) {
    for (address, count) in owned { PhysicalFrames.free(address, frames: count) }
  }
}
