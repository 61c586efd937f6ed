/// QEMU's firmware configuration interface, the traditional I/O-port form (QEMU
/// docs/specs/fw_cfg.rst): a 16-bit selector written to 0x510 picks an item, and each byte
/// read from 0x511 gives its next byte (0 past its end or for an item that does not exist).
/// Test kernels (kvm-unit-tests' lib/x86/fwcfg.c) read the CPU count and RAM size here.
/// No DMA interface: the ID item says so (bit 1 clear).
public final class FirmwareConfig: PortDevice {
  public static let selectorPort: UInt16 = 0x510
  public static let dataPort: UInt16 = 0x511

  /// Item keys (fw_cfg.rst, "Selector Register").
  public enum Key {
    public static let signature: UInt16 = 0x00
    public static let id: UInt16 = 0x01
    public static let ramSize: UInt16 = 0x03
    public static let noGraphic: UInt16 = 0x04
    public static let cpuCount: UInt16 = 0x05
    public static let maximumCPUs: UInt16 = 0x0F
  }

  let cpuCount: UInt16
  let ramSize: UInt64
  var selector: UInt16 = 0
  var offset: UInt32 = 0

  public init(cpuCount: Int, ramSize: UInt64) {
    self.cpuCount = UInt16(truncatingIfNeeded: cpuCount)
    self.ramSize = ramSize
  }

  /// The bytes of the selected item.
  func item(_ key: UInt16) -> [UInt8] {
    switch key {
    case Key.signature: return Array("QEMU".utf8)
    case Key.id: return littleEndian(UInt64(1), bytes: 4)  // traditional interface only
    case Key.ramSize: return littleEndian(ramSize, bytes: 8)
    case Key.noGraphic: return littleEndian(UInt64(1), bytes: 2)
    case Key.cpuCount, Key.maximumCPUs: return littleEndian(UInt64(cpuCount), bytes: 2)
    default: return []
    }
  }

  func littleEndian(_ value: UInt64, bytes: Int) -> [UInt8] {
    (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
  }

  public func read(port: UInt16, size: UInt8) -> UInt32 {
    guard port == Self.dataPort else { return 0 }
    let bytes = item(selector)
    var value: UInt32 = 0
    for index in 0..<UInt32(min(size, 4)) {
      let position = Int(offset)
      let byte = position < bytes.count ? bytes[position] : 0
      value |= UInt32(byte) << (8 * index)
      if offset < UInt32.max { offset += 1 }
    }
    return value
  }

  /// A selector write picks an item and rewinds it; data writes are ignored (QEMU ignores
  /// them since 2.4).
  public func write(port: UInt16, size: UInt8, value: UInt32) -> DeviceEffect {
    if port == Self.selectorPort {
      selector = UInt16(truncatingIfNeeded: value)
      offset = 0
    }
    return .none
  }
}

extension FirmwareConfig: StatefulDevice {
  /// The selected item and the read position in it; the items are configuration.
  public struct State: Equatable {
    public var selector: UInt16 = 0
    public var offset: UInt32 = 0
    public init(selector: UInt16 = 0, offset: UInt32 = 0) {
      self.selector = selector
      self.offset = offset
    }
  }

  public func save() -> State { State(selector: selector, offset: offset) }

  public func restore(_ state: State) {
    selector = state.selector
    offset = state.offset
  }
}
