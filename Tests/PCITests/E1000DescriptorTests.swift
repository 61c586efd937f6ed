import XCTest

@testable import PCI

final class E1000DescriptorTests: XCTestCase {
  func testTransmitDescriptorLayout() {
    let bytes = E1000Descriptor.transmit(address: 0x1_2345_6780, length: 60)
    XCTAssertEqual(bytes.count, 16)
    XCTAssertEqual(Array(bytes[0..<8]), [0x80, 0x67, 0x45, 0x23, 0x01, 0, 0, 0])
    XCTAssertEqual(bytes[8], 60)
    XCTAssertEqual(bytes[9], 0)
    XCTAssertEqual(bytes[11], 0b1011)  // EOP, IFCS, RS
    XCTAssertEqual(bytes[12], 0)
  }

  func testReceiveStatus() {
    var descriptor = [UInt8](repeating: 0, count: 16)
    XCTAssertEqual(E1000Descriptor.received(descriptor), .pending)
    descriptor[8] = 0xEA
    descriptor[9] = 0x05
    descriptor[12] = 0b11  // DD, EOP
    XCTAssertEqual(E1000Descriptor.received(descriptor), .frame(length: 1514))
    descriptor[13] = 0x01  // a CRC error
    XCTAssertEqual(E1000Descriptor.received(descriptor), .skipped)
    descriptor[13] = 0
    descriptor[12] = 0b01  // done, but not the end of a packet (spans descriptors)
    XCTAssertEqual(E1000Descriptor.received(descriptor), .skipped)
    XCTAssertEqual(E1000Descriptor.received([1, 2, 3]), .pending)
  }

  func testMACFromReceiveAddressRegisters() {
    XCTAssertEqual(
      E1000Descriptor.mac(low: 0x1200_5452, high: 0x8000_5634),
      [0x52, 0x54, 0x00, 0x12, 0x34, 0x56])
    XCTAssertNil(E1000Descriptor.mac(low: 0x1200_5452, high: 0x5634))
  }

  func testIdentities() {
    XCTAssertTrue(E1000Identity.matches(vendor: 0x8086, device: 0x100E))
    XCTAssertFalse(E1000Identity.matches(vendor: 0x8086, device: 0x1237))
  }
}
