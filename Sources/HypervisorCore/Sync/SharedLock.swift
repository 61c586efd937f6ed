/// A TicketLock that models can hold a reference to: the VM's device lock, which the
/// interrupt controllers' vCPU-side paths (EOI by MSR, the 8259's INTA) take themselves
/// because they run outside any device exit (docs/smp.md, "Locks").
public final class SharedLock {
  private let ticket = TicketLock()

  public init() {}

  @inline(__always)
  public func lock() { ticket.lock() }

  @inline(__always)
  public func unlock() { ticket.unlock() }

  /// Whether some CPU holds the lock or waits for it.
  public var isContended: Bool { ticket.isContended }
}
