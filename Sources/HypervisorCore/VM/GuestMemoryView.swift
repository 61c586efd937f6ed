/// Guest RAM as the exit handlers read and write it. Handlers are generic over it, through
/// `GuestStateAccess.memoryView`: an ordinary exit hands them the VM's `GuestMemoryMap`
/// itself, and only a traced exit a `RecordingMemory` that copies what it hands out
/// (docs/exit-trace.md), so an untraced VM's accesses carry no trace test at all.
public protocol GuestMemoryView {
  /// A pointer to `length` bytes at `guestPhysical`, if they lie wholly inside one region.
  func pointer(to guestPhysical: UInt64, length: UInt64) -> UnsafeMutableRawPointer?
  /// The highest guest-physical address of RAM, exclusive.
  var end: UInt64 { get }
}

extension GuestMemoryView {
  @inline(__always)
  public func read64(_ guestPhysical: UInt64) -> UInt64? {
    pointer(to: guestPhysical, length: 8).map { $0.loadUnaligned(as: UInt64.self) }
  }

  @inline(__always)
  public func read32(_ guestPhysical: UInt64) -> UInt32? {
    pointer(to: guestPhysical, length: 4).map { $0.loadUnaligned(as: UInt32.self) }
  }

  /// Copies `bytes` into guest memory; false if they do not fit inside the guest's RAM.
  @discardableResult
  public func write(_ bytes: UnsafeRawBufferPointer, to guestPhysical: UInt64) -> Bool {
    guard let destination = pointer(to: guestPhysical, length: UInt64(bytes.count)) else {
      return false
    }
    if let base = bytes.baseAddress { destination.copyMemory(from: base, byteCount: bytes.count) }
    return true
  }
}

extension GuestMemoryMap: GuestMemoryView {}
