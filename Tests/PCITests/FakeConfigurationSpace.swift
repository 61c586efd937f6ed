import PCI

/// A function's configuration space in a host buffer. BAR registers behave as hardware
/// does for sizing: a write keeps only the bits the BAR decodes (`barMasks`), plus its
/// read-only type bits.
final class FakeConfigurationSpace: PCIConfigurationSpace {
  var bytes: [UInt8]
  /// Per BAR register (0-5): writable bits; 0 means the register is hard-wired to 0.
  var barMasks: [UInt32] = Array(repeating: 0, count: 6)
  private(set) var writes: [(UInt8, UInt32)] = []

  init(bytes: [UInt8]) {
    precondition(bytes.count == 256)
    self.bytes = bytes
  }

  func read32(_ offset: UInt8) -> UInt32 {
    let o = Int(offset & 0xFC)
    return UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16
      | UInt32(bytes[o + 3]) << 24
  }

  func write32(_ offset: UInt8, _ value: UInt32) {
    writes.append((offset, value))
    let o = Int(offset & 0xFC)
    var stored = value
    if o >= 0x10 && o < 0x28 {
      let index = (o - 0x10) / 4
      let old = read32(UInt8(o))
      let typeBits: UInt32 = old & 1 == 1 ? 0x3 : 0xF
      // The high half of a 64-bit BAR has no type bits.
      let isHighHalf = index > 0 && read32(UInt8(o - 4)) & 0x7 == 0x4
      stored = isHighHalf ? value & barMasks[index] : (value & barMasks[index]) | (old & typeBits)
    }
    for i in 0..<4 { bytes[o + i] = UInt8(truncatingIfNeeded: stored >> (8 * UInt32(i))) }
  }

  func set32(_ offset: Int, _ value: UInt32) {
    for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
  }
}
