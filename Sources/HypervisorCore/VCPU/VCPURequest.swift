/// Work another CPU (or a device model) asks of a vCPU, as one bit each in the vCPU's
/// `requests` word. Posted with `VirtualCPU.post`, taken by the CPU that runs the vCPU with
/// `VCPURequests.drain` before each entry, in a fixed order (see there).
public struct VCPURequest: OptionSet, Equatable {
  public let rawValue: UInt32

  public init(rawValue: UInt32) { self.rawValue = rawValue }

  /// The VM's nested page tables changed: flush this vCPU's guest TLB before entry.
  public static let flushTLB = VCPURequest(rawValue: 1 << 0)
  /// An NMI (SDM 3A §6.7), counted in `VirtualCPU.postedNMIs`: latched in the APIC's
  /// `pendingNMIs`, or as a pending NMI event.
  public static let nmi = VCPURequest(rawValue: 1 << 1)
  /// Vectors wait in the posted-interrupt bitmap (`VirtualCPU.postInterrupt`).
  public static let interrupt = VCPURequest(rawValue: 1 << 2)
  /// INIT (SDM 3A §9.4.3, §11.6.1): to wait-for-SIPI.
  public static let initSignal = VCPURequest(rawValue: 1 << 3)
  /// A start-up IPI; its vector is in `VirtualCPU.startupVector`.
  public static let startup = VCPURequest(rawValue: 1 << 4)
  /// The VM is stopping: the vCPU stops for good.
  public static let stop = VCPURequest(rawValue: 1 << 5)
  /// The vCPU's CPU should run its scheduler before entering again.
  public static let reschedule = VCPURequest(rawValue: 1 << 6)
  /// The vCPU's TSC_AUX, PKRU or PKRS changed outside the guest (a WRMSR exit, a restore): its CPU
  /// loads them into the processor before the next entry (`auxiliaryRegistersStale`). Posted
  /// only by the owner CPU, so that the run loop's one per-entry test (`hasRequests`) covers
  /// it and the exit path gains nothing.
  public static let loadAuxiliaryRegisters = VCPURequest(rawValue: 1 << 7)
}

/// Interrupts the physical CPU that runs a vCPU so that it drains the vCPU's requests
/// promptly: the kernel sends a host IPI when the vCPU runs (or idles) on another CPU and
/// does nothing when it runs on the calling one, which drains before its next entry anyway.
public protocol VCPUKicker: AnyObject {
  func kick(_ vcpu: VirtualCPU)
}
