/// The machine a guest's ACPI tables describe: its processors, interrupt controllers and the
/// fixed ACPI hardware (PM1 registers, reset register) the hypervisor models.
public struct GuestACPIConfiguration: Equatable, Sendable {
  /// The most vCPUs: processor UIDs and APIC IDs are 0..<vcpuCount in 8-bit fields, 0xFF
  /// means "all processors" in the local APIC NMI structure, and the I/O APIC takes ID
  /// `vcpuCount`.
  public static let maximumVCPUCount = 254
  /// I/O port 0xCF9, the reset control register; 0x06 requests a full (SYS_RST | RST_CPU) reset.
  public static let resetControlRegister = ACPIResetRegister(
    register: ACPIGenericAddress(
      addressSpace: ACPIGenericAddress.systemIO, bitWidth: 8, bitOffset: 0, accessSize: 1,
      address: 0xCF9),
    value: 0x06)

  /// Processors, given local APIC IDs 0..<vcpuCount.
  public var vcpuCount: Int
  /// PM1a_EVT_BLK: 4 bytes, PM1 status (16 bits) then PM1 enable (ACPI 6.4 §4.8.3.1).
  public var pm1aEvent: UInt16
  /// PM1a_CNT_BLK: 2 bytes, PM1 control (§4.8.3.2).
  public var pm1aControl: UInt16
  /// PM_TMR_BLK: the 24-bit, 3.579545 MHz power-management timer, nil when not modelled.
  public var pmTimer: UInt16?
  /// The SLP_TYPx value `\_S5` gives, written to PM1a_CNT to power off (§7.4.2).
  public var sleepTypeS5: UInt8
  /// SCI_INT: the ISA IRQ (and GSI) the SCI is wired to.
  public var sciInterrupt: UInt16
  /// RESET_REG and RESET_VALUE; RESET_REG_SUP is always set.
  public var resetRegister: ACPIResetRegister
  /// Whether a CMOS RTC exists at ports 0x70/0x71; clear sets IAPC_BOOT_ARCH "CMOS RTC Not
  /// Present" so the OS leaves those ports alone.
  public var hasCMOSClock: Bool
  public var localAPICAddress: UInt32
  public var ioAPICAddress: UInt32
  /// The PCI host bridge (MCFG and `\_SB.PCI0`), nil for a machine without PCI.
  public var pciHostBridge: GuestPCIHostBridge?
  /// The virtual VT-d unit (a DMAR table), nil for a machine without one.
  public var remappingUnit: GuestDMARUnit? = nil

  public init(
    vcpuCount: Int, pm1aEvent: UInt16, pm1aControl: UInt16, sleepTypeS5: UInt8,
    pmTimer: UInt16? = nil, sciInterrupt: UInt16 = 9,
    resetRegister: ACPIResetRegister = GuestACPIConfiguration.resetControlRegister,
    hasCMOSClock: Bool = false, localAPICAddress: UInt32 = 0xFEE0_0000,
    ioAPICAddress: UInt32 = 0xFEC0_0000, pciHostBridge: GuestPCIHostBridge? = nil
  ) {
    self.vcpuCount = vcpuCount
    self.pm1aEvent = pm1aEvent
    self.pm1aControl = pm1aControl
    self.pmTimer = pmTimer
    self.sleepTypeS5 = sleepTypeS5
    self.sciInterrupt = sciInterrupt
    self.resetRegister = resetRegister
    self.hasCMOSClock = hasCMOSClock
    self.localAPICAddress = localAPICAddress
    self.ioAPICAddress = ioAPICAddress
    self.pciHostBridge = pciHostBridge
  }
}
