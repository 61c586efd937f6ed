import Synchronization

/// A fair spin lock: CPUs are served in the order they asked (a ticket lock), so a CPU that
/// keeps re-taking the lock cannot starve another. The hypervisor runs with interrupts
/// masked outside guests, so a holder is never interrupted by code that wants the same lock.
/// Not reentrant. Stored in a `let` (a static or a class property): it must not move.
public struct TicketLock: ~Copyable {
  private let next = Atomic<UInt32>(0)
  private let serving = Atomic<UInt32>(0)

  public init() {}

  public func lock() {
    let ticket = next.wrappingAdd(1, ordering: .relaxed).oldValue
    while serving.load(ordering: .acquiring) != ticket {}
  }

  public func unlock() {
    serving.wrappingAdd(1, ordering: .releasing)
  }

  /// Whether some CPU holds the lock or waits for it.
  public var isContended: Bool {
    next.load(ordering: .relaxed) != serving.load(ordering: .relaxed)
  }

  @inline(__always)
  public func withLock<Result>(_ body: () -> Result) -> Result {
    lock()
    defer { unlock() }
    return body()
  }
}
