/// Walks the ACPI tables from the RSDP the boot loader found (ACPI 6.4 §5.2).
public enum ACPITables {
  /// Reads the RSDP, its RSDT or XSDT, and the FADT, DSDT and MADT they lead to.
  ///
  /// Only problems that hide every table throw. A listed table that is unreadable or fails
  /// its checksum is recorded and skipped; if that loses the power-off information,
  /// `powerOffError` says why.
  ///
  /// - Parameters:
  ///   - rsdp: The RSDP as multiboot2 gave it (the copy's physical address; for v1 the RSDT
  ///     address, for v2 the XSDT address).
  ///   - memory: Reads physical memory.
  public static func discover<M: ACPIMemory>(
    rsdp: RSDP, memory: M
  ) throws(ACPIError) -> ACPIInformation {
    let root = try RootTable.locate(rsdp: rsdp, memory: memory)
    let rootTable = try root.load(memory: memory)
    var info = ACPIInformation()
    info.tables.append(ACPITableEntry(address: root.address, header: rootTable.header))

    var fadt: TableBytes? = nil
    var fadtTruncated = false
    var madt: TableBytes? = nil
    for address in root.entries(of: rootTable) {
      guard let table = LoadedTable.load(at: address, memory: memory) else { continue }
      info.tables.append(ACPITableEntry(address: address, header: table.header))
      // The first valid instance of each table wins; duplicates are not expected.
      if table.header.signature == ACPISignature.fadt, fadt == nil {
        fadt = table.validBytes
        fadtTruncated = table.bytes == nil
      } else if table.header.signature == ACPISignature.madt, madt == nil {
        madt = table.validBytes
      }
    }

    if let fadt {
      FADT.read(fadt, into: &info, memory: memory)
    } else {
      info.powerOffError =
        fadtTruncated ? .tableTruncated(signature: ACPISignature.fadt) : .fadtMissing
    }
    if let madt { MADT.read(madt, into: &info) }
    return info
  }

  /// Finds `\_S5` in an AML byte stream (the DSDT body): the NameOp '_S5_' PackageOp PkgLength
  /// NumElements then SLP_TYPa and SLP_TYPb, each as ZeroOp/OneOp/BytePrefix n/WordPrefix.
  /// The name may be prefixed by '\' (0x5C). See ACPI 6.4 §7.4.2 and §20.2.
  public static func findS5(aml: UnsafeRawBufferPointer) -> (sleepTypeA: UInt8, sleepTypeB: UInt8)?
  {
    guard case .found(let sleepTypeA, let sleepTypeB) = AMLSleepState.search(TableBytes(aml)) else {
      return nil
    }
    return (sleepTypeA, sleepTypeB)
  }
}
