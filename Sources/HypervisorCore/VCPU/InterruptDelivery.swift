/// Delivering a vCPU's local APIC interrupts, written once for both vendors: before each
/// entry the timer is polled; a pending vector is injected when the guest can take it
/// (RFLAGS.IF set, no interrupt shadow, no other event being injected), and otherwise the
/// backend asks the processor to exit as soon as it can (SVM V_IRQ with the VINTR
/// intercept, VMX interrupt-window exiting).
public enum InterruptDelivery {
  public enum Decision: Equatable {
    case none
    /// `pendingEvent` now holds the interrupt.
    case injected(vector: UInt8)
    /// An interrupt waits for the guest to open a window.
    case needsWindow
  }

  @inline(__always)
  public static func prepare(_ vcpu: VirtualCPU, guestCanTakeInterrupt: Bool) -> Decision {
    guard let apic = vcpu.localAPIC else { return .none }
    apic.pollTimer()
    guard let vector = apic.pendingVector else { return .none }
    guard guestCanTakeInterrupt, vcpu.pendingEvent == nil else { return .needsWindow }
    apic.acknowledge(vector)
    vcpu.pendingEvent = .externalInterrupt(vector: vector)
    return .injected(vector: vector)
  }

  /// A halted vCPU wakes when its APIC has something to deliver.
  public static func shouldWake(_ vcpu: VirtualCPU) -> Bool {
    guard let apic = vcpu.localAPIC else { return false }
    apic.pollTimer()
    return apic.pendingVector != nil
  }
}
