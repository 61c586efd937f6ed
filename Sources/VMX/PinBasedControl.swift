/// Pin-based VM-execution controls (SDM 3C §25.6.1; capabilities Appendix A.3.1).
public enum PinBasedControl: UInt32, VMXControlBit {
  case externalInterruptExiting = 0x01  // bit 0
  case nmiExiting = 0x08  // bit 3
  case virtualNMIs = 0x20  // bit 5
  case preemptionTimer = 0x40  // bit 6: activate VMX-preemption timer
  case postedInterrupts = 0x80  // bit 7: process posted interrupts

  public var name: StaticString {
    switch self {
    case .externalInterruptExiting: return "external-interrupt exiting"
    case .nmiExiting: return "NMI exiting"
    case .virtualNMIs: return "virtual NMIs"
    case .preemptionTimer: return "VMX-preemption timer"
    case .postedInterrupts: return "posted interrupts"
    }
  }
}
