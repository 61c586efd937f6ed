/// The CR0 and CR4 bits VMX operation fixes (SDM 3C Appendix A.7 and A.8): a bit set in
/// FIXED0 must be 1, a bit clear in FIXED1 must be 0. They bind the host's CR0/CR4 for
/// VMXON and the guest's at VM entry (SDM 3C §27.3.1.1, "Checks on Guest Control
/// Registers, Debug Registers, and MSRs"; §26.3.1.1 in editions before the renumbering).
public enum VMXFixedBits {
  /// CR0.PE (bit 0) and CR0.PG (bit 31): free in the guest under unrestricted guest.
  public static let unrestrictedGuestCR0Exemptions: UInt64 = 0x8000_0001

  /// `(value | fixed0) & fixed1`.
  public static func applyFixedBits(_ value: UInt64, fixed0: UInt64, fixed1: UInt64) -> UInt64 {
    (value | fixed0) & fixed1
  }

  /// Guest CR0 under "unrestricted guest": PE and PG may be 0 even where FIXED0 has them
  /// (a real-mode guest), so only the remaining FIXED0 bits are forced on. PG = 1 still
  /// requires PE = 1, which the caller's value decides.
  public static func applyUnrestrictedGuestCR0FixedBits(
    _ value: UInt64, fixed0: UInt64, fixed1: UInt64
  ) -> UInt64 {
    applyFixedBits(value, fixed0: fixed0 & ~unrestrictedGuestCR0Exemptions, fixed1: fixed1)
  }
}

extension VMXCapabilities {
  /// `value` with the CR0 fixed bits applied; `unrestrictedGuest` exempts PE and PG.
  public func fixingCR0(_ value: UInt64, unrestrictedGuest: Bool = false) -> UInt64 {
    unrestrictedGuest
      ? VMXFixedBits.applyUnrestrictedGuestCR0FixedBits(value, fixed0: cr0Fixed0, fixed1: cr0Fixed1)
      : VMXFixedBits.applyFixedBits(value, fixed0: cr0Fixed0, fixed1: cr0Fixed1)
  }

  /// `value` with the CR4 fixed bits applied (CR4.VMXE among them).
  public func fixingCR4(_ value: UInt64) -> UInt64 {
    VMXFixedBits.applyFixedBits(value, fixed0: cr4Fixed0, fixed1: cr4Fixed1)
  }
}
