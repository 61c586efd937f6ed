import ControlProtocol
import HypervisorCore

/// The node's side of `memoryRead`, `memoryWrite` and `restoreState` (docs/control-protocol.md,
/// "Memory and migration"; docs/checkpoint.md): guest memory read from a VM that cannot change
/// it meanwhile, written into a VM created `incoming`, and the saved state put in last.
/// Called on CPU 0 between slices, like every VM request.
enum IncomingMemory {
  /// Whether VM `vm`'s dirty log is on: then its memory may be read while it runs, as a
  /// page written after it was read is in the next snapshot (docs/migration.md).
  static func dirtyLogIsOn(_ vm: VirtualMachine) -> Bool { vm.dirtyLog.isTracking }

  static func read<Backend: VirtualizationBackend>(
    _ name: [UInt8], from offset: UInt64, maximumLength: UInt16, manager: VMManager<Backend>
  ) -> Response {
    guard let id = manager.id(named: name), let (vm, lifecycle) = manager.lifecycle(id) else {
      return .failure(ControlFailure(.unknownVM, detail: name))
    }
    switch lifecycle {
    case .paused, .incoming: break
    case .running, .pausing:
      guard dirtyLogIsOn(vm) else {
        return .failure(
          ControlFailure(
            .invalidState,
            text:
              "pause the VM first: its memory is read while no vCPU runs (or with the dirty log on)"
          ))
      }
    case .creating, .stopping, .gone:
      return .failure(ControlFailure(.invalidState, text: "the VM is being created or ending"))
    }
    guard
      let data = GuestMemoryScan.read(
        vm.memory, size: vm.profile.memorySize, from: offset, maximumLength: Int(maximumLength))
    else {
      return .failure(ControlFailure(.chunkOutOfBounds, text: "outside the memory or unaligned"))
    }
    return .memoryData(
      DiskData(size: vm.profile.memorySize, offset: data.offset, bytes: data.bytes))
  }

  /// Into an incoming VM only: nothing runs there, so the bytes stay as written until
  /// `restoreState` starts it. Idempotent: a retransmitted write writes the same bytes.
  static func write<Backend: VirtualizationBackend>(
    _ write: MemoryWrite, manager: VMManager<Backend>
  ) -> Response {
    guard let id = manager.id(named: write.name), let (vm, lifecycle) = manager.lifecycle(id)
    else { return .failure(ControlFailure(.unknownVM, detail: write.name)) }
    guard lifecycle == .incoming else {
      return .failure(
        ControlFailure(
          .invalidState, text: "memory is written only into a VM created incoming, before it starts"
        ))
    }
    guard
      GuestMemoryScan.write(
        write.bytes, to: write.offset, in: vm.memory, size: vm.profile.memorySize)
    else {
      return .failure(
        ControlFailure(.chunkOutOfBounds, text: "the bytes lie outside the VM's memory"))
    }
    return .done
  }

  /// The state image (a transferred image holding `SavedVMState`'s records) decoded and
  /// checked whole before anything changes; then the VM starts (VMManager.restore).
  static func restore<Backend: VirtualizationBackend>(
    _ name: [UInt8], image: [UInt8], images: ImageStore, manager: VMManager<Backend>
  ) -> Response {
    guard let id = manager.id(named: name) else {
      return .failure(ControlFailure(.unknownVM, detail: name))
    }
    guard let bytes = images.contents(of: image) else {
      return .failure(ControlFailure(.unknownImage, detail: image))
    }
    let saved: SavedVMState
    do throws(StateDecodingError) {
      saved = try SavedVMState.decoded(Array(bytes))
    } catch {
      return .failure(
        ControlFailure(
          .invalidProfile,
          detail: Array("the state image is not a valid saved state: ".utf8)
            + describe(error)))
    }
    switch manager.restore(id, saved: saved) {
    case .success: return .done
    case .failure(.lifecycle(let refusal)):
      switch refusal {
      case .unknownVM: return .failure(ControlFailure(.unknownVM, detail: name))
      case .illegalTransition, .alreadyPaused, .notPaused:
        return .failure(
          ControlFailure(.invalidState, text: "only a VM created incoming takes a saved state"))
      default: return .failure(ControlFailure(.invalidState, detail: refusal.message.bytes))
      }
    case .failure(.mismatch(let refusal)):
      return .failure(ControlFailure(.invalidProfile, detail: refusal.words))
    }
  }

  static func describe(_ error: StateDecodingError) -> [UInt8] {
    func number(_ value: Int) -> [UInt8] { IncomingRestore.Refusal.decimal(UInt64(max(value, 0))) }
    switch error {
    case .truncated(let at, _): return Array("truncated at byte ".utf8) + number(at)
    case .badMagic: return Array("a record's magic is not PGST".utf8)
    case .unsupportedVersion: return Array("a record's format version is not supported".utf8)
    case .wrongKind: return Array("a record is not of the kind expected".utf8)
    case .lengthMismatch: return Array("a record's length does not match its payload".utf8)
    case .invalidValue(let at): return Array("an invalid value at byte ".utf8) + number(at)
    case .countOutOfRange(let at, _, _):
      return Array("a count out of range at byte ".utf8) + number(at)
    case .trailingBytes(let at): return Array("bytes after the last record, at ".utf8) + number(at)
    case .recordCount(let expected, let found):
      return Array("the header announces ".utf8) + number(expected) + Array(" records, found ".utf8)
        + number(found)
    }
  }
}
