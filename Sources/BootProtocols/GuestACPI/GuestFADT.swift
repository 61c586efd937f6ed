/// The guest's Fixed ACPI Description Table, revision 6 (ACPI 6.4 §5.2.9, Table 5.9): a
/// full (not hardware-reduced) ACPI platform with PM1a event and control blocks, always in
/// ACPI mode (SMI_CMD 0), with a reset register and no fixed power or sleep button.
enum GuestFADT {
  static let revision: UInt8 = 6
  static let minorVersion: UInt8 = 4
  static let length = 276

  /// Offsets of the fields set here (Table 5.9); the parser's `FADT` names the ones it reads.
  enum Offset {
    static let firmwareControl = 36
    static let dsdt = FADT.dsdtOffset
    static let sciInterrupt = 46
    static let pm1aEvent = 56
    static let pm1aControl = FADT.pm1aControlOffset
    static let pmTimer = 76
    static let pm1EventLength = 88
    static let pm1ControlLength = 89
    static let pmTimerLength = 91
    static let level2Latency = 96
    static let level3Latency = 98
    static let bootArchitecture = 109
    static let flags = FADT.flagsOffset
    static let resetRegister = FADT.resetRegisterOffset
    static let resetValue = FADT.resetValueOffset
    static let minorVersion = 131
    static let extendedDSDT = FADT.extendedDSDTOffset
    static let extendedPM1aEvent = 148
    static let extendedPM1aControl = FADT.extendedPM1aControlOffset
    static let extendedPMTimer = 208
  }

  /// Fixed feature flags (Table 5.10).
  enum Flag {
    static let wbinvd: UInt32 = 1 << 0  // WBINVD works
    static let processorC1: UInt32 = 1 << 2  // PROC_C1: HLT on every processor
    static let powerButton: UInt32 = 1 << 4  // PWR_BUTTON: no fixed power button
    static let sleepButton: UInt32 = 1 << 5  // SLP_BUTTON: no fixed sleep button
    static let fixedRTC: UInt32 = 1 << 6  // FIX_RTC: no RTC wake status in fixed space
    static let resetRegisterSupported: UInt32 = FADT.resetRegisterSupported  // bit 10
  }

  /// IA-PC boot architecture flags (Table 5.11).
  enum BootArchitecture {
    static let legacyDevices: UInt16 = 1 << 0  // LPC/ISA devices (the COM1 UART)
    // Bit 1, 8042, stays clear: no keyboard controller.
    static let vgaNotPresent: UInt16 = 1 << 2
    // Bit 3, MSI Not Supported, stays clear.
    static let cmosRTCNotPresent: UInt16 = 1 << 5
  }

  /// P_LVL2_LAT above 100 and P_LVL3_LAT above 1000 say C2 and C3 are unsupported.
  static let noLevel2: UInt16 = 101
  static let noLevel3: UInt16 = 1001

  static func make(
    _ configuration: GuestACPIConfiguration, facsAddress: UInt32, dsdtAddress: UInt64
  ) -> [UInt8] {
    var fadt = [UInt8](repeating: 0, count: length)
    fadt.storeLittleEndian(facsAddress, at: Offset.firmwareControl)
    // DSDT and X_DSDT agree, so neither 32-bit nor 64-bit readers are misled.
    fadt.storeLittleEndian(UInt32(truncatingIfNeeded: dsdtAddress), at: Offset.dsdt)
    fadt.storeLittleEndian(dsdtAddress, at: Offset.extendedDSDT)
    fadt.storeLittleEndian(configuration.sciInterrupt, at: Offset.sciInterrupt)
    // SMI_CMD, ACPI_ENABLE and ACPI_DISABLE stay 0: the platform is always in ACPI mode.

    let events = ioRegister(configuration.pm1aEvent, bytes: 4)
    fadt.storeLittleEndian(UInt32(configuration.pm1aEvent), at: Offset.pm1aEvent)
    fadt[Offset.pm1EventLength] = 4
    fadt.store(events, at: Offset.extendedPM1aEvent)
    fadt.storeLittleEndian(UInt32(configuration.pm1aControl), at: Offset.pm1aControl)
    fadt[Offset.pm1ControlLength] = 2
    fadt.store(ioRegister(configuration.pm1aControl, bytes: 2), at: Offset.extendedPM1aControl)
    if let timer = configuration.pmTimer {
      fadt.storeLittleEndian(UInt32(timer), at: Offset.pmTimer)
      fadt[Offset.pmTimerLength] = 4
      fadt.store(ioRegister(timer, bytes: 4), at: Offset.extendedPMTimer)
    }

    fadt.storeLittleEndian(noLevel2, at: Offset.level2Latency)
    fadt.storeLittleEndian(noLevel3, at: Offset.level3Latency)
    fadt.storeLittleEndian(bootArchitecture(configuration), at: Offset.bootArchitecture)
    let flags =
      Flag.wbinvd | Flag.processorC1 | Flag.powerButton | Flag.sleepButton | Flag.fixedRTC
      | Flag.resetRegisterSupported
    fadt.storeLittleEndian(flags, at: Offset.flags)
    fadt.store(genericAddress(configuration.resetRegister.register), at: Offset.resetRegister)
    fadt[Offset.resetValue] = configuration.resetRegister.value
    fadt[Offset.minorVersion] = minorVersion
    return GuestACPITable.make(
      signature: ACPISignature.fadt, revision: revision,
      body: Array(fadt[ACPITableHeader.size...]))
  }

  static func bootArchitecture(_ configuration: GuestACPIConfiguration) -> UInt16 {
    let flags = BootArchitecture.legacyDevices | BootArchitecture.vgaNotPresent
    return configuration.hasCMOSClock ? flags : flags | BootArchitecture.cmosRTCNotPresent
  }

  /// A system I/O Generic Address for a block of `bytes` at `port`. The bit width must equal
  /// the block's `*_LEN` × 8; access size 0 means "legacy" (§5.2.3.2).
  static func ioRegister(_ port: UInt16, bytes: UInt8) -> [UInt8] {
    genericAddress(
      ACPIGenericAddress(
        addressSpace: ACPIGenericAddress.systemIO, bitWidth: bytes * 8, bitOffset: 0,
        accessSize: 0, address: UInt64(port)))
  }

  /// The 12 bytes of a Generic Address Structure (§5.2.3.2, Table 5.1).
  static func genericAddress(_ address: ACPIGenericAddress) -> [UInt8] {
    var bytes = [address.addressSpace, address.bitWidth, address.bitOffset, address.accessSize]
    bytes.appendLittleEndian(address.address)
    return bytes
  }
}
