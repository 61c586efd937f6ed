/// A virtual PCI function's configuration space as a plain value (PCI Local Bus 3.0 §6.1,
/// PCI Express Base 4.0 §7.5 for the 4 KiB extended space ECAM reaches): the bytes the guest
/// reads, which bits it may write, and the BARs' sizes. Saved and restored whole with its
/// device (docs/vm-state.md).
public struct VirtualPCIConfiguration: Equatable {
  public static let size = 4096
  /// Offsets in the type 0 header (§6.1).
  static let command = 0x04
  static let status = 0x06
  static let firstBAR = 0x10
  static let capabilityPointer = 0x34
  static let interruptLine = 0x3C
  static let firstCapability = 0x40

  public private(set) var bytes: [UInt8]
  /// Per byte: the bits a guest write changes.
  private var writable: [UInt8]
  /// Each BAR's decoder, nil where the function has none (or the upper half of a 64-bit BAR).
  public private(set) var bars: [VirtualBAR?] = [VirtualBAR?](repeating: nil, count: 6)
  /// Where the next capability goes, and the last one's next-pointer to chain it.
  private var nextCapability = firstCapability
  private var lastCapabilityLink: Int? = nil

  public init(
    vendorID: UInt16, deviceID: UInt16, classCode: UInt8, subclass: UInt8,
    programmingInterface: UInt8 = 0, revision: UInt8 = 0, subsystemVendorID: UInt16 = 0,
    subsystemID: UInt16 = 0, interruptPin: UInt8 = 0
  ) {
    bytes = [UInt8](repeating: 0, count: Self.size)
    writable = [UInt8](repeating: 0, count: Self.size)
    store16(vendorID, at: 0x00)
    store16(deviceID, at: 0x02)
    bytes[0x08] = revision
    bytes[0x09] = programmingInterface
    bytes[0x0A] = subclass
    bytes[0x0B] = classCode
    store16(subsystemVendorID, at: 0x2C)
    store16(subsystemID, at: 0x2E)
    bytes[0x3D] = interruptPin
    // Command: I/O space (0), memory space (1), bus master (2), INTx disable (10) (§6.2.2).
    writable[Self.command] = 0b0000_0111
    writable[Self.command + 1] = 0b0000_0100
    writable[Self.interruptLine] = 0xFF
  }

  // MARK: Guest accesses

  /// `size` bytes (1, 2 or 4) at `offset`, little-endian; an access that crosses the end or
  /// is not naturally aligned reads as all ones, as a master abort would.
  public func read(offset: Int, size: Int) -> UInt32 {
    guard Self.isValid(offset: offset, size: size) else { return Self.allOnes(size) }
    var value: UInt32 = 0
    for index in 0..<size { value |= UInt32(bytes[offset + index]) << (8 * UInt32(index)) }
    return value
  }

  /// Applies a guest write: only writable bits change; a BAR keeps the address bits its size
  /// decodes (so writing all ones reads back the size, §6.2.5.1). Returns the BARs and
  /// command bits that changed, for the bus to re-route its decoders.
  public mutating func write(offset: Int, size: Int, value: UInt32) -> ConfigurationChange {
    guard Self.isValid(offset: offset, size: size) else { return [] }
    var change: ConfigurationChange = []
    for index in 0..<size {
      let at = offset + index
      let byte = UInt8(truncatingIfNeeded: value >> (8 * UInt32(index)))
      let old = bytes[at]
      bytes[at] = old & ~writable[at] | byte & writable[at]
      if bytes[at] != old {
        if at >= Self.firstBAR && at < Self.firstBAR + 24 { change.insert(.bars) }
        if at == Self.command || at == Self.command + 1 { change.insert(.command) }
      }
    }
    return change
  }

  static func isValid(offset: Int, size: Int) -> Bool {
    (size == 1 || size == 2 || size == 4) && offset >= 0 && offset % size == 0
      && offset + size <= Self.size
  }

  static func allOnes(_ size: Int) -> UInt32 {
    size == 4 ? 0xFFFF_FFFF : (1 << (8 * UInt32(size))) - 1
  }

  // MARK: What the bus reads back

  public var commandRegister: UInt16 { UInt16(read(offset: Self.command, size: 2)) }
  public var decodesMemory: Bool { commandRegister & 0b10 != 0 }
  public var decodesIO: Bool { commandRegister & 0b01 != 0 }
  public var isBusMaster: Bool { commandRegister & 0b100 != 0 }

  /// The guest-physical (or port) base a BAR holds now.
  public func address(ofBAR index: Int) -> UInt64? {
    guard index >= 0, index < 6, let bar = bars[index] else { return nil }
    let low = UInt64(read(offset: Self.firstBAR + 4 * index, size: 4))
    switch bar.kind {
    case .io: return low & ~0x3
    case .memory32: return low & ~0xF
    case .memory64:
      let high = UInt64(read(offset: Self.firstBAR + 4 * (index + 1), size: 4))
      return high << 32 | low & ~0xF
    }
  }

  // MARK: Saved state (docs/vm-state.md)

  /// Bytes of the space a saved state holds: the type 0 header and the capabilities, the
  /// only bytes with writable bits (`addCapability` keeps capabilities below 256).
  public static let savedSize = 256

  /// The first `savedSize` bytes as the guest reads them: command, BARs as assigned, the
  /// interrupt line, MSI/MSI-X control, with the read-only bytes around them.
  public var savedImage: [UInt8] { Array(bytes[0..<Self.savedSize]) }

  /// The identity a saved image must share with this space to be restored into it: IDs,
  /// revision, class code, subsystem IDs and the interrupt pin (offsets 0-3, 8-11, 0x2C-0x2F,
  /// 0x3D), all read-only.
  public static func sameFunction(_ image: [UInt8], _ other: [UInt8]) -> Bool {
    guard image.count == savedSize, other.count == savedSize else { return false }
    for range in [0..<4, 8..<12, 0x2C..<0x30, 0x3D..<0x3E] where image[range] != other[range] {
      return false
    }
    return true
  }

  /// Takes back the writable bits of a saved image (`savedImage` of a function built the
  /// same way); read-only bits stay this space's. A BAR keeps only the address bits its size
  /// decodes, as after a guest write. Not a guest write: nothing is reported.
  public mutating func restore(image: [UInt8]) {
    for index in 0..<min(image.count, Self.savedSize) {
      bytes[index] = bytes[index] & ~writable[index] | image[index] & writable[index]
    }
  }

  // MARK: Building the function (at VM build, before the guest runs)

  /// Declares BAR `index` (a 64-bit BAR takes `index + 1` too) of `size` bytes, a power of
  /// two (at least 16 for memory, 4 for I/O), placed at `address`.
  public mutating func declareBAR(_ index: Int, _ bar: VirtualBAR, at address: UInt64) {
    precondition(index >= 0 && index + (bar.kind == .memory64 ? 1 : 0) < 6, "no such BAR")
    precondition(bar.size & (bar.size - 1) == 0 && bar.size >= 4, "a BAR size is a power of two")
    bars[index] = bar
    let offset = Self.firstBAR + 4 * index
    let typeBits: UInt32
    switch bar.kind {
    case .io: typeBits = 0b01
    case .memory32: typeBits = bar.prefetchable ? 0b1000 : 0
    case .memory64: typeBits = bar.prefetchable ? 0b1100 : 0b0100
    }
    let mask = ~(bar.size - 1)
    store32(UInt32(truncatingIfNeeded: address & mask) | typeBits, at: offset)
    storeMask32(UInt32(truncatingIfNeeded: mask) & (bar.kind == .io ? ~0x3 : ~0xF), at: offset)
    if bar.kind == .memory64 {
      store32(UInt32(truncatingIfNeeded: (address & mask) >> 32), at: offset + 4)
      storeMask32(UInt32(truncatingIfNeeded: mask >> 32), at: offset + 4)
    }
  }

  /// Appends a capability (§6.7) with `body` after its ID and next pointer, and returns its
  /// offset; `writableBody` marks which of the body's bits the guest may write.
  @discardableResult
  public mutating func addCapability(id: UInt8, body: [UInt8], writableBody: [UInt8] = [])
    -> Int
  {
    let offset = nextCapability
    precondition(offset + 2 + body.count <= 256, "capabilities live in the first 256 bytes")
    bytes[offset] = id
    for (index, byte) in body.enumerated() { bytes[offset + 2 + index] = byte }
    for (index, byte) in writableBody.enumerated() { writable[offset + 2 + index] = byte }
    if let link = lastCapabilityLink {
      bytes[link] = UInt8(offset)
    } else {
      bytes[Self.capabilityPointer] = UInt8(offset)
      bytes[Self.status] |= 1 << 4
    }
    lastCapabilityLink = offset + 1
    nextCapability = (offset + 2 + body.count + 3) & ~3
    return offset
  }

  mutating func store16(_ value: UInt16, at offset: Int) {
    bytes[offset] = UInt8(truncatingIfNeeded: value)
    bytes[offset + 1] = UInt8(truncatingIfNeeded: value >> 8)
  }

  mutating func store32(_ value: UInt32, at offset: Int) {
    for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
  }

  mutating func storeMask32(_ mask: UInt32, at offset: Int) {
    for index in 0..<4 { writable[offset + index] = UInt8(truncatingIfNeeded: mask >> (8 * index)) }
  }
}

/// A base address register's decoder (§6.2.5.1).
public struct VirtualBAR: Equatable {
  public enum Kind: Equatable { case io, memory32, memory64 }
  public var kind: Kind
  public var size: UInt64
  public var prefetchable: Bool

  public init(_ kind: Kind, size: UInt64, prefetchable: Bool = false) {
    self.kind = kind
    self.size = size
    self.prefetchable = prefetchable
  }
}

/// What a configuration write changed, for the bus to act on.
public struct ConfigurationChange: OptionSet, Equatable {
  public let rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }
  /// A BAR moved: its decoder must follow.
  public static let bars = ConfigurationChange(rawValue: 1)
  /// Memory or I/O decoding, or bus mastering, was turned on or off.
  public static let command = ConfigurationChange(rawValue: 2)
}
