import HypervisorCore
import PeregrineProfiles

/// Why a VM with passed-through PCI functions (docs/passthrough.md) can be neither migrated
/// nor checkpointed: the function is a host device of its node, not a model whose state the
/// node can save; its registers and the DMA it has in flight are in the device, not in the
/// VM's memory or saved state; and its DMA writes guest memory without a nested-paging
/// write fault, so the dirty log cannot see them (the node refuses the log too,
/// DirtyLogControl). Asked of the profile before anything is paused or moved.
enum PassthroughRefusal {
  static func reason(vm: String, profile: MachineProfile) -> String? {
    guard !profile.passthrough.isEmpty else { return nil }
    let functions = profile.passthrough.map { String(decoding: $0.text, as: UTF8.self) }
      .joined(separator: ", ")
    return
      "\(vm) owns the passed-through PCI function\(profile.passthrough.count == 1 ? "" : "s") \(functions): a host device's state and its DMA in flight are not in the VM's memory or saved state, and the device cannot follow the VM to another node"
  }
}
