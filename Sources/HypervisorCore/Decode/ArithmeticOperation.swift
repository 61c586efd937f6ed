/// The two-operand ALU operations of opcodes 00-3F and groups 80-83 (ModRM.reg order), and
/// TEST (84, 85, F6 /0, F7 /0), with RFLAGS computed as the SDM's instruction pages say
/// (Vol 2; flags summary in Vol 1 Appendix A): CF, PF, AF, ZF, SF, OF. The MMIO emulator's
/// read-modify-write forms use it: `destination` is the memory operand.
public enum ArithmeticOperation: Int, Equatable {
  case add = 0
  case or, adc, sbb, and, sub, xor, cmp
  case test = 8
  /// The one-operand forms (FE/FF /0 /1, F6/F7 /2 /3): `source` is not used. INC and DEC
  /// keep CF; NEG sets CF unless the operand is 0; NOT changes no flag (SDM Vol 2 INC, DEC,
  /// NEG, NOT).
  case inc, dec, not, neg

  /// The status flags an operation writes (bits 0, 2, 4, 6, 7, 11).
  public static let statusFlags: UInt64 = 0x8D5

  /// The flags the operation writes: none for NOT, all but CF for INC and DEC.
  public var flagsWritten: UInt64 {
    switch self {
    case .not: return 0
    case .inc, .dec: return Self.statusFlags & ~1
    default: return Self.statusFlags
    }
  }

  /// Whether the result is written back (CMP and TEST only set flags).
  public var writesResult: Bool { self != .cmp && self != .test }

  /// The result (truncated to `size` bytes) and the new RFLAGS: `flags`' other bits kept,
  /// the status flags set from the operation. AND, OR, XOR, TEST clear CF and OF, and leave
  /// AF as 0 (the SDM calls it undefined; processors and QEMU give 0).
  public func apply(destination: UInt64, source: UInt64, size: UInt8, flags: UInt64)
    -> (result: UInt64, flags: UInt64)
  {
    let bits = UInt64(min(max(size, 1), 8)) * 8
    let mask: UInt64 = bits == 64 ? ~0 : (1 << bits) - 1
    let signBit: UInt64 = 1 << (bits - 1)
    let a = destination & mask
    let b = source & mask
    let carryIn: UInt64 = flags & 1
    var result: UInt64
    var carry = false
    var overflow = false
    var adjust = false
    switch self {
    case .add, .adc:
      let c = self == .adc ? carryIn : 0
      result = (a &+ b &+ c) & mask
      carry = result < a || (c == 1 && result == a)
      overflow = (a ^ result) & (b ^ result) & signBit != 0
      adjust = (a ^ b ^ result) & 0x10 != 0
    case .sub, .sbb, .cmp:
      let c = self == .sbb ? carryIn : 0
      result = (a &- b &- c) & mask
      carry = a < b || (c == 1 && a == b)
      overflow = (a ^ b) & (a ^ result) & signBit != 0
      adjust = (a ^ b ^ result) & 0x10 != 0
    case .or: result = a | b
    case .inc, .dec:
      result = (self == .inc ? a &+ 1 : a &- 1) & mask
      carry = carryIn == 1
      overflow = self == .inc ? result == signBit : a == signBit
      adjust = (a ^ 1 ^ result) & 0x10 != 0
    case .neg:
      result = (0 &- a) & mask
      carry = a != 0
      overflow = a == signBit
      adjust = (a ^ result) & 0x10 != 0
    case .not:
      return (~a & mask, flags)
    case .and, .test: result = a & b
    case .xor: result = a ^ b
    }
    var status: UInt64 = 0
    if carry { status |= 1 }
    if (result & 0xFF).nonzeroBitCount % 2 == 0 { status |= 1 << 2 }
    if adjust { status |= 1 << 4 }
    if result == 0 { status |= 1 << 6 }
    if result & signBit != 0 { status |= 1 << 7 }
    if overflow { status |= 1 << 11 }
    return (result, flags & ~Self.statusFlags | status)
  }
}
