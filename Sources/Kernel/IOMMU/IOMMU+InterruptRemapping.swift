import BootProtocols
import HypervisorCore

/// The node's interrupt remapping (docs/iommu.md): on at boot when the VT-d unit offers it
/// (ECAP.IR, with queued invalidation), before any of the node's MSI sources is programmed;
/// `intremap=off` on the command line leaves it off (for measurements).
extension IOMMU {
  /// Which table entries are in use; nil while interrupt remapping is off.
  nonisolated(unsafe) static var interruptEntries: InterruptRemappingAllocator?
  /// Interrupt requests the unit blocked (fault reasons 0x20-0x26), all sources.
  nonisolated(unsafe) static var interruptFaults = 0

  /// Set once at boot, before any other CPU runs; read without the lock (unlike
  /// `interruptEntries`, whose array another CPU may be replacing).
  nonisolated(unsafe) static var remapsInterrupts = false

  /// Queued invalidation, then the table, SIRTP, IEC invalidation and IRE with CFI off.
  static func startInterruptRemapping(_ unit: inout RemappingUnit, commandLine: [UInt8]) {
    guard unit.extendedCapability.interruptRemapping else {
      Log.info("iommu: no interrupt remapping offered (ECAP.IR = 0); MSIs in compatibility format")
      return
    }
    if KernelCommandLine.value(of: "intremap", in: commandLine) == Array("off".utf8) {
      Log.warning(
        "iommu: interrupt remapping left off (intremap=off): any device can raise any vector")
      return
    }
    guard unit.enableQueuedInvalidation() else {
      Log.error(
        "iommu: queued invalidation not enabled (ECAP.QI, GSTS.QIES); no interrupt remapping")
      return
    }
    guard unit.enableInterruptRemapping() else {
      Log.error("iommu: interrupt remapping not enabled (IRTPS, IEC invalidation or IRES)")
      return
    }
    interruptEntries = InterruptRemappingAllocator()
    remapsInterrupts = true
    guard Log.begin(.info) else { return }
    Console.write("iommu: interrupt remapping on: ")
    Console.write(decimal: UInt64(InterruptRemappingTable.entries))
    Console.write(" entries at ")
    Console.write(hex: unit.interruptTable)
    Console.write(", queued invalidation, GSTS ")
    Console.write(hex: UInt64(unit.status))
    Console.write(
      unit.status & RemappingGlobalBit.compatibilityFormatInterrupts == 0
        ? " (IRES, CFIS clear: compatibility-format interrupts blocked)" : " (CFIS set!)")
    Log.end()
  }

  /// A table entry sending `vector` to `apicID` for `requester` only; its index (the MSI's
  /// handle), or nil when the table is full or the unit did not take it.
  static func remapInterrupt(vector: UInt8, apicID: UInt8, requester: RequesterID) -> UInt16? {
    lock.withLock {
      guard let unit, var entries = interruptEntries,
        let index = entries.allocate(requester: requester, vector: vector, apicID: apicID)
      else { return nil }
      interruptEntries = entries
      guard
        unit.setInterruptEntry(
          index, .fixed(vector: vector, apicID: apicID, requester: requester))
      else {
        Log.error("iommu: interrupt entry invalidation not acknowledged")
        _ = interruptEntries?.release(requester: requester)
        return nil
      }
      return UInt16(index)
    }
  }

  /// `requester` was reset (its VM ended): its entries go not-present, so a stale message
  /// it might still send is blocked (reason 0x22) instead of reaching a reused vector.
  static func releaseInterrupts(requester: RequesterID) {
    lock.withLock {
      guard let unit, var entries = interruptEntries else { return }
      let freed = entries.release(requester: requester)
      interruptEntries = entries
      for index in freed { _ = unit.setInterruptEntry(index, .notPresent) }
    }
  }
}
