import ControlProtocol
import HypervisorCore
import Memory

/// The node's side of `dirtyLog` (docs/control-protocol.md, "Memory and migration";
/// docs/migration.md). Called on CPU 0 between slices, like every VM request: no vCPU runs
/// here, and the snapshot waits for the CPUs that run the VM to flush.
enum DirtyLogControl {
  static func execute<Backend: VirtualizationBackend>(
    _ name: [UInt8], _ operation: DirtyLogOperation, from startPage: UInt64,
    manager: VMManager<Backend>
  ) -> Response {
    guard let id = manager.id(named: name), let vm = manager.virtualMachine(id),
      case .success(let status) = manager.status(id)
    else { return .failure(ControlFailure(.unknownVM, detail: name)) }
    let lifecycle = status.lifecycle
    guard lifecycle == .running || lifecycle == .paused || lifecycle == .pausing,
      let object = vm.addressSpace
    else {
      return .failure(
        ControlFailure(.invalidState, text: "the dirty log is kept only for a running or paused VM")
      )
    }
    let space = unsafeDowncast(object, to: GuestAddressSpace<Backend.NestedFormat>.self)
    let log = vm.dirtyLog
    switch operation {
    case .start:
      // A passed-through function's DMA writes guest memory through the IOMMU, not through
      // the nested tables: no write fault, so no bit in the log (docs/migration.md, "Faults").
      // A copy made from this log would miss those pages; the CLI refuses such a VM first.
      guard vm.profile.passthrough.isEmpty else {
        return .failure(
          ControlFailure(
            .invalidState,
            text:
              "the VM owns a passed-through PCI function: its DMA writes are invisible to the dirty log"
          ))
      }
      if let error = space.startTracking(for: vm) { return refusal(error) }
      return window(log, from: 0, live: true)
    case .snapshot:
      if let error = space.takeSnapshot(for: vm) { return refusal(error) }
      return window(log, from: 0, live: false)
    case .read:
      guard log.isTracking else { return refusal(.notOn) }
      guard startPage % 8 == 0 else {
        return .failure(
          ControlFailure(.chunkOutOfBounds, text: "the start page is not a multiple of 8"))
      }
      return window(log, from: startPage, live: false)
    case .stop:
      guard log.isTracking else { return refusal(.notOn) }
      let pages = log.live.pageCount
      space.stopTracking(for: vm)
      return .dirtyLog(DirtyLogWindow(pageCount: pages, dirtyCount: 0, startPage: 0, bitmap: []))
    case .lease, .handOver, .throttle:
      // The migration lease's, answered by ManagerControl (MigrationLeaseControl).
      return .failure(ControlFailure(.internalError, text: "not a dirty log operation"))
    }
  }

  /// A window of the snapshot (or, for `start`, its size with every page dirty: the bitmap
  /// would be all ones, so none is sent).
  private static func window(_ log: DirtyPageLog, from startPage: UInt64, live: Bool) -> Response {
    log.lock.withLock {
      let bitmap = live ? log.live : log.snapshot
      let bytes =
        live
        ? []
        : bitmap.window(from: startPage, maximumBytes: ProtocolLimits.maximumDirtyBitmapBytes)
          ?? []
      return .dirtyLog(
        DirtyLogWindow(
          pageCount: bitmap.pageCount, dirtyCount: bitmap.dirtyCount, startPage: startPage,
          bitmap: bytes))
    }
  }

  private static func refusal(_ error: DirtyTrackingError)
    -> Response
  {
    let code: StatusCode
    switch error {
    case .alreadyOn, .notOn: code = .invalidState
    case .outOfMemory: code = .insufficientMemory
    case .flushNotAcknowledged: code = .internalError
    }
    return .failure(ControlFailure(code, text: error.message))
  }
}
