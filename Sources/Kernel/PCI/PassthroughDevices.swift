import CArch
import HypervisorCore
import PCI
import Synchronization

/// Host PCI functions passed through to VMs (docs/passthrough.md): the node's claims table
/// (PassthroughClaims), the functions the node keeps for itself (its management and data
/// NICs), and each function's quiescing when its VM ends. Configuration space is reached
/// through ports 0xCF8/0xCFC, which only CPU 0 uses (PortConfigurationSpace): claims are
/// made by the control service there and resets run from its service tick, while
/// `released` (on whichever CPU the VM's last vCPU leaves) only marks the claims.
enum PassthroughDevices {
  nonisolated(unsafe) private static var claims = PassthroughClaims()
  nonisolated(unsafe) private static var reserved: [PassthroughClaims.Reserved] = []
  /// Function-level resets under way: the function and the TSC before which it must not be
  /// touched (PCIe 3.0 §6.6.2: 100 ms after an FLR is initiated).
  nonisolated(unsafe) private static var resetting:
    [(function: PassthroughFunction, until: UInt64)] = []
  private static let lock = TicketLock()
  /// Set by `released`, cleared by `service` once no reset is left: the tick's only cost
  /// while nothing ends.
  private static let work = Atomic<Bool>(false)

  /// The node drives `address` itself (boot, before any VM): never given to a VM.
  static func reserve(_ address: PCIAddress, role: StaticString) {
    guard
      let function = PassthroughFunction(
        bus: address.bus, device: address.device, function: address.function)
    else { return }
    lock.withLock { reserved.append(PassthroughClaims.Reserved(address: function, role: role)) }
    IOMMU.lock.withLock {
      IOMMU.nodeDevices.append(
        RequesterID(bus: address.bus, device: address.device, function: address.function))
    }
  }

  /// Gives the VM being built (no vCPU runs yet) its DMA-remapping domain over its RAM with
  /// every function it owns (VT-d context entries or AMD-Vi DTEs by requester id:
  /// `IOMMU.attachVM` picks the node's unit), so their DMA reaches that RAM and nothing else;
  /// nil when done, else why the VM can't have them. Detached by `IOMMU.vmReleased` when the
  /// VM is released, before its RAM is freed.
  static func attachDomain(_ vm: VirtualMachine) -> StaticString? {
    let devices = vm.profile.passthrough.map {
      RequesterID(bus: $0.bus, device: $0.device, function: $0.function)
    }
    guard IOMMU.confinesDMA else {
      return
        "the node has no IOMMU (no VT-d unit, no AMD-Vi): a passed-through function's DMA could not be confined to the VM"
    }
    // An NVMe VF's shadow admin queue (NVMeAdminShadow): the device may read it, not write.
    guard let shadows = NVMeShadowQueues.make(for: vm.profile.passthrough, vmName: vm.name)
    else {
      return "the node has no memory left for an NVMe VF's shadow admin queue"
    }
    var readOnly: [(iova: UInt64, host: UInt64)] = []
    for shadow in shadows {
      for frame in 0..<NVMeShadowQueue.frames {
        readOnly.append((shadow.iova + UInt64(frame) * 4096, shadow.host + UInt64(frame) * 4096))
      }
    }
    guard
      let domain = IOMMU.attachVM(
        vmName: vm.name, memory: vm.memory, readOnly: readOnly, devices: devices)
    else {
      return "no DMA-remapping domain could be made for the VM's PCI functions"
    }
    if Log.begin(.info) {
      Console.write("passthrough: vm ")
      Console.write(bytes: vm.name)
      Console.write(": IOMMU domain ")
      Console.write(decimal: UInt64(domain.id))
      Console.write(" over its RAM for")
      for function in vm.profile.passthrough {
        Console.write(" pci ")
        Console.write(bytes: function.text)
      }
      Console.write(", ")
      Console.write(decimal: UInt64(domain.tableFrames))
      Console.write(" table frames, ")
      Console.write(domain.how)
      Log.end()
    }
    return nil
  }

  /// Records `functions` as `vm`'s, or says why not (CPU 0). The headers are read here, so a
  /// function that is not on the bus is refused by name.
  static func claim(_ functions: [PassthroughFunction], for vm: [UInt8]) -> [UInt8]? {
    var host: [PassthroughClaims.HostFunction] = []
    for function in functions where function.segment == 0 {
      let space = PortConfigurationSpace(
        address: PCIAddress(bus: function.bus, device: function.device, function: function.function)
      )
      // An SR-IOV VF's header reads vendor 0xFFFF: it is known from its PF (SRIOVDevices).
      guard
        let header = PCIHeader(space)
          ?? SRIOVDevices.function(
            at: PCIAddress(
              bus: function.bus, device: function.device, function: function.function))?.header
      else { continue }
      // Class 06 subclass 00/01: the host bridge and the ISA (LPC) bridge are the platform.
      let platform = header.classCode == 0x06 && header.subclass <= 0x01
      host.append(
        PassthroughClaims.HostFunction(
          address: function, isBridge: header.layout != 0, isPlatform: platform))
    }
    return lock.withLock {
      claims.claim(functions, for: vm, host: host, reserved: reserved)
    }
  }

  /// The functions `vm` owns (for its status).
  static func functions(of vm: [UInt8]) -> [PassthroughFunction] {
    lock.withLock { claims.functions(of: vm) }
  }

  /// `vm` was released or never built (any CPU): its functions wait for CPU 0 to reset
  /// them. Its IOMMU domain is detached right after by the caller, so until the reset the
  /// device's DMA finds no context entry.
  static func released(vm: [UInt8]) {
    let ended = lock.withLock { claims.release(vm: vm) }
    if !ended.isEmpty { work.store(true, ordering: .releasing) }
  }

  /// CPU 0, every service tick: quiesces the functions of ended VMs and completes resets
  /// whose wait is over; a function is claimable again only after this.
  static func service() {
    guard work.load(ordering: .acquiring) else { return }
    let now = arch_rdtsc()
    let pending = lock.withLock { claims.pendingResets }
    for function in pending {
      let started = lock.withLock { resetting.first { $0.function == function } }
      if let started {
        guard now >= started.until else { continue }
        finish(function)
        continue
      }
      if let wait = quiesce(function) {
        lock.withLock {
          resetting.append((function, now &+ wait &* LocalAPIC.tscPerMillisecond))
        }
      } else {
        finish(function)
      }
    }
    lock.withLock {
      if claims.pendingResets.isEmpty { work.store(false, ordering: .releasing) }
    }
  }

  private static func finish(_ function: PassthroughFunction) {
    PassthroughInterrupts.release(function)
    // Reset, and its domain detached at release: nothing fetches from its shadow now.
    NVMeShadowQueues.release(function)
    lock.withLock {
      resetting.removeAll { $0.function == function }
      claims.resetDone(function)
    }
    guard Log.begin(.info) else { return }
    Console.write("passthrough: pci ")
    Console.write(bytes: function.text)
    Console.write(" quiet and free (bus mastering off")
    Console.write(resetKind(function))
    Log.end()
    NVMeSecondaryControllers.reportAfterReset(
      PCIAddress(bus: function.bus, device: function.device, function: function.function))
    logHypervisorChecksum("its owner ended")
  }

  /// How each function was reset, for the line that frees it.
  nonisolated(unsafe) private static var resets:
    [(function: PassthroughFunction, how: StaticString)] = []

  /// Stops the function's DMA and interrupts and starts its reset; the milliseconds to wait
  /// before it may be used again, or nil when it is already done.
  private static func quiesce(_ function: PassthroughFunction) -> UInt64? {
    let address = PCIAddress(
      bus: function.bus, device: function.device, function: function.function)
    let space = PortConfigurationSpace(address: address)
    guard let found = PCIBus.function(at: address) else {
      record(function, ", gone from the bus)")
      return nil
    }
    // PCI Local Bus 3.0 §6.2.2: bus master off stops its DMA, I/O decode off, INTx disabled;
    // MSI (§6.8.1.3 bit 0) and MSI-X (§6.8.2.3 bit 15) enables off. Memory decoding stays
    // on only as long as a virtio reset below needs it.
    let command = space.read16(0x04)
    space.write16(
      0x04,
      command & ~(PCICommand.busMaster | PCICommand.ioSpace) | PCICommand.interruptDisable)
    var flr: UInt8? = nil
    for capability in found.capabilities {
      switch capability.id {
      case PCICapability.msi:
        space.write16(capability.offset + 2, space.read16(capability.offset + 2) & ~1)
      case PCICapability.msiX:
        // §6.8.2.3: function mask (bit 14) on, enable (bit 15) off; every real entry masked
        // (§6.8.2.9) too, so the next owner's routing starts from a silent table.
        let control = space.read16(capability.offset + 2)
        space.write16(capability.offset + 2, control & ~(1 << 15) | 1 << 14)
        maskMSIXTable(found, capability: capability.offset)
      case PCICapability.pciExpress:
        // PCIe 3.0 §7.8.3: Device Capabilities bit 28, Function Level Reset Capability.
        if space.read32(capability.offset + 4) & (1 << 28) != 0 { flr = capability.offset }
      default: break
      }
    }
    if let flr {
      space.write16(0x04, space.read16(0x04) & ~PCICommand.memorySpace)
      // §7.8.4: Device Control bit 15, Initiate Function Level Reset; §6.6.2: wait 100 ms.
      space.write16(flr + 8, space.read16(flr + 8) | 1 << 15)
      record(function, ", function-level reset)")
      return 100
    }
    // No FLR (QEMU's virtio-pci on the root bus has no PCI Express capability): a virtio
    // function is reset through its own common configuration (virtio 1.1 §4.1.4.3: writing
    // 0 to device_status), so it forgets its queues, their addresses and its MSI-X vectors.
    let reset = virtioReset(found)
    space.write16(0x04, space.read16(0x04) & ~PCICommand.memorySpace)
    record(
      function,
      reset
        ? ", virtio device reset)"
        : "; no function-level or virtio reset: the next owner's driver resets the device)")
    return nil
  }

  /// Writes 1 (masked) to every vector-control word of the function's real MSI-X table
  /// (memory decoding on for it; the caller turns it off afterwards).
  private static func maskMSIXTable(_ function: PCIFunction, capability: UInt8) {
    guard let msix = MSIXCapability(function.space, at: capability),
      msix.tableBAR < function.bars.count,
      let base = function.bars[msix.tableBAR].memoryBase,
      let size = function.bars[msix.tableBAR].memorySize,
      UInt64(msix.tableOffset) + UInt64(msix.tableSize) * 16 <= size,
      KernelPageTables.mapDevice(physical: base, length: size)
    else { return }
    function.space.write16(0x04, function.space.read16(0x04) | PCICommand.memorySpace)
    for entry in 0..<msix.tableSize {
      mmio_write32(base + UInt64(msix.tableOffset) + UInt64(entry) * 16 + 12, 1)
    }
  }

  /// Writes 0 to a modern virtio function's device_status and waits (bounded) until it
  /// reads back 0. False for a function that is not virtio or whose structure is unusable.
  private static func virtioReset(_ function: PCIFunction) -> Bool {
    guard function.header.vendorID == VirtioPCIIdentity.vendor,
      let common = VirtioPCICapability.all(function.space, capabilities: function.capabilities)
        .first(where: { $0.kind == .common }),
      common.bar < function.bars.count,
      let base = function.bars[common.bar].memoryBase,
      let size = function.bars[common.bar].memorySize,
      UInt64(common.offset) + UInt64(VirtioCommonConfiguration.deviceStatus) < size,
      KernelPageTables.mapDevice(physical: base, length: size)
    else { return false }
    function.space.write16(0x04, function.space.read16(0x04) | PCICommand.memorySpace)
    let status = base + UInt64(common.offset) + UInt64(VirtioCommonConfiguration.deviceStatus)
    mmio_write8(status, 0)
    for _ in 0..<1_000_000 {
      if mmio_read8(status) == 0 { return true }
      arch_pause()
    }
    return false
  }

  private static func record(_ function: PassthroughFunction, _ how: StaticString) {
    lock.withLock {
      resets.removeAll { $0.function == function }
      resets.append((function, how))
    }
  }

  private static func resetKind(_ function: PassthroughFunction) -> StaticString {
    lock.withLock {
      let how = resets.first { $0.function == function }?.how ?? ")"
      resets.removeAll { $0.function == function }
      return how
    }
  }
}
