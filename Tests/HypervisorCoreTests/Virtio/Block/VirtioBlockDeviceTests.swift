import XCTest

@testable import HypervisorCore

final class VirtioBlockDeviceTests: XCTestCase {
  typealias T = VirtioBlockRequestType

  func testTheConfigurationDescribesTheDiskAndItsLimits() {
    let driver = BlockTestDriver(diskSize: 3 << 20)
    let device = driver.device
    XCTAssertEqual(device.deviceType, 2)
    XCTAssertEqual(device.queueCount, 1)
    XCTAssertEqual(device.configurationSize, 60)
    // capacity, as the driver reads it: two 32-bit halves.
    XCTAssertEqual(device.readConfiguration(offset: 0, size: 4), UInt32((3 << 20) / 512))
    XCTAssertEqual(device.readConfiguration(offset: 4, size: 4), 0)
    XCTAssertEqual(device.readConfiguration(offset: 8, size: 4), 65536)  // size_max
    XCTAssertEqual(device.readConfiguration(offset: 12, size: 4), 254)  // seg_max
    XCTAssertEqual(device.readConfiguration(offset: 20, size: 4), 512)  // blk_size
    XCTAssertEqual(device.readConfiguration(offset: 20, size: 2), 512)
    XCTAssertEqual(device.readConfiguration(offset: 21, size: 1), 2)
    XCTAssertEqual(device.readConfiguration(offset: 40, size: 4), 8)  // max_discard_seg
    XCTAssertEqual(device.readConfiguration(offset: 48, size: 4), 8192)  // max_write_zeroes_sectors
    XCTAssertEqual(device.readConfiguration(offset: 60, size: 4), 0)
    XCTAssertEqual(device.readConfiguration(offset: -1, size: 4) & 0xFF, 0)

    let features = device.deviceFeatures
    for bit in [1, 2, 6, 9, 13, 14] {
      XCTAssertNotEqual(features & (1 << UInt64(bit)), 0, "bit \(bit)")
    }
    XCTAssertEqual(features & VirtioBlockFeature.readOnly, 0)
    XCTAssertNotEqual(
      BlockTestDriver(readOnly: true).device.deviceFeatures & VirtioBlockFeature.readOnly, 0)
  }

  func testAWriteThenAReadRoundTripThroughTheImage() {
    let driver = BlockTestDriver()
    let data = (0..<2048).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
    let write = driver.request(type: T.write, sector: 5, outData: data)
    XCTAssertEqual(write.status, 0)
    XCTAssertEqual(write.written, 1)
    XCTAssertEqual(Array(driver.disk.bytes[5 * 512..<5 * 512 + 2048]), data)
    // The sectors around it are as they were.
    XCTAssertEqual(driver.disk.bytes[5 * 512 - 1], 5)
    XCTAssertEqual(driver.disk.bytes[9 * 512], 10)

    let read = driver.request(type: T.read, sector: 4, inData: 3 * 512)
    XCTAssertEqual(read.status, 0)
    XCTAssertEqual(read.written, 3 * 512 + 1)
    let back = driver.readData(3 * 512)
    XCTAssertEqual(Array(back[0..<512]), [UInt8](repeating: 5, count: 512))
    XCTAssertEqual(Array(back[512...]), Array(data[0..<1024]))

    let stats = driver.device.statistics
    XCTAssertEqual(stats.writes, 1)
    XCTAssertEqual(stats.reads, 1)
    XCTAssertEqual(stats.bytesWritten, 2048)
    XCTAssertEqual(stats.bytesRead, 1536)
    XCTAssertEqual(stats.requests, 2)
    XCTAssertEqual(stats.notifications, 2)
    XCTAssertEqual(driver.service.signals, 2)
    XCTAssertEqual(driver.load(UInt16.self, at: BlockTestDriver.deviceArea + 2), 2)
    XCTAssertEqual(driver.service.requestedLengths.first, VirtioBlockDevice.maximumRequestLength)
  }

  func testHeaderAndDataSplitAcrossBuffersAnywhereAreServedTheSame() {
    let driver = BlockTestDriver()
    let data = (0..<1536).map { UInt8(truncatingIfNeeded: $0 ^ 0x5A) }
    XCTAssertEqual(
      driver.request(type: T.write, sector: 60, outData: data, splitHeader: true, pieces: 5)
        .status, 0)
    XCTAssertEqual(Array(driver.disk.bytes[60 * 512..<60 * 512 + 1536]), data)
    let read = driver.request(type: T.read, sector: 60, inData: 1536, splitHeader: true, pieces: 7)
    XCTAssertEqual(read.status, 0)
    XCTAssertEqual(driver.readData(1536, pieces: 7), data)
  }

  func testTheLastSectorIsReachableAndAZeroLengthReadAtTheEndIsFine() {
    let driver = BlockTestDriver(diskSize: 8 * 512)
    XCTAssertEqual(driver.request(type: T.read, sector: 7, inData: 512).status, 0)
    XCTAssertEqual(driver.readData(512), [UInt8](repeating: 8, count: 512))
    XCTAssertEqual(driver.request(type: T.read, sector: 8, inData: 0).status, 0)
  }

  func testFlushSucceedsAndGetIDAnswersTheImageNamePadded() {
    let driver = BlockTestDriver(name: "scratch.img")
    let flush = driver.request(type: T.flush, sector: 0)
    XCTAssertEqual(flush.status, 0)
    XCTAssertEqual(flush.written, 1)
    let id = driver.request(type: T.getID, sector: 0, inData: 20)
    XCTAssertEqual(id.status, 0)
    XCTAssertEqual(id.written, 21)
    XCTAssertEqual(
      driver.readData(20), Array("scratch.img".utf8) + [UInt8](repeating: 0, count: 9))
    XCTAssertEqual(driver.device.statistics.flushes, 1)
    XCTAssertEqual(driver.device.statistics.identifications, 1)

    // 20 characters or more: the first 20, unterminated (§5.2.6).
    let long = BlockTestDriver(name: "a-name-of-twenty-five-chr")
    XCTAssertEqual(long.request(type: T.getID, sector: 0, inData: 20).status, 0)
    XCTAssertEqual(long.readData(20), Array("a-name-of-twenty-fiv".utf8))
    // A buffer too small for the identifier.
    XCTAssertEqual(long.request(type: T.getID, sector: 0, inData: 19).status, 1)
  }

  func testWriteZeroesZeroesAndDiscardKeepsTheBytes() {
    let driver = BlockTestDriver()
    func range(_ sector: UInt64, _ count: UInt32, _ flags: UInt32 = 0) -> [UInt8] {
      withUnsafeBytes(of: sector.littleEndian, Array.init)
        + withUnsafeBytes(of: count.littleEndian, Array.init)
        + withUnsafeBytes(of: flags.littleEndian, Array.init)
    }
    XCTAssertEqual(
      driver.request(type: T.writeZeroes, sector: 0, outData: range(2, 2) + range(10, 1, 1))
        .status, 0)
    XCTAssertEqual(Array(driver.disk.bytes[1024..<2048]), [UInt8](repeating: 0, count: 1024))
    XCTAssertEqual(Array(driver.disk.bytes[5120..<5632]), [UInt8](repeating: 0, count: 512))
    XCTAssertEqual(driver.disk.bytes[2048], 5)
    XCTAssertEqual(driver.device.statistics.bytesWritten, 1536)

    XCTAssertEqual(driver.request(type: T.discard, sector: 0, outData: range(20, 4)).status, 0)
    XCTAssertEqual(driver.disk.bytes[20 * 512], 21)
    // Discard takes no unmap flag, and neither takes unknown flags (§5.2.6.2): UNSUPP.
    XCTAssertEqual(driver.request(type: T.discard, sector: 0, outData: range(20, 4, 1)).status, 2)
    XCTAssertEqual(
      driver.request(type: T.writeZeroes, sector: 0, outData: range(20, 4, 2)).status, 2)
    XCTAssertEqual(driver.disk.bytes[20 * 512], 21)
    // Past the end, over the per-range limit, too many ranges, no ranges: IOERR, nothing zeroed.
    let tooMany = (0..<9).flatMap { range(UInt64($0), 1) }
    for data in [range(63, 2), range(0, 8193), tooMany, [], [UInt8](repeating: 0, count: 8)] {
      XCTAssertEqual(driver.request(type: T.writeZeroes, sector: 0, outData: data).status, 1)
    }
    XCTAssertEqual(driver.disk.bytes[63 * 512], 64)
    XCTAssertEqual(driver.disk.bytes[0], 1)
    XCTAssertEqual(driver.device.statistics.writeZeroes, 7)
    XCTAssertEqual(driver.device.statistics.discards, 2)
  }

  func testAnUnknownTypeIsAnsweredUnsupported() {
    let driver = BlockTestDriver()
    for type: UInt32 in [2, 3, 5, 7, 9, 12, 14, 0xFFFF_FFFF] {
      XCTAssertEqual(driver.request(type: type, sector: 0, inData: 512).status, 2, "type \(type)")
    }
    XCTAssertEqual(driver.device.statistics.unsupported, 8)
    XCTAssertEqual(driver.device.statistics.ioErrors, 0)
  }

  func testAReadOnlyDiskRefusesEveryWrite() {
    let driver = BlockTestDriver(readOnly: true)
    let before = driver.diskBuffer.contents
    XCTAssertEqual(
      driver.request(type: T.write, sector: 0, outData: [UInt8](repeating: 9, count: 512)).status,
      1)
    let zeroes = withUnsafeBytes(of: UInt64(0), Array.init) + [1, 0, 0, 0, 0, 0, 0, 0]
    XCTAssertEqual(driver.request(type: T.writeZeroes, sector: 0, outData: zeroes).status, 1)
    XCTAssertEqual(driver.diskBuffer.contents, before)
    XCTAssertEqual(driver.request(type: T.read, sector: 0, inData: 512).status, 0)
  }

  func testResetForgetsTheQueueUntilTheNextActivation() {
    let driver = BlockTestDriver()
    driver.device.reset()
    driver.header(type: T.flush, sector: 0)
    driver.post([
      (BlockTestDriver.headerAddress, 16, false), (BlockTestDriver.statusAddress, 1, true),
    ])
    driver.device.queueNotified(0)
    XCTAssertTrue(driver.service.completions.isEmpty)
    driver.device.activate(features: driver.device.deviceFeatures, service: driver.service)
    driver.device.queueNotified(0)
    XCTAssertEqual(driver.service.completions.count, 1)
    // A queue the device does not have is ignored.
    driver.device.queueNotified(1)
    XCTAssertEqual(driver.service.completions.count, 1)
  }
}

/// Notifications with VIRTIO_F_EVENT_IDX (§2.6.10): a drained queue asks for the next one.
final class VirtioBlockNotificationTests: XCTestCase {
  typealias T = VirtioBlockRequestType

  func testADrainedQueueSetsAvailEventToTheNextRequest() {
    let driver = BlockTestDriver(size: 8, eventIndex: true)
    let availEvent = BlockTestDriver.deviceArea + 4 + 8 * 8
    XCTAssertEqual(driver.request(type: T.flush, sector: 0).status, 0)
    XCTAssertEqual(driver.load(UInt16.self, at: availEvent), 1)
    for _ in 0..<10 {
      XCTAssertEqual(driver.request(type: T.getID, sector: 0, inData: 20).status, 0)
    }
    XCTAssertEqual(driver.load(UInt16.self, at: availEvent), 11)
    XCTAssertEqual(driver.service.notificationRequests, 11)
  }

  func testARequestMadeAvailableWhileAskingIsServedAtOnce() {
    let driver = BlockTestDriver(size: 8, eventIndex: true)
    driver.service.onRequestNotification = {
      driver.header(type: T.flush, sector: 0, at: 0x9000)
      driver.post([(0x9000, 16, false), (BlockTestDriver.statusAddress + 1, 1, true)])
    }
    driver.request(type: T.flush, sector: 0)
    XCTAssertEqual(driver.service.completions.count, 2)
    XCTAssertEqual(driver.device.statistics.flushes, 2)
    XCTAssertEqual(driver.load(UInt16.self, at: BlockTestDriver.deviceArea + 4 + 8 * 8), 2)
  }
}
