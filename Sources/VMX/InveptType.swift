/// The INVEPT types, the value of the register operand (SDM 3C §31.3, "INVEPT—Invalidate
/// Translations Derived from EPT").
public enum InveptType: UInt64, CaseIterable {
  /// Invalidates mappings tagged with one EPTP (the descriptor's first quadword).
  case singleContext = 1
  /// Invalidates mappings for every EPTP.
  case allContexts = 2

  /// Whether IA32_VMX_EPT_VPID_CAP reports the type: bit 20 INVEPT itself, bit 25
  /// single-context, bit 26 all-context (Appendix A.10).
  public func isSupported(byEPTVPIDCap cap: UInt64) -> Bool {
    guard cap & (1 << 20) != 0 else { return false }
    switch self {
    case .singleContext: return cap & (1 << 25) != 0
    case .allContexts: return cap & (1 << 26) != 0
    }
  }

  /// The narrowest supported type: single-context keeps other guests' translations;
  /// all-context is the fallback. `nil` when INVEPT is unavailable.
  public static func preferred(byEPTVPIDCap cap: UInt64) -> InveptType? {
    if InveptType.singleContext.isSupported(byEPTVPIDCap: cap) { return .singleContext }
    if InveptType.allContexts.isSupported(byEPTVPIDCap: cap) { return .allContexts }
    return nil
  }
}

extension VMXCapabilities {
  public var preferredInveptType: InveptType? {
    InveptType.preferred(byEPTVPIDCap: eptVPIDCap)
  }
}
