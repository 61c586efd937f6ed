import ControlProtocol
import HypervisorCore
import Synchronization

/// The node's side of the migration leases (MigrationLeases; docs/migration.md, "A CLI that
/// dies"): which requests renew a lease, which start and end one, and what a lapsed one
/// undoes. Runs on CPU 0 between slices, as every VM request does.
extension ManagerControl: NodeService {
  /// The leases never keep a batch node up.
  var holdsNode: Bool { false }

  /// CPU 0's service turn: undoes the sides whose lease lapsed; wakes again at the next
  /// deadline (host TSC).
  func poll(now: UInt64) -> UInt64? {
    let perMillisecond = max(LocalAPIC.tscPerMillisecond, 1)
    for expiry in leases.expire(now: now / perMillisecond) {
      switch expiry {
      case .abandonSource(let name, let resume): abandonSource(name, resume: resume)
      case .destroyIncoming(let name): destroyIncoming(name)
      }
    }
    return leases.nextDeadline.map { $0 &* perMillisecond }
  }

  /// The migration's requests about a VM (not `status` or `consoleRead`, which anyone may
  /// poll while a dead CLI's lease runs out).
  static func migrationTraffic(_ request: Request) -> [UInt8]? {
    switch request {
    case .dirtyLog(let name, _, _), .memoryRead(let name, _, _), .diskRead(let name, _, _),
      .restoreState(let name, _):
      return name
    case .memoryWrite(let write): return write.name
    case .status(let name, true, _): return name
    default: return nil
    }
  }

  /// `dirtyLog lease` and `dirtyLog handOver`; nil for the other requests.
  func leaseRequest(_ request: Request, now: UInt64) -> Response? {
    guard case .dirtyLog(let name, let operation, let length) = request else { return nil }
    switch operation {
    case .lease:
      guard
        leases.setLength(
          name, milliseconds: length == 0 ? MigrationLeases.defaultMilliseconds : length, now: now)
      else { return noLease(name) }
    case .handOver:
      guard leases.handOver(name) else { return noLease(name) }
    case .throttle:
      guard leases.lease(of: name)?.role == .source, let vm = virtualMachine(name) else {
        return noLease(name)
      }
      vm.throttlePercent.store(
        Int(min(length, UInt64(AutoConverge.mostPercent))), ordering: .relaxed)
    case .start, .snapshot, .read, .stop: return nil
    }
    let pages = virtualMachine(name).map { $0.profile.memorySize / 4096 }
    return .dirtyLog(
      DirtyLogWindow(pageCount: pages ?? 0, dirtyCount: 0, startPage: 0, bitmap: []))
  }

  private func virtualMachine(_ name: [UInt8]) -> VirtualMachine? {
    manager.id(named: name).flatMap { manager.virtualMachine($0) }
  }

  private func noLease(_ name: [UInt8]) -> Response {
    guard manager.id(named: name) != nil else {
      return .failure(ControlFailure(.unknownVM, detail: name))
    }
    return .failure(
      ControlFailure(.invalidState, text: "no migration of the VM is under way on this node"))
  }

  /// Starts and ends leases by what a request did (`answer` is its answer).
  func noteLeases(_ request: Request, answer: Response, now: UInt64) {
    if case .failure = answer { return }
    switch request {
    case .dirtyLog(let name, .start, _): leases.begin(name, role: .source, now: now)
    case .dirtyLog(let name, .stop, _):
      // The migration is over (done or failed): the throttle goes with it.
      leases.end(name)
      virtualMachine(name)?.throttlePercent.store(0, ordering: .relaxed)
    case .createVM(let specification) where specification.incoming:
      leases.begin(specification.name, role: .target, now: now)
    // The commit: the copy runs here now.
    case .restoreState(let name, _): leases.end(name)
    case .destroy(let name): leases.end(name)
    case .pause(let name): leases.paused(name)
    case .unpause(let name): leases.unpaused(name)
    default: break
    }
  }

  private func abandonSource(_ name: [UInt8], resume: Bool) {
    guard let id = manager.id(named: name), let vm = manager.virtualMachine(id) else { return }
    if vm.dirtyLog.isTracking {
      _ = DirtyLogControl.execute(name, .stop, from: 0, manager: manager)
    }
    vm.throttlePercent.store(0, ordering: .relaxed)
    var resumed = false
    if resume, case .success = manager.unpause(id) { resumed = true }
    guard Log.begin(.warning) else { return }
    VMReport.vmLabel(vm)
    Console.write(": migration lease lapsed (no word from the CLI): dirty log stopped")
    if resumed { Console.write(", resumed") }
    if resume && !resumed { Console.write(", could not be resumed") }
    if !resume && vm.dirtyLog.isTracking == false && isPaused(id) {
      Console.write(", left paused (handed over, or paused before the migration)")
    }
    Log.end()
  }

  private func isPaused(_ id: Int) -> Bool {
    guard let (_, lifecycle) = manager.lifecycle(id) else { return false }
    return lifecycle == .paused || lifecycle == .pausing
  }

  private func destroyIncoming(_ name: [UInt8]) {
    guard let id = manager.id(named: name), let (vm, lifecycle) = manager.lifecycle(id),
      lifecycle == .incoming
    else { return }
    let destroyed: Bool
    if case .success = manager.destroy(id) { destroyed = true } else { destroyed = false }
    guard Log.begin(.warning) else { return }
    VMReport.vmLabel(vm)
    Console.write(
      destroyed
        ? ": migration lease lapsed (no word from the CLI): incoming copy destroyed"
        : ": migration lease lapsed, but the incoming copy could not be destroyed")
    Log.end()
  }
}
