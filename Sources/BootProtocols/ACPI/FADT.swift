/// Fixed ACPI Description Table fields the hypervisor uses (ACPI 6.4 §5.2.9, Table 5.9).
enum FADT {
  static let dsdtOffset = 40
  static let smiCommandOffset = 48
  static let acpiEnableOffset = 52
  static let pm1aControlOffset = 64
  static let pm1bControlOffset = 68
  static let flagsOffset = 112
  static let resetRegisterOffset = 116
  static let resetValueOffset = 128
  static let extendedDSDTOffset = 140
  static let extendedPM1aControlOffset = 172
  static let extendedPM1bControlOffset = 184

  /// The ACPI 1.0 FADT ends after Flags; every field used without a length check lies within.
  static let minimumLength = 116
  /// Flags bit 10, RESET_REG_SUP (§5.2.9, Table 5.10).
  static let resetRegisterSupported: UInt32 = 1 << 10

  /// Fills in the power-off, ACPI-enable and reset information from a valid FADT.
  static func read<M: ACPIMemory>(_ fadt: TableBytes, into info: inout ACPIInformation, memory: M) {
    guard fadt.count >= minimumLength else {
      info.powerOffError = .tableTruncated(signature: ACPISignature.fadt)
      return
    }
    info.acpiEnable = acpiEnable(fadt)
    info.resetRegister = resetRegister(fadt)
    do {
      info.powerOff = try powerOff(fadt, tables: &info.tables, memory: memory)
    } catch {
      info.powerOffError = error
    }
  }

  /// PM1 control ports from the FADT, SLP_TYP values from `\_S5` in the DSDT (§7.4.2).
  /// The DSDT is appended to `tables` whenever its header is readable.
  static func powerOff<M: ACPIMemory>(
    _ fadt: TableBytes, tables: inout [ACPITableEntry], memory: M
  ) throws(ACPIError) -> ACPIPowerOff {
    let dsdt = loadDSDT(fadt, tables: &tables, memory: memory)
    guard
      let pm1a = controlPort(
        fadt, legacyOffset: pm1aControlOffset, extendedOffset: extendedPM1aControlOffset)
    else { throw .pm1aControlBlockMissing }
    let pm1b = controlPort(
      fadt, legacyOffset: pm1bControlOffset, extendedOffset: extendedPM1bControlOffset)
    guard let dsdt, dsdt.header.signature == ACPISignature.dsdt, let bytes = dsdt.validBytes else {
      throw .dsdtUnreadable
    }
    let body = TableBytes(UnsafeRawBufferPointer(rebasing: bytes.bytes[ACPITableHeader.size...]))
    switch AMLSleepState.search(body) {
    case .found(let sleepTypeA, let sleepTypeB):
      return ACPIPowerOff(
        pm1aControlBlock: pm1a, pm1bControlBlock: pm1b, sleepTypeA: sleepTypeA,
        sleepTypeB: sleepTypeB)
    case .malformed: throw .s5Malformed
    case .missing: throw .s5Missing
    }
  }

  /// The DSDT, from X_DSDT when the FADT is long enough to hold it and it is non-zero,
  /// otherwise from the 32-bit DSDT field (§5.2.9).
  static func loadDSDT<M: ACPIMemory>(
    _ fadt: TableBytes, tables: inout [ACPITableEntry], memory: M
  ) -> LoadedTable? {
    var address = UInt64(fadt.u32(at: dsdtOffset))
    if fadt.count >= extendedDSDTOffset + 8, fadt.u64(at: extendedDSDTOffset) != 0 {
      address = fadt.u64(at: extendedDSDTOffset)
    }
    guard address != 0, let table = LoadedTable.load(at: address, memory: memory) else {
      return nil
    }
    tables.append(ACPITableEntry(address: address, header: table.header))
    return table
  }

  /// A PM1x_CNT port: the 32-bit field when non-zero, else the extended Generic Address
  /// when the table holds it and it names a system I/O port.
  static func controlPort(_ fadt: TableBytes, legacyOffset: Int, extendedOffset: Int) -> UInt16? {
    let legacy = fadt.u32(at: legacyOffset)
    if legacy != 0 {
      return legacy <= UInt32(UInt16.max) ? UInt16(legacy) : nil
    }
    guard fadt.count >= extendedOffset + ACPIGenericAddress.size else { return nil }
    return ACPIGenericAddress(decoding: fadt, at: extendedOffset).ioPort
  }

  /// SMI_CMD and ACPI_ENABLE; a zero SMI_CMD means the platform has no legacy mode (§5.2.9).
  static func acpiEnable(_ fadt: TableBytes) -> ACPIEnableCommand? {
    let port = fadt.u32(at: smiCommandOffset)
    let value = fadt[acpiEnableOffset]
    guard port != 0, port <= UInt32(UInt16.max), value != 0 else { return nil }
    return ACPIEnableCommand(port: UInt16(port), value: value)
  }

  /// RESET_REG and RESET_VALUE, present from FADT revision 2 and valid only with
  /// RESET_REG_SUP set (§5.2.9, §4.8.3.6).
  static func resetRegister(_ fadt: TableBytes) -> ACPIResetRegister? {
    guard fadt.count > resetValueOffset,
      fadt.u32(at: flagsOffset) & resetRegisterSupported != 0
    else { return nil }
    let register = ACPIGenericAddress(decoding: fadt, at: resetRegisterOffset)
    guard register.address != 0 else { return nil }
    return ACPIResetRegister(register: register, value: fadt[resetValueOffset])
  }
}
