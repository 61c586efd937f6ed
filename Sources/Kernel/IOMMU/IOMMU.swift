import BootProtocols
import CArch
import HypervisorCore
import Memory

/// The node's DMA remapping (docs/iommu.md): the first VT-d unit the DMAR table names, one
/// domain per VM that owns a device, and fault reporting.
///
/// Translation stays off until a domain is attached: with TE clear every device DMAs
/// untranslated (VT-d §10.4.4), so the management NIC keeps working with no identity domain.
/// Turning TE on blocks every device without a context entry, so the node's own devices get
/// pass-through entries (ECAP.PT) first; TE then stays on (`detachLocked`).
enum IOMMU {
  nonisolated(unsafe) static var dmarAddress: UInt64 = 0
  /// The IVRS table (AMD-Vi), used only when there is no DMAR (`AMDVi`).
  nonisolated(unsafe) static var ivrsAddress: UInt64 = 0
  nonisolated(unsafe) static var unit: RemappingUnit?
  nonisolated(unsafe) static var domains: [RemappingDomain] = []
  nonisolated(unsafe) static var nextDomainID: UInt16 = 1
  nonisolated(unsafe) static var unattributedFaults = 0
  /// Attach and detach may run on any CPU (a VM is released by the CPU its last vCPU
  /// leaves); fault polling runs on CPU 0. Taken before the console lock, never inside it.
  static let lock = TicketLock()
  /// `domains.count`, readable without the lock (an aligned word: a stale value only
  /// delays a poll by one pass).
  nonisolated(unsafe) static var liveDomains = 0
  /// TE went on with the first domain and stays on: blocked DMA can fault with no domain left.
  nonisolated(unsafe) static var translationOn = false

  /// From the ACPI walk: where the DMAR table is, if any.
  static func tablesFound(_ tables: [ACPITableEntry]) {
    if let dmar = tables.first(where: {
      $0.header.signature == [0x44, 0x4D, 0x41, 0x52] && $0.header.checksumValid
    }) {
      dmarAddress = dmar.address
    }
    if let ivrs = tables.first(where: {
      $0.header.signature == [0x49, 0x56, 0x52, 0x53] && $0.header.checksumValid
    }) {
      ivrsAddress = ivrs.address
    }
  }

  /// Parses the DMAR table, maps the first DRHD's registers, reports CAP/ECAP decoded and
  /// installs an empty root table (translation still off).
  static func start(commandLine: [UInt8]) {
    guard dmarAddress != 0 else {
      if ivrsAddress != 0 {
        AMDVi.start(ivrsAddress: ivrsAddress, commandLine: commandLine)
      } else {
        Log.info("iommu: no DMAR table (no VT-d unit) and no IVRS table (no AMD-Vi)")
      }
      return
    }
    let length = UnsafeRawPointer(bitPattern: UInt(dmarAddress + 4))!.loadUnaligned(
      as: UInt32.self)
    let bytes = UnsafeRawBufferPointer(
      start: UnsafeRawPointer(bitPattern: UInt(dmarAddress)), count: Int(length))
    let table: DMARTable
    do throws(DMARError) {
      table = try DMARTable.parse(bytes)
    } catch {
      Log.line(.warning, error.message)
      return
    }
    let drhd = table.remappingUnits[0]
    guard let found = RemappingUnit(registerBase: drhd.registerBase) else {
      Log.error("iommu: could not map the DRHD registers")
      return
    }
    report(table, drhd, found)
    guard found.capability.pagingLevels != nil else {
      Log.warning("iommu: no 3- or 4-level AGAW offered; not used")
      return
    }
    guard found.setRootTable(), found.invalidateAll() else {
      Log.error("iommu: root table pointer or invalidation not acknowledged")
      return
    }
    var started = found
    Log.info("iommu: root table set (legacy mode), translation off until a device is assigned")
    startInterruptRemapping(&started, commandLine: commandLine)
    unit = started
  }

  /// `iommu=selftest` (it sends through the management NIC, so it runs once that is up;
  /// `start` runs before the NICs, so their MSIs are composed with remapping on).
  static func runSelfTest(commandLine: [UInt8]) {
    guard KernelCommandLine.value(of: "iommu", in: commandLine) == Array("selftest".utf8) else {
      return
    }
    if unit != nil {
      IOMMUSelfTest.run()
    } else if AMDVi.unit != nil {
      AMDViSelfTest.run()
    }
  }

  static func report(_ table: DMARTable, _ drhd: DMARRemappingUnit, _ unit: RemappingUnit) {
    guard Log.begin(.info) else { return }
    let cap = unit.capability
    let ecap = unit.extendedCapability
    Console.write("iommu: VT-d ")
    Console.write(decimal: UInt64(unit.version >> 4 & 0xF))
    Console.write(".")
    Console.write(decimal: UInt64(unit.version & 0xF))
    Console.write(" at ")
    Console.write(hex: drhd.registerBase)
    Console.write(", segment ")
    Console.write(decimal: UInt64(drhd.segment))
    Console.write(drhd.includesAllDevices ? ", all devices" : ", scopes ")
    if !drhd.includesAllDevices { Console.write(decimal: UInt64(drhd.scopes.count)) }
    Console.write(", host width ")
    Console.write(decimal: UInt64(table.hostAddressWidth))
    Console.write(", RMRRs ")
    Console.write(decimal: UInt64(table.reservedRegions.count))
    Console.write("; cap ")
    Console.write(hex: cap.raw)
    Console.write(" (domains ")
    Console.write(decimal: UInt64(cap.domainCount))
    Console.write(", SAGAW ")
    Console.write(hex: UInt64(cap.supportedAddressWidths))
    Console.write(", MGAW ")
    Console.write(decimal: UInt64(cap.maximumGuestAddressWidth))
    Console.write(cap.cachingMode ? ", CM=1" : ", CM=0")
    Console.write(cap.supports2MPages ? ", 2M pages" : "")
    Console.write(", fault records ")
    Console.write(decimal: UInt64(cap.faultRecordCount))
    Console.write(") ecap ")
    Console.write(hex: ecap.raw)
    Console.write(" (")
    Console.write(ecap.queuedInvalidation ? "QI " : "")
    Console.write(ecap.interruptRemapping ? "IR " : "")
    Console.write(ecap.extendedInterruptMode ? "EIM " : "")
    Console.write(ecap.passThrough ? "PT " : "")
    Console.write(ecap.coherentWalks ? "coherent)" : "non-coherent)")
    Log.end()
  }

  /// The node's own DMA-capable devices (its NICs), given pass-through context entries
  /// before translation goes on (PassthroughDevices records them at boot).
  nonisolated(unsafe) static var nodeDevices: [RequesterID] = []

  /// The domain id of the node's pass-through entries: the unit's last, which VM domains
  /// (numbered from 1) never reach.
  static func nodeDomain(_ unit: RemappingUnit) -> UInt16 {
    UInt16(clamping: max(unit.capability.domainCount - 1, 1))
  }

  /// A domain for a VM's RAM, holding `devices`. Translation is turned on with the first.
  /// `readOnly`: node pages the devices may read only (`RemappingDomainTables.build`).
  static func attach(
    vmName: [UInt8], memory: GuestMemoryMap, readOnly: [(iova: UInt64, host: UInt64)] = [],
    devices: [RequesterID]
  ) -> RemappingDomain? {
    lock.withLock {
      attachLocked(vmName: vmName, memory: memory, readOnly: readOnly, devices: devices)
    }
  }

  private static func attachLocked(
    vmName: [UInt8], memory: GuestMemoryMap, readOnly: [(iova: UInt64, host: UInt64)],
    devices: [RequesterID]
  ) -> RemappingDomain? {
    guard var unit, let levels = unit.capability.pagingLevels else { return nil }
    // A device is in one domain at most: a second attach would overwrite its context entry.
    for device in devices where domains.contains(where: { $0.devices.contains(device) }) {
      Log.warning("iommu: device already in a domain; attach refused")
      return nil
    }
    var frames = RecordingFrameSource()
    let built = RemappingDomainTables.build(
      map: memory, readOnly: readOnly, levels: levels,
      largestPage: unit.capability.supports2MPages ? .size2M : .size4K,
      memory: IdentityMappedMemory(), frames: &frames)
    guard case .success(let tables) = built else {
      frames.releaseAll()
      return nil
    }
    let domain = RemappingDomain(
      id: nextDomainID, vmName: vmName, devices: devices, frames: frames)
    nextDomainID &+= 1
    for device in devices {
      guard
        unit.setContext(
          device, .context(tables: tables.top, levels: levels, domain: domain.id),
          domain: domain.id)
      else {
        IOMMU.unit = unit
        detachLocked(domain)
        return nil
      }
    }
    if !unit.translating {
      // Before TE: every device without a context entry is blocked once it is on, and the
      // node's own NICs must keep reaching its memory (docs/passthrough.md).
      for device in nodeDevices where !devices.contains(device) {
        guard unit.extendedCapability.passThrough,
          unit.setContext(
            device, .passThrough(levels: levels, domain: nodeDomain(unit)),
            domain: nodeDomain(unit))
        else {
          Log.error("iommu: no pass-through entry for a node device (ECAP.PT); attach refused")
          IOMMU.unit = unit
          detachLocked(domain)
          return nil
        }
      }
    }
    if !unit.translating, !unit.command(RemappingGlobalBit.translationEnable, set: true) {
      Log.error("iommu: translation enable not acknowledged (GSTS.TES)")
    }
    translationOn = unit.translating
    IOMMU.unit = unit
    domains.append(domain)
    liveDomains = domains.count
    return domain
  }

  /// Removes the domain's context entries, invalidates, and frees its tables (translation
  /// stays on: `detachLocked`).
  static func detach(_ domain: RemappingDomain) {
    lock.withLock { detachLocked(domain) }
  }

  /// The VM `name` is being released (its vCPUs are gone, its RAM is about to be freed):
  /// its domains go first, so no device can reach the RAM once it is reused.
  static func vmReleased(name: [UInt8]) {
    AMDVi.vmReleased(name: name)
    lock.withLock {
      for domain in domains where domain.vmName == name { detachLocked(domain) }
    }
  }

  /// Translation stays on once on: a released VM's function may still be DMAing until CPU 0
  /// quiesces and resets it, and with TE off that DMA would reach host memory untranslated.
  /// Its context entry goes not-present (blocked); a node device lent to a domain (the
  /// selftest's NIC) gets its pass-through entry back.
  private static func detachLocked(_ domain: RemappingDomain) {
    guard var unit else { return }
    for device in domain.devices {
      if unit.translating, nodeDevices.contains(device), unit.extendedCapability.passThrough,
        let levels = unit.capability.pagingLevels
      {
        _ = unit.setContext(
          device, .passThrough(levels: levels, domain: nodeDomain(unit)),
          domain: nodeDomain(unit))
      } else {
        _ = unit.setContext(device, .notPresent, domain: domain.id)
      }
    }
    _ = unit.invalidate(domain: domain.id)
    domains.removeAll { $0 === domain }
    liveDomains = domains.count
    IOMMU.unit = unit
    domain.frames.releaseAll()
  }

  /// Reports and clears recorded faults (CPU 0, with the node's management work).
  static func pollFaults() {
    AMDVi.pollEvents()
    // No domain and no interrupt remapping, no fault: one load per pass, no register read.
    guard liveDomains > 0 || remapsInterrupts || translationOn else { return }
    lock.withLock { pollFaultsLocked() }
  }

  private static func pollFaultsLocked() {
    guard let unit else { return }
    let (faults, overflowed) = unit.drainFaults()
    for fault in faults {
      let owner = domains.first { $0.devices.contains(fault.requester) }
      owner?.faults += 1
      if owner == nil { unattributedFaults += 1 }
      if fault.isInterruptFault {
        interruptFaults += 1
        reportInterruptFault(fault, owner: owner)
        continue
      }
      guard Log.begin(.warning) else { continue }
      Console.write("IOMMU fault: ")
      writeSource(fault, owner: owner)
      Console.write(fault.isRead ? ", read of " : ", write to ")
      Console.write(hex: fault.address)
      Console.write(", ")
      Console.write(fault.reason.message)
      if let owner {
        Console.write(" (")
        Console.write(decimal: UInt64(owner.faults))
        Console.write(" for this VM)")
      }
      Log.end()
    }
    if overflowed { Log.warning("iommu: fault records overflowed; some faults were lost") }
  }
}

extension IOMMU {
  /// `VM NAME, device bb:dd.f` (or `VM (none)`): whose device faulted (VT-d and AMD-Vi).
  static func writeSource(vmName: [UInt8]?, device: RequesterID) {
    Console.write("VM ")
    if let vmName { Console.write(bytes: vmName) } else { Console.write("(none)") }
    Console.write(", device ")
    write(device)
  }

  static func writeSource(_ fault: RemappingFault, owner: RemappingDomain?) {
    writeSource(vmName: owner?.vmName, device: fault.requester)
  }

  /// `bb:dd.f`.
  static func write(_ device: RequesterID) {
    writeHex2(device.bus)
    Console.write(":")
    writeHex2(device.device)
    Console.write(".")
    Console.write(decimal: UInt64(device.function))
  }

  /// `IOMMU interrupt fault: VM NAME, device bb:dd.f, index N, REASON (N blocked so far)`.
  static func reportInterruptFault(_ fault: RemappingFault, owner: RemappingDomain?) {
    guard Log.begin(.warning) else { return }
    Console.write("IOMMU interrupt fault: ")
    writeSource(fault, owner: owner)
    Console.write(", index ")
    Console.write(decimal: UInt64(fault.interruptIndex))
    Console.write(", ")
    Console.write(fault.reason.message)
    Console.write(" (")
    Console.write(decimal: UInt64(interruptFaults))
    Console.write(" blocked so far)")
    Log.end()
  }

  static func writeHex2(_ value: UInt8) {
    let digits: [UInt8] = Array("0123456789abcdef".utf8)
    Console.write(digits[Int(value >> 4)])
    Console.write(digits[Int(value & 0xF)])
  }
}

/// One DMA-remapping domain: a VM's devices and the second-level tables of its RAM.
final class RemappingDomain {
  let id: UInt16
  let vmName: [UInt8]
  let devices: [RequesterID]
  var frames: RecordingFrameSource
  var faults = 0

  init(id: UInt16, vmName: [UInt8], devices: [RequesterID], frames: RecordingFrameSource) {
    self.id = id
    self.vmName = vmName
    self.devices = devices
    self.frames = frames
  }
}
