/// A small MMIO device for the guest test suite (docs/guest-abi.md): an identification
/// word at 0x0, a 64-bit scratch register at 0x8 and an access counter at 0x10.
public final class TestMMIODevice: MMIODevice {
  public static let defaultBase: UInt64 = 0xFED0_0000
  public static let identification: UInt64 = 0x5045_5245  // "PERE"
  public private(set) var scratch: UInt64 = 0
  public private(set) var accesses: UInt64 = 0

  public init() {}

  public func read(offset: UInt64, size: UInt8) -> UInt64 {
    accesses &+= 1
    let value: UInt64
    let base: UInt64
    switch offset {
    case 0..<8: (value, base) = (Self.identification, 0)
    case 8..<16: (value, base) = (scratch, 8)
    case 16..<24: (value, base) = (accesses, 16)
    default: return Self.mask(size)
    }
    return (value >> ((offset - base) * 8)) & Self.mask(size)
  }

  public func write(offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect {
    accesses &+= 1
    guard offset >= 8 && offset < 16 else { return .none }
    let shift = (offset - 8) * 8
    let mask = Self.mask(size) << shift
    scratch = scratch & ~mask | (value << shift) & mask
    return .none
  }

  static func mask(_ size: UInt8) -> UInt64 { size >= 8 ? ~0 : (1 << (UInt64(size) * 8)) - 1 }
}

extension TestMMIODevice: StatefulDevice {
  public struct State: Equatable {
    public var scratch: UInt64 = 0
    public var accesses: UInt64 = 0

    public init() {}
  }

  public func save() -> State {
    var state = State()
    state.scratch = scratch
    state.accesses = accesses
    return state
  }

  public func restore(_ state: State) {
    scratch = state.scratch
    accesses = state.accesses
  }
}
