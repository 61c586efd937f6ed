/// The VMCB's virtual-interrupt control at 0x60 (APM Vol 2 §15.21.4, Appendix B Table B-1):
/// V_TPR bits 7:0, V_IRQ bit 8, V_INTR_PRIO bits 19:16, V_IGN_TPR bit 20, V_INTR_MASKING
/// bit 24, V_INTR_VECTOR bits 39:32.
///
/// Peregrine hands the local APIC's chosen vector to the processor here, not through
/// EVENTINJ: the processor delivers it at the guest's first instruction boundary with
/// RFLAGS.IF set and no interrupt shadow, without an interrupt-window exit, and clears V_IRQ
/// when it does. (QEMU's TCG also leaves an EVENTINJ interrupt's vector behind as a pending
/// exception and may deliver it a second time: docs/smp.md.)
public enum SVMVirtualInterrupt {
  /// V_INTR_MASKING: the guest's RFLAGS.IF masks only virtual interrupts; physical ones
  /// stay the host's (they exit).
  public static let masking: UInt64 = 1 << 24
  static let request: UInt64 = 1 << 8
  static let ignoreTPR: UInt64 = 1 << 20
  static let highestPriority: UInt64 = 0xF << 16

  /// Nothing offered.
  public static let none = masking

  /// `vector` offered, V_TPR ignored: the virtual local APIC already chose it by priority.
  public static func offering(_ vector: UInt8) -> UInt64 {
    masking | ignoreTPR | highestPriority | request | UInt64(vector) << 32
  }

  /// The guest's CR8 (V_TPR bits 3:0: the task priority class, APM §15.21.3), which MOV
  /// CR8 changes without an exit.
  public static func taskPriorityClass(_ control: UInt64) -> UInt8 {
    UInt8(truncatingIfNeeded: control & 0xF)
  }

  /// Whether an offered interrupt is still waiting after the exit: the processor clears
  /// V_IRQ when it takes one, and writes the bit back on #VMEXIT.
  public static func isWaiting(_ control: UInt64) -> Bool {
    control & request != 0
  }
}
