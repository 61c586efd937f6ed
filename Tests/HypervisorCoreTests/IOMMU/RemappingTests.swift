import Memory
import XCTest

@testable import HypervisorCore

/// A host buffer posing as physical memory from `base`, with a bump frame allocator.
private final class TableMemory: PhysicalMemoryAccess, FrameSource {
  let buffer: UnsafeMutableRawPointer
  let base: UInt64 = 0x4000_0000
  let size = 1 << 20
  var next: UInt64
  var handedOut = 0

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

  func allocateZeroedFrame() -> UInt64? {
    guard next < base + UInt64(size) else { return nil }
    defer { next += 4096 }
    handedOut += 1
    return next
  }
}

private struct TableAccess: PhysicalMemoryAccess {
  let memory: TableMemory
  func pointer(to physical: UInt64) -> UnsafeMutableRawPointer { memory.pointer(to: physical) }
}

private struct TableFrames: FrameSource {
  let memory: TableMemory
  mutating func allocateZeroedFrame() -> UInt64? { memory.allocateZeroedFrame() }
}

final class RemappingTests: XCTestCase {
  /// Two RAM runs as a VM gets them: 4 MiB at guest 0 from host 0x1_0000_0000 (2 MiB
  /// aligned), then 12 KiB at guest 4 MiB from host 0x8_1234_5000.
  static var vmMap: GuestMemoryMap {
    var map = GuestMemoryMap()
    map.add(GuestMemoryRegion(guestPhysical: 0, hostAddress: 0x1_0000_0000, size: 4 << 20))
    map.add(GuestMemoryRegion(guestPhysical: 4 << 20, hostAddress: 0x8_1234_5000, size: 0x3000))
    return map
  }

  private func build(levels: Int, largest: PageSize) throws -> (
    RemappingDomainTables<TableAccess>, TableMemory
  ) {
    let memory = TableMemory()
    var frames = TableFrames(memory: memory)
    let tables = try RemappingDomainTables.build(
      map: Self.vmMap, levels: levels, largestPage: largest, memory: TableAccess(memory: memory),
      frames: &frames
    ).get()
    return (tables, memory)
  }

  func testDomainMapsExactlyTheVMsRAM() throws {
    let (tables, _) = try build(levels: 4, largest: .size2M)
    let builder = tables.builder
    XCTAssertEqual(tables.top, builder.root)
    let first = try XCTUnwrap(builder.translate(0x1234))
    XCTAssertEqual(first.physical, 0x1_0000_1234)
    XCTAssertEqual(first.permissions, [.read, .write])
    XCTAssertEqual(first.size, .size2M)
    XCTAssertEqual(builder.translate((4 << 20) + 0x2FFF)?.physical, 0x8_1234_7FFF)
    XCTAssertEqual(builder.translate((4 << 20) + 0x2FFF)?.size, .size4K)
    // Nothing past the VM's RAM: not the next page, not the host frames' own addresses.
    XCTAssertNil(builder.translate((4 << 20) + 0x3000))
    XCTAssertNil(builder.translate(0x1_0000_0000))
    XCTAssertNil(builder.translate(0x8_1234_5000))
    let stats = builder.statistics()
    XCTAssertEqual(stats.pages2M, 2)
    XCTAssertEqual(stats.pages4K, 3)
    XCTAssertEqual(stats.pages1G, 0)
  }

  /// An NVMe VF's shadow admin queue: node pages the device reads at an I/O address
  /// outside the VM's RAM, never writes; a page inside RAM or misaligned is refused.
  func testReadOnlyPagesOutsideRAM() throws {
    for levels in [3, 4] {
      let memory = TableMemory()
      var frames = TableFrames(memory: memory)
      let tables = try RemappingDomainTables.build(
        map: Self.vmMap,
        readOnly: [(0x7F_0000_0000, 0x2_0000_0000), (0x7F_0000_1000, 0x2_0000_5000)],
        levels: levels, largestPage: .size2M, memory: TableAccess(memory: memory),
        frames: &frames
      ).get()
      let shadow = try XCTUnwrap(tables.builder.translate(0x7F_0000_1040))
      XCTAssertEqual(shadow.physical, 0x2_0000_5040)
      XCTAssertEqual(shadow.permissions, [.read])
      XCTAssertEqual(shadow.size, .size4K)
      XCTAssertEqual(tables.builder.translate(0x1234)?.permissions, [.read, .write])
      XCTAssertNil(tables.builder.translate(0x7F_0000_2000))
    }
    for bad in [
      (iova: UInt64(0x1000), host: UInt64(0x2_0000_0000)), (0x7F_0000_0800, 0x2_0000_0000),
      (1 << 39, 0x2_0000_0000),
    ] {
      let memory = TableMemory()
      var frames = TableFrames(memory: memory)
      let built = RemappingDomainTables.build(
        map: Self.vmMap, readOnly: [bad], levels: 3, largestPage: .size2M,
        memory: TableAccess(memory: memory), frames: &frames)
      guard case .failure = built else { return XCTFail("\(bad) accepted") }
    }
  }

  func testFourKiBOnlyWhenSuperPagesMissing() throws {
    let (tables, _) = try build(levels: 4, largest: .size4K)
    XCTAssertEqual(tables.builder.statistics().pages4K, 1024 + 3)
    XCTAssertEqual(tables.builder.statistics().pages2M, 0)
  }

  func testThreeLevelDomainStartsAtTheLevel3Table() throws {
    let (tables, memory) = try build(levels: 3, largest: .size2M)
    XCTAssertNotEqual(tables.top, tables.builder.root)
    let pml4e = memory.pointer(to: tables.builder.root).load(as: UInt64.self)
    XCTAssertEqual(tables.top, pml4e & 0x000F_FFFF_FFFF_F000)
    // The level-3 table's entry 0 leads to the PD mapping the first 2 MiB.
    let pdpte = memory.pointer(to: tables.top).load(as: UInt64.self)
    XCTAssertEqual(pdpte & 3, 3)
    let pde = memory.pointer(to: pdpte & 0x000F_FFFF_FFFF_F000).load(as: UInt64.self)
    XCTAssertEqual(pde, 0x1_0000_0000 | 1 << 7 | 3)
  }

  func testThreeLevelDomainRefusesRAMBeyond39Bits() {
    var map = GuestMemoryMap()
    map.add(GuestMemoryRegion(guestPhysical: 1 << 39, hostAddress: 0x1000_0000, size: 4096))
    let memory = TableMemory()
    var frames = TableFrames(memory: memory)
    let result = RemappingDomainTables.build(
      map: map, levels: 3, largestPage: .size2M, memory: TableAccess(memory: memory),
      frames: &frames)
    XCTAssertEqual(result.map { _ in 0 }, .failure(.beyondAddressWidth))
  }

  func testLeafEncoding() {
    typealias F = RemappingPageTableFormat
    XCTAssertEqual(
      F.leafEntry(physical: 0x5000, size: .size4K, permissions: [.read], memoryType: .writeBack),
      0x5001)
    XCTAssertEqual(
      F.leafEntry(
        physical: 0x20_0000, size: .size2M, permissions: [.read, .write, .execute],
        memoryType: .uncacheable),
      0x20_0083)
    XCTAssertEqual(
      F.leafEntry(physical: 0x5000, size: .size4K, permissions: [.execute], memoryType: .writeBack),
      0)
    XCTAssertFalse(F.isPresent(0x5000))
    XCTAssertEqual(F.tableEntry(physical: 0x7000), 0x7003)
  }

  func testRootAndContextEntries() {
    let root = RemappingEntry.root(contextTable: 0x12_3000)
    XCTAssertEqual(root, RemappingEntry(low: 0x12_3001, high: 0))
    XCTAssertEqual(root.contextTablePointer, 0x12_3000)
    let context = RemappingEntry.context(tables: 0x45_6000, levels: 4, domain: 7)
    XCTAssertEqual(context.low, 0x45_6001)  // P, FPD clear, TT = 00
    XCTAssertEqual(context.high, 0x702)  // AW = 2 (48-bit), DID 7
    XCTAssertEqual(context.domain, 7)
    XCTAssertEqual(context.addressWidthLevels, 4)
    XCTAssertEqual(RemappingEntry.context(tables: 0x1000, levels: 3, domain: 1).high, 0x101)
    XCTAssertEqual(context.translationType, 0)
    // The node's own devices once translation is on: TT = 10 (pass-through), no table
    // pointer, AW the unit's largest (3 levels: 1), the node's domain id (§9.3).
    let node = RemappingEntry.passThrough(levels: 3, domain: 0xFFFF)
    XCTAssertEqual(node.low, 0b1001)
    XCTAssertEqual(node.high, 0xFF_FF01)
    XCTAssertEqual(node.translationType, 2)
    XCTAssertEqual(node.contextTablePointer, 0)
    XCTAssertEqual(node.domain, 0xFFFF)
    let nic = RequesterID(bus: 0, device: 3, function: 0)
    XCTAssertEqual(nic.devfn, 24)
    XCTAssertEqual(nic.sourceID, 0x0018)
    XCTAssertEqual(RequesterID(sourceID: 0x01FA), RequesterID(bus: 1, device: 0x1F, function: 2))
  }

  /// QEMU 7.2's intel-iommu (Linux: "cap d2008c22260206 ecap f00f4a").
  func testQEMUCapabilities() {
    let cap = RemappingCapability(0x00d2_008c_2226_0206)
    XCTAssertEqual(cap.domainCount, 1 << 16)
    XCTAssertFalse(cap.cachingMode)
    XCTAssertEqual(cap.supportedAddressWidths, 0b00010)
    XCTAssertEqual(cap.pagingLevels, 3)
    XCTAssertEqual(cap.maximumGuestAddressWidth, 39)
    XCTAssertEqual(cap.faultRecordingOffset, 0x220)
    XCTAssertEqual(cap.faultRecordCount, 1)
    XCTAssertTrue(cap.supports2MPages)
    XCTAssertTrue(cap.supports1GPages)
    let ecap = RemappingExtendedCapability(0xf0_0f4a)
    XCTAssertFalse(ecap.coherentWalks)
    XCTAssertTrue(ecap.queuedInvalidation)
    XCTAssertTrue(ecap.interruptRemapping)
    XCTAssertFalse(ecap.extendedInterruptMode)
    XCTAssertTrue(ecap.passThrough)
    XCTAssertEqual(ecap.iotlbOffset, 0xF0)
    XCTAssertEqual(RemappingCapability(0x88).cachingMode, true)
  }

  func testInvalidationCommands() {
    XCTAssertEqual(RemappingInvalidation.contextGlobal, 0xA000_0000_0000_0000)
    XCTAssertEqual(RemappingInvalidation.iotlbDomain(3), 0xA003_0003_0000_0000)
    XCTAssertEqual(RemappingInvalidation.iotlbGlobal, 0x9003_0000_0000_0000)
    XCTAssertEqual(RemappingGlobalBit.persistent(0xC000_0000), 0x8000_0000)
  }

  func testFaultRecordDecoding() {
    // A write by 00:03.0 to 0x1234_5678, reason 5; F set, T clear.
    let high: UInt64 = 1 << 63 | 0x05 << 32 | 0x0018
    let fault = RemappingFault(low: 0x1234_5678, high: high)
    XCTAssertEqual(
      fault,
      RemappingFault(
        requester: RequesterID(bus: 0, device: 3, function: 0), address: 0x1234_5000,
        reason: .writeNotPermitted, isRead: false))
    let read = RemappingFault(low: 0xFEE0_0000, high: 1 << 63 | 1 << 62 | 0x02 << 32 | 0x0110)
    XCTAssertEqual(read?.reason, .contextNotPresent)
    XCTAssertEqual(read?.isRead, true)
    XCTAssertEqual(read?.requester, RequesterID(bus: 1, device: 2, function: 0))
    XCTAssertNil(RemappingFault(low: 0x1000, high: 0x05 << 32))
    XCTAssertEqual(RemappingFaultReason(code: 0x42), .other(0x42))
    XCTAssertEqual(RemappingFaultStatus.firstRecord(0x0302), 3)
  }
}
