/// Where a transfer's bytes are assembled. The host (and tests) keep them in an array; the
/// kernel may keep them in frames of its own. A storage is released exactly once, when its
/// transfer fails, is aborted or expires, or by whoever takes a completed one.
public protocol TransferStorage {
  /// Room for `size` bytes, all zeros (a sparse transfer relies on it), or nil when there is
  /// not that much memory.
  init?(size: Int)
  /// Copies `bytes` to `offset` (within the size: the assembler checks).
  mutating func write(_ bytes: [UInt8], at offset: Int)
  /// `count` bytes from `offset`.
  func read(at offset: Int, count: Int) -> [UInt8]
  /// Gives the memory back.
  mutating func release()
}

/// A transfer's bytes in one array.
public struct ArrayTransferStorage: TransferStorage {
  public private(set) var bytes: [UInt8]

  public init?(size: Int) { bytes = [UInt8](repeating: 0, count: size) }

  public mutating func write(_ bytes: [UInt8], at offset: Int) {
    self.bytes.replaceSubrange(offset..<offset + bytes.count, with: bytes)
  }

  public func read(at offset: Int, count: Int) -> [UInt8] {
    Array(bytes[offset..<offset + count])
  }

  public mutating func release() { bytes = [] }
}
