/// Field access to one VMCS: VMREAD and VMWRITE of the current VMCS in the kernel
/// (SDM 3C §25.11.1), a dictionary in host tests. The pure VMCS mappings
/// (VMXArchitecturalState) are written against it.
public protocol VMCSAccess {
  func read(_ field: VMCSField) -> UInt64
  func write(_ field: VMCSField, _ value: UInt64)
}
