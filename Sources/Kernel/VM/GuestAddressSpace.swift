import HypervisorCore
import Memory

/// A VM's guest-physical address space, owned by the VM: its RAM (2 MiB-aligned runs of
/// zeroed frames, so nested paging can use 2 MiB pages), the nested page tables that map it
/// at guest-physical 0 upward (NPT's or EPT's format), and every frame both use, the
/// page-table frames included. Changes to the mapping flush every CPU that runs the VM
/// before its next entry; `release` returns every frame, once no vCPU can run.
final class GuestAddressSpace<Format: WriteTrackableFormat> {
  static var chunk: UInt64 { 2 << 20 }

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

  private(set) var memory = GuestMemoryMap()
  /// Also edited by the dirty log (GuestAddressSpace+DirtyLog), under its lock.
  var tables: PageTableBuilder<Format, IdentityMappedMemory>
  /// RAM runs (address, frames) and page-table frames, all returned by `release`.
  private var ramFrames: [(UInt64, Int)] = []
  var frames: RecordingFrameSource

  var root: UInt64 { tables.root }
  /// Frames the page tables use, the root included.
  var tableFrameCount: Int { frames.recorded.count }

  private init(tables: PageTableBuilder<Format, IdentityMappedMemory>, frames: RecordingFrameSource)
  {
    self.tables = tables
    self.frames = frames
  }

  static func build(size: UInt64) -> Result<GuestAddressSpace, BuildError> {
    var frames = RecordingFrameSource()
    let tables: PageTableBuilder<Format, IdentityMappedMemory>
    do {
      tables = try PageTableBuilder(memory: IdentityMappedMemory(), frames: &frames)
    } catch {
      frames.releaseAll()
      return .failure(.pageTables)
    }
    let space = GuestAddressSpace(tables: tables, frames: frames)
    if let error = space.addRAM(size: size) {
      space.release()
      return .failure(error)
    }
    return .success(space)
  }

  private func addRAM(size: UInt64) -> BuildError? {
    var guestPhysical: UInt64 = 0
    while guestPhysical < size {
      let length = min(Self.chunk, size - guestPhysical)
      let count = Int((length + 4095) / 4096)
      guard
        let host = PhysicalFrames.allocateZeroed(
          frames: count, alignment: length == Self.chunk ? Self.chunk : 4096)
      else { return .outOfMemory }
      ramFrames.append((host, count))
      if let last = memory.regions.last, last.hostAddress + last.size == host,
        last.guestEnd == guestPhysical
      {
        memory.extendLast(by: length)
      } else {
        memory.add(GuestMemoryRegion(guestPhysical: guestPhysical, hostAddress: host, size: length))
      }
      guestPhysical += length
    }
    do {
      for region in memory.regions {
        try tables.map(
          virtual: region.guestPhysical, physical: region.hostAddress, length: region.size,
          permissions: [.read, .write, .execute, .user], memoryType: .writeBack,
          largestPage: .size2M, frames: &frames)
      }
    } catch {
      return .pageTables
    }
    return nil
  }

  /// Maps host memory (a device's MMIO, later) into the VM, and makes every CPU that runs
  /// one of `vm`'s vCPUs flush its guest-physical translations before the next entry.
  func map(
    guestPhysical: UInt64, host: UInt64, length: UInt64, permissions: PagePermissions,
    memoryType: MemoryType, for vm: VirtualMachine
  ) -> Bool {
    do {
      try tables.map(
        virtual: guestPhysical, physical: host, length: length, permissions: permissions,
        memoryType: memoryType, frames: &frames)
    } catch {
      return false
    }
    Self.flushEveryCPU(running: vm)
    return true
  }

  /// Removes a mapping; the same flush. The host memory behind it may be reused only once
  /// every vCPU has entered again (or the VM has ended).
  func unmap(guestPhysical: UInt64, length: UInt64, for vm: VirtualMachine) -> Bool {
    do {
      try tables.unmap(virtual: guestPhysical, length: length)
    } catch {
      return false
    }
    Self.flushEveryCPU(running: vm)
    return true
  }

  /// A `.flushTLB` request to every vCPU: each CPU running one is kicked out of the guest,
  /// and flushes (INVEPT, or TLB_CONTROL for its ASID) before its next entry.
  static func flushEveryCPU(running vm: VirtualMachine) {
    for vcpu in vm.vcpus { vcpu.post(.flushTLB) }
  }

  /// Returns the RAM and every page-table frame. Only after every vCPU left its CPU (and
  /// each CPU flushed what it cached of the VM there: the backend's `detach`).
  func release() {
    for (address, count) in ramFrames { PhysicalFrames.free(address, frames: count) }
    ramFrames.removeAll()
    frames.releaseAll()
    memory = GuestMemoryMap()
  }
}

/// Zeroed frames from the machine's allocator, remembered so their owner can give every
/// one back.
struct RecordingFrameSource: FrameSource {
  private(set) var recorded: [UInt64] = []

  mutating func allocateZeroedFrame() -> UInt64? {
    guard let frame = PhysicalFrames.allocateZeroed() else { return nil }
    recorded.append(frame)
    return frame
  }

  mutating func releaseAll() {
    for frame in recorded { PhysicalFrames.free(frame) }
    recorded.removeAll()
  }
}
