import XCTest

@testable import HypervisorCore

final class VirtualPCIBusTests: XCTestCase {
  private final class Counter: VirtualPCIFunction {
    var configuration = VirtualPCIConfiguration(
      vendorID: 0x1AF4, deviceID: 0x1041, classCode: 0x02, subclass: 0x00)
    var writes: [(Int, UInt64, UInt64)] = []
    init() {
      configuration.declareBAR(0, VirtualBAR(.memory32, size: 0x1000), at: 0xFEB0_0000)
      configuration.declareBAR(2, VirtualBAR(.io, size: 0x20), at: 0xC000)
    }
    func readBAR(_ index: Int, offset: UInt64, size: UInt8) -> UInt64 { 0xAB00 | offset }
    func writeBAR(_ index: Int, offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect {
      writes.append((index, offset, value))
      return .none
    }
  }

  private func select(_ bus: VirtualPCIBus, device: UInt32, register: UInt32) {
    _ = bus.write(port: 0xCF8, size: 4, value: 1 << 31 | device << 11 | register)
  }

  func testTheAddressLatchAndDataPortsReadAndWriteConfigurationSpace() {
    let bus = VirtualPCIBus()
    bus.attach(Counter(), device: 2)
    select(bus, device: 2, register: 0)
    XCTAssertEqual(bus.read(port: 0xCF8, size: 4), 0x8000_1000)
    XCTAssertEqual(bus.read(port: 0xCFC, size: 4), 0x1041_1AF4)
    XCTAssertEqual(bus.read(port: 0xCFE, size: 2), 0x1041, "the word at offset 2")
    select(bus, device: 2, register: 0x08)
    XCTAssertEqual(bus.read(port: 0xCFF, size: 1), 0x02, "class code at 0x0B")
    // Disabled latch, another bus, a function other than 0, an empty slot: all ones.
    _ = bus.write(port: 0xCF8, size: 4, value: 2 << 11)
    XCTAssertEqual(bus.read(port: 0xCFC, size: 4), 0xFFFF_FFFF)
    _ = bus.write(port: 0xCF8, size: 4, value: 1 << 31 | 1 << 16 | 2 << 11)
    XCTAssertEqual(bus.read(port: 0xCFC, size: 2), 0xFFFF)
    _ = bus.write(port: 0xCF8, size: 4, value: 1 << 31 | 2 << 11 | 1 << 8)
    XCTAssertEqual(bus.read(port: 0xCFC, size: 4), 0xFFFF_FFFF)
    select(bus, device: 9, register: 0)
    XCTAssertEqual(bus.read(port: 0xCFC, size: 1), 0xFF)
    // A byte write to 0xCFB (Linux's type-1 probe) leaves the latch alone.
    _ = bus.write(port: 0xCFB, size: 1, value: 1)
    XCTAssertEqual(bus.read(port: 0xCF8, size: 4), 0x8000_4800)
  }

  /// kvm-unit-tests' PCI library (lib/x86/asm/pci.h) puts the register's low bits in the
  /// address and reads 0xCFC: QEMU ORs them into the byte offset, and so does the bus. The
  /// address register still reads them as 0.
  func testTheAddressLowBitsSelectBytesAsQEMUs() {
    let bus = VirtualPCIBus()
    bus.attach(Counter(), device: 2)
    select(bus, device: 2, register: 2)
    XCTAssertEqual(bus.read(port: 0xCF8, size: 4), 0x8000_1000)
    XCTAssertEqual(bus.read(port: 0xCFC, size: 2), 0x1041, "the device ID")
    XCTAssertEqual(bus.read(port: 0xCFE, size: 2), 0x1041)
    select(bus, device: 2, register: 0)
    XCTAssertEqual(bus.read(port: 0xCFC, size: 2), 0x1AF4)
    XCTAssertEqual(bus.read(port: 0xCFE, size: 2), 0x1041)
  }

  func testReadOnlyFieldsStayAndTheCommandRegisterTakesOnlyItsBits() {
    let bus = VirtualPCIBus()
    let counter = Counter()
    bus.attach(counter, device: 2)
    select(bus, device: 2, register: 0)
    _ = bus.write(port: 0xCFC, size: 4, value: 0)
    XCTAssertEqual(bus.read(port: 0xCFC, size: 4), 0x1041_1AF4, "IDs are read-only")
    select(bus, device: 2, register: 4)
    _ = bus.write(port: 0xCFC, size: 2, value: 0xFFFF)
    XCTAssertEqual(bus.read(port: 0xCFC, size: 2), 0x0407)
    XCTAssertTrue(counter.configuration.decodesMemory)
    XCTAssertTrue(counter.configuration.isBusMaster)
  }

  func testBARSizingReadsTheSizeAndTheGuestMayMoveTheBAR() {
    var configuration = Counter().configuration
    XCTAssertEqual(configuration.write(offset: 0x10, size: 4, value: 0xFFFF_FFFF), [.bars])
    XCTAssertEqual(configuration.read(offset: 0x10, size: 4), 0xFFFF_F000, "4 KiB, 32-bit")
    XCTAssertEqual(configuration.write(offset: 0x18, size: 4, value: 0xFFFF_FFFF), [.bars])
    XCTAssertEqual(configuration.read(offset: 0x18, size: 4), 0xFFFF_FFE1, "32 ports, I/O")
    _ = configuration.write(offset: 0x10, size: 4, value: 0xC000_0123)
    XCTAssertEqual(configuration.address(ofBAR: 0), 0xC000_0000)
    XCTAssertEqual(configuration.read(offset: 0x14, size: 4), 0, "no BAR 1: not writable")
    XCTAssertEqual(configuration.write(offset: 0x14, size: 4, value: 0xFFFF_FFFF), [])
  }

  func testA64BitBARTakesTwoRegisters() {
    var configuration = VirtualPCIConfiguration(
      vendorID: 1, deviceID: 2, classCode: 0xFF, subclass: 0)
    configuration.declareBAR(
      2, VirtualBAR(.memory64, size: 0x4000, prefetchable: true), at: 0x1_2345_8000)
    XCTAssertEqual(configuration.read(offset: 0x18, size: 4), 0x2345_800C)
    XCTAssertEqual(configuration.read(offset: 0x1C, size: 4), 1)
    XCTAssertEqual(configuration.address(ofBAR: 2), 0x1_2345_8000)
    _ = configuration.write(offset: 0x1C, size: 4, value: 0xFFFF_FFFF)
    _ = configuration.write(offset: 0x18, size: 4, value: 0xFFFF_FFFF)
    XCTAssertEqual(configuration.read(offset: 0x18, size: 4), 0xFFFF_C00C)
    XCTAssertEqual(configuration.read(offset: 0x1C, size: 4), 0xFFFF_FFFF)
  }

  func testMisalignedOrOutOfRangeAccessesReadAllOnesAndWriteNothing() {
    var configuration = Counter().configuration
    XCTAssertEqual(configuration.read(offset: 1, size: 2), 0xFFFF)
    XCTAssertEqual(configuration.read(offset: 4094, size: 4), 0xFFFF_FFFF)
    XCTAssertEqual(configuration.read(offset: -4, size: 4), 0xFFFF_FFFF)
    XCTAssertEqual(configuration.read(offset: 0, size: 3), 0xFF_FFFF)
    XCTAssertEqual(configuration.write(offset: 0x11, size: 2, value: 0xFFFF), [])
    XCTAssertEqual(configuration.address(ofBAR: 0), 0xFEB0_0000)
  }

  func testECAMReachesTheSameSpaceIncludingTheExtendedPart() {
    let bus = VirtualPCIBus()
    bus.attach(Counter(), device: 2)
    XCTAssertEqual(bus.readECAM(offset: 2 << 15, size: 4), 0x1041_1AF4)
    XCTAssertEqual(bus.readECAM(offset: 2 << 15 | 0x100, size: 4), 0, "extended space exists")
    XCTAssertEqual(bus.readECAM(offset: 1 << 20 | 2 << 15, size: 4), 0xFFFF_FFFF, "bus 1")
    XCTAssertEqual(bus.readECAM(offset: 3 << 15, size: 2), 0xFFFF)
    _ = bus.writeECAM(offset: 2 << 15 | 0x10, size: 4, value: 0xC000_0000)
    XCTAssertEqual(bus.readECAM(offset: 2 << 15 | 0x10, size: 4), 0xC000_0000)
  }

  func testMemoryAccessesFollowTheBARAndOnlyWhileMemoryDecodingIsOn() {
    let bus = VirtualPCIBus()
    let counter = Counter()
    bus.attach(counter, device: 2)
    XCTAssertEqual(bus.readMemory(address: 0xFEB0_0010, size: 4), 0xFFFF_FFFF, "decoding off")
    _ = bus.writeECAM(offset: 2 << 15 | 4, size: 2, value: 0b10)
    XCTAssertEqual(bus.readMemory(address: 0xFEB0_0010, size: 4), 0xAB10)
    XCTAssertEqual(bus.readMemory(address: 0xFEB0_0FFE, size: 4), 0xFFFF_FFFF, "straddles the end")
    _ = bus.writeECAM(offset: 2 << 15 | 0x10, size: 4, value: 0xC000_0000)
    XCTAssertEqual(bus.readMemory(address: 0xFEB0_0010, size: 4), 0xFFFF_FFFF, "moved away")
    _ = bus.writeMemory(address: 0xC000_0FF8, size: 8, value: 7)
    XCTAssertEqual(counter.writes.count, 1)
    XCTAssertEqual(counter.writes[0].1, 0xFF8)
    XCTAssertNil(bus.decoder(of: 0xC000, length: 1), "I/O BARs are not memory")
  }

  func testCapabilitiesAreChainedAndOnlyTheirWritableBitsChange() {
    var configuration = VirtualPCIConfiguration(
      vendorID: 1, deviceID: 2, classCode: 0xFF, subclass: 0)
    let first = configuration.addCapability(
      id: 0x11, body: [3, 0, 0, 0, 0, 0, 0, 0, 0, 0], writableBody: [0, 0xC0])
    let second = configuration.addCapability(id: 0x09, body: [4, 1, 2])
    XCTAssertEqual(first, 0x40)
    XCTAssertEqual(second, 0x4C)
    XCTAssertEqual(configuration.read(offset: 0x06, size: 2) & 0x10, 0x10)
    XCTAssertEqual(configuration.read(offset: 0x34, size: 1), 0x40)
    XCTAssertEqual(configuration.read(offset: 0x41, size: 1), 0x4C)
    XCTAssertEqual(configuration.read(offset: 0x4D, size: 1), 0, "the last one ends the list")
    _ = configuration.write(offset: 0x42, size: 2, value: 0xFFFF)
    XCTAssertEqual(configuration.read(offset: 0x42, size: 2), 0xC003)
  }
}
