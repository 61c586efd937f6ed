/// A 48-bit IEEE 802 MAC address: the six bytes in transmission order, the first in bits
/// 47:40 of `value`.
public struct MACAddress: Equatable, Hashable, Sendable {
  public let value: UInt64

  public init(_ value: UInt64) { self.value = value & 0xFFFF_FFFF_FFFF }

  public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
    value =
      UInt64(b0) << 40 | UInt64(b1) << 32 | UInt64(b2) << 24 | UInt64(b3) << 16 | UInt64(b4) << 8
      | UInt64(b5)
  }

  /// The six bytes at `offset`, or nil if they are not all there.
  public init?(_ data: [UInt8], at offset: Int) {
    guard offset >= 0, offset + 6 <= data.count else { return nil }
    var raw: UInt64 = 0
    for index in offset..<(offset + 6) { raw = raw << 8 | UInt64(data[index]) }
    value = raw
  }

  public static let broadcast = MACAddress(0xFFFF_FFFF_FFFF)
  public static let zero = MACAddress(0)

  public var bytes: [UInt8] {
    [40, 32, 24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> UInt64($0)) }
  }

  /// Group bit, the first byte's least significant bit (IEEE 802-2014 §8.2): broadcast
  /// and multicast.
  public var isMulticast: Bool { (value >> 40) & 1 != 0 }
}
