import VMX

/// The current VMCS as a VMCSAccess, for the pure mappings of the VMX module
/// (VMXArchitecturalState): VMREAD and VMWRITE through `VMCS`.
struct CurrentVMCS: VMCSAccess {
  func read(_ field: VMCSField) -> UInt64 { VMCS.read(field) }
  func write(_ field: VMCSField, _ value: UInt64) { VMCS.write(field, value) }
}
