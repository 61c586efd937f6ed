/// Comparisons whose running time does not depend on where the inputs differ, so that an
/// attacker timing refusals learns nothing about how much of a forged tag was right.
public enum ConstantTime {
  /// Whether `expected` equals `bytes[offset..<offset + expected.count]`: every byte is
  /// looked at, differences are ORed together, and only the final value is tested.
  public static func equals(_ expected: [UInt8], _ bytes: [UInt8], at offset: Int) -> Bool {
    guard offset >= 0, offset <= bytes.count - expected.count else { return false }
    var difference: UInt8 = 0
    for index in 0..<expected.count {
      difference |= expected[index] ^ bytes[offset + index]
    }
    return difference == 0
  }

  public static func equals(_ first: [UInt8], _ second: [UInt8]) -> Bool {
    guard first.count == second.count else { return false }
    return equals(first, second, at: 0)
  }
}
