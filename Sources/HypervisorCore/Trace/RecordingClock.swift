/// A traced VM's guest clock (docs/exit-trace.md): the clock its device models (PIT, PM
/// timer, local APIC timers) read, so that a replay can give them the same time. Only a VM
/// with `trace=` has one; every other VM's devices read the kernel's clock directly.
///
/// - While the VM is built (before `attach`) every read answers `buildTime`, which the
///   trace's header holds: a device that notes the time when it is made (the PM timer's
///   start) gets the same value in the replay.
/// - Afterwards it reads the kernel's clock, and a read made while an exit is recorded is
///   written into that exit's record, between the backend calls, in order.
/// - A local APIC reads its own vCPU's clock (`forVCPU`): its vCPU's run loop polls the
///   timer between exits, possibly while another vCPU's exit is recorded, and such a read
///   belongs to no record. The VM-wide clock serves devices only exits touch (PIT, PM timer).
/// - `detach` (the trace was read out) leaves it reading the kernel's clock alone.
public final class RecordingClock: GuestClock {
  let inner: any GuestClock
  public let buildTime: UInt64
  /// The vCPU whose exits this clock's reads belong to; nil: whichever exit is recorded.
  let vcpu: Int?
  private var live = false
  private var trace: ExitTraceRecorder?
  private var perVCPU: [RecordingClock] = []

  public init(inner: any GuestClock) {
    self.inner = inner
    buildTime = inner.now
    vcpu = nil
  }

  private init(inner: any GuestClock, buildTime: UInt64, vcpu: Int) {
    self.inner = inner
    self.buildTime = buildTime
    self.vcpu = vcpu
  }

  /// The clock of vCPU `index`'s local APIC: the same time, recorded only in that vCPU's exits.
  public func forVCPU(_ index: Int) -> RecordingClock {
    let clock = RecordingClock(inner: inner, buildTime: buildTime, vcpu: index)
    clock.live = live
    clock.trace = trace
    perVCPU.append(clock)
    return clock
  }

  public func attach(_ recorder: ExitTraceRecorder) {
    trace = recorder
    live = true
    for clock in perVCPU { clock.attach(recorder) }
  }

  public func detach() {
    trace = nil
    for clock in perVCPU { clock.detach() }
  }

  public var now: UInt64 {
    guard live else { return buildTime }
    let value = inner.now
    if let trace { trace.noteClock(value, vcpu: vcpu) }
    return value
  }

  public var ticksPerSecond: UInt64 { inner.ticksPerSecond }
}
