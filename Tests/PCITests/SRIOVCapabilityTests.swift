import XCTest

@testable import PCI

final class SRIOVCapabilityTests: XCTestCase {
  func testExtendedCapabilityWalkFindsARIAndSRIOVAndStopsOnLoops() {
    let space = qemuNVMeSpace()
    XCTAssertEqual(
      PCIExtendedCapability.list(space),
      [
        PCIExtendedCapability(id: 0x0E, version: 1, offset: 0x100),
        PCIExtendedCapability(id: 0x10, version: 1, offset: 0x120),
      ])
    XCTAssertEqual(SRIOVCapability.find(space), 0x120)
    // A capability pointing at itself ends after 960 entries, not never.
    space.set32(0x120, 0x1201_0010)
    XCTAssertEqual(PCIExtendedCapability.list(space).count, 960)
    // No extended space (all ones: conventional PCI) and no capabilities (0).
    let none = FakeExpressSpace()
    XCTAssertEqual(PCIExtendedCapability.list(none), [])
    none.set32(0x100, 0xFFFF_FFFF)
    XCTAssertEqual(PCIExtendedCapability.list(none), [])
    XCTAssertNil(SRIOVCapability.find(none))
    // A next pointer into the header area ends the walk.
    none.set32(0x100, 0x0401_0010)
    XCTAssertEqual(PCIExtendedCapability.list(none).count, 1)
  }

  func testFieldsAndVFBARSizingRestoreTheRegisters() throws {
    let space = qemuNVMeSpace()
    space.set32(0x120 + 0x08, UInt32(SRIOVCapability.Control.vfMemorySpaceEnable))
    let capability = try XCTUnwrap(SRIOVCapability(space, at: 0x120))
    XCTAssertEqual(capability.totalVFs, 2)
    XCTAssertEqual(capability.initialVFs, 2)
    XCTAssertEqual(capability.numVFs, 0)
    XCTAssertEqual(capability.firstVFOffset, 1)
    XCTAssertEqual(capability.vfStride, 1)
    XCTAssertEqual(capability.vfDeviceID, 0x0010)
    XCTAssertEqual(capability.pageSize, 4096)
    XCTAssertEqual(
      capability.bars,
      [
        .memory(base: 0, size: 0x4000, is64Bit: true, prefetchable: false), .unused, .unused,
        .unused, .unused, .unused,
      ])
    XCTAssertEqual(space.read32(0x120 + 0x24), 0x4)
    XCTAssertEqual(space.read32(0x120 + 0x28), 0)
    // VF MSE was cleared while sizing and is back.
    XCTAssertEqual(space.read16(0x120 + 0x08), SRIOVCapability.Control.vfMemorySpaceEnable)
    XCTAssertTrue(
      space.writes.contains {
        $0.0 == 0x128 && $0.1 & UInt32(SRIOVCapability.Control.vfMemorySpaceEnable) == 0
      })
    // Too close to the end of the 4 KiB space, or inside the 256-byte header area.
    XCTAssertNil(SRIOVCapability(space, at: 0xFC4))
    XCTAssertNil(SRIOVCapability(space, at: 0x40))
  }

  func testRoutingIDsFollowOffsetAndStrideAndAreChecked() throws {
    var capability = try XCTUnwrap(SRIOVCapability(qemuNVMeSpace(), at: 0x120))
    let pf = PCIAddress(bus: 0, device: 4, function: 0)
    XCTAssertEqual(pf.routingID, 0x20)
    XCTAssertEqual(
      try capability.virtualFunctions(of: pf, count: 2),
      [PCIAddress(bus: 0, device: 4, function: 1), PCIAddress(bus: 0, device: 4, function: 2)])
    XCTAssertThrowsError(try capability.virtualFunctions(of: pf, count: 3)) {
      XCTAssertEqual($0 as? SRIOVError, .vfCountOutOfRange(requested: 3, total: 2))
    }
    XCTAssertThrowsError(try capability.virtualFunctions(of: pf, count: 0))
    // Stride 8 from 00:1f.0 (0xF8): VF 1 at 0x100 = bus 1, beyond the PF's bus.
    capability.firstVFOffset = 8
    XCTAssertThrowsError(
      try capability.virtualFunctions(of: PCIAddress(bus: 0, device: 31, function: 0), count: 1)
    ) { XCTAssertEqual($0 as? SRIOVError, .vfBeyondBus(vf: 1, bus: 1)) }
    capability.firstVFOffset = 0x10
    XCTAssertThrowsError(
      try capability.virtualFunctions(
        of: PCIAddress(bus: 0xFF, device: 31, function: 0), count: 1)
    ) { XCTAssertEqual($0 as? SRIOVError, .routingIDOverflow(vf: 1)) }
    capability.firstVFOffset = 0
    XCTAssertThrowsError(try capability.virtualFunctions(of: pf, count: 1)) {
      XCTAssertEqual($0 as? SRIOVError, .firstOffsetZero)
    }
    capability.firstVFOffset = 1
    capability.vfStride = 0
    XCTAssertEqual(try capability.virtualFunctions(of: pf, count: 1).count, 1)
    XCTAssertThrowsError(try capability.virtualFunctions(of: pf, count: 2)) {
      XCTAssertEqual($0 as? SRIOVError, .strideZero)
    }
    XCTAssertEqual(PCIAddress(routingID: 0x0121), PCIAddress(bus: 1, device: 4, function: 1))
  }

  func testRegionsAreSizeTimesCountAndBadBARsAreRefused() throws {
    var capability = try XCTUnwrap(SRIOVCapability(qemuNVMeSpace(), at: 0x120))
    let regions = try capability.regions(count: 2)
    XCTAssertEqual(regions.count, 1)
    XCTAssertEqual(regions[0].index, 0)
    XCTAssertEqual(regions[0].size, 0x8000)
    XCTAssertTrue(regions[0].is64Bit)
    capability.bars[2] = .io(base: 0, size: 0x100)
    XCTAssertThrowsError(try capability.regions(count: 2)) {
      XCTAssertEqual($0 as? SRIOVError, .ioBAR(index: 2))
    }
    capability.bars[2] = .memory(base: 0, size: 0x800, is64Bit: false, prefetchable: false)
    XCTAssertThrowsError(try capability.regions(count: 2)) {
      XCTAssertEqual($0 as? SRIOVError, .badBARSize(index: 2, size: 0x800))
    }
    capability.bars[2] = .memory(base: 0, size: 1 << 31, is64Bit: false, prefetchable: false)
    XCTAssertThrowsError(try capability.regions(count: 4)) {
      XCTAssertEqual($0 as? SRIOVError, .badBARSize(index: 2, size: 1 << 31))
    }
  }

  func testEnableWritesNumVFsBasesAndVFEnableAndVFsBARsFollow() throws {
    let space = qemuNVMeSpace()
    let enabled = try XCTUnwrap(
      SRIOVCapability.enable(space, at: 0x120, count: 2, bases: [(0, 0x1_C000_0000)]))
    XCTAssertEqual(enabled.numVFs, 2)
    XCTAssertTrue(enabled.vfEnabled)
    XCTAssertFalse(enabled.vfMemoryEnabled)
    XCTAssertEqual(space.read32(0x120 + 0x24), 0xC000_0004)
    XCTAssertEqual(space.read32(0x120 + 0x28), 1)
    XCTAssertEqual(enabled.vfBAR(0, vf: 1)?.base, 0x1_C000_0000)
    XCTAssertEqual(enabled.vfBAR(0, vf: 2)?.base, 0x1_C000_4000)
    XCTAssertEqual(enabled.vfBAR(0, vf: 2)?.size, 0x4000)
    XCTAssertNil(enabled.vfBAR(1, vf: 1))
    XCTAssertNil(enabled.vfBAR(0, vf: 0))
    // NumVFs was written before VF Enable (§9.3.3.3.1).
    let numVFs = try XCTUnwrap(space.writes.firstIndex { $0.0 == 0x130 })
    let enable = try XCTUnwrap(space.writes.lastIndex { $0.0 == 0x128 && $0.1 & 1 == 1 })
    XCTAssertLessThan(numVFs, enable)
    SRIOVCapability.enableMemory(space, at: 0x120)
    XCTAssertEqual(space.read16(0x128), 0x9)
  }

  func testMemoryGapPlacesLowestAlignedFreeRange() {
    var gap = PCIMemoryGap(start: 0xC000_0000, end: 0xFEC0_0000)
    gap.markUsed(base: 0xB000_0000, size: 0x1000_0000)  // ECAM, below the window
    gap.markUsed(base: 0xC000_0000, size: 0x1000)  // a BAR at the window's start
    gap.markUsed(base: 0xC000_8000, size: 0x4000)
    XCTAssertEqual(gap.place(size: 0x4000), 0xC000_4000)
    XCTAssertEqual(gap.place(size: 0x8000), 0xC001_0000)
    XCTAssertEqual(gap.place(size: 0x1000), 0xC000_1000)
    XCTAssertNil(gap.place(size: 0x3000))  // not a power of two
    XCTAssertNil(gap.place(size: 0x8000_0000))  // larger than the window
    var full = PCIMemoryGap(start: 0x1000, end: 0x3000)
    full.markUsed(base: 0x2000, size: 0x1000)
    XCTAssertNil(full.place(size: 0x2000))
    XCTAssertEqual(full.place(size: 0x1000), 0x1000)
    XCTAssertNil(full.place(size: 0x1000))
  }

  func testMCFGRegionsAndFunctionBases() throws {
    var table = [UInt8](repeating: 0, count: 44)
    func entry(base: UInt64, segment: UInt16, start: UInt8, end: UInt8) {
      for i in 0..<8 { table.append(UInt8(truncatingIfNeeded: base >> (8 * UInt64(i)))) }
      table += [UInt8(segment & 0xFF), UInt8(segment >> 8), start, end, 0, 0, 0, 0]
    }
    entry(base: 0xB000_0000, segment: 0, start: 0, end: 255)  // QEMU q35
    entry(base: 0xB000_0000, segment: 0, start: 9, end: 3)  // end below start
    entry(base: 0xB000_1000, segment: 0, start: 0, end: 0)  // not 1 MiB aligned
    entry(base: 0xFFFF_FFFF_FFF0_0000, segment: 1, start: 0, end: 1)  // wraps
    table += [1, 2, 3]  // a partial entry
    let regions = PCIExpressConfigurationRegion.parse(mcfg: table)
    XCTAssertEqual(
      regions,
      [PCIExpressConfigurationRegion(base: 0xB000_0000, segment: 0, startBus: 0, endBus: 255)])
    let q35 = regions[0]
    XCTAssertEqual(q35.length, 256 << 20)
    XCTAssertEqual(q35.functionBase(PCIAddress(bus: 0, device: 4, function: 1)), 0xB002_1000)
    XCTAssertEqual(q35.functionBase(PCIAddress(bus: 1, device: 0, function: 0)), 0xB010_0000)
    let narrow = PCIExpressConfigurationRegion(
      base: 0xE000_0000, segment: 0, startBus: 2, endBus: 3)
    XCTAssertNil(narrow.functionBase(PCIAddress(bus: 1, device: 0, function: 0)))
    XCTAssertEqual(narrow.functionBase(PCIAddress(bus: 3, device: 0, function: 0)), 0xE010_0000)
    XCTAssertEqual(PCIExpressConfigurationRegion.parse(mcfg: [1, 2, 3]), [])
  }
}
