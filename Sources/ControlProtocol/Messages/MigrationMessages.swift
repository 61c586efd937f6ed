/// What `dirtyLog` asks of a VM's dirty-page tracking (docs/control-protocol.md, "Memory and
/// migration"). Tracking is per 4 KiB guest page; while it is on, every guest write (by the
/// guest through nested paging, or by a device model into guest memory) marks its page.
public enum DirtyLogOperation: UInt8, Equatable, CaseIterable {
  /// Tracking on; every page counts as dirty (the first pre-copy round sends them all).
  case start = 0
  /// Take the pages dirtied since the last snapshot (or the start) as the new snapshot and
  /// clear the live log; each page is write-protected again before the answer is sent, so
  /// a write after the answer is in the next snapshot. Answers the first window.
  case snapshot = 1
  /// A window of the last snapshot from `startPage` (a multiple of 8).
  case read = 2
  /// Tracking off; large pages may be rebuilt.
  case stop = 3
  /// Renews the VM's migration lease (source or incoming copy) and sets its length to
  /// `startPage` milliseconds (0: the node's default, 30 s); docs/migration.md, "A CLI that
  /// dies". Answers the live log's size, no bitmap.
  case lease = 4
  /// The source's copy is handed over: the target is about to start it, so a lapsed lease
  /// leaves it paused rather than resuming it (at most one copy runs).
  case handOver = 5
  /// Auto-converge: the source holds the VM's vCPUs out of the CPU `startPage` % of the
  /// time (0-99; 0 lifts it). Only while a migration's lease holds; lifted when it ends.
  case throttle = 6
}

/// The answer to `dirtyLog`: one window of the last snapshot's bitmap (bit `i` of byte `j`
/// is page `startPage + 8j + i`).
public struct DirtyLogWindow: Equatable {
  /// The VM's guest pages (memory size / 4096).
  public var pageCount: UInt64
  /// Dirty pages in the whole snapshot.
  public var dirtyCount: UInt64
  public var startPage: UInt64
  public var bitmap: [UInt8]

  public init(pageCount: UInt64, dirtyCount: UInt64, startPage: UInt64, bitmap: [UInt8]) {
    self.pageCount = pageCount
    self.dirtyCount = dirtyCount
    self.startPage = startPage
    self.bitmap = bitmap
  }

  func encode(into writer: inout WireWriter) throws(WireError) {
    writer.u64(pageCount)
    writer.u64(dirtyCount)
    writer.u64(startPage)
    try writer.bytes16(bitmap, maximum: ProtocolLimits.maximumDirtyBitmapBytes)
  }

  static func decode(from reader: inout WireReader) throws(WireError) -> DirtyLogWindow {
    let pageCount = try reader.u64()
    let dirtyCount = try reader.u64()
    let startPage = try reader.u64()
    return DirtyLogWindow(
      pageCount: pageCount, dirtyCount: dirtyCount, startPage: startPage,
      bytes: try reader.bytes16(maximum: ProtocolLimits.maximumDirtyBitmapBytes))
  }

  init(pageCount: UInt64, dirtyCount: UInt64, startPage: UInt64, bytes: [UInt8]) {
    self.init(pageCount: pageCount, dirtyCount: dirtyCount, startPage: startPage, bitmap: bytes)
  }
}

/// `memoryWrite`: bytes for the guest memory of a VM created `incoming` (restore or the
/// target of a migration), before `restoreState` starts it.
public struct MemoryWrite: Equatable {
  public var name: [UInt8]
  public var offset: UInt64
  public var bytes: [UInt8]

  public init(name: [UInt8], offset: UInt64, bytes: [UInt8]) {
    self.name = name
    self.offset = offset
    self.bytes = bytes
  }

  func encode(into writer: inout WireWriter) throws(WireError) {
    try writer.bytes8(name, maximum: ProtocolLimits.maximumNameLength)
    writer.u64(offset)
    try writer.bytes16(bytes, maximum: ProtocolLimits.maximumMemoryBytes)
  }

  static func decode(from reader: inout WireReader) throws(WireError) -> MemoryWrite {
    let name = try reader.bytes8(maximum: ProtocolLimits.maximumNameLength)
    let offset = try reader.u64()
    return MemoryWrite(
      name: name, offset: offset,
      bytes: try reader.bytes16(maximum: ProtocolLimits.maximumMemoryBytes))
  }
}
