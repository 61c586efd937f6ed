// fuzz-modules: BootProtocols
// The \_S5 search in a DSDT's AML (ACPI 6.4 §7.4.2, §20.2): the power-off sleep types read
// from firmware bytecode, with its package lengths and integer encodings.
//
// Input: the AML, the DSDT's body after its 36-byte header.
import BootProtocols

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  _ = ACPITables.findS5(aml: UnsafeRawBufferPointer(start: data, count: size))
  return 0
}
