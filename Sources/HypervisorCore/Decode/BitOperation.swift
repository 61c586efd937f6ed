/// BT, BTS, BTR, BTC: which change the selected bit gets (SDM Vol 2, each page).
public enum BitTestOperation: Int, Equatable {
  /// 0F A3, 0F BA /4: only CF.
  case test = 4
  /// 0F AB, 0F BA /5: the bit set.
  case set
  /// 0F B3, 0F BA /6: the bit cleared.
  case reset
  /// 0F BB, 0F BA /7: the bit flipped.
  case complement

  /// The operand with the bit at `bit` changed, and the new RFLAGS: CF is the bit's old
  /// value; ZF is kept and OF, SF, AF, PF, undefined, are kept too (SDM Vol 2 BT).
  public func apply(_ value: UInt64, bit: UInt64, flags: UInt64) -> (result: UInt64, flags: UInt64)
  {
    let mask: UInt64 = 1 << (bit & 63)
    let carry: UInt64 = value & mask != 0 ? 1 : 0
    let result: UInt64
    switch self {
    case .test: result = value
    case .set: result = value | mask
    case .reset: result = value & ~mask
    case .complement: result = value ^ mask
    }
    return (result, flags & ~1 | carry)
  }
}

/// Where the bit number of BT/BTS/BTR/BTC comes from.
public enum BitOffset: Equatable {
  /// 0F BA Ib: taken modulo the operand width; the operand itself is what ModRM names.
  case immediate(UInt8)
  /// 0F A3/AB/B3/BB Gv: a signed offset from the operand's address, which may reach any
  /// bit of memory: the processor reads the operand-sized unit at
  /// address + (offset >> log2(width)) * size (SDM Vol 2 BT, "bit base" and Figure 3-2).
  case register(Int)
}

/// The count of SHLD/SHRD.
public enum ShiftCount: Equatable {
  /// 0F A4, 0F AC: the Ib after ModRM.
  case immediate(UInt8)
  /// 0F A5, 0F AD: CL.
  case cl
}

/// The computations of the bit and multiply forms the MMIO emulator carries out, each with
/// its RFLAGS as the SDM's page defines them; flags a page calls undefined keep their values.
public enum BitArithmetic {
  /// The bit offset of BT's register form split into the byte displacement of the
  /// operand-sized unit holding the bit (signed, so negative offsets reach below the
  /// operand) and the bit number inside it (SDM Vol 2 BT, Figure 3-2).
  public static func registerBitOffset(_ offset: UInt64, size: UInt8) -> (
    displacement: UInt64, bit: UInt64
  ) {
    let bits = UInt64(size) * 8
    let signed = signExtend(offset, from: size)
    let unit = Int64(bitPattern: signed) >> Int64(bits.trailingZeroBitCount)
    return (UInt64(bitPattern: unit &* Int64(size)), signed & (bits - 1))
  }

  /// BSF (forward) or BSR (reverse) of a `size`-byte source: the index of its lowest or
  /// highest set bit, nil when it is 0. ZF is set exactly when the source is 0; CF, OF, SF,
  /// AF, PF are undefined and kept (SDM Vol 2 BSF, BSR). The destination keeps its value on
  /// a zero source, as AMD documents and Intel processors do (APM Vol 3 BSF).
  public static func scan(_ source: UInt64, size: UInt8, reverse: Bool, flags: UInt64) -> (
    index: UInt64?, flags: UInt64
  ) {
    let value = source & mask(size)
    guard value != 0 else { return (nil, flags | 1 << 6) }
    let index = reverse ? 63 - value.leadingZeroBitCount : value.trailingZeroBitCount
    return (UInt64(index), flags & ~(1 << 6))
  }

  /// The two- and three-operand IMUL: the signed product of two `size`-byte operands
  /// truncated to `size` bytes; CF and OF set when the truncation changed the value (the
  /// full product is not the sign extension of the result). SF, ZF, AF, PF are undefined
  /// and kept (SDM Vol 2 IMUL).
  public static func signedMultiply(_ left: UInt64, _ right: UInt64, size: UInt8, flags: UInt64)
    -> (result: UInt64, flags: UInt64)
  {
    let a = Int64(bitPattern: signExtend(left, from: size))
    let b = Int64(bitPattern: signExtend(right, from: size))
    let overflow: Bool
    let result: UInt64
    if size >= 8 {
      let (product, over) = a.multipliedReportingOverflow(by: b)
      result = UInt64(bitPattern: product)
      overflow = over
    } else {
      // Both operands fit in 32 bits, so the product fits in 64.
      let product = a &* b
      result = UInt64(bitPattern: product) & mask(size)
      overflow = Int64(bitPattern: signExtend(result, from: size)) != product
    }
    let carry: UInt64 = overflow ? 0x801 : 0
    return (result, flags & ~0x801 | carry)
  }

  /// SHLD (`left`) or SHRD of `destination` by `count` bits, filling from `source` (SDM Vol
  /// 2 SHLD, SHRD). The count is taken modulo 32 (64 for 64-bit operands); 0 changes
  /// nothing, flags included, and gives nil. CF is the last bit shifted out of the
  /// destination; OF is set when the sign changed (defined for a count of 1 only, computed
  /// the same way for others); SF, ZF, PF follow the result; AF is undefined and kept. A
  /// 16-bit count above 16 is undefined: the result is that of shifting the 48-bit
  /// destination:source:destination, as Intel processors do.
  public static func doubleShift(
    _ destination: UInt64, _ source: UInt64, count raw: UInt64, size: UInt8, left: Bool,
    flags: UInt64
  ) -> (result: UInt64, flags: UInt64)? {
    let bits = UInt64(size) * 8
    let count = raw & (size == 8 ? 63 : 31)
    guard count != 0 else { return nil }
    let m = mask(size)
    let d = destination & m
    let s = source & m
    let result: UInt64
    let carry: UInt64
    if size == 8 {
      if left {
        result = d << count | s >> (64 - count)
        carry = d >> (64 - count) & 1
      } else {
        result = d >> count | s << (64 - count)
        carry = d >> (count - 1) & 1
      }
    } else if size == 4 {
      if left {
        let joined = d << 32 | s
        result = (joined << count) >> 32 & m
        carry = joined >> (64 - count) & 1
      } else {
        let joined = s << 32 | d
        result = joined >> count & m
        carry = joined >> (count - 1) & 1
      }
    } else {
      if left {
        let joined = d << 32 | s << 16 | d
        result = (joined << count) >> 32 & m
        carry = joined >> (48 - count) & 1
      } else {
        let joined = d << 32 | s << 16 | d
        result = joined >> count & m
        carry = joined >> (count - 1) & 1
      }
    }
    let signBit: UInt64 = 1 << (bits - 1)
    var status = carry
    if (result & 0xFF).nonzeroBitCount % 2 == 0 { status |= 1 << 2 }
    if result == 0 { status |= 1 << 6 }
    if result & signBit != 0 { status |= 1 << 7 }
    if (result ^ d) & signBit != 0 { status |= 1 << 11 }
    let written: UInt64 = 0x8C5  // CF, PF, ZF, SF, OF
    return (result, flags & ~written | status)
  }

  @inline(__always)
  static func mask(_ size: UInt8) -> UInt64 {
    size >= 8 ? ~0 : (1 << (UInt64(size) * 8)) - 1
  }

  @inline(__always)
  static func signExtend(_ value: UInt64, from size: UInt8) -> UInt64 {
    guard size < 8 else { return value }
    let unused = 64 - UInt64(size) * 8
    return UInt64(bitPattern: Int64(bitPattern: value << unused) >> unused)
  }
}
