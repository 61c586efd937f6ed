import HypervisorCore
import Synchronization

/// VM disks made from transferred images (docs/guest-io.md, "Disk images"): the frames of
/// the transfer move from the ImageStore to the VM as its `DiskImage`. When the VM is
/// released, a destroyed VM's disk frames are freed; a VM that ended by itself (the guest
/// powered off, or a fault) keeps its disk here, readable by name (`diskRead`), until
/// `destroy` names it. Only disks recorded here are ever freed here: a disk from a boot
/// module is not ours to free.
enum TransferredDisks {
  private struct Owned {
    var disk: DiskImage
    var address: UInt64
    var frames: Int
  }

  nonisolated(unsafe) private static var owned: [Owned] = []
  /// Disks of VMs that ended by themselves, by VM name, until destroyed.
  nonisolated(unsafe) private static var ended: [(vm: [UInt8], disk: DiskImage)] = []
  private static let lock = TicketLock()

  /// The VM's disk, over the transfer's frames (which it now owns).
  static func disk(from storage: FrameTransferStorage, name: [UInt8]) -> DiskImage {
    let bytes = UnsafeMutableRawBufferPointer(
      start: IdentityMappedMemory().pointer(to: storage.address), count: storage.size)
    let disk = DiskImage(name: name, bytes: bytes)
    lock.withLock {
      owned.append(
        Owned(disk: disk, address: storage.address, frames: max(1, (storage.size + 4095) / 4096)))
    }
    return disk
  }

  /// `vm` was released (any CPU): its disk, if made here, is freed, or kept when the VM
  /// ended by itself. A disk made otherwise (a boot module's copy) is left to its maker.
  static func released(_ vm: VirtualMachine) {
    guard let disk = vm.disk, lock.withLock({ owned.contains { $0.disk === disk } }) else {
      return
    }
    vm.disk = nil
    // Destroyed (or the node powered off): `operatorRequest`. Anything else the guest did.
    var destroyed = true
    if case .stopped(let reason) = vm.state {
      if case .operatorRequest = reason {} else { destroyed = false }
    }
    if destroyed {
      free(disk)
    } else {
      lock.withLock { ended.append((vm.name, disk)) }
    }
  }

  /// The kept disk of an ended VM named `name`.
  static func endedDisk(of name: [UInt8]) -> DiskImage? {
    lock.withLock { ended.first(where: { $0.vm == name })?.disk }
  }

  /// Frees the kept disk of an ended VM named `name`; false if there is none.
  static func discardEnded(_ name: [UInt8]) -> Bool {
    let found: DiskImage? = lock.withLock {
      guard let index = ended.firstIndex(where: { $0.vm == name }) else { return nil }
      return ended.remove(at: index).disk
    }
    guard let found else { return false }
    free(found)
    return true
  }

  /// A disk that never reached a VM (its create was refused after it left the store).
  static func free(_ disk: DiskImage) {
    let entry: Owned? = lock.withLock {
      guard let index = owned.firstIndex(where: { $0.disk === disk }) else { return nil }
      return owned.remove(at: index)
    }
    guard let entry else { return }
    PhysicalFrames.free(entry.address, frames: entry.frames)
  }
}
