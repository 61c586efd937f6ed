/// The VMX capability MSR indices (SDM 3C Appendix A; SDM 4 Table 2-2).
public enum VMXCapabilityMSR {
  public static let featureControl: UInt32 = 0x03A
  public static let basic: UInt32 = 0x480
  public static let pinBasedControls: UInt32 = 0x481
  public static let processorBasedControls: UInt32 = 0x482
  public static let exitControls: UInt32 = 0x483
  public static let entryControls: UInt32 = 0x484
  public static let misc: UInt32 = 0x485
  public static let cr0Fixed0: UInt32 = 0x486
  public static let cr0Fixed1: UInt32 = 0x487
  public static let cr4Fixed0: UInt32 = 0x488
  public static let cr4Fixed1: UInt32 = 0x489
  public static let vmcsEnumeration: UInt32 = 0x48A
  public static let secondaryProcessorBasedControls: UInt32 = 0x48B
  public static let eptVPIDCapabilities: UInt32 = 0x48C
  public static let truePinBasedControls: UInt32 = 0x48D
  public static let trueProcessorBasedControls: UInt32 = 0x48E
  public static let trueExitControls: UInt32 = 0x48F
  public static let trueEntryControls: UInt32 = 0x490
}
