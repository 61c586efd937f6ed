import BootProtocols
import HypervisorCore

/// AMD-Vi interrupt remapping (docs/iommu.md, "AMD-Vi interrupt remapping"): every device
/// whose MSIs the node composes gets its own table (`AMDViInterruptTable`), named by its
/// DTE (IV = 1, IntCtl = 10b): a function given to a VM from its attach on, the node's own
/// NICs from their first message (their DTE then untranslated, mode 0 with IR and IW, so
/// their DMA is as with V = 0). `HostMSI.message` fills one entry per host vector, so a
/// device can only raise the vectors the node wrote for it.
extension AMDVi {
  /// Set once at start, before any other CPU runs.
  nonisolated(unsafe) static var remapsInterrupts = false
  /// One per device ever given to a VM, kept across owners (a frame each).
  nonisolated(unsafe) static var interruptTables: [AMDViDeviceInterrupts] = []

  /// On when the IVHD lists the I/O APIC (a special device entry, variety 01h, §5.2.2.3):
  /// firmware (and QEMU's amd-iommu, with `intremap=on` only) does so when the IOMMU
  /// remaps interrupts; `intremap=off` on the command line leaves it off.
  static func decideInterruptRemapping(_ ivhd: IVRSHardwareDefinition, commandLine: [UInt8]) {
    let ioAPICs = ivhd.devices.filter {
      if case .special(let variety, _) = $0.kind { return variety == 1 }
      return false
    }
    guard !ioAPICs.isEmpty else {
      Log.info(
        "iommu: AMD-Vi IVHD lists no I/O APIC: no interrupt remapping, MSIs pass unremapped")
      return
    }
    if KernelCommandLine.value(of: "intremap", in: commandLine) == Array("off".utf8) {
      Log.warning(
        "iommu: AMD-Vi interrupt remapping left off (intremap=off): a passed-through function can raise any vector"
      )
      return
    }
    remapsInterrupts = true
    Log.info(
      "iommu: AMD-Vi interrupt remapping on: a table of 256 entries per device the node takes MSIs from (DTE IV, IntCtl 10b)"
    )
    // The node programs no I/O APIC (its sources are MSIs and the local APIC timer), so
    // whatever the IOMMU takes as coming from one is refused: its DTE blocks DMA and
    // target-aborts interrupts (IV = 1, IntCtl = 00b). This also catches writes to
    // 0xFEExxxxx that reach the IOMMU without a requester id, which QEMU's model attributes
    // to the I/O APIC's id (docs/iommu.md).
    guard var unit else { return }
    for ioAPIC in ioAPICs {
      guard unit.setEntry(ioAPIC.first, .blocked, domain: 0) else {
        Log.error("iommu: AMD-Vi invalidation not completed")
        continue
      }
      guard Log.begin(.info) else { continue }
      Console.write("iommu: AMD-Vi I/O APIC ")
      IOMMU.write(RequesterID(sourceID: ioAPIC.first))
      Console.write(" unused by the node: its DTE blocks (interrupts target-aborted)")
      Log.end()
    }
    AMDVi.unit = unit
  }

  /// `device`'s table frame, made on first use (under `lock`); nil when out of memory.
  static func interruptTableLocked(for device: RequesterID) -> UInt64? {
    if let held = interruptTables.first(where: { $0.device == device }) { return held.table }
    guard let frame = PhysicalFrames.allocateZeroed(frames: 1) else { return nil }
    interruptTables.append(AMDViDeviceInterrupts(device: device, table: frame))
    return frame
  }

  /// An entry of `requester`'s table sending `vector` to `apicID`: its index (the MSI's
  /// data), or nil when the table is full or the IOMMU did not acknowledge. A device in no
  /// domain (the node's NICs) gets its table here, and an untranslated DTE naming it.
  static func remapInterrupt(vector: UInt8, apicID: UInt8, requester: RequesterID) -> Int? {
    lock.withLock {
      guard var unit else { return nil }
      if !interruptTables.contains(where: { $0.device == requester }) {
        // Checked before a frame is taken: a table recorded without its DTE would make the
        // next call skip the DTE.
        guard !domains.contains(where: { $0.devices.contains(requester) }),
          let table = interruptTableLocked(for: requester),
          unit.setEntry(
            requester.sourceID,
            AMDViDeviceTableEntry.untranslated.remappingInterrupts(table: table),
            domain: 0)
        else {
          Log.error("iommu: AMD-Vi interrupt table for a node device not set up")
          return nil
        }
        AMDVi.unit = unit
        reportNodeTable(requester, table: table)
      }
      guard let state = interruptTables.first(where: { $0.device == requester }),
        let index = state.entries.allocate(requester: requester, vector: vector, apicID: apicID)
      else { return nil }
      let written = unit.setInterruptEntry(
        table: state.table, index: index, .fixed(vector: vector, apicID: apicID),
        device: requester.sourceID)
      AMDVi.unit = unit
      guard written else {
        _ = state.entries.release(requester: requester)
        Log.error("iommu: AMD-Vi interrupt table invalidation not completed")
        return nil
      }
      return index
    }
  }

  /// `requester` was reset after its VM: its entries go back to RemapEn = 0 (its DTE is a
  /// blocking one already), so the next owner's table starts empty.
  static func releaseInterrupts(requester: RequesterID) {
    guard remapsInterrupts else { return }
    lock.withLock {
      guard var unit, let state = interruptTables.first(where: { $0.device == requester })
      else { return }
      for index in state.entries.release(requester: requester) {
        _ = unit.setInterruptEntry(
          table: state.table, index: index, .notPresent, device: requester.sourceID)
      }
      AMDVi.unit = unit
    }
  }
}

extension AMDVi {
  /// `iommu: AMD-Vi interrupt table for 00:02.0 at ADDRESS (DTE untranslated, MSIs remapped)`.
  static func reportNodeTable(_ device: RequesterID, table: UInt64) {
    guard Log.begin(.info) else { return }
    Console.write("iommu: AMD-Vi interrupt table for ")
    IOMMU.write(device)
    Console.write(" at ")
    Console.write(hex: table)
    Console.write(" (DTE untranslated, MSIs remapped)")
    Log.end()
  }
}

/// One device's interrupt remapping table and which of its entries are used.
final class AMDViDeviceInterrupts {
  let device: RequesterID
  let table: UInt64
  var entries = InterruptRemappingAllocator(entries: AMDViInterruptTable.entries)

  init(device: RequesterID, table: UInt64) {
    self.device = device
    self.table = table
  }
}
