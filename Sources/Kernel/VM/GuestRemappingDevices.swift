import HypervisorCore

/// `iommu=vtd` and `edu=on` (docs/virtual-iommu.md), attached at VM build once the loader
/// has installed the platform: the virtual VT-d unit on its register page, in front of the
/// I/O APIC's entries and of every emulated function attached here after it; QEMU's edu
/// device on the PCI bus, its DMA and MSIs through the unit when there is one.
enum GuestRemappingDevices {
  /// nil, or why the VM is refused.
  static func attach(in vm: VirtualMachine) -> StaticString? {
    let profile = vm.profile
    guard profile.virtualIOMMU || profile.eduDevice else { return nil }
    guard let platform = vm.pciPlatform else {
      return "iommu=vtd and edu=on need a PCI bus (kind=linux, kind=multiboot, or apic=on)"
    }
    var unit: VirtualRemappingUnit? = nil
    if profile.virtualIOMMU {
      let made = VirtualRemappingUnit(
        memory: vm.memory, events: platform.messageSignaledInterrupts)
      made.reporter = RemappingFaultLog(vmName: vm.name)
      vm.mmio.register(
        made, base: VirtualRemappingIdentity.base, size: VirtualRemappingIdentity.size)
      platform.ioAPIC?.remapping = made
      vm.virtualIOMMU = made
      unit = made
    }
    guard profile.eduDevice else { return nil }
    guard let slot = platform.freeSlot else { return PCIPlatform.Refusal.noFreeSlot.message }
    let requester = RequesterID(bus: 0, device: UInt8(slot), function: 0)
    let edu = EduDevice(dma: DeviceDMA(memory: vm.memory, unit: unit, requester: requester))
    if let unit {
      edu.routeMessages(
        through: RemappedMessageSink(
          unit: unit, requester: requester, destination: platform.messageSignaledInterrupts))
    }
    if case .failure(let refusal) = platform.attach(edu) { return refusal.message }
    return nil
  }
}

/// A vIOMMU fault on the console: "vIOMMU fault: VM NAME device 00:03.0 read of 0x...:
/// REASON". The first `limit` of a VM's faults are printed; all are counted by the unit.
final class RemappingFaultLog: VirtualRemappingFaultReporter {
  static let limit = 16
  private let vmName: [UInt8]
  private var printed = 0

  init(vmName: [UInt8]) { self.vmName = vmName }

  func report(_ fault: RemappingFault, code: UInt8) {
    guard printed < Self.limit else { return }
    printed += 1
    guard Log.begin(.warning) else { return }
    Console.write("vIOMMU fault: VM ")
    Console.write(bytes: vmName)
    Console.write(" device ")
    Self.writeTwoDigits(fault.requester.bus)
    Console.write(":")
    Self.writeTwoDigits(fault.requester.device)
    Console.write(".")
    Console.write(decimal: UInt64(fault.requester.function))
    if fault.isInterruptFault {
      Console.write(" interrupt index ")
      Console.write(decimal: UInt64(fault.interruptIndex))
    } else {
      Console.write(fault.isRead ? " read of " : " write to ")
      Console.write(hex: fault.address)
    }
    Console.write(": ")
    Console.write(fault.reason.message)
    Console.write(" (reason ")
    Console.write(hex: UInt64(code), digits: 2)
    Console.write(")")
    if printed == Self.limit { Console.write("; further faults of this VM are only counted") }
    Log.end()
  }

  /// Two hexadecimal digits, no prefix (a bus or device number).
  static func writeTwoDigits(_ value: UInt8) {
    for nibble in [value >> 4, value & 0xF] {
      Console.write(nibble < 10 ? nibble + 0x30 : nibble + 0x57)
    }
  }
}
