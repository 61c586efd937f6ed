import HypervisorCore
import XCTest

final class GuestMemoryMapTests: XCTestCase {
  private var backing: UnsafeMutableRawPointer!
  private let backingSize = 0x4000
  private var map = GuestMemoryMap()

  private var host: UInt64 { UInt64(UInt(bitPattern: backing)) }

  override func setUp() {
    super.setUp()
    backing = .allocate(byteCount: backingSize, alignment: 4096)
    backing.initializeMemory(as: UInt8.self, repeating: 0, count: backingSize)
    // Guest [0x0, 0x2000) is backing[0x0...], guest [0x10_0000, 0x10_2000) is backing[0x2000...].
    map = GuestMemoryMap()
    map.add(GuestMemoryRegion(guestPhysical: 0, hostAddress: host, size: 0x2000))
    map.add(GuestMemoryRegion(guestPhysical: 0x10_0000, hostAddress: host + 0x2000, size: 0x2000))
  }

  override func tearDown() {
    backing.deallocate()
    backing = nil
    super.tearDown()
  }

  private func address(_ pointer: UnsafeMutableRawPointer?) -> UInt64? {
    pointer.map { UInt64(UInt(bitPattern: $0)) }
  }

  func testSizeAndEnd() {
    XCTAssertEqual(map.size, 0x4000)
    XCTAssertEqual(map.end, 0x10_2000)
    XCTAssertEqual(GuestMemoryMap().end, 0)
  }

  func testLastByteOfARegionIsInside() {
    XCTAssertEqual(address(map.pointer(to: 0x1FFF, length: 1)), host + 0x1FFF)
    XCTAssertEqual(address(map.pointer(to: 0x10_1FFF, length: 1)), host + 0x3FFF)
    XCTAssertEqual(address(map.pointer(to: 0x1FF8, length: 8)), host + 0x1FF8)
  }

  func testOnePastTheEndIsOutside() {
    XCTAssertNil(map.pointer(to: 0x2000, length: 1))
    XCTAssertNil(map.pointer(to: 0x10_2000, length: 1))
    XCTAssertNil(map.pointer(to: 0x1FF9, length: 8), "the last byte would be one past the end")
    XCTAssertNil(map.pointer(to: 0xF_FFFF, length: 2), "just below the second region")
  }

  func testRangesDoNotSpanRegions() {
    // Contiguous in the host here, but a range may not run from one region into another.
    var adjacent = GuestMemoryMap()
    adjacent.add(GuestMemoryRegion(guestPhysical: 0, hostAddress: host, size: 0x1000))
    adjacent.add(GuestMemoryRegion(guestPhysical: 0x1000, hostAddress: host + 0x1000, size: 0x1000))
    XCTAssertNil(adjacent.pointer(to: 0xFFF, length: 2))
    XCTAssertEqual(address(adjacent.pointer(to: 0x1000, length: 0x1000)), host + 0x1000)
  }

  func testLengthOverflowIsSafe() {
    XCTAssertNil(map.pointer(to: 0x10, length: UInt64.max))
    XCTAssertNil(map.pointer(to: 0x10_0010, length: UInt64.max - 0x8))
    XCTAssertNil(map.pointer(to: UInt64.max, length: 2))
    XCTAssertNil(map.pointer(to: UInt64.max - 0xF, length: 0x20))
  }

  func testMultiRegionLookup() {
    XCTAssertEqual(address(map.pointer(to: 0x10_0000, length: 0x2000)), host + 0x2000)
    XCTAssertEqual(address(map.pointer(to: 0x10_0123, length: 4)), host + 0x2123)
    XCTAssertEqual(address(map.pointer(to: 0, length: 0x2000)), host)
    XCTAssertNil(map.pointer(to: 0x8_0000, length: 1), "between the regions")
  }

  func testReadsAndWrites() {
    let bytes: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
    XCTAssertTrue(bytes.withUnsafeBytes { map.write($0, to: 0x10_1FF8) })
    XCTAssertEqual(map.read64(0x10_1FF8), 0x0807_0605_0403_0201)
    XCTAssertEqual(map.read32(0x10_1FFC), 0x0807_0605)
    XCTAssertEqual(backing.load(fromByteOffset: 0x3FF8, as: UInt8.self), 1)
    XCTAssertNil(map.read64(0x10_1FF9))
    XCTAssertNil(map.read32(0x2000))
  }

  func testWriteOfATooLongBufferFailsAndWritesNothing() {
    let bytes = [UInt8](repeating: 0xAA, count: 9)
    XCTAssertFalse(bytes.withUnsafeBytes { map.write($0, to: 0x1FF8) })
    XCTAssertEqual(backing.load(fromByteOffset: 0x1FF8, as: UInt64.self), 0, "nothing written")
    XCTAssertFalse(bytes.withUnsafeBytes { map.write($0, to: 0x5000) })
  }

  func testExtendLast() {
    map.extendLast(by: 0x1000)
    XCTAssertEqual(map.end, 0x10_3000)
    XCTAssertEqual(map.size, 0x5000)
    XCTAssertEqual(map.regions.count, 2)
  }
}
