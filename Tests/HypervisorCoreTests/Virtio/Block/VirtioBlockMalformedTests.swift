import XCTest

@testable import HypervisorCore

/// A guest's bad requests: each fails (IOERR, UNSUPP, or given back unanswered) or stops the
/// queue, and none changes a byte outside what it may.
final class VirtioBlockMalformedTests: XCTestCase {
  typealias T = VirtioBlockRequestType

  func testRangesPastTheEndAreRefusedWithTheImageUntouched() {
    let driver = BlockTestDriver(diskSize: 64 * 512)
    let image = driver.diskBuffer.contents
    let data = [UInt8](repeating: 0xCC, count: 1024)
    // Straddling the end, starting at it, starting past it, and sectors whose byte offset or
    // end overflows 64 bits.
    for sector: UInt64 in [63, 64, 65, 1 << 55, UInt64.max, UInt64.max - 1, 1 << 63] {
      XCTAssertEqual(driver.request(type: T.write, sector: sector, outData: data).status, 1)
      XCTAssertEqual(driver.request(type: T.read, sector: sector, inData: 1024).status, 1)
    }
    XCTAssertEqual(driver.diskBuffer.contents, image)
    XCTAssertTrue(driver.diskBuffer.guardsIntact)
    // A refused read leaves the guest's buffer as it was (the refused write's data: the two
    // share it).
    XCTAssertTrue(driver.readData(1024) == data)
    let stats = driver.device.statistics
    XCTAssertEqual(stats.outOfRange, 14)
    XCTAssertEqual(stats.ioErrors, 14)
    XCTAssertEqual(stats.bytesWritten, 0)
    XCTAssertEqual(stats.bytesRead, 0)
  }

  func testDataThatIsNotWholeSectorsOrInTheWrongDirectionIsRefused() {
    let driver = BlockTestDriver()
    let image = driver.diskBuffer.contents
    XCTAssertEqual(
      driver.request(type: T.write, sector: 0, outData: [UInt8](repeating: 1, count: 100)).status,
      1)
    XCTAssertEqual(driver.request(type: T.read, sector: 0, inData: 513).status, 1)
    // A read with readable data after its header; a write with writable data before its status.
    XCTAssertEqual(
      driver.request(type: T.read, sector: 0, outData: [UInt8](repeating: 1, count: 512))
        .status, 1)
    XCTAssertEqual(
      driver.request(
        type: T.write, sector: 0, outData: [UInt8](repeating: 1, count: 512), inData: 512
      ).status, 1)
    XCTAssertEqual(
      driver.request(type: T.flush, sector: 0, outData: [UInt8](repeating: 1, count: 512))
        .status, 1)
    XCTAssertEqual(driver.diskBuffer.contents, image)
    XCTAssertEqual(driver.device.statistics.outOfRange, 0)
    XCTAssertEqual(driver.device.statistics.ioErrors, 5)
  }

  func testAShortHeaderIsAnsweredIOErrorInItsStatusByte() {
    let driver = BlockTestDriver()
    driver.header(type: T.write, sector: 0)
    driver.store(UInt8(0xEE), at: BlockTestDriver.statusAddress)
    driver.post([
      (BlockTestDriver.headerAddress, 12, false), (BlockTestDriver.statusAddress, 1, true),
    ])
    driver.device.queueNotified(0)
    XCTAssertEqual(driver.load(UInt8.self, at: BlockTestDriver.statusAddress), 1)
    XCTAssertEqual(driver.service.completions.last?.written, 1)
    XCTAssertEqual(driver.device.statistics.shortHeaders, 1)
    XCTAssertTrue(driver.service.faults.isEmpty)
  }

  func testAChainWithNoStatusByteIsGivenBackWithNothingWritten() {
    let driver = BlockTestDriver()
    let image = driver.diskBuffer.contents
    driver.header(type: T.write, sector: 0)
    driver.write([UInt8](repeating: 7, count: 512), at: BlockTestDriver.dataAddress)
    driver.post([
      (BlockTestDriver.headerAddress, 16, false), (BlockTestDriver.dataAddress, 512, false),
    ])
    driver.device.queueNotified(0)
    XCTAssertEqual(driver.service.completions.count, 1)
    XCTAssertEqual(driver.service.completions.last?.written, 0)
    XCTAssertEqual(driver.device.statistics.unanswerable, 1)
    XCTAssertEqual(driver.device.statistics.writes, 0)
    XCTAssertEqual(driver.diskBuffer.contents, image)
    // The queue goes on.
    XCTAssertEqual(driver.request(type: T.flush, sector: 0).status, 0)
  }

  func testAQueueRuleBrokenAsksForAResetAndServesNothingMore() {
    let driver = BlockTestDriver()
    // A descriptor loop.
    driver.descriptor(0, address: BlockTestDriver.headerAddress, length: 16, flags: 1, next: 1)
    driver.descriptor(1, address: BlockTestDriver.statusAddress, length: 1, flags: 1, next: 0)
    driver.store(UInt16(0), at: BlockTestDriver.driverArea + 4)
    driver.availableIndex = 1
    driver.store(UInt16(1), at: BlockTestDriver.driverArea + 2)
    driver.device.queueNotified(0)
    XCTAssertEqual(driver.service.faults, [.descriptorLoop])
    XCTAssertTrue(driver.device.needsReset)
    XCTAssertEqual(driver.device.statistics.queueFaults, 1)
    driver.device.queueNotified(0)
    XCTAssertEqual(driver.service.faults.count, 1)
    XCTAssertTrue(driver.service.completions.isEmpty)
  }

  func testAChainLongerThanTheDeviceTakesIsAQueueFault() {
    // Seventeen writable views of all guest RAM: 16 MiB and 16 bytes by the sixteenth, more
    // than seg_max × size_max.
    let driver = BlockTestDriver(diskSize: 1 << 20, size: 32)
    driver.header(type: T.read, sector: 0)
    let ram = UInt32(BlockTestDriver.ramSize)
    driver.post(
      [(BlockTestDriver.headerAddress, 16, false)] + Array(repeating: (0, ram, true), count: 17))
    driver.device.queueNotified(0)
    XCTAssertEqual(driver.service.faults, [.chainTooLarge(16 + 16 * UInt64(ram))])
    XCTAssertTrue(driver.service.completions.isEmpty)
    XCTAssertEqual(driver.device.statistics.bytesRead, 0)
  }

  func testRequestsCompletedBeforeAFaultAreSignalled() {
    let driver = BlockTestDriver()
    driver.header(type: T.flush, sector: 0)
    driver.post([
      (BlockTestDriver.headerAddress, 16, false), (BlockTestDriver.statusAddress, 1, true),
    ])
    // The next available head names no descriptor of the 16-entry table.
    driver.store(UInt16(40), at: BlockTestDriver.driverArea + 4 + 2)
    driver.availableIndex = 2
    driver.store(UInt16(2), at: BlockTestDriver.driverArea + 2)
    driver.device.queueNotified(0)
    XCTAssertEqual(driver.service.completions.count, 1)
    XCTAssertEqual(driver.service.signals, 1)
    XCTAssertEqual(driver.service.faults, [.descriptorOutOfRange(40)])
  }
}
