import CArch
import HypervisorCore
import Memory
import Synchronization

/// The dirty log's side of the address space (docs/migration.md): while a VM's log is on,
/// each RAM page has its own 4 KiB leaf in the nested tables, write-protected until the
/// guest writes it after a snapshot. The log's lock (`DirtyPageLog.lock`) covers every edit
/// here, so a page is writable only while its bit is in the live set.
extension GuestAddressSpace {
  /// How long a snapshot waits for every CPU that runs the VM to drop its translations.
  static var flushWaitMilliseconds: UInt64 { 200 }

  /// Tracking on: every RAM page split to 4 KiB and write-protected, every page dirty.
  func startTracking(for vm: VirtualMachine) -> DirtyTrackingError? {
    let log = vm.dirtyLog
    let failure: DirtyTrackingError? = log.lock.withLock {
      guard !log.isTracking else { return .alreadyOn }
      guard protectEveryPage() else {
        allowEveryWrite()
        return .outOfMemory
      }
      log.beginLocked(pageCount: memory.end / 4096)
      return nil
    }
    if let failure { return failure }
    guard Self.flushAndWait(vm) else {
      stopTracking(for: vm)
      return .flushNotAcknowledged
    }
    return nil
  }

  /// The live set becomes the snapshot, its pages write-protected again, and every CPU that
  /// runs one of the VM's vCPUs has flushed before this returns: a write after it faults
  /// and is in the next snapshot.
  func takeSnapshot(for vm: VirtualMachine) -> DirtyTrackingError? {
    let log = vm.dirtyLog
    let on: Bool = log.lock.withLock {
      guard log.isTracking else { return false }
      log.takeSnapshotLocked()
      log.snapshot.forEachDirty { page in tables.writeProtect(page * 4096) }
      return true
    }
    guard on else { return .notOn }
    // Outside the lock: a vCPU that faults meanwhile must be able to take it to reach its
    // next entry, where it flushes.
    guard Self.flushAndWait(vm) else {
      stopTracking(for: vm)
      return .flushNotAcknowledged
    }
    return nil
  }

  /// Tracking off: every page writable again (the 4 KiB leaves stay; a page is never
  /// writable before and read-only after, so no flush is needed for correctness, but one
  /// is posted so no CPU keeps faulting on stale read-only entries).
  func stopTracking(for vm: VirtualMachine) {
    let log = vm.dirtyLog
    log.lock.withLock {
      allowEveryWrite()
      log.endLocked()
    }
    Self.flushEveryCPU(running: vm)
  }

  /// The run loop's test for a write nested paging refused (#NPF, EPT violation): true when
  /// it was a RAM page the log protects, now marked and writable (or one already writable
  /// again: a stale TLB entry), and the guest can simply retry the write.
  func serveWriteFault(_ guestPhysical: UInt64, log: DirtyPageLog) -> Bool {
    log.lock.withLock {
      let page = guestPhysical >> 12
      guard page < memory.end >> 12, let writable = tables.isWritable(page << 12) else {
        return false
      }
      guard log.isTracking else { return writable }
      guard tables.allowWrite(page << 12) else { return false }
      log.noteFaultLocked(page: page)
      return true
    }
  }

  /// Every RAM page split to 4 KiB and write-protected; false when frames ran out.
  private func protectEveryPage() -> Bool {
    for region in memory.regions {
      do throws(PageTableError) {
        try tables.protectForTracking(
          virtual: region.guestPhysical, length: region.size, frames: &frames)
      } catch {
        return false
      }
    }
    return true
  }

  private func allowEveryWrite() {
    for region in memory.regions {
      tables.allowWrites(virtual: region.guestPhysical, length: region.size)
    }
  }

  /// Posts a TLB flush to every vCPU and waits, bounded, until each has either drained it
  /// (its CPU flushes before the next entry: TLB_CONTROL for its ASID, or INVEPT
  /// single-context, APM §15.16.1, SDM 3C §29.4.3.1) or is outside its slices (it drains
  /// before it enters again). The post kicks a CPU in the guest (HostKicker).
  static func flushAndWait(_ vm: VirtualMachine) -> Bool {
    flushEveryCPU(running: vm)
    let deadline = arch_rdtsc() &+ flushWaitMilliseconds &* LocalAPIC.tscPerMillisecond
    while true {
      var waiting = false
      for vcpu in vm.vcpus
      where vcpu.requests.load(ordering: .sequentiallyConsistent)
        & VCPURequest.flushTLB.rawValue != 0
        && vcpu.inSlice.load(ordering: .sequentiallyConsistent)
      {
        waiting = true
      }
      if !waiting { return true }
      if arch_rdtsc() > deadline { return false }
      arch_pause()
    }
  }
}

/// Why the dirty log refused an operation.
enum DirtyTrackingError {
  case alreadyOn, notOn, outOfMemory, flushNotAcknowledged

  var message: StaticString {
    switch self {
    case .alreadyOn: return "the dirty log is already on"
    case .notOn: return "the dirty log is off: start it first"
    case .outOfMemory: return "not enough free frames to split the VM's large pages"
    case .flushNotAcknowledged:
      return "a CPU running the VM did not flush its translations in time; the log is off"
    }
  }
}
