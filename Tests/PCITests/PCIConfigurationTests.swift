import XCTest

@testable import PCI

/// A modern virtio-net function as QEMU 7.2 lays it out (virtio-net-pci,disable-legacy=on):
/// BAR1 a 4 KiB MSI-X table region, BAR4 a 16 KiB 64-bit prefetchable region with the
/// common, ISR, device and notify structures, and a capability list of MSI-X and five
/// virtio vendor capabilities.
func virtioNetSpace() -> FakeConfigurationSpace {
  let space = FakeConfigurationSpace(bytes: Array(repeating: 0, count: 256))
  space.set32(0x00, 0x1041_1AF4)  // device 0x1041, vendor 0x1AF4
  space.set32(0x04, 0x0010_0007)  // status: capabilities list; command: io, memory, master
  space.set32(0x08, 0x0200_0001)  // class 02 (network), subclass 00, revision 1
  space.set32(0x0C, 0x0000_0000)  // header type 0
  space.set32(0x14, 0xFEBD_1000)  // BAR1: 32-bit memory
  space.barMasks[1] = 0xFFFF_F000
  space.set32(0x20, 0xFE00_000C)  // BAR4: 64-bit prefetchable memory
  space.set32(0x24, 0x0000_0000)
  space.barMasks[4] = 0xFFFF_C000
  space.barMasks[5] = 0xFFFF_FFFF
  space.set32(0x34, 0x98)  // capabilities pointer
  // MSI-X at 0x98: 3 entries, table in BAR1 at 0, PBA in BAR1 at 0x800.
  space.set32(0x98, 0x0002_8411)
  space.set32(0x9C, 0x0000_0001)
  space.set32(0xA0, 0x0000_0801)
  // Virtio capabilities: vndr 9, next, len, cfg_type, bar, id, pad, offset, length.
  func virtio(_ at: Int, next: Int, length: Int, type: UInt8, offset: UInt32, size: UInt32) {
    space.set32(at, 0x09 | UInt32(next) << 8 | UInt32(length) << 16 | UInt32(type) << 24)
    space.set32(at + 4, 4)  // BAR 4
    space.set32(at + 8, offset)
    space.set32(at + 12, size)
  }
  virtio(0x84, next: 0x70, length: 0x14, type: 2, offset: 0x3000, size: 0x1000)
  space.set32(0x84 + 16, 4)  // notify_off_multiplier
  virtio(0x70, next: 0x60, length: 0x10, type: 4, offset: 0x2000, size: 0x1000)
  virtio(0x60, next: 0x50, length: 0x10, type: 3, offset: 0x1000, size: 0x1000)
  virtio(0x50, next: 0x40, length: 0x10, type: 1, offset: 0x0000, size: 0x1000)
  virtio(0x40, next: 0x00, length: 0x14, type: 5, offset: 0, size: 0)
  space.bytes[0x99] = 0x84  // MSI-X -> notify
  return space
}

final class PCIConfigurationTests: XCTestCase {
  func testConfigAddressOfMechanismOne() {
    let address = PCIAddress(bus: 1, device: 3, function: 2)
    XCTAssertEqual(address.configAddress(offset: 0x3F), 0x8001_1A3C)
  }

  func testHeaderOfAVirtioNetFunction() throws {
    let header = try XCTUnwrap(PCIHeader(virtioNetSpace()))
    XCTAssertEqual(header.vendorID, 0x1AF4)
    XCTAssertEqual(header.deviceID, 0x1041)
    XCTAssertTrue(header.isNetworkController)
    XCTAssertTrue(header.hasCapabilities)
    XCTAssertEqual(header.barCount, 6)
    XCTAssertFalse(header.isMultiFunction)
    XCTAssertTrue(VirtioPCIIdentity.isNetwork(vendor: header.vendorID, device: header.deviceID))
  }

  func testAbsentFunctionReadsAllOnes() {
    let space = FakeConfigurationSpace(bytes: Array(repeating: 0xFF, count: 256))
    XCTAssertNil(PCIHeader(space))
  }

  func testBARsAreSizedAndRestored() {
    let space = virtioNetSpace()
    let bars = PCIBaseAddress.readAll(space, count: 6)
    XCTAssertEqual(bars.count, 6)
    XCTAssertEqual(bars[0], .unused)
    XCTAssertEqual(
      bars[1], .memory(base: 0xFEBD_1000, size: 0x1000, is64Bit: false, prefetchable: false))
    XCTAssertEqual(
      bars[4], .memory(base: 0xFE00_0000, size: 0x4000, is64Bit: true, prefetchable: true))
    XCTAssertEqual(bars[5], .unused)
    // Every BAR holds its address again, and the command register is as it was.
    XCTAssertEqual(space.read32(0x14), 0xFEBD_1000)
    XCTAssertEqual(space.read32(0x20), 0xFE00_000C)
    XCTAssertEqual(space.read16(0x04), 0x0007)
    // Decoding was off while the BARs held all ones.
    XCTAssertEqual(space.writes.first.map { $0.0 }, 0x04)
    XCTAssertEqual(space.writes.first.map { $0.1 & 0x3 }, 0)
  }

  func testA64BitBARAbove4GiB() {
    let space = virtioNetSpace()
    space.set32(0x24, 0x0000_0008)  // BAR4 at 0x8_FE00_0000
    let bars = PCIBaseAddress.readAll(space, count: 6)
    XCTAssertEqual(bars[4].memoryBase, 0x8_FE00_0000)
    XCTAssertEqual(bars[4].memorySize, 0x4000)
  }

  func testIOBAR() {
    let space = virtioNetSpace()
    space.set32(0x10, 0xC041)
    space.barMasks[0] = 0xFFFF_FFE0
    XCTAssertEqual(PCIBaseAddress.readAll(space, count: 6)[0], .io(base: 0xC040, size: 0x20))
  }

  func testCapabilityWalkAndVirtioStructures() throws {
    let space = virtioNetSpace()
    let header = try XCTUnwrap(PCIHeader(space))
    let capabilities = PCICapability.list(space, header: header)
    XCTAssertEqual(capabilities.map(\.id), [0x11, 9, 9, 9, 9, 9])
    let virtio = VirtioPCICapability.all(space, capabilities: capabilities)
    XCTAssertEqual(virtio.map(\.kind), [.notify, .device, .isr, .common, .pciConfiguration])
    let notify = try XCTUnwrap(virtio.first { $0.kind == .notify })
    XCTAssertEqual(notify.bar, 4)
    XCTAssertEqual(notify.offset, 0x3000)
    XCTAssertEqual(notify.notifyOffsetMultiplier, 4)
    let msix = try XCTUnwrap(MSIXCapability(space, at: 0x98))
    XCTAssertEqual(msix.tableSize, 3)
    XCTAssertEqual(msix.tableBAR, 1)
    XCTAssertEqual(msix.tableOffset, 0)
    XCTAssertEqual(msix.pendingBAR, 1)
    XCTAssertEqual(msix.pendingOffset, 0x800)
    MSIXCapability.enable(space, at: 0x98)
    XCTAssertEqual(space.read16(0x9A) >> 14, 0b10)
    XCTAssertNil(MSIXCapability(space, at: 0xFC))  // would run past the end
  }

  func testALoopedCapabilityListEnds() throws {
    let space = virtioNetSpace()
    space.bytes[0x41] = 0x98  // the last capability points back at the first
    let capabilities = PCICapability.list(space, header: try XCTUnwrap(PCIHeader(space)))
    XCTAssertEqual(capabilities.count, 48)
    // A pointer into the header ends the walk.
    space.bytes[0x41] = 0x10
    XCTAssertEqual(PCICapability.list(space, header: try XCTUnwrap(PCIHeader(space))).count, 6)
  }

  func testMalformedVirtioCapabilitiesAreIgnored() {
    let space = virtioNetSpace()
    space.bytes[0x50 + 4] = 7  // BAR 7 is reserved
    space.bytes[0x60 + 3] = 9  // unknown cfg_type
    space.bytes[0x84 + 2] = 0x10  // notify too short for its multiplier
    let header = PCIHeader(space)!
    let kinds = VirtioPCICapability.all(
      space, capabilities: PCICapability.list(space, header: header)
    ).map(\.kind)
    XCTAssertEqual(kinds, [.device, .pciConfiguration])
  }

  func testRandomConfigurationSpacesNeverTrap() {
    var state: UInt64 = 0xC0FF_EE
    for _ in 0..<2000 {
      var bytes = [UInt8](repeating: 0, count: 256)
      for i in 0..<256 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        bytes[i] = UInt8(truncatingIfNeeded: state >> 33)
      }
      let space = FakeConfigurationSpace(bytes: bytes)
      space.barMasks = [0xFFFF_F000, 0, 0xFFFF_FFF0, 0xFFFF_FFFF, 0xFFFF_C000, 0xFFFF_FFFF]
      guard let header = PCIHeader(space) else { continue }
      _ = PCIBaseAddress.readAll(space, count: header.barCount)
      let capabilities = PCICapability.list(space, header: header)
      XCTAssertLessThanOrEqual(capabilities.count, 48)
      _ = VirtioPCICapability.all(space, capabilities: capabilities)
      for capability in capabilities where capability.id == PCICapability.msiX {
        _ = MSIXCapability(space, at: capability.offset)
      }
    }
  }

  func testFeatureNegotiationRequiresVersion1() {
    XCTAssertEqual(VirtioFeature.negotiate(offered: 0x0000_0000_FFFF_FFFF).failure, .notModern)
    let offered = VirtioFeature.version1 | VirtioFeature.netMAC | VirtioFeature.netStatus | 1 << 15
    XCTAssertEqual(
      try VirtioFeature.negotiate(offered: offered).get(),
      VirtioFeature.version1 | VirtioFeature.netMAC)
  }
}

extension Result {
  var failure: Failure? {
    if case .failure(let error) = self { return error }
    return nil
  }
}
