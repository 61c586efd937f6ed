import HypervisorCore
import Synchronization

/// The PCI lines of a VM's end report: configuration accesses by mechanism (each one an
/// exit: port I/O for 0xCF8-0xCFF, a nested page fault for ECAM), BAR accesses, and MSIs;
/// with `iommu=vtd`, the virtual unit's translations, remapped interrupts and faults.
extension VMReport {
  static func pci(_ vm: VirtualMachine) {
    guard let platform = vm.pciPlatform else { return }
    Console.write("  pci: ")
    Console.write(decimal: platform.configurationPorts.accesses)
    Console.write(" accesses to ports 0xCF8-0xCFF, ")
    Console.write(decimal: platform.configurationWindow.accesses)
    Console.write(" to ECAM, ")
    Console.write(decimal: platform.memoryWindow.accesses)
    Console.write(" to BARs; MSIs ")
    let messages = platform.messageSignaledInterrupts
    Console.write(decimal: messages.delivered.load(ordering: .relaxed))
    Console.write(" delivered, ")
    Console.write(decimal: messages.undelivered.load(ordering: .relaxed))
    Console.write(" undelivered, ")
    Console.write(decimal: messages.droppedAddresses.load(ordering: .relaxed))
    Console.write(" dropped (address outside 0xFEE00000-0xFEEFFFFF)\n")
    guard let unit = vm.virtualIOMMU else { return }
    Console.write("  vIOMMU: ")
    Console.write(decimal: unit.translations)
    Console.write(" DMA translations, ")
    Console.write(decimal: unit.remappedInterrupts)
    Console.write(" interrupts remapped, ")
    Console.write(decimal: unit.faults)
    Console.write(" faults\n")
  }
}
