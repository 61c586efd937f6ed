/// The INVVPID types, the value of the register operand (SDM 3C §31.3, "INVVPID—Invalidate
/// Translations Based on VPID").
public enum InvvpidType: UInt64, CaseIterable {
  /// One linear address in one VPID.
  case individualAddress = 0
  /// Every mapping tagged with one VPID.
  case singleContext = 1
  /// Every mapping of every VPID except 0000H.
  case allContexts = 2
  /// One VPID's mappings except global translations.
  case singleContextRetainingGlobals = 3

  /// Whether IA32_VMX_EPT_VPID_CAP reports the type: bit 32 INVVPID itself, bits 40–43
  /// the four types in order (Appendix A.10).
  public func isSupported(byEPTVPIDCap cap: UInt64) -> Bool {
    cap & (1 << 32) != 0 && cap & (1 << (40 + rawValue)) != 0
  }

  /// The type for flushing one guest's whole TLB context: single-context, else
  /// all-context. `nil` when neither is available (INVVPID itself may be missing).
  public static func preferred(byEPTVPIDCap cap: UInt64) -> InvvpidType? {
    if InvvpidType.singleContext.isSupported(byEPTVPIDCap: cap) { return .singleContext }
    if InvvpidType.allContexts.isSupported(byEPTVPIDCap: cap) { return .allContexts }
    return nil
  }
}

extension VMXCapabilities {
  public var preferredInvvpidType: InvvpidType? {
    InvvpidType.preferred(byEPTVPIDCap: eptVPIDCap)
  }
}
