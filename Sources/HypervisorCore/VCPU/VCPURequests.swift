import Synchronization

/// Work another CPU (or a device model) asks of a vCPU, handled by the vCPU's own CPU just
/// before its next entry. (Interim version; the full one comes with the local APIC work.)
public struct VCPURequest: OptionSet, Sendable {
  public let rawValue: UInt32
  public init(rawValue: UInt32) { self.rawValue = rawValue }

  public static let flushTLB = VCPURequest(rawValue: 1 << 0)
  public static let nmi = VCPURequest(rawValue: 1 << 1)
  public static let interrupt = VCPURequest(rawValue: 1 << 2)
  public static let initSignal = VCPURequest(rawValue: 1 << 3)
  public static let startup = VCPURequest(rawValue: 1 << 4)
  public static let stop = VCPURequest(rawValue: 1 << 5)
  public static let reschedule = VCPURequest(rawValue: 1 << 6)
}

/// Interrupts a vCPU's CPU so it sees new requests promptly: the kernel's implementation sends
/// a host IPI when the vCPU is in guest mode (or its CPU idles) elsewhere.
public protocol VCPUKicker: AnyObject {
  func kick(_ vcpu: VirtualCPU)
}
