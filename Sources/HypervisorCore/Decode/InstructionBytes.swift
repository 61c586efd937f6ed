/// Up to 15 bytes fetched from the guest at RIP: the architectural limit on an instruction's
/// length (SDM Vol 2 §2.3.11). Stored in two words, not an array, so that decoding on the
/// exit path never allocates.
public struct InstructionBytes: Equatable {
  /// The longest legal x86 instruction (SDM Vol 2 §2.3.11).
  public static let maximumCount = 15

  /// Bytes 0 through 7, byte 0 in the low bits.
  private var low: UInt64 = 0
  /// Bytes 8 through 14, byte 8 in the low bits.
  private var high: UInt64 = 0

  /// How many bytes were fetched; never more than `maximumCount`.
  public private(set) var count: Int = 0

  /// No bytes: a fetch that failed on its first page.
  public init() {}

  /// The first `maximumCount` bytes of `bytes`; the rest are dropped.
  public init(_ bytes: [UInt8]) {
    for byte in bytes {
      guard append(byte) else { break }
    }
  }

  /// The first `maximumCount` bytes of `buffer`, as the kernel maps them from guest memory.
  public init(_ buffer: UnsafeRawBufferPointer) {
    for byte in buffer {
      guard append(byte) else { break }
    }
  }

  /// Adds `byte` at the end; returns false, changing nothing, when already full.
  @discardableResult
  public mutating func append(_ byte: UInt8) -> Bool {
    guard count < Self.maximumCount else { return false }
    if count < 8 {
      low |= UInt64(byte) << UInt64(count * 8)
    } else {
      high |= UInt64(byte) << UInt64((count - 8) * 8)
    }
    count += 1
    return true
  }

  /// The byte at `index`, which must be below `count`.
  public subscript(index: Int) -> UInt8 {
    precondition(index >= 0 && index < count, "instruction byte index out of range")
    let word = index < 8 ? low : high
    return UInt8(truncatingIfNeeded: word >> UInt64((index & 7) * 8))
  }
}
