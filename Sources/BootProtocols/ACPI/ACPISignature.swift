/// Table signatures the hypervisor looks for (ACPI 6.4 §5.2.6, Table 5.5 and Table 5.6).
enum ACPISignature {
  static let rsdt: [UInt8] = [0x52, 0x53, 0x44, 0x54]  // "RSDT"
  static let xsdt: [UInt8] = [0x58, 0x53, 0x44, 0x54]  // "XSDT"
  static let fadt: [UInt8] = [0x46, 0x41, 0x43, 0x50]  // "FACP"
  static let dsdt: [UInt8] = [0x44, 0x53, 0x44, 0x54]  // "DSDT"
  static let madt: [UInt8] = [0x41, 0x50, 0x49, 0x43]  // "APIC"
}
