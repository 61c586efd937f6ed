/// One bit per 4 KiB guest page: the dirty log's live set and its snapshot
/// (docs/migration.md). Bit `i` of byte `j` of `window` is page `8j + i`, the wire
/// format of `dirtyLog` (DirtyLogWindow). Not synchronised: its owner locks.
public struct DirtyPageBitmap: Equatable {
  public private(set) var pageCount: UInt64
  /// Pages whose bit is set, kept as bits change so a snapshot's size costs nothing.
  public private(set) var dirtyCount: UInt64 = 0
  private var words: [UInt64]

  public init(pageCount: UInt64) {
    self.pageCount = pageCount
    words = [UInt64](repeating: 0, count: Int((pageCount + 63) / 64))
  }

  public func isDirty(_ page: UInt64) -> Bool {
    guard page < pageCount else { return false }
    return words[Int(page / 64)] & (1 << (page % 64)) != 0
  }

  /// Sets `page`'s bit; true when it was clear. A page beyond the bitmap is ignored.
  @discardableResult
  public mutating func mark(_ page: UInt64) -> Bool {
    guard page < pageCount else { return false }
    let bit: UInt64 = 1 << (page % 64)
    let index = Int(page / 64)
    guard words[index] & bit == 0 else { return false }
    words[index] |= bit
    dirtyCount += 1
    return true
  }

  /// Every page that `[guestPhysical, guestPhysical + length)` touches; bytes beyond
  /// the bitmap are ignored.
  public mutating func mark(guestPhysical: UInt64, length: UInt64) {
    guard length > 0 else { return }
    let first = guestPhysical / 4096
    let (end, wraps) = guestPhysical.addingReportingOverflow(length - 1)
    let last = wraps ? UInt64.max / 4096 : end / 4096
    var page = first
    while page <= last && page < pageCount {
      mark(page)
      page += 1
    }
  }

  public mutating func markAll() {
    for index in words.indices { words[index] = ~0 }
    if pageCount % 64 != 0, !words.isEmpty {
      words[words.count - 1] = (1 << (pageCount % 64)) - 1
    }
    dirtyCount = pageCount
  }

  public mutating func clear() {
    for index in words.indices { words[index] = 0 }
    dirtyCount = 0
  }

  /// Calls `body` with each dirty page, in increasing order.
  public func forEachDirty(_ body: (UInt64) -> Void) {
    for (index, word) in words.enumerated() {
      var bits = word
      while bits != 0 {
        body(UInt64(index) * 64 + UInt64(bits.trailingZeroBitCount))
        bits &= bits &- 1
      }
    }
  }

  /// Up to `maximumBytes` bytes of the bitmap from `startPage` (a multiple of 8): empty
  /// from the end on; nil for a start that is not a multiple of 8.
  public func window(from startPage: UInt64, maximumBytes: Int) -> [UInt8]? {
    guard startPage % 8 == 0 else { return nil }
    guard startPage < pageCount else { return [] }
    let totalBytes = (pageCount + 7) / 8
    let firstByte = startPage / 8
    let count = Int(min(UInt64(maximumBytes), totalBytes - firstByte))
    var bytes = [UInt8](repeating: 0, count: count)
    for offset in 0..<count {
      let byte = firstByte + UInt64(offset)
      bytes[offset] = UInt8(truncatingIfNeeded: words[Int(byte / 8)] >> ((byte % 8) * 8))
    }
    return bytes
  }
}
