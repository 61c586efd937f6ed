/// Where a VM is in its life on a node, as the VM manager sees it:
///
///     creating -> running <-> pausing -> paused -> running
///     running, pausing, paused -> stopping -> gone
///     creating -> gone (creation failed)
///     creating -> incoming -> running (restored), incoming -> stopping
///
/// `pausing` lasts until every vCPU has left the guest and parked on its CPU; `stopping`
/// until every vCPU is detached and the VM's memory returned. Commands that do not fit the
/// state are refused and change nothing.
public enum VMLifecycle: Equatable {
  case creating
  /// Built for a restore or a migration (docs/checkpoint.md): memory zeroed, nothing
  /// loaded, no vCPU running until `restoreState` puts its saved state in.
  case incoming
  case running
  /// Pause requested: the vCPUs are leaving their guests.
  case pausing
  /// Every vCPU parked: none runs, none is scheduled.
  case paused
  /// Ending (destroyed, or the guest ended): vCPUs are being detached.
  case stopping
  /// Released: the identity and the name are free again.
  case gone

  /// What moves a VM from one state to the next.
  public enum Event: Equatable {
    /// Created, placed and handed to its CPUs.
    case started
    /// Created, placed and handed to its CPUs parked: it waits for its state.
    case startedIncoming
    /// Its saved state was put in: its vCPUs run.
    case restored
    /// Creation failed after the identity was taken.
    case failed
    case pauseRequested
    /// The last vCPU parked.
    case allParked
    case unpauseRequested
    /// destroy, or the guest ended on its own.
    case stopRequested
    /// The last vCPU was detached and everything released.
    case released
  }

  /// The state `event` leads to, or why it cannot happen now.
  public func applying(_ event: Event) -> Result<VMLifecycle, ManagementRefusal> {
    switch (self, event) {
    case (.creating, .started): return .success(.running)
    case (.creating, .startedIncoming): return .success(.incoming)
    case (.incoming, .restored): return .success(.running)
    case (.incoming, .stopRequested): return .success(.stopping)
    case (.incoming, _): return .failure(.incoming)
    case (.creating, .failed): return .success(.gone)
    case (.running, .pauseRequested): return .success(.pausing)
    case (.pausing, .allParked): return .success(.paused)
    case (.paused, .unpauseRequested): return .success(.running)
    case (.running, .stopRequested), (.pausing, .stopRequested), (.paused, .stopRequested):
      return .success(.stopping)
    case (.stopping, .released): return .success(.gone)
    case (.pausing, .pauseRequested), (.paused, .pauseRequested):
      return .failure(.alreadyPaused)
    case (.running, .unpauseRequested), (.pausing, .unpauseRequested):
      return .failure(.notPaused)
    case (.stopping, _), (.gone, _):
      return .failure(.stopping)
    case (.creating, _):
      return .failure(.stillCreating)
    default:
      return .failure(.illegalTransition)
    }
  }

  public var name: StaticString {
    switch self {
    case .creating: return "creating"
    case .incoming: return "incoming"
    case .running: return "running"
    case .pausing: return "pausing"
    case .paused: return "paused"
    case .stopping: return "stopping"
    case .gone: return "gone"
    }
  }
}
