import CArch
import VMX

/// Reads and writes fields of the current VMCS (VMREAD/VMWRITE, SDM 3C §25.11.1).
enum VMCS {
  @inline(__always)
  static func read(_ field: VMCSField) -> UInt64 { arch_vmread(UInt64(field.rawValue)) }

  @inline(__always)
  static func write(_ field: VMCSField, _ value: UInt64) {
    if !arch_vmwrite(UInt64(field.rawValue), value) {
      Log.begin(.error)
      Console.write("VMWRITE failed for field ")
      Console.write(hex: UInt64(field.rawValue), digits: 4)
      Console.write(": ")
      Console.write(
        VMXDiagnostics.describeInstructionError(UInt32(truncatingIfNeeded: read(.instructionError)))
      )
      Log.end()
    }
  }
}
