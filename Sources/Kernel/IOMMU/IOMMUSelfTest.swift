import HypervisorCore
import PCI

/// `iommu=selftest` on the command line (docs/iommu.md): gives the node's own NIC to a
/// stand-in VM's domain (64 KiB of fresh RAM at guest-physical 0; the NIC's rings sit at
/// host addresses above that, so their addresses fall outside the domain), turns
/// translation on, and has the NIC send one frame: its read of the transmit descriptor (in
/// hypervisor memory, outside the domain) must be refused and reported. Then tears the
/// domain down, which gives the NIC its pass-through entry back (translation stays on).
enum IOMMUSelfTest {
  static func run() {
    guard
      let nic = PCIBus.enumerate().first(where: { $0.header.classCode == 0x02 })
    else {
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
    let contextTableMade = IOMMU.unit?.contextTables[Int(device.bus)] == 0
    guard
      let domain = IOMMU.attach(
        vmName: Array("selftest-vm".utf8), memory: map, devices: [device])
    else {
      Log.error("iommu selftest: domain not created")
      return
    }
    if Log.begin(.info) {
      Console.write("iommu selftest: domain ")
      Console.write(decimal: UInt64(domain.id))
      Console.write(" for selftest-vm, ")
      Console.write(decimal: UInt64(domain.frames.recorded.count))
      Console.write(" table frames, translation ")
      Console.write(IOMMU.unit?.translating == true ? "on" : "off")
      Log.end()
    }
    // A broadcast frame of the IEEE local experimental EtherType 0x88B5, 60 bytes.
    var frame = [UInt8](repeating: 0xFF, count: 6) + [UInt8](repeating: 0, count: 6)
    frame += [0x88, 0xB5] + [UInt8](repeating: 0, count: 46)
    let sent = ManagementNetwork.node?.device.send(frame) ?? false
    if !sent { Log.warning("iommu selftest: the NIC took no frame (no ip= on the command line?)") }
    let deadline = ManagementNetwork.milliseconds() + 5_000
    while domain.faults == 0, ManagementNetwork.milliseconds() < deadline {
      ManagementNetwork.service()
      IOMMU.pollFaults()
    }
    IOMMU.detach(domain)
    if Log.begin(.info) {
      Console.write("iommu selftest: ")
      Console.write(decimal: UInt64(domain.faults))
      Console.write(" fault(s) for selftest-vm; domain torn down, translation ")
      Console.write(IOMMU.unit?.translating == true ? "on" : "off")
      // The bus's context table stays with the unit for later domains.
      Console.write(", table frames back: ")
      Console.write(
        PhysicalFrames.freeFrames + (contextTableMade ? 1 : 0) == free ? "all" : "NOT all")
      Log.end()
    }
  }
}
