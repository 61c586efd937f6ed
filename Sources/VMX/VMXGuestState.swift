/// The guest-state area a VCPU enters with (SDM 3C §25.4): written field by field with
/// `forEachField` before the first VMLAUNCH.
public struct VMXGuestState: Equatable {
  public var es: VMXSegment
  public var cs: VMXSegment
  public var ss: VMXSegment
  public var ds: VMXSegment
  public var fs: VMXSegment
  public var gs: VMXSegment
  public var ldtr: VMXSegment
  public var tr: VMXSegment
  public var gdtrBase: UInt64
  public var gdtrLimit: UInt32
  public var idtrBase: UInt64
  public var idtrLimit: UInt32
  public var cr0: UInt64
  public var cr3: UInt64
  public var cr4: UInt64
  public var dr7: UInt64
  public var rsp: UInt64
  public var rip: UInt64
  public var rflags: UInt64
  public var efer: UInt64
  public var pat: UInt64
  public var debugControl: UInt64
  /// Must be all ones unless VMCS shadowing is in use (SDM 3C §25.4.2).
  public var vmcsLinkPointer: UInt64
  public var interruptibility: UInt32
  /// 0 active, 1 HLT, 2 shutdown, 3 wait-for-SIPI (SDM 3C §25.4.2).
  public var activityState: UInt32
  public var pendingDebugExceptions: UInt64

  public init(
    es: VMXSegment, cs: VMXSegment, ss: VMXSegment, ds: VMXSegment, fs: VMXSegment,
    gs: VMXSegment, ldtr: VMXSegment, tr: VMXSegment, gdtrBase: UInt64, gdtrLimit: UInt32,
    idtrBase: UInt64, idtrLimit: UInt32, cr0: UInt64, cr3: UInt64, cr4: UInt64, dr7: UInt64,
    rsp: UInt64, rip: UInt64, rflags: UInt64, efer: UInt64, pat: UInt64,
    debugControl: UInt64 = 0, vmcsLinkPointer: UInt64 = VMXGuestState.noLinkPointer,
    interruptibility: UInt32 = 0, activityState: UInt32 = 0, pendingDebugExceptions: UInt64 = 0
  ) {
    self.es = es
    self.cs = cs
    self.ss = ss
    self.ds = ds
    self.fs = fs
    self.gs = gs
    self.ldtr = ldtr
    self.tr = tr
    self.gdtrBase = gdtrBase
    self.gdtrLimit = gdtrLimit
    self.idtrBase = idtrBase
    self.idtrLimit = idtrLimit
    self.cr0 = cr0
    self.cr3 = cr3
    self.cr4 = cr4
    self.dr7 = dr7
    self.rsp = rsp
    self.rip = rip
    self.rflags = rflags
    self.efer = efer
    self.pat = pat
    self.debugControl = debugControl
    self.vmcsLinkPointer = vmcsLinkPointer
    self.interruptibility = interruptibility
    self.activityState = activityState
    self.pendingDebugExceptions = pendingDebugExceptions
  }

  /// The VMCS link pointer value that means "no shadow VMCS".
  public static let noLinkPointer: UInt64 = 0xFFFF_FFFF_FFFF_FFFF

  /// Calls `write` once per guest-state field with the value to VMWRITE, zero-extended.
  /// SMBASE (SMM only) and the VMX-preemption timer value (armed per entry) are left out.
  public func forEachField(_ write: (VMCSField, UInt64) -> Void) {
    writeSegment(es, .guestESSelector, .guestESBase, .guestESLimit, .guestESAccessRights, write)
    writeSegment(cs, .guestCSSelector, .guestCSBase, .guestCSLimit, .guestCSAccessRights, write)
    writeSegment(ss, .guestSSSelector, .guestSSBase, .guestSSLimit, .guestSSAccessRights, write)
    writeSegment(ds, .guestDSSelector, .guestDSBase, .guestDSLimit, .guestDSAccessRights, write)
    writeSegment(fs, .guestFSSelector, .guestFSBase, .guestFSLimit, .guestFSAccessRights, write)
    writeSegment(gs, .guestGSSelector, .guestGSBase, .guestGSLimit, .guestGSAccessRights, write)
    writeSegment(
      ldtr, .guestLDTRSelector, .guestLDTRBase, .guestLDTRLimit, .guestLDTRAccessRights, write)
    writeSegment(tr, .guestTRSelector, .guestTRBase, .guestTRLimit, .guestTRAccessRights, write)
    write(.guestGDTRBase, gdtrBase)
    write(.guestGDTRLimit, UInt64(gdtrLimit))
    write(.guestIDTRBase, idtrBase)
    write(.guestIDTRLimit, UInt64(idtrLimit))
    write(.guestCR0, cr0)
    write(.guestCR3, cr3)
    write(.guestCR4, cr4)
    write(.guestDR7, dr7)
    write(.guestRSP, rsp)
    write(.guestRIP, rip)
    write(.guestRFLAGS, rflags)
    write(.guestEFER, efer)
    write(.guestPAT, pat)
    write(.guestDebugControl, debugControl)
    write(.vmcsLinkPointer, vmcsLinkPointer)
    write(.guestInterruptibility, UInt64(interruptibility))
    write(.guestActivityState, UInt64(activityState))
    write(.guestPendingDebugExceptions, pendingDebugExceptions)
    write(.guestSysenterCS, 0)
    write(.guestSysenterESP, 0)
    write(.guestSysenterEIP, 0)
    // No PAE paging at the start: VM entry with EPT loads the PDPTEs from these fields only
    // under PAE paging (SDM 3C §27.3.2.4); the CR handler fills them when the guest enters it.
    write(.guestPDPTE0, 0)
    write(.guestPDPTE1, 0)
    write(.guestPDPTE2, 0)
    write(.guestPDPTE3, 0)
  }

  private func writeSegment(
    _ segment: VMXSegment, _ selector: VMCSField, _ base: VMCSField, _ limit: VMCSField,
    _ accessRights: VMCSField, _ write: (VMCSField, UInt64) -> Void
  ) {
    write(selector, UInt64(segment.selector))
    write(base, segment.base)
    write(limit, UInt64(segment.limit))
    write(accessRights, UInt64(segment.accessRights))
  }
}
