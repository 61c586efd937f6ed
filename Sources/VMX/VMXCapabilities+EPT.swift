// IA32_VMX_EPT_VPID_CAP (SDM 3C Appendix A.10).
extension VMXCapabilities {
  private func eptVPIDBit(_ bit: UInt64) -> Bool { eptVPIDCap & (1 << bit) != 0 }

  /// Bit 0: EPT entries may be execute-only.
  public var supportsExecuteOnly: Bool { eptVPIDBit(0) }
  /// Bit 6: a page-walk length of 4.
  public var supports4Level: Bool { eptVPIDBit(6) }
  /// Bit 7: a page-walk length of 5.
  public var supports5Level: Bool { eptVPIDBit(7) }
  /// Bit 8: the EPT paging structures may be uncacheable (memory type 0).
  public var uncacheableMemoryType: Bool { eptVPIDBit(8) }
  /// Bit 14: the EPT paging structures may be write-back (memory type 6).
  public var writeBackMemoryType: Bool { eptVPIDBit(14) }
  /// Bit 16: EPT PDEs may map 2 MiB pages.
  public var pages2M: Bool { eptVPIDBit(16) }
  /// Bit 17: EPT PDPTEs may map 1 GiB pages.
  public var pages1G: Bool { eptVPIDBit(17) }
  /// Bit 20: INVEPT is supported.
  public var invept: Bool { eptVPIDBit(20) }
  /// Bit 21: accessed and dirty flags for EPT (EPTP bit 6).
  public var accessedDirty: Bool { eptVPIDBit(21) }
  /// Bit 22: EPT violations report advanced VM-exit information.
  public var advancedEPTViolationInformation: Bool { eptVPIDBit(22) }
  /// Bit 25: single-context INVEPT.
  public var inveptSingleContext: Bool { eptVPIDBit(25) }
  /// Bit 26: all-context INVEPT.
  public var inveptAllContexts: Bool { eptVPIDBit(26) }
  /// Bit 32: INVVPID is supported.
  public var invvpid: Bool { eptVPIDBit(32) }
  /// Bit 40: individual-address INVVPID.
  public var invvpidIndividualAddress: Bool { eptVPIDBit(40) }
  /// Bit 41: single-context INVVPID.
  public var invvpidSingleContext: Bool { eptVPIDBit(41) }
  /// Bit 42: all-context INVVPID.
  public var invvpidAllContexts: Bool { eptVPIDBit(42) }
  /// Bit 43: single-context-retaining-globals INVVPID.
  public var invvpidSingleContextRetainingGlobals: Bool { eptVPIDBit(43) }
}
