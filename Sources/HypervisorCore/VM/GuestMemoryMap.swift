/// A VM's RAM: guest-physical ranges backed by host memory. `hostAddress` is an address the
/// hypervisor can dereference: the kernel identity maps physical memory, so it is the host
/// physical address that nested paging maps; tests back regions with host allocations.
public struct GuestMemoryRegion: Equatable {
  public var guestPhysical: UInt64
  public var hostAddress: UInt64
  public var size: UInt64

  public init(guestPhysical: UInt64, hostAddress: UInt64, size: UInt64) {
    self.guestPhysical = guestPhysical
    self.hostAddress = hostAddress
    self.size = size
  }

  public var guestEnd: UInt64 { guestPhysical + size }
}

public struct GuestMemoryMap {
  public private(set) var regions: [GuestMemoryRegion] = []
  /// The exit tracer recording the current exit (ExitTraceRecorder), which copies what
  /// `pointer` hands out; nil whenever no exit is being recorded. A raw pointer: a class
  /// reference here would be retained with every copy of the map.
  public var readLog: UnsafeMutableRawPointer?
  /// The VM's dirty log (`DirtyPageLog`, unretained: the VM owns it), told of every write a
  /// device model or handler makes into guest memory (`noteWrite`); set once when the VM is
  /// built, nil in host tests that need none.
  public var writeLog: UnsafeMutableRawPointer?

  public init() {}

  public mutating func add(_ region: GuestMemoryRegion) { regions.append(region) }

  /// Grows the last region, when the next host run follows it directly.
  public mutating func extendLast(by length: UInt64) { regions[regions.count - 1].size += length }

  /// Total RAM.
  public var size: UInt64 {
    var total: UInt64 = 0
    for region in regions { total += region.size }
    return total
  }

  /// The highest guest-physical address of RAM, exclusive.
  public var end: UInt64 {
    var end: UInt64 = 0
    for region in regions where region.guestEnd > end { end = region.guestEnd }
    return end
  }

  /// A pointer to `length` bytes at `guestPhysical`, if they lie wholly inside one region.
  public func pointer(to guestPhysical: UInt64, length: UInt64) -> UnsafeMutableRawPointer? {
    for region in regions
    where guestPhysical >= region.guestPhysical && length <= region.size
      && guestPhysical - region.guestPhysical <= region.size - length
    {
      let host = UnsafeMutableRawPointer(
        bitPattern: UInt(region.hostAddress + (guestPhysical - region.guestPhysical)))
      if let readLog, let host {
        ExitTraceRecorder.noteMemory(readLog, guestPhysical, host, length: length)
      }
      return host
    }
    return nil
  }

  public func read64(_ guestPhysical: UInt64) -> UInt64? {
    pointer(to: guestPhysical, length: 8).map { $0.loadUnaligned(as: UInt64.self) }
  }

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
    noteWrite(guestPhysical, length: UInt64(bytes.count))
    return true
  }

  /// The hypervisor wrote (or is about to write) `length` bytes at `guestPhysical` through a
  /// pointer from `pointer(to:length:)`: the dirty log, while it is on, marks their pages.
  /// Every path that stores into guest memory calls this, so a migration resends the page.
  @inline(__always)
  public func noteWrite(_ guestPhysical: UInt64, length: UInt64) {
    if let writeLog { DirtyPageLog.noteWrite(writeLog, guestPhysical, length: length) }
  }
}
