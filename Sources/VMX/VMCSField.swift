/// The VMCS fields Peregrine reads and writes, by their VMREAD/VMWRITE encodings
/// (SDM 3C Appendix B). Every case is the "full" access encoding (bit 0 clear); a 64-bit
/// field's upper half, which only 32-bit code needs, is `encoding.high`.
public enum VMCSField: UInt32, CaseIterable {
  // 16-bit control fields (Appendix B.1.1).
  case virtualProcessorID = 0x0000

  // 16-bit guest-state fields (Appendix B.1.2).
  case guestESSelector = 0x0800
  case guestCSSelector = 0x0802
  case guestSSSelector = 0x0804
  case guestDSSelector = 0x0806
  case guestFSSelector = 0x0808
  case guestGSSelector = 0x080A
  case guestLDTRSelector = 0x080C
  case guestTRSelector = 0x080E

  // 16-bit host-state fields (Appendix B.1.3).
  case hostESSelector = 0x0C00
  case hostCSSelector = 0x0C02
  case hostSSSelector = 0x0C04
  case hostDSSelector = 0x0C06
  case hostFSSelector = 0x0C08
  case hostGSSelector = 0x0C0A
  case hostTRSelector = 0x0C0C

  // 64-bit control fields (Appendix B.2.1).
  case ioBitmapA = 0x2000
  case ioBitmapB = 0x2002
  case msrBitmap = 0x2004
  case exitMSRStoreAddress = 0x2006
  case exitMSRLoadAddress = 0x2008
  case entryMSRLoadAddress = 0x200A
  case tscOffset = 0x2010
  case eptPointer = 0x201A

  // 64-bit read-only data field (Appendix B.2.2).
  case guestPhysicalAddress = 0x2400

  // 64-bit guest-state fields (Appendix B.2.3).
  case vmcsLinkPointer = 0x2800
  case guestDebugControl = 0x2802
  case guestPAT = 0x2804
  case guestEFER = 0x2806
  /// The four PAE PDPTEs VM entry loads with EPT (SDM 3C §27.3.2.4).
  case guestPDPTE0 = 0x280A
  case guestPDPTE1 = 0x280C
  case guestPDPTE2 = 0x280E
  case guestPDPTE3 = 0x2810

  // 64-bit host-state fields (Appendix B.2.4).
  case hostPAT = 0x2C00
  case hostEFER = 0x2C02

  // 32-bit control fields (Appendix B.3.1).
  case pinBasedControls = 0x4000
  case primaryProcessorControls = 0x4002
  case exceptionBitmap = 0x4004
  case pageFaultErrorCodeMask = 0x4006
  case pageFaultErrorCodeMatch = 0x4008
  case cr3TargetCount = 0x400A
  case exitControls = 0x400C
  case exitMSRStoreCount = 0x400E
  case exitMSRLoadCount = 0x4010
  case entryControls = 0x4012
  case entryMSRLoadCount = 0x4014
  case entryInterruptionInformation = 0x4016
  case entryExceptionErrorCode = 0x4018
  case entryInstructionLength = 0x401A
  case tprThreshold = 0x401C
  case secondaryProcessorControls = 0x401E
  case pauseLoopExitingGap = 0x4020
  case pauseLoopExitingWindow = 0x4022

  // 32-bit read-only data fields (Appendix B.3.2).
  case instructionError = 0x4400
  case exitReason = 0x4402
  case exitInterruptionInformation = 0x4404
  case exitInterruptionErrorCode = 0x4406
  case idtVectoringInformation = 0x4408
  case idtVectoringErrorCode = 0x440A
  case exitInstructionLength = 0x440C
  case exitInstructionInformation = 0x440E

  // 32-bit guest-state fields (Appendix B.3.3).
  case guestESLimit = 0x4800
  case guestCSLimit = 0x4802
  case guestSSLimit = 0x4804
  case guestDSLimit = 0x4806
  case guestFSLimit = 0x4808
  case guestGSLimit = 0x480A
  case guestLDTRLimit = 0x480C
  case guestTRLimit = 0x480E
  case guestGDTRLimit = 0x4810
  case guestIDTRLimit = 0x4812
  case guestESAccessRights = 0x4814
  case guestCSAccessRights = 0x4816
  case guestSSAccessRights = 0x4818
  case guestDSAccessRights = 0x481A
  case guestFSAccessRights = 0x481C
  case guestGSAccessRights = 0x481E
  case guestLDTRAccessRights = 0x4820
  case guestTRAccessRights = 0x4822
  case guestInterruptibility = 0x4824
  case guestActivityState = 0x4826
  case guestSMBASE = 0x4828
  case guestSysenterCS = 0x482A
  case preemptionTimerValue = 0x482E

  // 32-bit host-state field (Appendix B.3.4).
  case hostSysenterCS = 0x4C00

  // Natural-width control fields (Appendix B.4.1).
  case cr0GuestHostMask = 0x6000
  case cr4GuestHostMask = 0x6002
  case cr0ReadShadow = 0x6004
  case cr4ReadShadow = 0x6006

  // Natural-width read-only data fields (Appendix B.4.2).
  case exitQualification = 0x6400
  case guestLinearAddress = 0x640A

  // Natural-width guest-state fields (Appendix B.4.3).
  case guestCR0 = 0x6800
  case guestCR3 = 0x6802
  case guestCR4 = 0x6804
  case guestESBase = 0x6806
  case guestCSBase = 0x6808
  case guestSSBase = 0x680A
  case guestDSBase = 0x680C
  case guestFSBase = 0x680E
  case guestGSBase = 0x6810
  case guestLDTRBase = 0x6812
  case guestTRBase = 0x6814
  case guestGDTRBase = 0x6816
  case guestIDTRBase = 0x6818
  case guestDR7 = 0x681A
  case guestRSP = 0x681C
  case guestRIP = 0x681E
  case guestRFLAGS = 0x6820
  case guestPendingDebugExceptions = 0x6822
  case guestSysenterESP = 0x6824
  case guestSysenterEIP = 0x6826

  // Natural-width host-state fields (Appendix B.4.4).
  case hostCR0 = 0x6C00
  case hostCR3 = 0x6C02
  case hostCR4 = 0x6C04
  case hostFSBase = 0x6C06
  case hostGSBase = 0x6C08
  case hostTRBase = 0x6C0A
  case hostGDTRBase = 0x6C0C
  case hostIDTRBase = 0x6C0E
  case hostSysenterESP = 0x6C10
  case hostSysenterEIP = 0x6C12
  case hostRSP = 0x6C14
  case hostRIP = 0x6C16
}
