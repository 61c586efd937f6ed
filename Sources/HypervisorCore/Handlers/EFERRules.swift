/// Which EFER values a guest's WRMSR may load, whatever the vendor keeps of it (the VMCB
/// and the vCPU on SVM, the VMCS on VMX). Reserved bits are the MSR policy's concern.
public enum EFERRules {
  /// EFER.LME (bit 8) and EFER.LMA (bit 10) (APM Vol 2 §3.1.7, SDM 3A §2.2.1).
  public static let lme: UInt64 = 1 << 8
  public static let lma: UInt64 = 1 << 10

  /// LME cannot change while CR0.PG = 1: WRMSR raises #GP(0) (APM Vol 2 §14.6.1,
  /// SDM 3A §10.8.5). `current` is EFER as the guest has it.
  public static func permits(_ value: UInt64, current: UInt64, cr0: UInt64) -> Bool {
    cr0 & (1 << 31) == 0 || (value ^ current) & lme == 0
  }
}
