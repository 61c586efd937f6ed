/// Why the VM manager refused a command. A refused command changed nothing on the node.
public enum ManagementRefusal: Error, Equatable {
  public static func == (lhs: ManagementRefusal, rhs: ManagementRefusal) -> Bool {
    switch (lhs, rhs) {
    case (.placement(let a), .placement(let b)): return a == b
    // The same message text: static strings from the same literal share their bytes.
    case (.invalid(let a), .invalid(let b)):
      return a.utf8CodeUnitCount == b.utf8CodeUnitCount && a.utf8Start == b.utf8Start
    case (.unknownVM, .unknownVM), (.nameInUse, .nameInUse), (.noFreeIdentity, .noFreeIdentity),
      (.alreadyPaused, .alreadyPaused), (.notPaused, .notPaused), (.stopping, .stopping),
      (.stillCreating, .stillCreating), (.stillResuming, .stillResuming), (.incoming, .incoming),
      (.illegalTransition, .illegalTransition):
      return true
    default: return false
    }
  }

  /// No live VM has this identity (never existed, or gone).
  case unknownVM
  case nameInUse
  /// Every VM identity is in use.
  case noFreeIdentity
  case alreadyPaused
  case notPaused
  /// The VM is ending or gone: destroying twice, pausing a stopped VM.
  case stopping
  case stillCreating
  /// Some vCPU has not yet left its last pause (its CPU has not looked since the unpause):
  /// a new pause now would wait for a park that already happened.
  case stillResuming
  case illegalTransition
  /// The VM was created `incoming`: it runs nothing until its saved state is restored.
  case incoming
  /// Admission found no CPUs for it (the placement's refusal says why).
  case placement(PlacementRefusal)
  /// The profile or the images are not usable (the message says what is wrong).
  case invalid(StaticString)

  public var message: StaticString {
    switch self {
    case .unknownVM: return "no VM with this identity"
    case .nameInUse: return "another VM already has this name"
    case .noFreeIdentity: return "every VM identity is in use"
    case .alreadyPaused: return "the VM is already paused"
    case .notPaused: return "the VM is not paused"
    case .stopping: return "the VM is stopping or gone"
    case .stillCreating: return "the VM is still being created"
    case .stillResuming: return "the VM is still resuming from its last pause: try again"
    case .illegalTransition: return "the command does not apply to the VM in its state"
    case .incoming:
      return "the VM is incoming: it waits for its memory and saved state (restore state)"
    case .placement(let refusal): return refusal.message
    case .invalid(let message): return message
    }
  }
}
