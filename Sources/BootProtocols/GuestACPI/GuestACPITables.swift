/// Builds the ACPI tables a guest boots with, so that it discovers exactly its virtual
/// machine: RSDP (revision 2), FACS, RSDT, XSDT, FADT, MADT, DSDT (ACPI 6.4 §5.2) and,
/// with a PCI host bridge, MCFG (PCI Firmware 3.0 §4.1.2), with a virtual VT-d unit, DMAR
/// (VT-d spec rev 4.1 §8.1),
/// packed in one block with every checksum set.
///
/// Layout from `base`: the RSDP first (so a legacy scan of 0xE0000–0xFFFFF finds it when
/// `base` is in that range, §5.2.5.1), the FACS on the next 64-byte boundary, then each
/// table on a 16-byte boundary.
public enum GuestACPITables {
  static let tableAlignment = 16

  /// The tables for `configuration`, to be copied to `base`.
  ///
  /// - Precondition: `base` is 64-byte aligned and the tables end below 4 GiB (the RSDT and
  ///   FIRMWARE_CTRL hold 32-bit addresses); `vcpuCount` is in 1...254.
  public static func build(base: UInt64, configuration: GuestACPIConfiguration)
    -> GuestACPIImage
  {
    precondition(
      base % UInt64(GuestFACS.alignment) == 0, "acpi tables base must be 64-byte aligned")
    precondition(
      configuration.vcpuCount >= 1
        && configuration.vcpuCount <= GuestACPIConfiguration.maximumVCPUCount,
      "acpi vcpu count must be in 1...254")
    var bytes = [UInt8](repeating: 0, count: GuestRSDP.size)
    let facs = place(GuestFACS.make(), in: &bytes, alignment: GuestFACS.alignment)
    let madtTable = GuestMADT.make(configuration)
    let dsdtTable = GuestDSDT.make(
      sleepTypeS5: configuration.sleepTypeS5, pciHostBridge: configuration.pciHostBridge)
    let mcfgTable = configuration.pciHostBridge.map(GuestMCFG.make)
    let dmarTable = configuration.remappingUnit.map(GuestDMAR.make)
    // The root tables list the FADT, MADT, then MCFG and DMAR where present; compute every
    // offset before filling them in.
    let extraTables = [mcfgTable, dmarTable].compactMap { $0 }
    let rootCount = 2 + extraTables.count
    let rsdt = align(bytes.count, to: tableAlignment)
    let xsdt = align(rsdt + ACPITableHeader.size + rootCount * 4, to: tableAlignment)
    let fadt = align(xsdt + ACPITableHeader.size + rootCount * 8, to: tableAlignment)
    let madt = align(fadt + GuestFADT.length, to: tableAlignment)
    let dsdt = align(madt + madtTable.count, to: tableAlignment)
    var extraOffsets: [Int] = []
    var end = dsdt + dsdtTable.count
    for table in extraTables {
      let offset = align(end, to: tableAlignment)
      extraOffsets.append(offset)
      end = offset + table.count
    }
    precondition(base + UInt64(end) <= 0x1_0000_0000, "acpi tables must lie below 4 GiB")

    let address = { (offset: Int) -> UInt64 in base + UInt64(offset) }
    var rsdtBody: [UInt8] = []
    var xsdtBody: [UInt8] = []
    for offset in [fadt, madt] + extraOffsets {
      rsdtBody.appendLittleEndian(UInt32(address(offset)))
      xsdtBody.appendLittleEndian(address(offset))
    }
    bytes += [UInt8](repeating: 0, count: end - bytes.count)
    bytes.store(
      GuestRSDP.make(rsdtAddress: UInt32(address(rsdt)), xsdtAddress: address(xsdt)), at: 0)
    bytes.store(
      GuestACPITable.make(signature: ACPISignature.rsdt, revision: 1, body: rsdtBody), at: rsdt)
    bytes.store(
      GuestACPITable.make(signature: ACPISignature.xsdt, revision: 1, body: xsdtBody), at: xsdt)
    bytes.store(
      GuestFADT.make(
        configuration, facsAddress: UInt32(address(facs)), dsdtAddress: address(dsdt)),
      at: fadt)
    bytes.store(madtTable, at: madt)
    bytes.store(dsdtTable, at: dsdt)
    for (table, offset) in zip(extraTables, extraOffsets) { bytes.store(table, at: offset) }
    let mcfg = mcfgTable.map { _ in extraOffsets[0] }
    let dmar = dmarTable.map { _ in extraOffsets[extraOffsets.count - 1] }
    return GuestACPIImage(
      base: base, bytes: bytes, rsdpAddress: base, facsAddress: address(facs),
      rsdtAddress: address(rsdt), xsdtAddress: address(xsdt), fadtAddress: address(fadt),
      madtAddress: address(madt), dsdtAddress: address(dsdt), mcfgAddress: mcfg.map(address),
      dmarAddress: dmar.map(address))
  }

  /// The same, for a machine with the defaults of `GuestACPIConfiguration` otherwise.
  public static func build(
    base: UInt64, vcpuCount: Int, pm1aEvent: UInt16, pm1aControl: UInt16, sleepTypeS5: UInt8,
    pmTimer: UInt16? = nil, hasCMOSClock: Bool = false,
    pciHostBridge: GuestPCIHostBridge? = nil, remappingUnit: GuestDMARUnit? = nil
  ) -> GuestACPIImage {
    var configuration = GuestACPIConfiguration(
      vcpuCount: vcpuCount, pm1aEvent: pm1aEvent, pm1aControl: pm1aControl,
      sleepTypeS5: sleepTypeS5, pmTimer: pmTimer, hasCMOSClock: hasCMOSClock,
      pciHostBridge: pciHostBridge)
    configuration.remappingUnit = remappingUnit
    return build(base: base, configuration: configuration)
  }

  /// Appends `table` at the next `alignment` boundary of `bytes`; returns its offset.
  static func place(_ table: [UInt8], in bytes: inout [UInt8], alignment: Int) -> Int {
    let offset = align(bytes.count, to: alignment)
    bytes += [UInt8](repeating: 0, count: offset - bytes.count)
    bytes += table
    return offset
  }

  static func align(_ offset: Int, to alignment: Int) -> Int {
    (offset + alignment - 1) / alignment * alignment
  }
}
