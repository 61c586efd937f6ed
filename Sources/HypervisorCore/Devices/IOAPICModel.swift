/// An I/O APIC (82093AA data sheet) on the page at 0xFEC0_0000: IOREGSEL at 0x00, IOWIN at
/// 0x10, identification, version, and 24 redirection entries. An edge on an input pin is
/// delivered as the entry's vector to the local APIC(s) it names (physical or logical
/// destination), unless masked. Level-triggered inputs are delivered once per raise; remote
/// IRR is not modelled (no device here holds a level line).
public final class IOAPICModel: MMIODevice {
  public static let base: UInt64 = 0xFEC0_0000
  public static let pinCount = 24

  public let id: UInt8
  private var select: UInt32 = 0
  private var entries = [UInt64](repeating: 1 << 16, count: IOAPICModel.pinCount)  // masked
  private let localAPICs: [LocalAPICModel]

  public init(id: UInt8, localAPICs: [LocalAPICModel]) {
    self.id = id
    self.localAPICs = localAPICs
  }

  /// An edge on `pin`.
  public func raise(pin: Int) {
    guard pin >= 0 && pin < Self.pinCount else { return }
    let entry = entries[pin]
    guard entry & (1 << 16) == 0 else { return }  // masked
    let vector = UInt8(truncatingIfNeeded: entry)
    let destination = UInt8(truncatingIfNeeded: entry >> 56)
    let logical = entry & (1 << 11) != 0
    var delivered = false
    for apic in localAPICs where logical ? apic.acceptsLogical(destination) : apic.id == destination
    {
      apic.request(vector)
      delivered = true
      if entry & (0x7 << 8) == 1 << 8 { break }  // lowest priority: one APIC takes it
    }
    if !delivered, let first = localAPICs.first, logical { first.request(vector) }
  }

  public func read(offset: UInt64, size: UInt8) -> UInt64 {
    switch offset {
    case 0x00: return UInt64(select)
    case 0x10: return UInt64(window(select))
    default: return 0
    }
  }

  public func write(offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect {
    let data = UInt32(truncatingIfNeeded: value)
    switch offset {
    case 0x00: select = data & 0xFF
    case 0x10: setWindow(select, data)
    default: break
    }
    return .none
  }

  private func window(_ register: UInt32) -> UInt32 {
    switch register {
    case 0x00: return UInt32(id) << 24
    case 0x01: return UInt32(Self.pinCount - 1) << 16 | 0x20
    case 0x02: return UInt32(id) << 24
    case 0x10..<(0x10 + 2 * UInt32(Self.pinCount)):
      let entry = entries[Int((register - 0x10) / 2)]
      return register & 1 == 0
        ? UInt32(truncatingIfNeeded: entry) & ~(1 << 12) : UInt32(entry >> 32)
    default: return 0
    }
  }

  private func setWindow(_ register: UInt32, _ data: UInt32) {
    guard register >= 0x10 && register < 0x10 + 2 * UInt32(Self.pinCount) else { return }
    let pin = Int((register - 0x10) / 2)
    if register & 1 == 0 {
      // Delivery status (12) and remote IRR (14) are read-only.
      entries[pin] = entries[pin] & 0xFFFF_FFFF_0000_5000 | UInt64(data & ~0x5000)
    } else {
      entries[pin] = entries[pin] & 0xFFFF_FFFF | UInt64(data) << 32
    }
  }
}

/// Something that raises an interrupt input: an I/O APIC pin.
public final class InterruptLine {
  private let controller: IOAPICModel
  public let pin: Int

  public init(controller: IOAPICModel, pin: Int) {
    self.controller = controller
    self.pin = pin
  }

  public func pulse() { controller.raise(pin: pin) }
}
