/// How an instruction forms the address of its memory operand: segment, base, index, scale
/// and displacement (SDM Vol 1 §3.7.5, Vol 2 §2.1.5). Enough to recompute the guest-linear
/// address the processor used, so the hypervisor can check that the instruction it decoded
/// is the one that faulted.
public struct MemoryOperand: Equatable {
  /// The segment: the default for the form, or the override prefix.
  public var segment: SegmentRegister
  /// Base register by x86 number (0 = RAX ... 15 = R15), or nil.
  public var base: Int?
  /// Index register, or nil.
  public var index: Int?
  /// 1, 2, 4 or 8.
  public var scale: UInt8
  /// Sign-extended to 64 bits (moffs: zero-extended).
  public var displacement: UInt64
  /// 64-bit mode RIP-relative: the displacement is added to the next instruction's RIP
  /// (SDM Vol 2 §2.2.1.6).
  public var isRIPRelative: Bool
  /// 2, 4 or 8 bytes: the effective address wraps at this width.
  public var addressSize: UInt8

  public init(
    segment: SegmentRegister, base: Int? = nil, index: Int? = nil, scale: UInt8 = 1,
    displacement: UInt64 = 0, isRIPRelative: Bool = false, addressSize: UInt8
  ) {
    self.segment = segment
    self.base = base
    self.index = index
    self.scale = scale
    self.displacement = displacement
    self.isRIPRelative = isRIPRelative
    self.addressSize = addressSize
  }

  /// The effective address (offset in the segment), truncated to the address size.
  public func effectiveAddress(registers: GuestRegisters, nextRIP: UInt64) -> UInt64 {
    var address = displacement
    if let base { address &+= registers[base] }
    if let index { address &+= registers[index] &* UInt64(scale) }
    if isRIPRelative { address &+= nextRIP }
    return Self.truncate(address, to: addressSize)
  }

  /// Segment base plus effective address. Outside 64-bit mode linear addresses are 32 bits
  /// wide (SDM 3A §3.4); in it, only FS and GS contribute a base (§3.2.4).
  public func linearAddress(registers: GuestRegisters, nextRIP: UInt64, mode: GuestMode) -> UInt64 {
    let linear =
      mode.base(of: segment) &+ effectiveAddress(registers: registers, nextRIP: nextRIP)
    return mode.width == .long64 ? linear : linear & 0xFFFF_FFFF
  }

  @inline(__always)
  static func truncate(_ value: UInt64, to size: UInt8) -> UInt64 {
    switch size {
    case 2: return value & 0xFFFF
    case 4: return value & 0xFFFF_FFFF
    default: return value
    }
  }
}

extension InstructionCursor {
  /// Consumes a ModRM byte with its SIB byte and displacement and describes the memory
  /// operand they encode (SDM Vol 2 Tables 2-1 to 2-3, §2.2.1 for REX). Returns nil for the
  /// operand when ModRM names a register.
  mutating func readMemoryOperand(
    prefixes: InstructionPrefixes, addressSize: UInt8, width: GuestMode.Width
  ) throws(InstructionFetchError) -> (modRM: ModRM, operand: MemoryOperand?) {
    let modRM = ModRM(try next())
    if modRM.isRegister { return (modRM, nil) }
    var operand = MemoryOperand(segment: .ds, addressSize: addressSize)
    if addressSize == 2 {
      // Table 2-1: BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP, BX; BP-based forms use SS.
      switch modRM.rm {
      case 0: (operand.base, operand.index) = (3, 6)
      case 1: (operand.base, operand.index) = (3, 7)
      case 2: (operand.base, operand.index) = (5, 6)
      case 3: (operand.base, operand.index) = (5, 7)
      case 4: operand.base = 6
      case 5: operand.base = 7
      case 6: operand.base = 5
      default: operand.base = 3
      }
      switch modRM.mod {
      case 1: operand.displacement = Self.signExtend(try readLittleEndian(1), bytes: 1)
      case 2: operand.displacement = Self.signExtend(try readLittleEndian(2), bytes: 2)
      default:
        if modRM.rm == 6 {
          operand.base = nil
          operand.displacement = try readLittleEndian(2)
        }
      }
      if operand.base == 5 { operand.segment = .ss }
    } else {
      var displacementBytes = modRM.mod == 1 ? 1 : (modRM.mod == 2 ? 4 : 0)
      if modRM.rm == 4 {
        // SIB (Table 2-3): index 100 without REX.X is none; base 101 with mod 00 is disp32.
        let sib = try next()
        let index = Int((sib >> 3) & 7) | prefixes.rexX
        if index != 4 { operand.index = index }
        operand.scale = 1 << (sib >> 6)
        if sib & 7 == 5 && modRM.mod == 0 {
          displacementBytes = 4
        } else {
          operand.base = Int(sib & 7) | prefixes.rexB
        }
      } else if modRM.rm == 5 && modRM.mod == 0 {
        // disp32, RIP-relative in 64-bit mode (§2.2.1.6).
        displacementBytes = 4
        operand.isRIPRelative = width == .long64
      } else {
        operand.base = Int(modRM.rm) | prefixes.rexB
      }
      if displacementBytes > 0 {
        operand.displacement = Self.signExtend(
          try readLittleEndian(displacementBytes), bytes: displacementBytes)
      }
      // rSP- and rBP-based addresses default to SS (SDM Vol 1 §3.7.5).
      if let base = operand.base, base & 7 == 4 || base & 7 == 5 { operand.segment = .ss }
    }
    if let override = prefixes.segmentOverride { operand.segment = override }
    return (modRM, operand)
  }

  @inline(__always)
  static func signExtend(_ value: UInt64, bytes: Int) -> UInt64 {
    let unused = UInt64(64 - bytes * 8)
    return UInt64(bitPattern: Int64(bitPattern: value << unused) >> unused)
  }
}
