import HypervisorCore
import PCI
import XCTest

/// The guest's side of the virtual PCI bus read by Peregrine's own host PCI code (the code
/// that finds the node's NIC): two independent readings of the same specification agree.
final class VirtualPCIBusCrossTests: XCTestCase {
  /// Configuration mechanism #1 through the bus's ports, as a guest kernel drives it.
  private struct PortSpace: PCIConfigurationSpace {
    let bus: VirtualPCIBus
    let device: UInt32
    func read32(_ offset: UInt8) -> UInt32 {
      _ = bus.write(port: 0xCF8, size: 4, value: 1 << 31 | device << 11 | UInt32(offset & 0xFC))
      return bus.read(port: 0xCFC, size: 4)
    }
    func write32(_ offset: UInt8, _ value: UInt32) {
      _ = bus.write(port: 0xCF8, size: 4, value: 1 << 31 | device << 11 | UInt32(offset & 0xFC))
      _ = bus.write(port: 0xCFC, size: 4, value: value)
    }
  }

  private final class Disk: VirtualPCIFunction {
    var configuration = VirtualPCIConfiguration(
      vendorID: 0x1AF4, deviceID: 0x1042, classCode: 0x01, subclass: 0x00, revision: 1,
      subsystemVendorID: 0x1AF4, subsystemID: 0x0002, interruptPin: 1)
    init() {
      configuration.declareBAR(0, VirtualBAR(.memory32, size: 0x1000), at: 0xFEB0_1000)
      configuration.declareBAR(
        4, VirtualBAR(.memory64, size: 0x4000, prefetchable: true), at: 0x8_0000_0000)
      // MSI-X: 4 vectors, table in BAR 0 at 0, pending bits at 0x800; enable and mask writable.
      configuration.addCapability(
        id: 0x11, body: [0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00],
        writableBody: [0x00, 0xC0])
      configuration.addCapability(
        id: 0x09, body: [16, 1, 4, 0, 0, 0] + [UInt8](repeating: 0, count: 8))
    }
    func readBAR(_ index: Int, offset: UInt64, size: UInt8) -> UInt64 { 0 }
    func writeBAR(_ index: Int, offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect {
      .none
    }
  }

  func testTheHostDriversReadingOfTheVirtualBusIsWhatWasDeclared() throws {
    let bus = VirtualPCIBus()
    bus.attach(VirtualHostBridge(), device: 0)
    bus.attach(Disk(), device: 3)

    XCTAssertNil(PCIHeader(PortSpace(bus: bus, device: 7)), "an empty slot reads all ones")
    let bridge = try XCTUnwrap(PCIHeader(PortSpace(bus: bus, device: 0)))
    XCTAssertEqual(bridge.classCode, 0x06)

    let space = PortSpace(bus: bus, device: 3)
    let header = try XCTUnwrap(PCIHeader(space))
    XCTAssertEqual(header.vendorID, 0x1AF4)
    XCTAssertEqual(header.deviceID, 0x1042)
    XCTAssertEqual(header.classCode, 0x01)
    XCTAssertEqual(
      PCIBaseAddress.readAll(space, count: header.barCount),
      [
        .memory(base: 0xFEB0_1000, size: 0x1000, is64Bit: false, prefetchable: false),
        .unused, .unused, .unused,
        .memory(base: 0x8_0000_0000, size: 0x4000, is64Bit: true, prefetchable: true),
        .unused,
      ])
    let capabilities = PCICapability.list(space, header: header)
    XCTAssertEqual(capabilities.map(\.id), [0x11, 0x09])
    let msix = try XCTUnwrap(MSIXCapability(space, at: capabilities[0].offset))
    XCTAssertEqual(msix.tableSize, 4)
    XCTAssertEqual(msix.tableBAR, 0)
    XCTAssertEqual(msix.pendingOffset, 0x800)
    MSIXCapability.enable(space, at: capabilities[0].offset)
    XCTAssertEqual(space.read16(capabilities[0].offset + 2), 0x8003, "enable set, size kept")
  }
}
