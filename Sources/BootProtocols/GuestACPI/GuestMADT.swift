/// The guest's Multiple APIC Description Table (ACPI 6.4 §5.2.12): one enabled Processor
/// Local APIC per vCPU, one I/O APIC, the ISA overrides and the LINT1 NMI connection.
enum GuestMADT {
  /// MADT revision in ACPI 6.4.
  static let revision: UInt8 = 5
  /// Flags 0: PCAT_COMPAT clear, no 8259 PICs to mask.
  static let flags: UInt32 = 0

  /// MPS INTI flags (§5.2.12.5, Table 5.26): polarity bits 1:0, trigger mode bits 3:2.
  enum InterruptFlags {
    static let activeHighEdge: UInt16 = 0b01 | 0b01 << 2
    static let activeHighLevel: UInt16 = 0b01 | 0b11 << 2
  }

  static func make(_ configuration: GuestACPIConfiguration) -> [UInt8] {
    var body: [UInt8] = []
    body.appendLittleEndian(configuration.localAPICAddress)
    body.appendLittleEndian(flags)
    for vcpu in 0..<configuration.vcpuCount {
      // Type 0, length 8: ACPI Processor UID, APIC ID, flags bit 0 Enabled (§5.2.12.2).
      body += [MADT.EntryType.localAPIC, 8, UInt8(vcpu), UInt8(vcpu)]
      body.appendLittleEndian(MADT.enabledFlag)
    }
    // Type 1, length 12: I/O APIC ID, reserved, address, GSI base (§5.2.12.3).
    body += [MADT.EntryType.ioAPIC, 12, UInt8(configuration.vcpuCount), 0]
    body.appendLittleEndian(configuration.ioAPICAddress)
    body.appendLittleEndian(UInt32(0))
    // The PIT's IRQ 0 arrives at I/O APIC input 2, as on PC hardware.
    body += interruptOverride(irq: 0, gsi: 2, flags: InterruptFlags.activeHighEdge)
    // The SCI is level triggered (§5.2.9 SCI_INT); active high as the hypervisor drives it.
    let sci = configuration.sciInterrupt
    body += interruptOverride(
      irq: UInt8(truncatingIfNeeded: sci), gsi: UInt32(sci), flags: InterruptFlags.activeHighLevel)
    // Type 4, length 6: every processor (UID 0xFF) has NMI on LINT1 (§5.2.12.7).
    body += [4, 6, 0xFF, 0, 0, 1]
    return GuestACPITable.make(signature: ACPISignature.madt, revision: revision, body: body)
  }

  /// Type 2, length 10: bus 0 (ISA), source IRQ, GSI, flags (§5.2.12.5).
  static func interruptOverride(irq: UInt8, gsi: UInt32, flags: UInt16) -> [UInt8] {
    var entry: [UInt8] = [2, 10, 0, irq]
    entry.appendLittleEndian(gsi)
    entry.appendLittleEndian(flags)
    return entry
  }
}
