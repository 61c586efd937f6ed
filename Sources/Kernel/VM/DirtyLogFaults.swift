import HypervisorCore
import Memory

/// The run loops' first look at a write nested paging refused, before the generic handlers
/// (docs/migration.md): a RAM page the dirty log protects is marked and made writable, and
/// the guest retries the write. Out of line: the exit path keeps one test and a call.
enum DirtyLogFaults {
  @inline(never)
  static func serve<Format: WriteTrackableFormat>(
    _ guestPhysical: UInt64, vm: VirtualMachine, format: Format.Type
  ) -> Bool {
    guard let object = vm.addressSpace else { return false }
    return unsafeDowncast(object, to: GuestAddressSpace<Format>.self).serveWriteFault(
      guestPhysical, log: vm.dirtyLog)
  }
}
