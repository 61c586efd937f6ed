/// Hands out and recycles small tag numbers: VMX VPIDs (1 ... 0xFFFF; 0 is the host's,
/// SDM 3C §29.1), one per VM. (SVM ASIDs are few, 15 on QEMU's EPYC: they are recycled by
/// generation per processor instead, ASIDAllocator.)
/// A recycled tag may still have TLB entries: the caller flushes it on reuse
/// (`acquire` says so).
public struct IdentifierPool {
  public let first: UInt32
  public let limit: UInt32
  private var next: UInt32
  private var released: [UInt32] = []

  /// Tags `first ..< limit`.
  public init(first: UInt32 = 1, limit: UInt32) {
    self.first = first
    self.limit = max(first, limit)
    next = first
  }

  /// A free tag and whether it was used before (its stale translations need a flush).
  public mutating func acquire() -> (tag: UInt32, needsFlush: Bool)? {
    if next < limit {
      defer { next += 1 }
      return (next, false)
    }
    guard let tag = released.popLast() else { return nil }
    return (tag, true)
  }

  public mutating func release(_ tag: UInt32) {
    precondition(
      tag >= first && tag < next && !released.contains(tag), "tag released twice or never acquired")
    released.append(tag)
  }

  public var available: Int { Int(limit - next) + released.count }
}
