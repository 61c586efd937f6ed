import HypervisorCore
import PCI

/// `iommu=selftest` on an AMD-Vi node: the same experiment as `IOMMUSelfTest` (the node's
/// NIC in a stand-in VM's 64 KiB domain; its transmit-descriptor read lands outside the
/// domain and must be refused), with the AMD-Vi event log as the report. The raw first
/// event-log entry and the tail register are printed too: QEMU 7.2's model does not keep
/// the spec's event-log protocol (docs/iommu.md), and this is how that shows.
enum AMDViSelfTest {
  static func run() {
    guard let nic = PCIBus.enumerate().first(where: { $0.header.classCode == 0x02 }) else {
      Log.error("iommu selftest: no network controller to assign")
      return
    }
    guard let ram = PhysicalFrames.allocateZeroed(frames: 16) else {
      Log.error("iommu selftest: no memory for the stand-in VM")
      return
    }
    defer { PhysicalFrames.free(ram, frames: 16) }
    var map = GuestMemoryMap()
    map.add(GuestMemoryRegion(guestPhysical: 0, hostAddress: ram, size: 16 << 12))
    let device = RequesterID(
      bus: nic.address.bus, device: nic.address.device, function: nic.address.function)
    let free = PhysicalFrames.freeFrames
    guard
      let domain = AMDVi.attach(vmName: Array("selftest-vm".utf8), memory: map, devices: [device])
    else {
      Log.error("iommu selftest: domain not created")
      return
    }
    if Log.begin(.info) {
      Console.write("iommu selftest: AMD-Vi domain ")
      Console.write(decimal: UInt64(domain.id))
      Console.write(" for selftest-vm, ")
      Console.write(decimal: UInt64(domain.frames.recorded.count))
      Console.write(" table frames, DTE mode 4")
      Log.end()
    }
    var frame = [UInt8](repeating: 0xFF, count: 6) + [UInt8](repeating: 0, count: 6)
    frame += [0x88, 0xB5] + [UInt8](repeating: 0, count: 46)
    let sent = ManagementNetwork.node?.device.send(frame) ?? false
    if !sent { Log.warning("iommu selftest: the NIC took no frame (no ip= on the command line?)") }
    let deadline = ManagementNetwork.milliseconds() + 2_000
    while domain.faults == 0, ManagementNetwork.milliseconds() < deadline {
      ManagementNetwork.service()
      AMDVi.pollEvents()
    }
    if let unit = AMDVi.unit, Log.begin(.info) {
      let entry = UnsafePointer<UInt64>(bitPattern: UInt(unit.eventLog))!
      Console.write("iommu selftest: event log tail register ")
      Console.write(hex: unit.read64(AMDViRegister.eventTail))
      Console.write(", status ")
      Console.write(hex: unit.read64(AMDViRegister.status))
      Console.write(", raw entry 0 ")
      Console.write(hex: entry[0])
      Console.write(" ")
      Console.write(hex: entry[1])
      Log.end()
    }
    AMDVi.detach(domain)
    if Log.begin(.info) {
      Console.write("iommu selftest: ")
      Console.write(decimal: UInt64(domain.faults))
      Console.write(" fault(s) for selftest-vm; domain torn down, device back to pass-through")
      Console.write(", table frames back: ")
      Console.write(PhysicalFrames.freeFrames == free ? "all" : "NOT all")
      Log.end()
    }
  }
}
