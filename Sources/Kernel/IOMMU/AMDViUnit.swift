import CArch
import HypervisorCore

/// One AMD-Vi IOMMU (an IVHD): thin register access, the device table, the command buffer
/// and the event log (AMD IOMMU spec #48882 rev 3.x §2.2, §2.4, §2.5, §3.4). Encodings are
/// in HypervisorCore.
struct AMDViUnit {
  let base: UInt64
  let features: AMDViExtendedFeatures
  /// 512 frames: 65536 DTEs of 32 bytes, every requester id of the segment (§2.2.2). All
  /// zero (V = 0) means untranslated, so the node's devices keep DMAing as before.
  let deviceTable: UInt64
  static let deviceTablePages = 512
  /// One frame each: 256 commands, 256 events (ComLen = EventLen = 8, the minimum).
  let commandBuffer: UInt64
  let eventLog: UInt64
  /// Where COMPLETION_WAIT stores its data word.
  let completionSlot: UInt64
  var commandTail = 0
  var eventHead = 0
  var completions: UInt64 = 0

  init?(registerBase: UInt64) {
    guard
      KernelPageTables.mapDevice(physical: registerBase, length: UInt64(AMDViRegister.blockSize)),
      let table = PhysicalFrames.allocateZeroed(frames: Self.deviceTablePages)
    else { return nil }
    guard let rings = PhysicalFrames.allocateZeroed(frames: 3) else {
      PhysicalFrames.free(table, frames: Self.deviceTablePages)
      return nil
    }
    base = registerBase
    features = AMDViExtendedFeatures(Self.read64(registerBase + 0x30))
    deviceTable = table
    commandBuffer = rings
    eventLog = rings + 4096
    completionSlot = rings + 8192
  }

  static func read64(_ address: UInt64) -> UInt64 {
    UInt64(mmio_read32(address)) | UInt64(mmio_read32(address + 4)) << 32
  }
  func read64(_ offset: Int) -> UInt64 { Self.read64(base + UInt64(offset)) }
  /// Low half first: QEMU takes a base register when its high half is written.
  func write64(_ offset: Int, _ value: UInt64) { mmio_write64_halves(base + UInt64(offset), value) }

  /// Programs the three tables, then enables the IOMMU with its command buffer and event
  /// log (§3.4, Control: the bases must be set while the IOMMU is off).
  func enable() -> Bool {
    write64(AMDViRegister.control, 0)
    write64(
      AMDViRegister.deviceTableBase,
      AMDViBase.deviceTable(deviceTable, pages: Self.deviceTablePages))
    write64(AMDViRegister.commandBufferBase, AMDViBase.ring(commandBuffer, log2Entries: 8))
    write64(AMDViRegister.eventLogBase, AMDViBase.ring(eventLog, log2Entries: 8))
    write64(AMDViRegister.commandHead, 0)
    write64(AMDViRegister.commandTail, 0)
    write64(AMDViRegister.eventHead, 0)
    write64(AMDViRegister.eventTail, 0)
    mmio_barrier()
    write64(
      AMDViRegister.control,
      AMDViControl.iommuEnable | AMDViControl.eventLogEnable | AMDViControl.commandBufferEnable)
    let running = AMDViStatus.commandBufferRunning | AMDViStatus.eventLogRunning
    for _ in 0..<1_000_000 {
      if read64(AMDViRegister.status) & running == running { return true }
      arch_pause()
    }
    return false
  }

  var enabled: Bool { read64(AMDViRegister.control) & AMDViControl.iommuEnable != 0 }

  // MARK: - Commands

  /// Writes one command at the tail and moves the tail register past it (§2.4: the IOMMU
  /// runs commands from head to tail). The ring is never full: every submit is followed by
  /// a wait that drains it.
  mutating func submit(_ command: AMDViCommand) {
    let slot = UnsafeMutablePointer<UInt64>(bitPattern: UInt(commandBuffer + UInt64(commandTail)))!
    slot[0] = command.low
    slot[1] = command.high
    commandTail = (commandTail + 16) % 4096
    mmio_barrier()
    write64(AMDViRegister.commandTail, UInt64(commandTail))
  }

  /// COMPLETION_WAIT with a store (§2.4.1): returns once the IOMMU has written the new
  /// sequence number, i.e. finished every command before it.
  mutating func waitForCompletion() -> Bool {
    completions &+= 1
    let slot = UnsafeMutablePointer<UInt64>(bitPattern: UInt(completionSlot))!
    slot.pointee = 0
    submit(.completionWait(storeTo: completionSlot, data: completions))
    for _ in 0..<1_000_000 {
      mmio_barrier()
      if slot.pointee == completions { return true }
      arch_pause()
    }
    return false
  }

  // MARK: - Device table

  /// Writes `device`'s DTE and invalidates the IOMMU's copy of it and of `domain`'s pages.
  /// V (quad 0 bit 0) is written last when setting and first when clearing, so the IOMMU
  /// never sees a valid entry with stale fields.
  mutating func setEntry(_ device: UInt16, _ entry: AMDViDeviceTableEntry, domain: UInt16)
    -> Bool
  {
    let dte = UnsafeMutablePointer<UInt64>(
      bitPattern: UInt(deviceTable + UInt64(device) * 32))!
    dte[0] = 0
    mmio_barrier()
    dte[1] = entry.quads.1
    dte[2] = entry.quads.2
    dte[3] = entry.quads.3
    mmio_barrier()
    dte[0] = entry.quads.0
    mmio_barrier()
    submit(.invalidateDeviceTableEntry(device))
    submit(.invalidatePages(domain: domain))
    return waitForCompletion()
  }

  // MARK: - Interrupt remapping

  /// Writes entry `index` of `device`'s interrupt table at `table` (one aligned 32-bit
  /// store: the IOMMU never sees half an entry) and invalidates the IOMMU's copy of that
  /// table (INVALIDATE_INTERRUPT_TABLE, §2.4.5), waiting for it.
  mutating func setInterruptEntry(
    table: UInt64, index: Int, _ entry: AMDViInterruptEntry, device: UInt16
  ) -> Bool {
    let slot = UnsafeMutablePointer<UInt32>(bitPattern: UInt(table + UInt64(index) * 4))!
    slot.pointee = entry.raw
    mmio_barrier()
    submit(.invalidateInterruptTable(device))
    return waitForCompletion()
  }

  // MARK: - Events

  /// Reads the entries between the head and tail pointers (§2.5), zeroes them, moves the
  /// head; then clears EventOverflow (write 1) and reports whether it was set.
  mutating func drainEvents() -> (events: [AMDViEvent], unknown: Int, overflowed: Bool) {
    var events: [AMDViEvent] = []
    var unknown = 0
    let tail = Int(read64(AMDViRegister.eventTail) & 0x7FFF0) % 4096
    while eventHead != tail {
      let entry = UnsafeMutablePointer<UInt64>(bitPattern: UInt(eventLog + UInt64(eventHead)))!
      if let event = AMDViEvent(low: entry[0], high: entry[1]) {
        events.append(event)
      } else {
        unknown += 1
      }
      entry[0] = 0
      entry[1] = 0
      eventHead = (eventHead + 16) % 4096
    }
    write64(AMDViRegister.eventHead, UInt64(eventHead))
    let status = read64(AMDViRegister.status)
    if status & AMDViStatus.eventOverflow != 0 {
      mmio_write32(base + UInt64(AMDViRegister.status), UInt32(AMDViStatus.eventOverflow))
    }
    return (events, unknown, status & AMDViStatus.eventOverflow != 0)
  }
}
