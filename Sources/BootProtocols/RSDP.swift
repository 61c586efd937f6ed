/// The ACPI Root System Description Pointer copied into the information block
/// (Multiboot2 spec §3.6.16 "ACPI old RSDP" and §3.6.17 "ACPI new RSDP").
public enum RSDP: Equatable, Sendable {
  /// ACPI 1.0: `address` is the physical address of the RSDP copy inside the information block.
  case v1(address: UInt64, rsdtAddress: UInt32)
  /// ACPI 2.0 and later: the XSDT supersedes the RSDT.
  case v2(address: UInt64, xsdtAddress: UInt64)
}
