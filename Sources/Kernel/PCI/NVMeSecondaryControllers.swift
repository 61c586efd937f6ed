import CArch
import PCI

/// Brings an NVMe PF's secondary controllers (one per VF) online (NVM Express 1.4 §8.5:
/// Virtualization Enhancements). QEMU 7.2 starts every secondary controller offline with no
/// resources; until the PF is told, through its admin queue, to give it flexible queue (VQ)
/// and interrupt (VI) resources and set it online, the VF's controller reports CSTS.CFS
/// (0x2, fatal) and no driver can use it. Measured here: each VF's CSTS is read before and
/// after and both are printed.
enum NVMeSecondaryControllers {
  static func bringOnline(_ pf: PCIFunction, _ vfs: [SRIOVDevices.VirtualFunction]) {
    guard let bar0 = pf.bars.first?.memoryBase, bar0 != 0,
      KernelPageTables.mapDevice(physical: bar0, length: 0x2000)
    else {
      fail(pf.address, "its BAR0 is not placed")
      return
    }
    let before = vfs.map { status($0) }
    guard var queue = NVMeAdminQueue.start(registers: bar0) else { return }
    guard
      let primaryBytes = queue.identify(cns: NVMeAdmin.primaryControllerCapabilities, count: 80),
      let primary = NVMePrimaryControllerCapabilities(primaryBytes),
      let share = primary.share(among: vfs.count)
    else {
      fail(pf.address, "no usable Primary Controller Capabilities (too few flexible VQ/VI?)")
      return
    }
    guard
      let listBytes = queue.identify(cns: NVMeAdmin.secondaryControllerList, count: 4096)
    else {
      fail(pf.address, "Identify of the Secondary Controller List failed")
      return
    }
    let secondaries = NVMeSecondaryController.list(listBytes)
    var online: [(vf: SRIOVDevices.VirtualFunction, controller: UInt16)] = []
    for vf in vfs {
      guard let secondary = secondaries.first(where: { Int($0.virtualFunction) == vf.number })
      else { continue }
      let id = secondary.id
      // §5.22: resources are assigned to an offline secondary only.
      let steps: [[UInt32]] = [
        NVMeAdmin.virtualization(.secondaryOffline, controller: id, id: 0),
        NVMeAdmin.virtualization(
          .secondaryAssign, resource: .queues, controller: id, count: share.queues, id: 0),
        NVMeAdmin.virtualization(
          .secondaryAssign, resource: .interrupts, controller: id, count: share.interrupts,
          id: 0),
        NVMeAdmin.virtualization(.secondaryOnline, controller: id, id: 0),
      ]
      var failed: NVMeCompletion? = nil
      var timedOut = false
      for step in steps {
        guard let done = queue.run(step) else {
          timedOut = true
          break
        }
        if !done.succeeded {
          failed = done
          break
        }
      }
      if !timedOut && failed == nil { online.append((vf, id)) }
      guard Log.begin(timedOut || failed != nil ? .warning : .info) else { continue }
      Console.write("pci sriov ")
      SRIOVDevices.write(vf.address)
      Console.write(": NVMe secondary controller ")
      Console.write(decimal: UInt64(id))
      if timedOut {
        Console.write(": a Virtualization Management command got no completion")
      } else if let failed {
        Console.write(": Virtualization Management failed, status ")
        Console.write(hex: UInt64(failed.status))
      } else {
        Console.write(" online with ")
        Console.write(decimal: UInt64(share.queues))
        Console.write(" VQ and ")
        Console.write(decimal: UInt64(share.interrupts))
        Console.write(" VI")
      }
      if let index = vfs.firstIndex(where: { $0.address == vf.address }) {
        Console.write("; VF CSTS ")
        Console.write(hex: UInt64(before[index]))
        Console.write(" before, ")
        Console.write(hex: UInt64(status(vf)))
        Console.write(" after")
      }
      Log.end()
    }
    if online.count < vfs.count {
      fail(pf.address, "not every secondary controller went online")
    }
    if !online.isEmpty {
      NVMeNamespaces.attach(
        &queue, pf: pf.address, primary: primary.controllerID, secondaries: online)
    }
  }

  /// The VF controller's CSTS (§3.1.6) through its BAR0, memory decoding on meanwhile (the
  /// command register is restored); 0xFFFFFFFF when it has no BAR0.
  static func status(_ vf: SRIOVDevices.VirtualFunction) -> UInt32 {
    guard let base = vf.bars.first?.memoryBase else { return 0xFFFF_FFFF }
    let space = PortConfigurationSpace(address: vf.address)
    let command = space.read16(0x04)
    space.write16(0x04, command | PCICommand.memorySpace)
    let status = mmio_read32(base + NVMeRegister.status)
    space.write16(0x04, command)
    return status
  }

  /// After a VF's reset at the end of its VM (CPU 0): says whether its secondary controller
  /// is still usable by the next owner (CSTS.CFS clear) without the PF's admin queue.
  /// Then its namespaces are audited (`NVMeNamespaces.audit`).
  static func reportAfterReset(_ address: PCIAddress) {
    guard let vf = SRIOVDevices.virtualFunction(at: address), vf.isNVMe else { return }
    defer { NVMeNamespaces.audit(address) }
    guard Log.begin(.info) else { return }
    let status = status(vf)
    Console.write("pci sriov ")
    SRIOVDevices.write(address)
    Console.write(": after its reset, VF CSTS ")
    Console.write(hex: UInt64(status))
    Console.write(
      status & NVMeRegister.fatal == 0
        ? " (secondary controller still online)" : " (secondary controller offline)")
    Log.end()
  }

  private static func fail(_ pf: PCIAddress, _ why: StaticString) {
    guard Log.begin(.warning) else { return }
    Console.write("pci sriov ")
    SRIOVDevices.write(pf)
    Console.write(": NVMe secondary controllers not brought online: ")
    Console.write(why)
    Log.end()
  }
}
