/// Notices a guest stuck in a loop of exits that do nothing: CPUID, reads of ports and
/// MMIO, unhandled ports, refused MSRs. Any exit with an effect (a device write, a
/// hypercall, HLT, an accepted WRMSR, an MMIO write) resets the count. `limit` effect-free
/// exits in a row is a storm. The rule counts exits, not time, so it behaves the same on
/// hardware and in every emulator; no legitimate polling loop comes near the limit, since
/// every device model answers at once.
public struct ExitStormDetector {
  public var limit: UInt64 = 100_000
  public var enabled = true
  /// Set by handlers when an exit had an effect.
  public var madeProgress = false
  public private(set) var idleRun: UInt64 = 0

  public init() {}

  /// Called once per guest-caused exit after its handler ran. Returns true on a storm.
  @inline(__always)
  public mutating func endExit() -> Bool {
    if madeProgress {
      madeProgress = false
      idleRun = 0
      return false
    }
    idleRun &+= 1
    return enabled && idleRun >= limit
  }
}
