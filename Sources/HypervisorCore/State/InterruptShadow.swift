/// Blocking of interrupts for one instruction after STI or a MOV/POP to SS (SDM 3A §6.8.3).
/// VMX tells the two apart (interruptibility state bits 0 and 1, SDM 3C §25.4.2, Table
/// 25-3); SVM keeps one bit (INTERRUPT_SHADOW, VMCB offset 068h, APM Vol 2 §15.21.5), which
/// this record reads as STI blocking when RFLAGS.IF = 1 and as MOV-SS blocking when IF = 0,
/// since VM entry refuses STI blocking with IF = 0 (SDM 3C §27.3.1.5).
public enum InterruptShadow: UInt8, Equatable {
  case none = 0
  case sti = 1
  case movSS = 2
}
