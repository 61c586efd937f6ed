import HypervisorCore

/// Which CR0 and CR4 bits the host owns through the guest/host masks (SDM 3C §25.6.6): a
/// MOV to CR0/CR4 that would change an owned bit from its read-shadow value exits, and
/// the guest reads owned bits from the shadow. The host owns the bits VMX operation fixes
/// (Appendix A.7, A.8), and every bit the guest may not set, so that setting it exits and
/// the handler raises #GP(0) instead of the processor accepting it.
extension VMXCapabilities {
  /// The guest's rules narrowed to what VMX operation allows in CR4 (a bit clear in
  /// CR4_FIXED1 cannot be 1 in a guest; VMXE is the host's own and never offered).
  public func restricting(_ rules: ControlRegisterRules) -> ControlRegisterRules {
    ControlRegisterRules(
      allowedCR4: rules.allowedCR4 & cr4Fixed1 & ~ControlRegisterRules.vmxe,
      allowedEFER: rules.allowedEFER)
  }

  /// CR0: the fixed bits except PE and PG (free under unrestricted guest), and the
  /// reserved bits 63:32.
  public var cr0GuestHostMask: UInt64 {
    (cr0Fixed0 | ~cr0Fixed1 | 0xFFFF_FFFF_0000_0000) & ~VMXFixedBits.unrestrictedGuestCR0Exemptions
  }

  /// CR4: everything except the bits the guest may set and VMX does not force.
  public func cr4GuestHostMask(for rules: ControlRegisterRules) -> UInt64 {
    ~(restricting(rules).allowedCR4 & ~cr4Fixed0)
  }
}
