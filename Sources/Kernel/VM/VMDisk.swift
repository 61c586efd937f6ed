import HypervisorCore

/// A VM's virtio-blk disk in node memory: a private, writable copy of an image (a boot
/// module named `disk vm=NAME`, or an image the control protocol brought), in contiguous
/// frames of the node's own, never mapped into any guest, freed when the VM is released.
/// Making one from bytes is the one path for both sources (docs/guest-io.md).
enum VMDisk {
  /// Why an image cannot become a VM's disk.
  enum Refusal: Error, Equatable {
    case empty
    case partialSector
    /// More frames than the node has free, counting the VM's RAM to come.
    case largerThanNode
    /// The frames are free but in no run long enough for the image.
    case noContiguousRun

    var message: StaticString {
      switch self {
      case .empty: return "the disk image is empty"
      case .partialSector: return "the disk image is not a whole number of 512-byte sectors"
      case .largerThanNode:
        return "the disk image is larger than the node's free memory (with the VM's RAM)"
      case .noContiguousRun: return "no run of free node memory is long enough for the disk image"
      }
    }
  }

  /// Copies `source` into newly taken node frames as the disk named `name` (its GET_ID).
  /// `reservedBytes` are needed besides (the VM's RAM, taken after the disk): an image that
  /// would leave too little for them is refused before any frame is taken.
  static func make(from source: UnsafeRawBufferPointer, name: [UInt8], reservedBytes: UInt64 = 0)
    -> Result<DiskImage, Refusal>
  {
    guard let base = source.baseAddress, source.count > 0 else { return .failure(.empty) }
    guard UInt64(source.count) % VirtioBlockLayout.sectorSize == 0 else {
      return .failure(.partialSector)
    }
    let frames = frameCount(UInt64(source.count))
    guard frames + frameCount(reservedBytes) < UInt64(PhysicalFrames.freeFrames) else {
      return .failure(.largerThanNode)
    }
    // Zeroed: the tail of the last frame beyond the image reads as zero, never stale data.
    guard let address = PhysicalFrames.allocateZeroed(frames: Int(frames)) else {
      return .failure(.noContiguousRun)
    }
    let bytes = UnsafeMutableRawBufferPointer(
      start: IdentityMappedMemory().pointer(to: address), count: source.count)
    bytes.baseAddress!.copyMemory(from: base, byteCount: source.count)
    return .success(DiskImage(name: name, bytes: bytes))
  }

  /// Gives the disk's frames back to the node. The caller drops every reference to `disk`
  /// (the VM's `disk`, its block device) first: its bytes are no longer the VM's.
  static func release(_ disk: DiskImage) {
    guard let base = disk.bytes.baseAddress, disk.size > 0 else { return }
    PhysicalFrames.free(UInt64(UInt(bitPattern: base)), frames: Int(frameCount(disk.size)))
  }

  static func frameCount(_ bytes: UInt64) -> UInt64 { (bytes + 4095) / 4096 }

  /// Whether a VM of `profile` can have a disk: the disk is a PCI function, and only VMs
  /// with interrupt controllers (Linux, multiboot, flat with apic=on) have a PCI bus.
  static func canAttach(_ profile: VMProfile) -> Bool {
    profile.kind != .flat || profile.localAPIC
  }
}
