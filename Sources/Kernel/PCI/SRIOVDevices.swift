import CArch
import PCI

/// SR-IOV physical functions and their virtual functions (docs/passthrough.md, "SR-IOV"):
/// at boot, before any VM and before the other CPUs start, every function with an SR-IOV
/// capability gets up to `maxVFs` VFs: their BARs placed in a free part of the PCI hole,
/// NumVFs, VF Enable and VF MSE set. An NVMe PF's secondary controllers are then brought
/// online through its admin queue, which QEMU 7.2 requires before a VF's controller works.
/// Each VF is then a function like any other for `<passthrough pci=.../>`; the PF is
/// reserved for the node (a VM owning it could disable the VFs or take their resources back
/// under the other VMs). Written once at boot, read afterwards: no lock.
enum SRIOVDevices {
  struct VirtualFunction {
    let address: PCIAddress
    let physical: PCIAddress
    /// 1-based, as the SR-IOV capability and the NVMe secondary controller list count.
    let number: Int
    /// From the PF (§9.3.4.1.1/2: a VF's own vendor and device ID registers read 0xFFFF).
    let vendorID: UInt16
    let deviceID: UInt16
    /// BAR0-5 of this VF: its slice of each of the PF's VF BAR regions.
    let bars: [PCIBaseAddress]
    /// Its PF is an NVMe controller (class 01.08.02): the VF is a secondary controller.
    let isNVMe: Bool
  }

  nonisolated(unsafe) static var virtualFunctions: [VirtualFunction] = []
  static let maxVFs = 8
  /// The PCI hole of QEMU's q35 above the ECAM window (0xB0000000-0xBFFFFFFF) and below the
  /// I/O APIC (0xFEC00000): SeaBIOS places BARs from the top down, leaving the bottom free.
  static let window: (start: UInt64, end: UInt64) = (0xC000_0000, 0xFEC0_0000)

  static func virtualFunction(at address: PCIAddress) -> VirtualFunction? {
    virtualFunctions.first { $0.address == address }
  }

  /// A VF decoded as a function (identity from the PF, class and capabilities from its
  /// own configuration space, BARs from the PF), for claims and resets.
  static func function(at address: PCIAddress) -> PCIFunction? {
    guard let vf = virtualFunction(at: address) else { return nil }
    let space = PortConfigurationSpace(address: address)
    let header = PCIHeader(virtualFunction: space, vendorID: vf.vendorID, deviceID: vf.deviceID)
    return PCIFunction(
      address: address, header: header, bars: vf.bars,
      capabilities: PCICapability.list(space, header: header))
  }

  static func start(_ functions: [PCIFunction]) {
    guard !PCIExpressConfiguration.regions.isEmpty else {
      if functions.contains(where: { $0.header.classCode == 0x01 && $0.header.subclass == 0x08 }) {
        Log.info("pci sriov: no MCFG (ECAM): extended capabilities unreadable, no VFs")
      }
      return
    }
    // Only the offsets here: a capability is read (and its VF BARs sized) once, below.
    let physical = functions.filter { $0.header.layout == 0 }.compactMap {
      function -> (PCIFunction, ECAMConfigurationSpace, UInt16)? in
      guard let space = PCIExpressConfiguration.space(function.address),
        let offset = SRIOVCapability.find(space)
      else { return nil }
      return (function, space, offset)
    }
    guard !physical.isEmpty else { return }
    // Everything already decoded is marked before anything is placed (ROMs are sized only
    // now that there is something to place).
    var gap = PCIMemoryGap(start: window.start, end: window.end)
    for region in PCIExpressConfiguration.regions {
      gap.markUsed(base: region.base, size: region.length)
    }
    for function in functions { markDecoded(function, in: &gap) }
    for (function, space, offset) in physical {
      guard let capability = SRIOVCapability(space, at: offset), capability.totalVFs > 0 else {
        continue
      }
      enable(function, space: space, capability, functions: functions, gap: &gap)
    }
  }

  private static func enable(
    _ function: PCIFunction, space: ECAMConfigurationSpace, _ found: SRIOVCapability,
    functions: [PCIFunction], gap: inout PCIMemoryGap
  ) {
    let pf = function.address
    let started = arch_rdtsc()
    PassthroughDevices.reserve(
      pf, role: "is an SR-IOV physical function (the node manages its VFs)")
    if found.vfEnabled {
      refuse(pf, "VFs already enabled by the firmware: left as they are, not offered")
      return
    }
    let count = UInt16(min(Int(found.totalVFs), maxVFs))
    // §9.3.3.9/10: offset and stride are valid only once NumVFs is written.
    space.write16(found.offset + SRIOVCapability.Register.numVFs, count)
    guard let capability = SRIOVCapability(space, at: found.offset) else { return }
    let addresses: [PCIAddress]
    let regions: [(index: Int, size: UInt64, is64Bit: Bool)]
    do throws(SRIOVError) {
      addresses = try capability.virtualFunctions(of: pf, count: Int(count))
      regions = try capability.regions(count: Int(count))
    } catch {
      space.write16(found.offset + SRIOVCapability.Register.numVFs, 0)
      refuse(pf, error.message)
      return
    }
    if addresses.contains(where: { vf in functions.contains { $0.address == vf } }) {
      space.write16(found.offset + SRIOVCapability.Register.numVFs, 0)
      refuse(pf, "a VF's routing ID is taken by another function")
      return
    }
    var bases: [(index: Int, base: UInt64)] = []
    for region in regions {
      guard let base = gap.place(size: region.size) else {
        space.write16(found.offset + SRIOVCapability.Register.numVFs, 0)
        refuse(pf, "no free range in the PCI hole for the VF BARs")
        return
      }
      bases.append((region.index, base))
    }
    // The PF decodes its own BARs and masters its DMA (its admin queue, below).
    function.space.write16(
      0x04, function.space.read16(0x04) | PCICommand.memorySpace | PCICommand.busMaster)
    guard
      let enabled = SRIOVCapability.enable(
        space, at: found.offset, count: count, bases: bases)
    else { return }
    // §9.3.3.3.1: the PF has 100 ms after VF Enable before its VFs must answer.
    let deadline = arch_rdtsc() &+ 100 &* LocalAPIC.tscPerMillisecond
    while arch_rdtsc() < deadline { arch_pause() }
    SRIOVCapability.enableMemory(space, at: found.offset)
    let isNVMe =
      function.header.classCode == 0x01 && function.header.subclass == 0x08
      && function.header.programmingInterface == 0x02
    var vfs: [VirtualFunction] = []
    for (index, address) in addresses.enumerated() {
      var bars = [PCIBaseAddress](repeating: .unused, count: 6)
      for (bar, region) in enabled.bars.enumerated() {
        guard case .memory(_, _, let is64Bit, let prefetchable) = region,
          let slice = enabled.vfBAR(bar, vf: index + 1)
        else { continue }
        bars[bar] = .memory(
          base: slice.base, size: slice.size, is64Bit: is64Bit, prefetchable: prefetchable)
        _ = KernelPageTables.mapDevice(physical: slice.base, length: slice.size)
      }
      vfs.append(
        VirtualFunction(
          address: address, physical: pf, number: index + 1, vendorID: function.header.vendorID,
          deviceID: enabled.vfDeviceID, bars: bars, isNVMe: isNVMe))
    }
    report(pf, enabled, vfs)
    if isNVMe { NVMeSecondaryControllers.bringOnline(function, vfs) }
    virtualFunctions.append(contentsOf: vfs)
    guard Log.begin(.info) else { return }
    Console.write("pci sriov ")
    write(pf)
    Console.write(": VFs ready ")
    Console.write(decimal: (arch_rdtsc() &- started) / max(LocalAPIC.tscPerMillisecond, 1))
    Console.write(" ms after the capability was read (100 ms of it the VF Enable wait)")
    Log.end()
  }

  /// Marks what `function` decodes: its memory BARs, its expansion ROM (sized like a BAR,
  /// PCI Local Bus 3.0 §6.2.5.2) and, for a bridge, its memory windows.
  private static func markDecoded(_ function: PCIFunction, in gap: inout PCIMemoryGap) {
    for bar in function.bars {
      if case .memory(let base, let size, _, _) = bar { gap.markUsed(base: base, size: size) }
    }
    let space = function.space
    let rom: UInt8 = function.header.layout == 1 ? 0x38 : 0x30
    let original = space.read32(rom)
    space.write32(rom, 0xFFFF_F800)
    let mask = space.read32(rom) & 0xFFFF_F800
    space.write32(rom, original)
    if mask != 0 {
      gap.markUsed(base: UInt64(original & 0xFFFF_F800), size: UInt64(~mask &+ 1))
    }
    guard function.header.layout == 1 else { return }
    // Memory base/limit (0x20) and prefetchable base/limit (0x24): 1 MiB granules.
    for register: UInt8 in [0x20, 0x24] {
      let word = space.read32(register)
      let base = UInt64(word & 0xFFF0) << 16
      let limit = UInt64(word >> 16 & 0xFFF0) << 16 | 0xF_FFFF
      if limit > base { gap.markUsed(base: base, size: limit - base + 1) }
    }
  }

  private static func refuse(_ pf: PCIAddress, _ why: StaticString) {
    guard Log.begin(.warning) else { return }
    Console.write("pci sriov ")
    write(pf)
    Console.write(": ")
    Console.write(why)
    Log.end()
  }

  /// "pci sriov 0000:00:04.0: 2 VFs at 0000:00:04.1, 0000:00:04.2 (VF 1b36:0010, offset 1
  /// stride 1; VF BAR0 mem64 0xc0000000+0x4000 each)".
  private static func report(
    _ pf: PCIAddress, _ capability: SRIOVCapability, _ vfs: [VirtualFunction]
  ) {
    guard Log.begin(.info) else { return }
    Console.write("pci sriov ")
    write(pf)
    Console.write(": ")
    Console.write(decimal: UInt64(vfs.count))
    Console.write(" VFs at ")
    for (index, vf) in vfs.enumerated() {
      if index > 0 { Console.write(", ") }
      write(vf.address)
    }
    Console.write(" (VF ")
    NetLog.hex(UInt64(vfs.first?.vendorID ?? 0), digits: 4)
    Console.write(":")
    NetLog.hex(UInt64(capability.vfDeviceID), digits: 4)
    Console.write(", TotalVFs ")
    Console.write(decimal: UInt64(capability.totalVFs))
    Console.write(", offset ")
    Console.write(decimal: UInt64(capability.firstVFOffset))
    Console.write(" stride ")
    Console.write(decimal: UInt64(capability.vfStride))
    for (index, bar) in capability.bars.enumerated() {
      guard case .memory(let base, let size, let is64Bit, _) = bar else { continue }
      Console.write("; VF BAR")
      Console.write(decimal: UInt64(index))
      Console.write(is64Bit ? " mem64 " : " mem ")
      Console.write(hex: base)
      Console.write("+")
      Console.write(hex: size)
      Console.write(" each")
    }
    Console.write(")")
    Log.end()
  }

  static func write(_ address: PCIAddress) {
    Console.write("0000:")
    NetLog.hex(UInt64(address.bus), digits: 2)
    Console.write(":")
    NetLog.hex(UInt64(address.device), digits: 2)
    Console.write(".")
    Console.write(decimal: UInt64(address.function))
  }
}
