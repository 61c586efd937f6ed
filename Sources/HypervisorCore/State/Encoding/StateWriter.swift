/// Appends little-endian fields to a state record (docs/vm-state.md, "Encoding").
public struct StateWriter {
  public private(set) var bytes: [UInt8] = []

  public init() {}

  public mutating func u8(_ value: UInt8) { bytes.append(value) }

  public mutating func u16(_ value: UInt16) {
    bytes.append(UInt8(truncatingIfNeeded: value))
    bytes.append(UInt8(truncatingIfNeeded: value >> 8))
  }

  public mutating func u32(_ value: UInt32) {
    for shift in stride(from: 0, to: 32, by: 8) {
      bytes.append(UInt8(truncatingIfNeeded: value >> shift))
    }
  }

  public mutating func u64(_ value: UInt64) {
    for shift in stride(from: 0, to: 64, by: 8) {
      bytes.append(UInt8(truncatingIfNeeded: value >> shift))
    }
  }

  public mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

  public mutating func raw(_ data: [UInt8]) { bytes.append(contentsOf: data) }
}
