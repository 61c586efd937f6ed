/// An emulated PCI function's bus-master accesses to its VM's memory (docs/virtual-iommu.md):
/// through the VM's virtual IOMMU when it has one (the address is an IOVA the unit
/// translates, page by page), otherwise guest-physical. Either way the bytes move only
/// inside the VM's RAM (`GuestMemoryMap`): an address the unit blocks, or one outside RAM,
/// moves nothing, is counted, and the access reports failure. Never host memory.
public final class DeviceDMA {
  private let memory: GuestMemoryMap
  private let unit: VirtualRemappingUnit?
  /// The function's requester id (bus 0, its slot, function 0), the unit's source id.
  public var requester: RequesterID
  /// Accesses refused: blocked by the unit or outside the VM's RAM.
  public private(set) var faults: UInt64 = 0

  public init(memory: GuestMemoryMap, unit: VirtualRemappingUnit?, requester: RequesterID) {
    self.memory = memory
    self.unit = unit
    self.requester = requester
  }

  /// Reads `count` bytes at `address`; nil (nothing read) on a fault.
  public func read(_ count: Int, at address: UInt64) -> [UInt8]? {
    var bytes = [UInt8](repeating: 0, count: count)
    var done = 0
    while done < count {
      let chunk = Self.chunk(address &+ UInt64(done), remaining: count - done)
      guard let source = pointer(address &+ UInt64(done), length: chunk, write: false) else {
        return nil
      }
      for index in 0..<chunk {
        bytes[done + index] = source.load(fromByteOffset: index, as: UInt8.self)
      }
      done += chunk
    }
    return bytes
  }

  /// Writes `bytes` at `address`; false on a fault. Pages before the faulting one are
  /// written, as a device's DMA that stops part-way.
  @discardableResult
  public func write(_ bytes: [UInt8], at address: UInt64) -> Bool {
    var done = 0
    while done < bytes.count {
      let at = address &+ UInt64(done)
      let chunk = Self.chunk(at, remaining: bytes.count - done)
      guard let physical = physical(at, length: chunk, write: true) else { return false }
      let written = bytes[done..<(done + chunk)].withUnsafeBytes { memory.write($0, to: physical) }
      guard written else {
        faults &+= 1
        return false
      }
      done += chunk
    }
    return true
  }

  /// The bytes up to the end of `address`'s 4 KiB page: the unit's smallest translation.
  static func chunk(_ address: UInt64, remaining: Int) -> Int {
    min(remaining, Int(0x1000 - address & 0xFFF))
  }

  private func physical(_ address: UInt64, length: Int, write: Bool) -> UInt64? {
    guard let unit else { return address }
    guard let physical = unit.translate(address, write: write, requester: requester) else {
      faults &+= 1
      return nil
    }
    return physical
  }

  private func pointer(_ address: UInt64, length: Int, write: Bool) -> UnsafeMutableRawPointer? {
    guard let physical = physical(address, length: length, write: write) else { return nil }
    guard let pointer = memory.pointer(to: physical, length: UInt64(length)) else {
      faults &+= 1
      return nil
    }
    return pointer
  }
}
