/// The PCI host bridge a guest's ACPI tables describe (docs/guest-io.md): ECAM for its buses
/// (the MCFG table, PCI Firmware 3.0 §4.1.2), and the root device `\_SB.PCI0` in the DSDT
/// (PNP0A03, ACPI 6.4 §6.1.5) whose _CRS gives the bus range, the configuration ports
/// 0xCF8-0xCFF, the I/O windows around them and the memory-BAR window (§6.4), and whose _PRT
/// routes every slot's INTA-INTD to GSIs (§6.2.13).
public struct GuestPCIHostBridge: Equatable, Sendable {
  /// ECAM base (bus `firstBus` at offset 0) and the buses it covers.
  public var ecamBase: UInt64
  public var firstBus: UInt8
  public var lastBus: UInt8
  /// Memory-BAR window [memoryBase, memoryBase + memorySize), below 4 GiB.
  public var memoryBase: UInt32
  public var memorySize: UInt32
  /// INTx: pin P (0 = INTA) of slot S is GSI `firstGSI + (S + P) % gsiCount`.
  public var firstGSI: UInt32
  public var gsiCount: UInt32

  public init(
    ecamBase: UInt64, firstBus: UInt8 = 0, lastBus: UInt8 = 0, memoryBase: UInt32,
    memorySize: UInt32, firstGSI: UInt32, gsiCount: UInt32
  ) {
    self.ecamBase = ecamBase
    self.firstBus = firstBus
    self.lastBus = lastBus
    self.memoryBase = memoryBase
    self.memorySize = memorySize
    self.firstGSI = firstGSI
    self.gsiCount = gsiCount
  }

  /// The ECAM window: 1 MiB per bus.
  public var ecamRange: PhysicalRange {
    PhysicalRange(
      start: ecamBase, end: ecamBase + (UInt64(lastBus) - UInt64(firstBus) + 1) << 20)
  }

  /// The GSI of `pin` (0 = INTA) of device `slot`.
  public func gsi(slot: Int, pin: Int) -> UInt32 {
    firstGSI + UInt32((slot + pin) % Int(gsiCount))
  }
}
