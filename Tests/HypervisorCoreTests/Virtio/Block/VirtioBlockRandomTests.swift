import XCTest

@testable import HypervisorCore

/// Random requests and random descriptors, the guest's worst: the device must never write
/// outside the image or guest RAM, never change the image unless it says it wrote, and never
/// trap.
final class VirtioBlockRandomTests: XCTestCase {
  func testRandomChainsNeverWriteOutsideTheImageOrGuestRAM() {
    var random = SeededGenerator(seed: 0xB10C_0013)
    let types: [UInt32] = [0, 1, 4, 8, 11, 13, 2, 0xFFFF_FFFF]
    var total = VirtioBlockStatistics()
    for round in 0..<300 {
      let driver = BlockTestDriver(diskSize: 16 * 512, size: 8)
      // Random bytes where headers and data go, so that type and sector vary as well.
      for offset in stride(from: 0x8000, to: 0x20000, by: 8) {
        driver.store(random.next(), at: UInt64(offset))
      }
      for _ in 0..<4 {
        // Mostly plausible headers, sometimes random ones (already in RAM).
        if random.next() % 4 != 0 {
          let sector = random.next() % 3 == 0 ? random.next() : random.next() % 20
          driver.header(type: types[Int(random.next() % UInt64(types.count))], sector: sector)
        }
        let count = 1 + Int(random.next() % 8)
        let firstWritable = Int(random.next() % UInt64(count + 1))
        // A quarter of the requests well formed (as `request` lays them out), random in type
        // and sector, so that the device's served paths are exercised too.
        let wellFormed = random.next() % 4 == 0
        for index in 0..<count where !wellFormed {
          let address =
            index == 0 && random.next() % 4 != 0
            ? BlockTestDriver.headerAddress
            : random.next() % 2 == 0
              ? BlockTestDriver.headerAddress + random.next() % 0x18000
              : random.next() % UInt64(BlockTestDriver.ramSize + 64)
          // Sometimes what a driver would use (a header, whole sectors, a status byte).
          let plausible: [UInt32] = [16, 512, 1024, 1, 20]
          var length =
            random.next() % 2 == 0
            ? plausible[Int(random.next() % 5)]
            : UInt32(
              truncatingIfNeeded: random.next() % 5 == 0 ? random.next() : random.next() % 4096)
          if address == BlockTestDriver.headerAddress && random.next() % 4 != 0 { length = 16 }
          if index == count - 1 && random.next() % 2 == 0 { length = 1 }
          // Mostly a well-formed chain (NEXT to the following descriptor, the status last and
          // writable), sometimes any flags and links (loops, indirect, out of the table).
          var flags: UInt16 = index < count - 1 ? 1 : 0
          if index >= firstWritable { flags |= 2 }
          var next = UInt16(index + 1)
          if random.next() % 8 == 0 {
            flags = UInt16(truncatingIfNeeded: random.next() & 7)
            next = UInt16(truncatingIfNeeded: random.next() % 10)
          }
          driver.descriptor(
            UInt16(index), address: address, length: length, flags: flags, next: next)
        }
        let before = driver.diskBuffer.contents
        let written = driver.device.statistics.bytesWritten
        if wellFormed {
          let type = types[Int(random.next() % 3)]
          let sectors = UInt32(random.next() % 3)
          driver.descriptor(
            0, address: BlockTestDriver.headerAddress, length: 16, flags: 1, next: 1)
          driver.descriptor(
            1, address: BlockTestDriver.dataAddress, length: 512 * sectors,
            flags: type == 0 ? 3 : 1, next: 2)
          driver.descriptor(2, address: BlockTestDriver.statusAddress, length: 1, flags: 2, next: 0)
        }
        let head: UInt16 =
          random.next() % 8 == 0 ? UInt16(truncatingIfNeeded: random.next() % 9) : 0
        driver.store(
          head, at: BlockTestDriver.driverArea + 4 + 2 * UInt64(driver.availableIndex % 8))
        driver.availableIndex &+= 1
        driver.store(driver.availableIndex, at: BlockTestDriver.driverArea + 2)
        driver.device.queueNotified(0)
        XCTAssertTrue(driver.ram.guardsIntact, "round \(round): a write outside guest RAM")
        XCTAssertTrue(driver.diskBuffer.guardsIntact, "round \(round): a write outside the image")
        if driver.device.statistics.bytesWritten == written {
          XCTAssertEqual(driver.diskBuffer.contents, before, "round \(round): an unreported write")
        }
        if driver.device.needsReset { break }
      }
      let stats = driver.device.statistics
      XCTAssertEqual(stats.requests, UInt64(driver.service.completions.count))
      XCTAssertLessThanOrEqual(stats.queueFaults, 1)
      total.reads += stats.reads
      total.bytesWritten += stats.bytesWritten
      total.ioErrors += stats.ioErrors
      total.unanswerable += stats.unanswerable
      total.queueFaults += stats.queueFaults
    }
    // The rounds reached every outcome: served, refused, unanswerable, faulted.
    XCTAssertGreaterThan(total.reads, 0)
    XCTAssertGreaterThan(total.bytesWritten, 0)
    XCTAssertGreaterThan(total.ioErrors, 0)
    XCTAssertGreaterThan(total.unanswerable, 0)
    XCTAssertGreaterThan(total.queueFaults, 0)
  }

  func testRandomValidRequestsMatchAPlainArrayModelOfTheDisk() {
    var random = SeededGenerator(seed: 0xD15C)
    let driver = BlockTestDriver(diskSize: 32 * 512, size: 16)
    var model = driver.diskBuffer.contents
    for _ in 0..<200 {
      let sector = random.next() % 32
      let sectors = 1 + Int(random.next() % 4)
      let fits = sector + UInt64(sectors) <= 32
      if random.next() % 2 == 0 {
        let data = (0..<sectors * 512).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let status = driver.request(
          type: VirtioBlockRequestType.write, sector: sector, outData: data,
          pieces: 1 + Int(random.next() % 3)
        ).status
        XCTAssertEqual(status, fits ? 0 : 1)
        if fits {
          model.replaceSubrange(Int(sector) * 512..<Int(sector) * 512 + data.count, with: data)
        }
      } else {
        let pieces = 1 + Int(random.next() % 3)
        let status = driver.request(
          type: VirtioBlockRequestType.read, sector: sector, inData: sectors * 512, pieces: pieces
        ).status
        XCTAssertEqual(status, fits ? 0 : 1)
        if fits {
          XCTAssertEqual(
            driver.readData(sectors * 512, pieces: pieces),
            Array(model[Int(sector) * 512..<Int(sector) * 512 + sectors * 512]))
        }
      }
    }
    XCTAssertEqual(driver.diskBuffer.contents, model)
  }
}
