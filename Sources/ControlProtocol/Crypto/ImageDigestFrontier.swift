/// The SHA-256 of an image computed a piece at a time, in order from its start: how far
/// it got (`hashedBytes`) and the running hash. Whoever feeds it decides what is known
/// (a transfer's chunks as they come, a disk a slice per request) and bounds each step's
/// work, so hashing a large image never holds up one request for long.
public struct ImageDigestFrontier {
  public let size: Int
  public private(set) var hashedBytes = 0
  /// How often the hashing started over (`restart`).
  public private(set) var restarts = 0
  private var hasher = SHA256Hasher()

  public init(size: Int) {
    precondition(size >= 0, "a negative size")
    self.size = size
  }

  public var isComplete: Bool { hashedBytes == size }

  /// The next `bytes` of the image, from `hashedBytes` on.
  public mutating func absorb(_ bytes: [UInt8]) {
    precondition(bytes.count <= size - hashedBytes, "past the image's end")
    hasher.update(bytes)
    hashedBytes += bytes.count
  }

  /// Hashes the next at most `budget` bytes of `image` (the whole image, `size` bytes);
  /// true once every byte is in.
  public mutating func advance(over image: UnsafeRawBufferPointer, budget: Int) -> Bool {
    precondition(image.count == size, "not the image this digest is of")
    let end = hashedBytes + min(max(budget, 0), size - hashedBytes)
    if end > hashedBytes {
      absorb(Array(UnsafeRawBufferPointer(rebasing: image[hashedBytes..<end])))
    }
    return isComplete
  }

  /// Bytes already hashed changed: hash again from the start.
  public mutating func restart() {
    hasher = SHA256Hasher()
    hashedBytes = 0
    restarts += 1
  }

  /// The digest, once every byte is in.
  public mutating func finalize() -> [UInt8] {
    precondition(isComplete, "the image is not all hashed")
    var copy = hasher
    return copy.finalize()
  }
}
