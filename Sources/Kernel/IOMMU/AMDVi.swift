import BootProtocols
import CArch
import HypervisorCore
import Memory

/// The node's AMD-Vi IOMMU (docs/iommu.md, "AMD-Vi"): the first IOMMU the IVRS table
/// names, one domain per VM that owns a device, and event-log reporting. Used when the
/// firmware offers an IVRS and no DMAR.
///
/// Unlike VT-d's TE, the IOMMU is enabled at start: a DTE with V = 0 passes its device's
/// DMA untranslated (§2.2.2.1), so the node's devices keep working without an identity
/// domain, and only the devices given a domain are translated.
enum AMDVi {
  nonisolated(unsafe) static var unit: AMDViUnit?
  nonisolated(unsafe) static var domains: [AMDViDomain] = []
  nonisolated(unsafe) static var nextDomainID: UInt16 = 1
  nonisolated(unsafe) static var unattributedEvents = 0
  /// Same discipline as `IOMMU.lock`: attach/detach on any CPU, polling on CPU 0.
  static let lock = TicketLock()
  nonisolated(unsafe) static var liveDomains = 0

  static func start(ivrsAddress: UInt64, commandLine: [UInt8]) {
    let length = UnsafeRawPointer(bitPattern: UInt(ivrsAddress + 4))!.loadUnaligned(
      as: UInt32.self)
    let bytes = UnsafeRawBufferPointer(
      start: UnsafeRawPointer(bitPattern: UInt(ivrsAddress)), count: Int(length))
    let table: IVRSTable
    do throws(IVRSError) {
      table = try IVRSTable.parse(bytes)
    } catch {
      Log.line(.warning, error.message)
      return
    }
    let ivhd = table.preferredUnits[0]
    guard var found = AMDViUnit(registerBase: ivhd.registerBase) else {
      Log.error("iommu: could not map the AMD-Vi registers or allocate its tables")
      return
    }
    report(table, ivhd, found)
    guard found.enable() else {
      Log.error("iommu: AMD-Vi command buffer or event log not running after enable")
      return
    }
    guard found.waitForCompletion() else {
      Log.error("iommu: AMD-Vi COMPLETION_WAIT store never came")
      return
    }
    unit = found
    decideInterruptRemapping(ivhd, commandLine: commandLine)
    Log.info(
      "iommu: AMD-Vi enabled (device table 2 MiB, all entries pass-through), command buffer and event log running, COMPLETION_WAIT store seen"
    )
  }

  static func report(_ table: IVRSTable, _ ivhd: IVRSHardwareDefinition, _ unit: AMDViUnit) {
    guard Log.begin(.info) else { return }
    Console.write("iommu: AMD-Vi IVHD type ")
    Console.write(hex: UInt64(ivhd.type))
    Console.write(" at ")
    Console.write(hex: ivhd.registerBase)
    Console.write(", device ")
    IOMMU.write(RequesterID(sourceID: ivhd.deviceID))
    Console.write(", segment ")
    Console.write(decimal: UInt64(ivhd.segment))
    Console.write(", device entries ")
    Console.write(decimal: UInt64(ivhd.devices.count))
    Console.write(", PA size ")
    Console.write(decimal: UInt64(table.physicalAddressSize))
    Console.write("; EFR ")
    Console.write(hex: unit.features.raw)
    Console.write(" (")
    Console.write(unit.features.invalidateAll ? "IA " : "")
    Console.write(unit.features.guestTranslation ? "GT " : "")
    Console.write(unit.features.guestAPIC ? "GA " : "")
    Console.write(unit.features.x2APIC ? "XT " : "")
    Console.write("host levels ")
    Console.write(decimal: UInt64(unit.features.hostTranslationLevels ?? 0))
    Console.write(")")
    Log.end()
  }

  /// A domain for a VM's RAM holding `devices`: their DTEs point at its I/O page tables.
  /// `readOnly`: node pages the devices may read only (`AMDViDomainTables.build`).
  static func attach(
    vmName: [UInt8], memory: GuestMemoryMap, readOnly: [(iova: UInt64, host: UInt64)] = [],
    devices: [RequesterID]
  ) -> AMDViDomain? {
    let keep = nodeDevices()
    return lock.withLock {
      attachLocked(
        vmName: vmName, memory: memory, readOnly: readOnly, devices: devices, nodeDevices: keep)
    }
  }

  private static func attachLocked(
    vmName: [UInt8], memory: GuestMemoryMap, readOnly: [(iova: UInt64, host: UInt64)],
    devices: [RequesterID], nodeDevices: [RequesterID]
  ) -> AMDViDomain? {
    guard var unit else { return nil }
    for device in devices where domains.contains(where: { $0.devices.contains(device) }) {
      Log.warning("iommu: device already in a domain; attach refused")
      return nil
    }
    var frames = RecordingFrameSource()
    let built = AMDViDomainTables.build(
      map: memory, readOnly: readOnly, largestPage: .size2M, memory: IdentityMappedMemory(),
      frames: &frames)
    guard case .success(let tables) = built else {
      frames.releaseAll()
      return nil
    }
    let domain = AMDViDomain(id: nextDomainID, vmName: vmName, devices: devices, frames: frames)
    nextDomainID &+= 1
    let translated = AMDViDeviceTableEntry.translated(
      root: tables.root, levels: AMDViDomainTables<IdentityMappedMemory>.levels,
      domain: domain.id)
    for device in devices {
      var entry = translated
      // Its interrupt table: a VM's function gets a new, empty one (every message
      // target-aborted until `HostMSI` fills an entry); the node's NIC lent to the selftest
      // keeps the one its MSIs already use, if any (no frame is added for it).
      if remapsInterrupts {
        let table =
          nodeDevices.contains(device)
          ? interruptTables.first { $0.device == device }?.table
          : interruptTableLocked(for: device)
        if let table {
          entry = translated.remappingInterrupts(table: table)
        } else if !nodeDevices.contains(device) {
          Log.error("iommu: no memory for an AMD-Vi interrupt table")
          AMDVi.unit = unit
          detachLocked(domain, nodeDevices: nodeDevices)
          return nil
        }
      }
      guard unit.setEntry(device.sourceID, entry, domain: domain.id) else {
        Log.error("iommu: AMD-Vi invalidation not completed")
        AMDVi.unit = unit
        detachLocked(domain, nodeDevices: nodeDevices)
        return nil
      }
    }
    AMDVi.unit = unit
    domains.append(domain)
    liveDomains = domains.count
    return domain
  }

  static func detach(_ domain: AMDViDomain) {
    let keep = nodeDevices()
    lock.withLock { detachLocked(domain, nodeDevices: keep) }
  }

  /// The VM `name` is being released (its functions are marked for reset, its RAM is about to
  /// be freed): its domains go, and its functions' DTEs become blocking ones.
  static func vmReleased(name: [UInt8]) {
    guard unit != nil else { return }
    let keep = nodeDevices()
    lock.withLock {
      for domain in domains where domain.vmName == name {
        detachLocked(domain, nodeDevices: keep)
      }
    }
  }

  /// The node's own devices (its NICs, recorded at boot under `IOMMU.lock`), read before
  /// this unit's lock is taken so the two locks are never nested.
  private static func nodeDevices() -> [RequesterID] {
    IOMMU.lock.withLock { IOMMU.nodeDevices }
  }

  /// A node device goes back to pass-through (V = 0), any other to a blocking DTE (V = 1,
  /// TV = 1, Mode 0, IR = IW = 0: `AMDViDeviceTableEntry.afterDetach` says why). Invalidated
  /// and waited for before the table frames are freed, so no walk can still be reading
  /// them; the next owner's attach overwrites the blocking entry.
  private static func detachLocked(_ domain: AMDViDomain, nodeDevices: [RequesterID]) {
    guard var unit else { return }
    for device in domain.devices {
      let table = interruptTables.first { $0.device == device }?.table
      let entry = AMDViDeviceTableEntry.afterDetach(
        nodeDevice: nodeDevices.contains(device), interruptTable: table)
      _ = unit.setEntry(device.sourceID, entry, domain: domain.id)
    }
    domains.removeAll { $0 === domain }
    liveDomains = domains.count
    AMDVi.unit = unit
    domain.frames.releaseAll()
  }

  static func pollEvents() {
    guard liveDomains > 0 else { return }
    lock.withLock { pollEventsLocked() }
  }

  private static func pollEventsLocked() {
    guard var unit else { return }
    let (events, unknown, overflowed) = unit.drainEvents()
    AMDVi.unit = unit
    for event in events {
      let device = RequesterID(sourceID: event.device)
      let owner = domains.first { $0.devices.contains(device) }
      if event.code == .ioPageFault { owner?.faults += 1 }
      if owner == nil { unattributedEvents += 1 }
      guard Log.begin(.warning) else { continue }
      Console.write("IOMMU fault: ")
      IOMMU.writeSource(vmName: owner?.vmName, device: device)
      Console.write(event.isWrite ? ", write to " : ", read of ")
      Console.write(hex: event.address)
      Console.write(", ")
      Console.write(event.message)
      if let owner {
        Console.write(" (")
        Console.write(decimal: UInt64(owner.faults))
        Console.write(" for this VM)")
      }
      Log.end()
    }
    if unknown > 0 { Log.warning("iommu: AMD-Vi event log entries with no defined event code") }
    if overflowed { Log.warning("iommu: AMD-Vi event log overflowed; some events were lost") }
  }
}

/// One AMD-Vi domain: a VM's devices and the host I/O page tables of its RAM.
final class AMDViDomain {
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
