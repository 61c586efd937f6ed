import CArch
import HypervisorCore

/// One VT-d DMA-remapping unit (a DRHD): thin register access and the command sequences of
/// the VT-d spec rev 4.1 §10.4 / §11.4. Register layout and encodings are in HypervisorCore.
struct RemappingUnit {
  let base: UInt64
  let capability: RemappingCapability
  let extendedCapability: RemappingExtendedCapability
  let version: UInt32
  /// The root table (§9.1): 256 root entries, one per bus, in one zeroed frame.
  let rootTable: UInt64
  /// Context tables made so far, by bus (0 = none): one frame of 256 context entries each.
  var contextTables = [UInt64](repeating: 0, count: 256)
  /// The invalidation queue's frame and the frame its wait descriptors write to; 0 while
  /// invalidation is register-based (RemappingUnit+Interrupts.swift).
  var invalidationQueue: UInt64 = 0
  var invalidationStatus: UInt64 = 0
  /// The interrupt-remapping table (256 entries, one frame); 0 while IR is off.
  var interruptTable: UInt64 = 0

  init?(registerBase: UInt64) {
    guard KernelPageTables.mapDevice(physical: registerBase, length: 4096),
      let root = PhysicalFrames.allocateZeroed()
    else { return nil }
    base = registerBase
    version = mmio_read32(registerBase + UInt64(RemappingRegister.version))
    capability = RemappingCapability(
      Self.read64(registerBase + UInt64(RemappingRegister.capability)))
    extendedCapability = RemappingExtendedCapability(
      Self.read64(registerBase + UInt64(RemappingRegister.extendedCapability)))
    rootTable = root
  }

  // MARK: - Registers

  static func read64(_ address: UInt64) -> UInt64 {
    UInt64(mmio_read32(address)) | UInt64(mmio_read32(address + 4)) << 32
  }
  func read32(_ offset: Int) -> UInt32 { mmio_read32(base + UInt64(offset)) }
  func write32(_ offset: Int, _ value: UInt32) { mmio_write32(base + UInt64(offset), value) }
  func read64(_ offset: Int) -> UInt64 { Self.read64(base + UInt64(offset)) }
  /// Low half first: the command bits (ICC, IVT) are in the high half (§10.2).
  func write64(_ offset: Int, _ value: UInt64) { mmio_write64_halves(base + UInt64(offset), value) }

  var status: UInt32 { read32(RemappingRegister.globalStatus) }
  var translating: Bool { status & RemappingGlobalBit.translationEnable != 0 }

  /// Issues one global command and waits for its status bit to reach `expected` (§10.4.4:
  /// one command per write, the persistent bits written back as they are).
  func command(_ bit: UInt32, set: Bool) -> Bool {
    let persistent = RemappingGlobalBit.persistent(status)
    let value = set ? persistent | bit : persistent & ~bit
    mmio_barrier()
    write32(RemappingRegister.globalCommand, value)
    for _ in 0..<1_000_000 {
      if (status & bit != 0) == set { return true }
      arch_pause()
    }
    return false
  }

  /// Register-based invalidation (§6.5.1): writes the command, waits for the busy bit to clear.
  func invalidate(_ offset: Int, _ value: UInt64) -> Bool {
    mmio_barrier()
    write64(offset, value)
    for _ in 0..<1_000_000 {
      if read64(offset) & RemappingInvalidation.busy == 0 { return true }
      arch_pause()
    }
    return false
  }

  /// Global context-cache, then global IOTLB invalidation (§6.5.1: in that order). Through
  /// the queue once it is on (§6.5.2: the registers must not be used then).
  func invalidateAll() -> Bool {
    if invalidationQueue != 0 {
      return submit([QueuedInvalidationDescriptor.contextGlobal, .iotlbGlobal])
    }
    return invalidate(RemappingRegister.contextCommand, RemappingInvalidation.contextGlobal)
      && invalidate(extendedCapability.iotlbOffset + 8, RemappingInvalidation.iotlbGlobal)
  }

  /// A domain's context caches and IOTLB entries (after its context entry or tables changed).
  func invalidate(domain: UInt16) -> Bool {
    if invalidationQueue != 0 {
      return submit([QueuedInvalidationDescriptor.contextDomain(domain), .iotlbDomain(domain)])
    }
    return invalidate(RemappingRegister.contextCommand, RemappingInvalidation.contextDomain(domain))
      && invalidate(extendedCapability.iotlbOffset + 8, RemappingInvalidation.iotlbDomain(domain))
  }

  // MARK: - Tables

  /// Points the unit at the root table (RTADDR, then SRTP, §10.4.6); translation stays as it is.
  func setRootTable() -> Bool {
    write64(RemappingRegister.rootTableAddress, rootTable)  // TTM (11:10) = 00: legacy mode
    return command(RemappingGlobalBit.setRootTablePointer, set: true)
  }

  /// Writes `requester`'s context entry (making its bus's context table on first use) and
  /// invalidates what the unit may have cached of it. Under CM=1 even a not-present →
  /// present change needs the invalidation (§6.1); it is cheap, so it is always done.
  mutating func setContext(_ requester: RequesterID, _ entry: RemappingEntry, domain: UInt16)
    -> Bool
  {
    let bus = Int(requester.bus)
    if contextTables[bus] == 0 {
      guard let table = PhysicalFrames.allocateZeroed() else { return false }
      contextTables[bus] = table
      Self.store(RemappingEntry.root(contextTable: table), at: rootTable + UInt64(bus * 16))
    }
    Self.store(entry, at: contextTables[bus] + UInt64(requester.devfn * 16))
    return invalidateAll()
  }

  /// High half first when clearing, low (with P) last when setting, so the unit never sees
  /// a present entry with a stale half. ECAP.C = 0 (QEMU) would need CLFLUSH on real
  /// hardware without coherent walks; the identity map is write-back and QEMU reads memory.
  static func store(_ entry: RemappingEntry, at physical: UInt64) {
    let pointer = UnsafeMutablePointer<UInt64>(bitPattern: UInt(physical))!
    pointer[0] = 0
    mmio_barrier()
    pointer[1] = entry.high
    mmio_barrier()
    pointer[0] = entry.low
    mmio_barrier()
  }

  // MARK: - Faults

  /// Reads, clears and returns the recorded faults (§7.3.1): every record with F set, then
  /// the overflow bit.
  func drainFaults() -> (faults: [RemappingFault], overflowed: Bool) {
    let status = read32(RemappingRegister.faultStatus)
    var faults: [RemappingFault] = []
    guard status & (RemappingFaultStatus.pending | RemappingFaultStatus.overflow) != 0 else {
      return (faults, false)
    }
    for index in 0..<capability.faultRecordCount {
      let offset = capability.faultRecordingOffset + index * 16
      let high = read64(offset + 8)
      guard let fault = RemappingFault(low: read64(offset), high: high) else { continue }
      faults.append(fault)
      write32(offset + 12, 1 << 31)  // F is write-1-to-clear
    }
    write32(RemappingRegister.faultStatus, RemappingFaultStatus.overflow)
    return (faults, status & RemappingFaultStatus.overflow != 0)
  }
}
