/// The last guest code page the hypervisor read, so finding an exiting instruction's
/// length (SVM without NRIPS) does not walk the guest's page tables on every exit.
/// The hypervisor sees neither INVLPG nor CR3 reloads, so a hit is verified: the cache keeps
/// the guest page-table entries its walk read (host pointers and values) and re-reads them.
/// If none changed, the walk would give the same page: a few loads instead of a full walk.
public struct CodePageCache {
  /// Linear page address; never matches while it has a bit below 4 KiB set.
  public var linearPage: UInt64 = 1
  public var addressSpace: UInt64 = 0
  public var hostPage: UInt64 = 0
  /// The entries the walk read, at most four levels: where each is, and its value.
  public var entries: (PathEntry, PathEntry, PathEntry, PathEntry) = (.none, .none, .none, .none)
  public var entryCount = 0

  public struct PathEntry {
    public var host: UInt64
    public var value: UInt64
    public var isWide: Bool
    public static let none = PathEntry(host: 0, value: 0, isWide: true)

    /// The entry still holds the value the walk read.
    @inline(__always)
    var isCurrent: Bool {
      let pointer = UnsafeRawPointer(bitPattern: UInt(host))!
      let current = isWide ? pointer.load(as: UInt64.self) : UInt64(pointer.load(as: UInt32.self))
      return current == value
    }
  }

  public init() {}

  public mutating func invalidate() { linearPage = 1 }

  /// True when every recorded page-table entry still holds the value the walk read.
  /// Unrolled, in walk order (the first change ends it): a loop selecting an element of the
  /// tuple by index cost about 13 instructions per entry on every instruction exit, this
  /// about 5 (docs/exit-path.md).
  @inline(__always)
  public func pathIsUnchanged() -> Bool {
    if entryCount > 0 && !entries.0.isCurrent { return false }
    if entryCount > 1 && !entries.1.isCurrent { return false }
    if entryCount > 2 && !entries.2.isCurrent { return false }
    if entryCount > 3 && !entries.3.isCurrent { return false }
    return true
  }

  mutating func record(host: UInt64, value: UInt64, isWide: Bool) {
    let entry = PathEntry(host: host, value: value, isWide: isWide)
    switch entryCount {
    case 0: entries.0 = entry
    case 1: entries.1 = entry
    case 2: entries.2 = entry
    case 3: entries.3 = entry
    default: return
    }
    entryCount += 1
  }
}

/// Where the instruction at RIP is, in the terms CodePageCache keys on: its linear address
/// and the address space (CR3, or `unpaged` with paging off).
public struct InstructionFetchKey {
  public static let unpaged: UInt64 = ~0
  public var linear: UInt64
  public var addressSpace: UInt64

  public init(linear: UInt64, addressSpace: UInt64) {
    self.linear = linear
    self.addressSpace = addressSpace
  }
}
