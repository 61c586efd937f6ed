import HypervisorCore
import Memory

/// Write protection of single guest pages for a device guard (docs/passthrough.md, "NVMe
/// admin guard": a VF's admin submission queue), under the dirty log's lock like every
/// other edit of the nested tables. A VM that owns PCI functions never has its dirty log on
/// (DirtyLogControl refuses it), so the two never share a page.
extension GuestAddressSpace {
  /// Each 4 KiB RAM page of `pages` split out of its large page and write-protected, then a
  /// TLB flush posted to every vCPU (each flushes before its next entry, the caller's own
  /// too). False when a page is not RAM or frames ran out; what was done stays done.
  func protectPages(_ pages: [UInt64], for vm: VirtualMachine) -> Bool {
    let done: Bool = vm.dirtyLog.lock.withLock {
      for page in pages {
        guard page < memory.end, memory.pointer(to: page, length: 4096) != nil else {
          return false
        }
        do throws(PageTableError) {
          try tables.protectForTracking(virtual: page, length: 4096, frames: &frames)
        } catch {
          return false
        }
      }
      return true
    }
    Self.flushEveryCPU(running: vm)
    return done
  }

  /// The pages writable again (no flush needed: a stale read-only entry only faults once
  /// more, and the store is emulated as before).
  func allowPages(_ pages: [UInt64], for vm: VirtualMachine) {
    vm.dirtyLog.lock.withLock {
      for page in pages { tables.allowWrite(page) }
    }
  }
}
