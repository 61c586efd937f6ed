/// A device model whose state holds times on the guest clock (a PIT counter's load time, an
/// APIC timer's deadline). While its VM is paused guest time stands still: on resume the
/// VM manager moves those times later by the paused span, so the guest sees no gap.
public protocol GuestTimedDevice: AnyObject {
  /// Moves every stored time `cycles` guest-clock ticks later.
  func shiftTime(by cycles: UInt64)
}
