import HypervisorCore

/// The five control words Peregrine runs every guest with, resolved for one processor.
public struct VMXControlPlan {
  public var pin: ControlResolution
  public var primary: ControlResolution
  public var secondary: ControlResolution
  public var exit: ControlResolution
  public var entry: ControlResolution

  public init(
    pin: ControlResolution, primary: ControlResolution, secondary: ControlResolution,
    exit: ControlResolution, entry: ControlResolution
  ) {
    self.pin = pin
    self.primary = primary
    self.secondary = secondary
    self.exit = exit
    self.entry = entry
  }

  /// What the guest's CPUID must not offer on this processor: a feature whose control was
  /// asked for (`offersRDTSCP`, `offersINVPCID`: the host has it) and not granted would
  /// raise #UD in the guest.
  public func cpuidWithholding(offersRDTSCP: Bool, offersINVPCID: Bool) -> CPUIDWithholding {
    CPUIDWithholding(
      timeStampCounterAuxiliary: offersRDTSCP
        && !secondary.contains(SecondaryProcessorControl.enableRDTSCP.rawValue),
      invalidatePCID: offersINVPCID
        && !secondary.contains(SecondaryProcessorControl.enableINVPCID.rawValue))
  }

  /// Every requested control the processor cannot give, pin-based first.
  public var allUnavailable: [StaticString] {
    pin.unavailable + primary.unavailable + secondary.unavailable + exit.unavailable
      + entry.unavailable
  }

  /// The pin-based controls Peregrine asks for: host interrupts and NMIs always exit, and
  /// the processor tracks the blocking of NMIs injected into the guest ("virtual NMIs",
  /// SDM 3C §25.6.1, §26.7.6: with NMI-window exiting when one waits).
  public static var pinRequest: [PinBasedControl] {
    [.externalInterruptExiting, .nmiExiting, .virtualNMIs]
  }

  /// Primary controls: HLT exits, bitmaps filter port and MSR accesses, the TSC is offset.
  /// MONITOR, MWAIT and RDPMC exit (SDM 3C §25.6.2): CPUID offers neither MONITOR nor
  /// performance counters, so the handler raises #UD or #GP(0) instead of letting them run.
  /// MOV to and from CR8 exit: without the TPR shadow they would reach the physical
  /// local APIC's TPR (§25.3; a guest could raise the host CPU's priority and hold its
  /// interrupts off), and the guest's CR8 is its local APIC model's TPR[7:4] (SDM 3A
  /// §11.8.6.1), which MMIO and x2APIC reads must see (ControlRegisterHandler+CR8).
  public static var primaryRequest: [PrimaryProcessorControl] {
    [
      .useTSCOffsetting, .hltExiting, .mwaitExiting, .rdpmcExiting, .useIOBitmaps,
      .useMSRBitmaps, .monitorExiting, .cr8LoadExiting, .cr8StoreExiting,
      .activateSecondaryControls,
    ]
  }

  /// Secondary controls: EPT with VPID-tagged TLBs, real-mode guests through unrestricted
  /// guest. "Enable RDTSCP" follows the guest's CPUID (`offersRDTSCP`: RDTSCP or RDPID
  /// offered): when 0, RDTSCP and RDPID raise #UD (SDM 3C §25.6.2); when 1 they run without
  /// exiting and read the vCPU's IA32_TSC_AUX, loaded for its slices
  /// (GuestAuxiliaryRegisters). "Enable INVPCID" follows the guest's CPUID
  /// (`offersINVPCID`): when 0, INVPCID raises #UD.
  public static func secondaryRequest(offersINVPCID: Bool, offersRDTSCP: Bool = false)
    -> [SecondaryProcessorControl]
  {
    var request: [SecondaryProcessorControl] = [.enableEPT, .enableVPID, .unrestrictedGuest]
    if offersINVPCID { request.append(.enableINVPCID) }
    if offersRDTSCP { request.append(.enableRDTSCP) }
    return request
  }

  /// VM-exit controls: return to a 64-bit host, take the interrupt vector with the exit,
  /// and switch EFER and PAT.
  public static var exitRequest: [ExitControl] {
    [
      .hostAddressSpaceSize, .acknowledgeInterruptOnExit, .savePAT, .loadPAT, .saveEFER, .loadEFER,
    ]
  }

  /// VM-entry controls: load the guest's EFER and PAT. "IA-32e mode guest" follows the
  /// guest state at each entry and is not part of the plan.
  public static var entryRequest: [EntryControl] { [.loadPAT, .loadEFER] }

  /// Resolves Peregrine's requests against `caps`, enforcing the dependencies between
  /// controls that VM entry checks (SDM 3C §27.2.1.1):
  /// - without "use I/O bitmaps", "unconditional I/O exiting" stands in (every port
  ///   access exits, which is correct, only slower), and is not reported;
  /// - without "activate secondary controls", every secondary control is unavailable
  ///   and the secondary word is 0;
  /// - "unrestricted guest" requires "enable EPT", so it is dropped (and reported)
  ///   when EPT is.
  /// `offersINVPCID`: the guest's CPUID (leaf 7 EBX bit 10) offers INVPCID; `offersRDTSCP`:
  /// it offers RDTSCP or RDPID.
  public static func peregrineDefault(
    caps: VMXCapabilities, offersINVPCID: Bool = false, offersRDTSCP: Bool = false
  ) -> VMXControlPlan {
    var primaryRequest = Self.primaryRequest
    let primaryAllowed = UInt32(truncatingIfNeeded: caps.primaryProcessorCapability >> 32)
    if primaryAllowed & PrimaryProcessorControl.useIOBitmaps.rawValue == 0 {
      primaryRequest = primaryRequest.map { $0 == .useIOBitmaps ? .unconditionalIOExiting : $0 }
    }
    var primary = VMXControls.primaryProcessorBased(primaryRequest, caps: caps)

    let ept = UInt64(SecondaryProcessorControl.enableEPT.rawValue) << 32
    let unrestricted = UInt64(SecondaryProcessorControl.unrestrictedGuest.rawValue) << 32
    var secondaryCapability = caps.secondaryProcessorCapability
    if secondaryCapability & ept == 0 { secondaryCapability &= ~unrestricted }
    let secondary = VMXControls.resolve(
      secondaryRequest(offersINVPCID: offersINVPCID, offersRDTSCP: offersRDTSCP),
      capability: secondaryCapability)

    let activate = PrimaryProcessorControl.activateSecondaryControls.rawValue
    let primaryRequired = UInt32(truncatingIfNeeded: caps.primaryProcessorCapability)
    if secondary.value == 0 && primaryRequired & activate == 0 {
      // Nothing to activate: leave the secondary controls off.
      primary.value &= ~activate
    }

    return VMXControlPlan(
      pin: VMXControls.pinBased(pinRequest, caps: caps),
      primary: primary,
      secondary: secondary,
      exit: VMXControls.vmExit(exitRequest, caps: caps),
      entry: VMXControls.vmEntry(entryRequest, caps: caps))
  }
}
