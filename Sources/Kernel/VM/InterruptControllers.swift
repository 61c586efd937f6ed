import HypervisorCore

/// The interrupt controllers of a VM's platform, the same for Linux and flat guests
/// (`apic=on`): a local APIC per vCPU (APIC ID = vCPU index) on the guest clock, and the
/// I/O APIC the MADT describes (ID after the vCPUs') with COM1 on its pin 4. Timers, IPIs
/// and the UART can then wake a halted vCPU. The PCI platform (bus 0, its windows, the MSI
/// receiver) comes with them: it needs the I/O APIC for INTx and the local APICs for MSI.
enum InterruptControllers {
  static func install(in vm: VirtualMachine) {
    for vcpu in vm.vcpus {
      vcpu.localAPIC = LocalAPICModel(
        id: UInt8(truncatingIfNeeded: vcpu.index), clock: TSCClock.shared)
    }
    let ioAPIC = IOAPICModel(id: UInt8(truncatingIfNeeded: vm.vcpus.count), vcpus: vm.vcpus)
    vm.mmio.register(ioAPIC, base: IOAPICModel.base, size: 0x1000)
    vm.serialPort?.interruptLine = InterruptLine(controller: ioAPIC, pin: 4)
    vm.hasInterruptSources = true
    PCIPlatform.install(in: vm, ioAPIC: ioAPIC)
  }
}
