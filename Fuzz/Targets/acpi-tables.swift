// fuzz-modules: BootProtocols
// ACPI table discovery (ACPI 6.4 §5.2): the RSDP, the RSDT or XSDT, and the FADT (with the
// DSDT it names and the \_S5 sleep types in its AML), the MADT and every other table the
// root lists, all as firmware might lay them out.
//
// Input: physical memory from address 0, with the RSDP at 0, as multiboot2 copies it: its
// revision (byte 15) picks the ACPI 1.0 form (RSDT at byte 16) or the 2.0 form (XSDT at
// byte 24). Every table address inside is a physical address into the same input.
import BootProtocols

/// The input as physical memory at [0, count); reads that leave it fail, as reads of
/// unmapped memory do in the kernel.
struct InputMemory: ACPIMemory {
  let bytes: UnsafeRawBufferPointer

  func bytes(at physical: UInt64, count: Int) -> UnsafeRawBufferPointer? {
    guard count >= 0, physical <= UInt64(bytes.count),
      UInt64(count) <= UInt64(bytes.count) - physical
    else { return nil }
    return UnsafeRawBufferPointer(rebasing: bytes[Int(physical)..<Int(physical) + count])
  }
}

func littleEndian(_ data: UnsafePointer<UInt8>, at offset: Int, count: Int) -> UInt64 {
  var value: UInt64 = 0
  for index in 0..<count { value |= UInt64(data[offset + index]) << UInt64(index * 8) }
  return value
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  guard size >= 20 else { return 0 }
  let memory = InputMemory(bytes: UnsafeRawBufferPointer(start: data, count: size))
  let rsdp: RSDP
  if data[15] >= 2 && size >= 36 {
    rsdp = .v2(address: 0, xsdtAddress: littleEndian(data, at: 24, count: 8))
  } else {
    rsdp = .v1(address: 0, rsdtAddress: UInt32(littleEndian(data, at: 16, count: 4)))
  }
  let info: ACPIInformation
  do {
    info = try ACPITables.discover(rsdp: rsdp, memory: memory)
  } catch {
    return 0
  }
  precondition(!info.tables.isEmpty, "the root table is listed")
  for table in info.tables {
    precondition(table.address < UInt64(size), "a table outside memory")
  }
  precondition(info.powerOff == nil || info.powerOffError == nil, "power-off and its error")
  if let powerOff = info.powerOff {
    _ = powerOff.controlValue(forB: false)
    _ = powerOff.controlValue(forB: true, preserving: 0xFFFF)
  }
  return 0
}
