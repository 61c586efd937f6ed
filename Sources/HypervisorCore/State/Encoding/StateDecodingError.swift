/// Why bytes are not a state record. Offsets count from the start of the bytes given.
public enum StateDecodingError: Error, Equatable {
  /// A field at `at` needs `needed` bytes and fewer are left.
  case truncated(at: Int, needed: Int)
  /// The first four bytes are not "PGST".
  case badMagic
  /// A format version this code does not read.
  case unsupportedVersion(UInt16)
  /// A record of another kind than the one asked for.
  case wrongKind(expected: UInt8, found: UInt8)
  /// The header's payload length and the bytes after it differ.
  case lengthMismatch(declared: Int, actual: Int)
  /// A tag, flag or field at `at` holds a value its field cannot have.
  case invalidValue(at: Int)
  /// A count at `at` above its field's maximum.
  case countOutOfRange(at: Int, count: Int, maximum: Int)
  /// The payload ends at `at` but its record's fields ended earlier.
  case trailingBytes(at: Int)
  /// A VM's saved state whose header announces `expected` records of a kind (vCPUs or
  /// devices) where `found` follow.
  case recordCount(expected: Int, found: Int)
}
