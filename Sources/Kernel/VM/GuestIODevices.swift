import HypervisorCore

/// The devices a profile asks for on the VM's PCI bus (docs/guest-io.md), attached at VM
/// build once the loader has installed the platform: `rng=on` a virtio-rng function
/// (VirtioEntropyDevice behind VirtioPCIFunction) fed by the host's RDRAND.
enum GuestIODevices {
  /// nil, or why the VM is refused.
  static func attach(in vm: VirtualMachine) -> StaticString? {
    guard vm.profile.entropyDevice else { return nil }
    guard vm.pciPlatform != nil else {
      return "rng=on needs a PCI bus (kind=linux, kind=multiboot, or apic=on)"
    }
    let model = VirtioEntropyDevice(source: HardwareEntropySource())
    let memory = vm.memory
    let attached = PCIPlatform.attach(to: vm) { messages, intx in
      VirtioPCIFunction(model: model, memory: memory, interrupts: messages, interruptLine: intx)
    }
    if case .failure(let refusal) = attached { return refusal.message }
    return nil
  }
}
