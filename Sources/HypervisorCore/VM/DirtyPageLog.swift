import Memory
import Synchronization

/// A VM's dirty log (docs/migration.md; `dirtyLog` in docs/control-protocol.md): which 4 KiB
/// guest pages were written since the last snapshot. The kernel write-protects the pages in
/// the nested page tables and marks a page here when the guest's write faults; device
/// models mark what they write into guest memory (`GuestMemoryMap.noteWrite`).
///
/// `lock` orders a page's mark and its write right against a snapshot: a fault marks the
/// page and makes it writable under the lock, a snapshot takes the live set and protects
/// its pages under the lock, so a page is never writable without being in the live set.
public final class DirtyPageLog {
  public let lock = TicketLock()
  private let tracking = Atomic<Bool>(false)
  /// Pages written since the last snapshot. Under `lock`.
  public private(set) var live = DirtyPageBitmap(pageCount: 0)
  /// The last snapshot, read by `dirtyLog read`. Under `lock`.
  public private(set) var snapshot = DirtyPageBitmap(pageCount: 0)
  /// Write faults the log served, and snapshots taken, since tracking started.
  public private(set) var faults: UInt64 = 0
  public private(set) var snapshots: UInt64 = 0

  public init() {}

  /// One relaxed load: the device models' and the fault path's test.
  @inline(__always)
  public var isTracking: Bool { tracking.load(ordering: .acquiring) }

  /// Tracking on, every page dirty (the first round sends them all). The caller holds
  /// `lock` and has protected the pages.
  public func beginLocked(pageCount: UInt64) {
    live = DirtyPageBitmap(pageCount: pageCount)
    live.markAll()
    snapshot = DirtyPageBitmap(pageCount: pageCount)
    faults = 0
    snapshots = 0
    tracking.store(true, ordering: .releasing)
  }

  /// Tracking off; the bitmaps go. The caller holds `lock`.
  public func endLocked() {
    tracking.store(false, ordering: .releasing)
    live = DirtyPageBitmap(pageCount: 0)
    snapshot = DirtyPageBitmap(pageCount: 0)
  }

  /// A guest write faulted on `page`: marked (the caller gives the write right back under
  /// the same lock). The caller holds `lock`.
  public func noteFaultLocked(page: UInt64) {
    live.mark(page)
    faults &+= 1
  }

  /// The live set becomes the snapshot and the live set starts empty. The caller holds
  /// `lock`, and write-protects the snapshot's pages before releasing it.
  public func takeSnapshotLocked() {
    swap(&live, &snapshot)
    live.clear()
    snapshots &+= 1
  }

  /// A device model wrote `[guestPhysical, guestPhysical + length)`.
  public func noteWrite(guestPhysical: UInt64, length: UInt64) {
    guard isTracking else { return }
    lock.withLock {
      guard isTracking else { return }
      live.mark(guestPhysical: guestPhysical, length: length)
    }
  }

  /// GuestMemoryMap's hook (`writeLog`): an unretained pointer to this log.
  static func noteWrite(_ log: UnsafeMutableRawPointer, _ guestPhysical: UInt64, length: UInt64) {
    Unmanaged<DirtyPageLog>.fromOpaque(log).takeUnretainedValue().noteWrite(
      guestPhysical: guestPhysical, length: length)
  }
}
