/// Why the bytes at RIP could not be read to the end of an instruction.
enum InstructionFetchError: Error, Equatable {
  /// The instruction continues past the bytes that were fetched.
  case truncated
  /// The instruction would be longer than 15 bytes, which raises #GP (SDM Vol 2 §2.3.11).
  case tooLong
}

/// Reads an instruction front to back, failing instead of reading past the fetched bytes or
/// the 15-byte limit.
struct InstructionCursor {
  let bytes: InstructionBytes
  /// How many bytes have been consumed: the instruction's length once decoding ends.
  private(set) var position = 0

  init(_ bytes: InstructionBytes) {
    self.bytes = bytes
  }

  /// Fails when `position + length` bytes would pass the limit or the fetched bytes; the
  /// limit wins so that a 16-byte instruction is reported as too long even when truncated.
  @inline(__always)
  private func require(_ length: Int) throws(InstructionFetchError) {
    let end = position + length
    if end > InstructionBytes.maximumCount { throw .tooLong }
    if end > bytes.count { throw .truncated }
  }

  /// The next byte, without consuming it.
  @inline(__always)
  func peek() throws(InstructionFetchError) -> UInt8 {
    try require(1)
    return bytes[position]
  }

  /// The next byte, consumed.
  @inline(__always)
  mutating func next() throws(InstructionFetchError) -> UInt8 {
    try require(1)
    position += 1
    return bytes[position - 1]
  }

  /// Consumes `length` bytes without looking at them (displacements, immediates).
  @inline(__always)
  mutating func skip(_ length: Int) throws(InstructionFetchError) {
    try require(length)
    position += length
  }

  /// Consumes a little-endian value of `length` bytes (at most 8).
  mutating func readLittleEndian(_ length: Int) throws(InstructionFetchError) -> UInt64 {
    try require(length)
    var value: UInt64 = 0
    var index = 0
    while index < length {
      value |= UInt64(bytes[position + index]) << UInt64(index * 8)
      index += 1
    }
    position += length
    return value
  }

  /// Consumes a ModRM byte and the SIB byte and displacement that it implies, returning the
  /// ModRM byte. The layout depends on the address size (SDM Vol 2 §2.1.5, Tables 2-1 to 2-3).
  mutating func readModRMOperand(addressSize: UInt8) throws(InstructionFetchError) -> ModRM {
    let modRM = ModRM(try next())
    if modRM.isRegister { return modRM }
    if addressSize == 2 {
      // Table 2-1: 16-bit forms have no SIB; mod 00 with r/m 110 is [disp16].
      switch modRM.mod {
      case 1: try skip(1)
      case 2: try skip(2)
      default: if modRM.rm == 6 { try skip(2) }
      }
      return modRM
    }
    // Table 2-2: r/m 100 means a SIB byte follows; Table 2-3: a SIB base of 101 with mod 00
    // means [scaled index + disp32]. Mod 00 with r/m 101 is disp32 (RIP-relative in 64-bit
    // mode, §2.2.1.6), the same length either way.
    var baseIsDisplacement = modRM.rm == 5
    if modRM.rm == 4 {
      baseIsDisplacement = try next() & 7 == 5
    }
    switch modRM.mod {
    case 1: try skip(1)
    case 2: try skip(4)
    default: if baseIsDisplacement { try skip(4) }
    }
    return modRM
  }
}

/// The fields of a ModRM byte (SDM Vol 2 §2.1.5).
struct ModRM {
  let byte: UInt8

  init(_ byte: UInt8) {
    self.byte = byte
  }

  var mod: UInt8 { byte >> 6 }
  var reg: UInt8 { (byte >> 3) & 7 }
  var rm: UInt8 { byte & 7 }
  /// Mod 11: the r/m operand is a register, not memory.
  var isRegister: Bool { mod == 3 }
}
