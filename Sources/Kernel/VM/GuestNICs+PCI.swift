import HypervisorCore

extension GuestNICs {
  /// Puts each of `vm`'s NICs on its PCI bus behind the virtio-pci transport, as firmware
  /// would (PCIPlatform.attach: a slot, BAR addresses, the MSI receiver, INTA). At VM build,
  /// before any vCPU runs. A VM without a PCI bus (a flat guest without apic=on) keeps its
  /// NICs on the switch unreachable; that is said once.
  static func attach(_ nics: [HypervisorCore.VirtioNetDevice], to vm: VirtualMachine) {
    for nic in nics {
      let attached = PCIPlatform.attach(to: vm) { messages, intx in
        VirtioPCIFunction(model: nic, memory: vm.memory, interrupts: messages, interruptLine: intx)
      }
      if case .failure(let refusal) = attached, Log.begin(.warning) {
        Console.write("net: vm ")
        Console.write(bytes: vm.name)
        Console.write(": a guest NIC is on no PCI bus: ")
        Console.write(refusal.message)
        Log.end()
      }
    }
  }
}
