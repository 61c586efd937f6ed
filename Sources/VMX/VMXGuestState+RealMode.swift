extension VMXGuestState {
  /// CR0.ET (bit 4) and CR0.NE (bit 5): a real-mode guest's CR0 before fixed bits.
  /// VM entry fails with reason 33 if NE is clear where CR0_FIXED0 requires it.
  public static let realModeCR0: UInt64 = 0x30
  /// CR4.VMXE (bit 13): required by CR4_FIXED0 on every VMX processor.
  public static let realModeCR4: UInt64 = 0x2000
  /// Bit 1 of RFLAGS is reserved and reads as 1.
  public static let resetRFLAGS: UInt64 = 0x2
  /// DR7 after reset.
  public static let resetDR7: UInt64 = 0x400
  /// IA32_PAT after reset: WB, WT, UC-, UC repeated.
  public static let resetPAT: UInt64 = 0x0007_0406_0007_0406
  /// Real-mode segment limits and the GDTR/IDTR limits.
  public static let realModeLimit: UInt32 = 0xFFFF

  /// A real-mode guest that starts at `entrySegment:entryOffset`, for VM entry under
  /// "unrestricted guest" (SDM 3C §27.3.1, checks on the guest-state area; values as
  /// verified under Bochs, /work/shared/design/emulators.md). CS has base `entrySegment << 4`;
  /// the data segments, stack and descriptor tables start at 0.
  ///
  /// With `capabilities`, CR0 and CR4 get their fixed bits (PE and PG exempt); without,
  /// they are the values every VMX processor accepts, 0x30 and 0x2000.
  public static func realMode(
    entrySegment: UInt16, entryOffset: UInt16, capabilities: VMXCapabilities? = nil
  ) -> VMXGuestState {
    let data = VMXSegment(
      selector: 0, base: 0, limit: realModeLimit,
      accessRights: VMXSegment.realModeDataAccessRights)
    let code = VMXSegment(
      selector: entrySegment, base: UInt64(entrySegment) << 4, limit: realModeLimit,
      accessRights: VMXSegment.realModeCodeAccessRights)
    let ldtr = VMXSegment(
      selector: 0, base: 0, limit: realModeLimit,
      accessRights: VMXSegment.unusableLDTAccessRights)
    let tr = VMXSegment(
      selector: 0, base: 0, limit: realModeLimit, accessRights: VMXSegment.busyTSSAccessRights)
    var cr0 = realModeCR0
    var cr4 = realModeCR4
    if let capabilities {
      cr0 = capabilities.fixingCR0(cr0, unrestrictedGuest: true)
      cr4 = capabilities.fixingCR4(cr4)
    }
    return VMXGuestState(
      es: data, cs: code, ss: data, ds: data, fs: data, gs: data, ldtr: ldtr, tr: tr,
      gdtrBase: 0, gdtrLimit: realModeLimit, idtrBase: 0, idtrLimit: realModeLimit,
      cr0: cr0, cr3: 0, cr4: cr4, dr7: resetDR7, rsp: 0, rip: UInt64(entryOffset),
      rflags: resetRFLAGS, efer: 0, pat: resetPAT)
  }
}
