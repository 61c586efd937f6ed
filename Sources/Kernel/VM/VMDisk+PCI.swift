import HypervisorCore

extension VMDisk {
  /// Puts `disk` on `vm`'s PCI bus behind a virtio-blk function (the virtio 1.x PCI
  /// transport), as firmware would have configured it; nil, or why not. At VM build only:
  /// no vCPU runs yet.
  static func attach(_ disk: DiskImage, to vm: VirtualMachine) -> StaticString? {
    let device = VirtioBlockDevice(disk: disk)
    let attached = PCIPlatform.attach(to: vm) { messages, intx in
      VirtioPCIFunction(
        model: device, memory: vm.memory, interrupts: messages, interruptLine: intx)
    }
    switch attached {
    case .success:
      vm.disk = disk
      vm.diskDevice = device
      return nil
    case .failure(let refusal): return refusal.message
    }
  }
}
