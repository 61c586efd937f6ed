import Memory
import XCTest

@testable import HypervisorCore

/// A host buffer posing as physical memory from `base`, with a bump frame allocator.
private final class IOTableMemory: PhysicalMemoryAccess {
  let buffer: UnsafeMutableRawPointer
  let base: UInt64 = 0x4000_0000
  let size = 1 << 20
  var next: UInt64

  init() {
    buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
    buffer.initializeMemory(as: UInt8.self, repeating: 0, count: size)
    next = base
  }
  deinit { buffer.deallocate() }

  func pointer(to physical: UInt64) -> UnsafeMutableRawPointer {
    precondition(physical >= base && physical < base + UInt64(size), "outside table memory")
    return buffer + Int(physical - base)
  }
  func entry(_ table: UInt64, _ index: Int) -> UInt64 {
    pointer(to: table + UInt64(index * 8)).load(as: UInt64.self)
  }
}

private struct IOTableAccess: PhysicalMemoryAccess {
  let memory: IOTableMemory
  func pointer(to physical: UInt64) -> UnsafeMutableRawPointer { memory.pointer(to: physical) }
}

private struct IOTableFrames: FrameSource {
  let memory: IOTableMemory
  mutating func allocateZeroedFrame() -> UInt64? {
    guard memory.next < memory.base + UInt64(memory.size) else { return nil }
    defer { memory.next += 4096 }
    return memory.next
  }
}

final class AMDViTests: XCTestCase {
  private func build(largest: PageSize) throws -> (AMDViDomainTables<IOTableAccess>, IOTableMemory)
  {
    let memory = IOTableMemory()
    var frames = IOTableFrames(memory: memory)
    let tables = try AMDViDomainTables.build(
      map: RemappingTests.vmMap, largestPage: largest, memory: IOTableAccess(memory: memory),
      frames: &frames
    ).get()
    return (tables, memory)
  }

  /// §2.2.3: non-leaf entries carry NextLevel = the level of the table below, PR, IR, IW; a
  /// 2 MiB leaf is a level-2 entry with NextLevel 0; a PTE has NextLevel 0.
  func testPageTableEntriesCarryNextLevelAndPermissions() throws {
    let (tables, memory) = try build(largest: .size2M)
    let pml4e = memory.entry(tables.root, 0)
    XCTAssertEqual(pml4e & 0xE01, 3 << 9 | 1)  // NextLevel 3, PR
    XCTAssertEqual(pml4e >> 61 & 3, 3)  // IR, IW
    let pdpte = memory.entry(pml4e & 0x000F_FFFF_FFFF_F000, 0)
    XCTAssertEqual(AMDIOPageTableFormat.nextLevel(of: pdpte), 2)
    let pd = pdpte & 0x000F_FFFF_FFFF_F000
    let pde = memory.entry(pd, 0)
    XCTAssertEqual(pde, 0x1_0000_0000 | 1 | 3 << 61)  // 2 MiB leaf: NextLevel 0, no PS bit
    let pt = memory.entry(pd, 2)  // guest 4 MiB: a level-1 table
    XCTAssertEqual(AMDIOPageTableFormat.nextLevel(of: pt), 1)
    XCTAssertEqual(memory.entry(pt & 0x000F_FFFF_FFFF_F000, 1), 0x8_1234_6000 | 1 | 3 << 61)
    XCTAssertEqual(memory.entry(pt & 0x000F_FFFF_FFFF_F000, 3), 0)  // past the VM's RAM
  }

  func testDomainMapsExactlyTheVMsRAM() throws {
    let (tables, _) = try build(largest: .size2M)
    let builder = tables.builder
    XCTAssertEqual(builder.translate(0x1234)?.physical, 0x1_0000_1234)
    XCTAssertEqual(builder.translate(0x1234)?.size, .size2M)
    XCTAssertEqual(builder.translate((4 << 20) + 0x2FFF)?.physical, 0x8_1234_7FFF)
    XCTAssertEqual(builder.translate((4 << 20) + 0x2FFF)?.permissions, [.read, .write])
    XCTAssertNil(builder.translate((4 << 20) + 0x3000))
    XCTAssertNil(builder.translate(0x8_1234_5000))
    XCTAssertEqual(builder.statistics().pages2M, 2)
    XCTAssertEqual(builder.statistics().pages4K, 3)
  }

  func testLeafEncodingAndReadOnly() {
    let leaf = AMDIOPageTableFormat.leafEntry(
      physical: 0x1234_5000, size: .size4K, permissions: [.read], memoryType: .writeBack)
    XCTAssertEqual(leaf, 0x1234_5000 | 1 | 1 << 61)
    XCTAssertEqual(AMDIOPageTableFormat.permissions(of: leaf), [.read])
    XCTAssertEqual(
      AMDIOPageTableFormat.leafEntry(
        physical: 0x1234_5000, size: .size4K, permissions: [], memoryType: .writeBack), 0)
    XCTAssertTrue(AMDIOPageTableFormat.isLeaf(0x1000 | 1, level: 2))
    XCTAssertFalse(AMDIOPageTableFormat.isLeaf(0x1000 | 1 << 9 | 1, level: 2))
  }

  func testRAMBeyond48BitsRefused() {
    var map = GuestMemoryMap()
    map.add(GuestMemoryRegion(guestPhysical: 1 << 48, hostAddress: 0x1000_0000, size: 4096))
    let memory = IOTableMemory()
    var frames = IOTableFrames(memory: memory)
    let built = AMDViDomainTables.build(
      map: map, largestPage: .size2M, memory: IOTableAccess(memory: memory), frames: &frames)
    guard case .failure(let error) = built else { return XCTFail("built") }
    XCTAssertEqual(error, .beyondAddressWidth)
  }

  /// §2.2.2.1: V, TV, Mode, root, IR, IW in quad 0; DomainID in quad 1.
  func testDeviceTableEntries() {
    let entry = AMDViDeviceTableEntry.translated(root: 0x12_3456_7000, levels: 4, domain: 7)
    XCTAssertEqual(entry.quads.0, 0x6000_0012_3456_7803)
    XCTAssertEqual(entry.quads.1, 7)
    XCTAssertEqual(entry.quads.2, 0)
    XCTAssertEqual(entry.mode, 4)
    XCTAssertEqual(entry.root, 0x12_3456_7000)
    XCTAssertTrue(entry.isValid && entry.translates && entry.allowsRead && entry.allowsWrite)
    XCTAssertEqual(entry.domain, 7)
    XCTAssertFalse(AMDViDeviceTableEntry.passThrough.isValid)
    let blocked = AMDViDeviceTableEntry.blocked
    XCTAssertTrue(blocked.isValid && blocked.translates)
    XCTAssertFalse(blocked.allowsRead || blocked.allowsWrite)
    XCTAssertEqual(blocked.mode, 0)
    // Detached: a VM's function stays blocked, only the node's own devices pass through.
    XCTAssertEqual(AMDViDeviceTableEntry.afterDetach(nodeDevice: false), blocked)
    XCTAssertEqual(AMDViDeviceTableEntry.afterDetach(nodeDevice: true), .passThrough)
    XCTAssertFalse(AMDViDeviceTableEntry.afterDetach(nodeDevice: true).isValid)
    XCTAssertEqual(
      AMDViDeviceTableEntry.afterDetach(nodeDevice: false, interruptTable: 0x5000), blocked)
    // A node device with an interrupt table: valid, untranslated (mode 0) with IR and IW,
    // its interrupts remapped through the table.
    let node = AMDViDeviceTableEntry.afterDetach(nodeDevice: true, interruptTable: 0x5000)
    XCTAssertTrue(node.isValid && node.translates && node.allowsRead && node.allowsWrite)
    XCTAssertEqual(node.mode, 0)
    XCTAssertTrue(node.remapsInterrupts)
    XCTAssertEqual(node.interruptTable, 0x5000)
    XCTAssertEqual(node.interruptControl, 0b10)
    XCTAssertEqual(node.quads.0 & 0x8030_0000_0000_00FC, 0)
    // QEMU 7.2 refuses DTEs with its reserved bits set (0x80300000000000fc in quad 0).
    XCTAssertEqual(entry.quads.0 & 0x8030_0000_0000_00FC, 0)
  }

  /// §2.2.5.1, §2.2.2.1, §2.4.5: IRTE, the DTE's interrupt fields, the invalidation and the
  /// message a device sends through its table.
  func testInterruptRemappingEncodings() {
    let entry = AMDViInterruptEntry.fixed(vector: 0x48, apicID: 3)
    XCTAssertEqual(entry.raw, 0x0048_0301)
    XCTAssertTrue(entry.remapped)
    XCTAssertEqual(entry.interruptType, 0)  // fixed
    XCTAssertFalse(entry.logicalDestination)
    XCTAssertEqual(entry.destination, 3)
    XCTAssertEqual(entry.vector, 0x48)
    XCTAssertFalse(AMDViInterruptEntry.notPresent.remapped)

    let translated = AMDViDeviceTableEntry.translated(root: 0x12_3456_7000, levels: 4, domain: 7)
    let remapped = translated.remappingInterrupts(table: 0x00AB_CDEF_1000)
    // Quads 0 and 1 (DMA) untouched; quad 2: IV, IntTabLen 8, root, IntCtl 10b.
    XCTAssertEqual(remapped.quads.0, translated.quads.0)
    XCTAssertEqual(remapped.quads.1, translated.quads.1)
    XCTAssertEqual(remapped.quads.2, 0x2000_00AB_CDEF_1011)
    XCTAssertEqual(remapped.quads.3, 0)
    XCTAssertTrue(remapped.remapsInterrupts)
    XCTAssertEqual(remapped.interruptControl, 0b10)
    XCTAssertEqual(remapped.interruptTable, 0x00AB_CDEF_1000)
    XCTAssertEqual(remapped.interruptTableEntries, AMDViInterruptTable.entries)
    // A table address below 64-byte alignment loses its low bits rather than spilling into
    // IV/IntTabLen.
    XCTAssertEqual(
      translated.remappingInterrupts(table: 0x1000 | 0x3F).quads.2, 0x2000_0000_0000_1011)
    // QEMU 7.2 refuses a DTE with bits of 0x08f0000000000000 set in quad 2.
    XCTAssertEqual(remapped.quads.2 & 0x08F0_0000_0000_0000, 0)
    // Blocked: interrupts valid but IntCtl = 00b (target abort), no table.
    let blocked = AMDViDeviceTableEntry.blocked
    XCTAssertTrue(blocked.remapsInterrupts)
    XCTAssertEqual(blocked.interruptControl, 0)
    XCTAssertEqual(blocked.interruptTable, 0)
    XCTAssertFalse(AMDViDeviceTableEntry.passThrough.remapsInterrupts)

    let invalidate = AMDViCommand.invalidateInterruptTable(0x0090)
    XCTAssertEqual(invalidate.opcode, 5)
    XCTAssertEqual(invalidate, AMDViCommand(low: 0x5000_0000_0000_0090, high: 0))

    let message = AMDViMSIFormat.message(index: 2)
    XCTAssertEqual(message.address, 0xFEE0_0000)
    XCTAssertEqual(message.data, 2)
    // Data bits 10:8 (the delivery mode the IOMMU checks) stay fixed (000b) for every index.
    for index in 0..<AMDViInterruptTable.entries {
      XCTAssertEqual(AMDViMSIFormat.message(index: index).data >> 8 & 7, 0)
    }
  }

  /// §2.4: opcodes in bits 63:60 and the operand fields.
  func testCommands() {
    let wait = AMDViCommand.completionWait(storeTo: 0x1_2345_6788, data: 0xFEED)
    XCTAssertEqual(wait.opcode, 1)
    XCTAssertEqual(wait.low, 0x1000_0001_2345_6789)
    XCTAssertEqual(wait.high, 0xFEED)
    // The store address loses its low 3 bits (8-byte aligned).
    XCTAssertEqual(AMDViCommand.completionWait(storeTo: 0x1004, data: 0).low & 0xFFFF, 0x1001)
    let devtab = AMDViCommand.invalidateDeviceTableEntry(0x0010)
    XCTAssertEqual(devtab, AMDViCommand(low: 0x2000_0000_0000_0010, high: 0))
    let pages = AMDViCommand.invalidatePages(domain: 0x1234)
    XCTAssertEqual(pages.opcode, 3)
    XCTAssertEqual(pages.low, 0x3000_1234_0000_0000)
    XCTAssertEqual(pages.high, 0x7FFF_FFFF_FFFF_F003)
    XCTAssertEqual(AMDViCommand.invalidateAll.opcode, 8)
  }

  func testBaseRegistersAndFeatures() {
    XCTAssertEqual(AMDViBase.deviceTable(0x20_0000, pages: 2), 0x20_0001)
    XCTAssertEqual(AMDViBase.ring(0x30_1000, log2Entries: 8), 0x0800_0000_0030_1000)
    // QEMU 7.2's EFR: PreF, PPR, GT, IA, GA, HE, HATS 10b, GATS 10b.
    let efr = AMDViExtendedFeatures(0x29D3)
    XCTAssertTrue(efr.prefetch && efr.invalidateAll && efr.guestAPIC && efr.guestTranslation)
    XCTAssertFalse(efr.x2APIC || efr.noExecute || efr.performanceCounters)
    XCTAssertEqual(efr.hostTranslationLevels, 6)
    XCTAssertNil(AMDViExtendedFeatures(3 << 10).hostTranslationLevels)
  }

  /// §2.5.3 IO_PAGE_FAULT: a write to 0x109000 by 00:02.0 in domain 1, page not present.
  func testEventDecoding() throws {
    let low: UInt64 = 2 << 60 | 1 << 53 | 1 << 32 | 0x0010
    let event = try XCTUnwrap(AMDViEvent(low: low, high: 0x10_9000))
    XCTAssertEqual(event.code, .ioPageFault)
    XCTAssertEqual(event.device, 0x0010)
    XCTAssertEqual(event.domain, 1)
    XCTAssertEqual(event.address, 0x10_9000)
    XCTAssertTrue(event.isWrite)
    XCTAssertFalse(event.pagePresent)
    XCTAssertEqual(String(describing: event.message), "page not present")
    let read = try XCTUnwrap(AMDViEvent(low: 2 << 60 | 1 << 52 | 0x0010, high: 0x2000))
    XCTAssertFalse(read.isWrite)
    XCTAssertEqual(String(describing: read.message), "page present without the permission")
    XCTAssertNil(AMDViEvent(low: 0, high: 0))  // not written yet
    XCTAssertNil(AMDViEvent(low: 0xF << 60, high: 1))  // undefined code
    // QEMU 7.2's own encoding (info at bit 55, address bit 0 at bit 63): code 0, refused.
    XCTAssertNil(AMDViEvent(low: (8 | 1) << 55 | 0x10, high: 0))
  }
}
