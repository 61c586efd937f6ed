import XCTest

@testable import HypervisorCore

/// A guest driver's side of a split virtqueue, written byte by byte into a fake guest RAM as
/// virtio 1.1 §2.6 lays it out, for the device model to read.
private final class FakeDriver {
  static let ramSize = 0x10_0000
  static let descriptors: UInt64 = 0x1000
  static let driverArea: UInt64 = 0x2000
  static let deviceArea: UInt64 = 0x3000
  let ram = UnsafeMutableRawPointer.allocate(byteCount: ramSize, alignment: 4096)
  let memory: GuestMemoryMap
  let size: UInt16
  var availableIndex: UInt16 = 0

  init(size: UInt16 = 8) {
    let map = TestGuestRAM.map(ram, size: Self.ramSize)
    memory = map
    self.size = size
  }

  deinit { ram.deallocate() }

  var state: VirtqueueState {
    VirtqueueState(
      size: size, descriptorTable: Self.descriptors, driverArea: Self.driverArea,
      deviceArea: Self.deviceArea)
  }

  func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
    ram.storeBytes(of: value.littleEndian, toByteOffset: Int(address), as: T.self)
  }

  func load<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64) -> T {
    T(littleEndian: ram.load(fromByteOffset: Int(address), as: T.self))
  }

  func descriptor(
    _ index: UInt16, address: UInt64, length: UInt32, flags: UInt16 = 0, next: UInt16 = 0,
    table: UInt64 = descriptors
  ) {
    let base = table + 16 * UInt64(index)
    store(address, at: base)
    store(length, at: base + 8)
    store(flags, at: base + 12)
    store(next, at: base + 14)
  }

  func makeAvailable(_ head: UInt16) {
    store(head, at: Self.driverArea + 4 + 2 * UInt64(availableIndex % size))
    availableIndex &+= 1
    store(availableIndex, at: Self.driverArea + 2)
  }
}

final class DeviceVirtqueueTests: XCTestCase {
  func testAChainComesBackInOrderAndIsGivenBackAsUsed() throws {
    let driver = FakeDriver()
    driver.descriptor(3, address: 0x8000, length: 16, flags: 1, next: 5)
    driver.descriptor(5, address: 0x9000, length: 512, flags: 1, next: 0)
    driver.descriptor(0, address: 0xA000, length: 1, flags: 2)
    driver.makeAvailable(3)
    var queue = try DeviceVirtqueue(driver.state, memory: driver.memory)

    let chain = try XCTUnwrap(try queue.nextChain(memory: driver.memory))
    XCTAssertEqual(chain.head, 3)
    XCTAssertEqual(
      chain.buffers,
      [
        GuestBuffer(guestPhysical: 0x8000, length: 16, writable: false),
        GuestBuffer(guestPhysical: 0x9000, length: 512, writable: false),
        GuestBuffer(guestPhysical: 0xA000, length: 1, writable: true),
      ])
    XCTAssertEqual(chain.readableLength, 528)
    XCTAssertEqual(chain.writableLength, 1)
    XCTAssertNil(try queue.nextChain(memory: driver.memory))

    XCTAssertTrue(try queue.complete(head: 3, written: 1, memory: driver.memory))
    XCTAssertEqual(driver.load(UInt16.self, at: FakeDriver.deviceArea + 2), 1)
    XCTAssertEqual(driver.load(UInt32.self, at: FakeDriver.deviceArea + 4), 3)
    XCTAssertEqual(driver.load(UInt32.self, at: FakeDriver.deviceArea + 8), 1)
  }

  func testTheRingWrapsAroundItsSize() throws {
    let driver = FakeDriver(size: 4)
    var queue = try DeviceVirtqueue(driver.state, memory: driver.memory)
    for round in 0..<10 {
      let head = UInt16(round % 4)
      driver.descriptor(head, address: 0x8000 + UInt64(round) * 0x100, length: 64, flags: 2)
      driver.makeAvailable(head)
      let chain = try XCTUnwrap(try queue.nextChain(memory: driver.memory))
      XCTAssertEqual(chain.head, head)
      _ = try queue.complete(head: head, written: 64, memory: driver.memory)
    }
    XCTAssertEqual(queue.state.lastAvailable, 10)
    XCTAssertEqual(driver.load(UInt16.self, at: FakeDriver.deviceArea + 2), 10)
  }

  func testALoopingChainIsRefusedAfterAtMostSizeDescriptors() throws {
    let driver = FakeDriver()
    driver.descriptor(1, address: 0x8000, length: 8, flags: 1, next: 2)
    driver.descriptor(2, address: 0x8000, length: 8, flags: 1, next: 1)
    driver.makeAvailable(1)
    var queue = try DeviceVirtqueue(driver.state, memory: driver.memory)
    XCTAssertThrowsError(try queue.nextChain(memory: driver.memory)) {
      XCTAssertEqual($0 as? VirtqueueFault, .descriptorLoop)
    }
    // Nothing consumed: the fault leaves the queue where it was.
    XCTAssertEqual(queue.state.lastAvailable, 0)
  }

  func testAnIndexThatJumpsMoreThanTheRingHoldsIsRefused() throws {
    let driver = FakeDriver()
    driver.store(UInt16(9), at: FakeDriver.driverArea + 2)
    var queue = try DeviceVirtqueue(driver.state, memory: driver.memory)
    XCTAssertThrowsError(try queue.nextChain(memory: driver.memory)) {
      XCTAssertEqual($0 as? VirtqueueFault, .indexJumped(from: 0, to: 9))
    }
  }

  func testHeadsAndNextFieldsOutsideTheTableAreRefused() throws {
    let driver = FakeDriver()
    driver.makeAvailable(8)
    var queue = try DeviceVirtqueue(driver.state, memory: driver.memory)
    XCTAssertThrowsError(try queue.nextChain(memory: driver.memory)) {
      XCTAssertEqual($0 as? VirtqueueFault, .descriptorOutOfRange(8))
    }
    let other = FakeDriver()
    other.descriptor(0, address: 0x8000, length: 8, flags: 1, next: 200)
    other.makeAvailable(0)
    var second = try DeviceVirtqueue(other.state, memory: other.memory)
    XCTAssertThrowsError(try second.nextChain(memory: other.memory)) {
      XCTAssertEqual($0 as? VirtqueueFault, .descriptorOutOfRange(200))
    }
  }

  func testBuffersOutsideGuestRAMAreRefusedHugeLengthsIncluded() throws {
    for (address, length) in [
      (UInt64(FakeDriver.ramSize), UInt32(1)), (0xFF000, UInt32(0x2000)),
      (UInt64.max - 4, UInt32(16)), (0, UInt32.max),
    ] {
      let driver = FakeDriver()
      driver.descriptor(0, address: address, length: length)
      driver.makeAvailable(0)
      var queue = try DeviceVirtqueue(driver.state, memory: driver.memory)
      XCTAssertThrowsError(try queue.nextChain(memory: driver.memory)) {
        XCTAssertEqual(
          $0 as? VirtqueueFault, .bufferOutsideMemory(address: address, length: length))
      }
    }
  }

  func testAReadableBufferAfterAWritableOneIsRefused() throws {
    let driver = FakeDriver()
    driver.descriptor(0, address: 0x8000, length: 8, flags: 3, next: 1)
    driver.descriptor(1, address: 0x9000, length: 8)
    driver.makeAvailable(0)
    var queue = try DeviceVirtqueue(driver.state, memory: driver.memory)
    XCTAssertThrowsError(try queue.nextChain(memory: driver.memory)) {
      XCTAssertEqual($0 as? VirtqueueFault, .readableAfterWritable)
    }
  }

  func testAChainLargerThanTheDeviceTakesIsRefused() throws {
    let driver = FakeDriver()
    driver.descriptor(0, address: 0x8000, length: 0x8000, flags: 1, next: 1)
    driver.descriptor(1, address: 0x8000, length: 0x8000)
    driver.makeAvailable(0)
    var queue = try DeviceVirtqueue(driver.state, memory: driver.memory)
    XCTAssertThrowsError(try queue.nextChain(memory: driver.memory, maximumLength: 0xC000)) {
      XCTAssertEqual($0 as? VirtqueueFault, .chainTooLarge(0x10000))
    }
  }

  func testAnIndirectTableIsWalkedOnceAndNeverNested() throws {
    let table: UInt64 = 0x4000
    let driver = FakeDriver()
    driver.descriptor(2, address: table, length: 48, flags: 4)
    driver.descriptor(0, address: 0x8000, length: 16, flags: 1, next: 1, table: table)
    driver.descriptor(1, address: 0x9000, length: 100, flags: 1 | 2, next: 2, table: table)
    driver.descriptor(2, address: 0xA000, length: 1, flags: 2, table: table)
    driver.makeAvailable(2)
    var queue = try DeviceVirtqueue(driver.state, memory: driver.memory)
    let chain = try XCTUnwrap(try queue.nextChain(memory: driver.memory))
    XCTAssertEqual(chain.head, 2)
    XCTAssertEqual(chain.buffers.map(\.guestPhysical), [0x8000, 0x9000, 0xA000])

    // An indirect descriptor inside the table.
    driver.descriptor(2, address: table, length: 48, flags: 4, table: table)
    driver.makeAvailable(2)
    XCTAssertThrowsError(try queue.nextChain(memory: driver.memory)) {
      XCTAssertEqual($0 as? VirtqueueFault, .nestedIndirect)
    }
  }

  func testIndirectTablesOfABadSizeOrLoopingAreRefused() throws {
    let table: UInt64 = 0x4000
    for length in [UInt32(0), 20, UInt32(16 * (DeviceVirtqueue.maximumIndirect + 1))] {
      let driver = FakeDriver()
      driver.descriptor(0, address: table, length: length, flags: 4)
      driver.makeAvailable(0)
      var queue = try DeviceVirtqueue(driver.state, memory: driver.memory)
      XCTAssertThrowsError(try queue.nextChain(memory: driver.memory)) {
        XCTAssertEqual($0 as? VirtqueueFault, .invalidIndirectTable(length: length))
      }
    }
    let driver = FakeDriver()
    driver.descriptor(0, address: table, length: 32, flags: 4)
    driver.descriptor(0, address: 0x8000, length: 8, flags: 1, next: 1, table: table)
    driver.descriptor(1, address: 0x8000, length: 8, flags: 1, next: 0, table: table)
    driver.makeAvailable(0)
    var queue = try DeviceVirtqueue(driver.state, memory: driver.memory)
    XCTAssertThrowsError(try queue.nextChain(memory: driver.memory)) {
      XCTAssertEqual($0 as? VirtqueueFault, .descriptorLoop)
    }
  }

  func testGeometryOutsideRAMOrMisalignedOrOfABadSizeIsRefused() {
    let driver = FakeDriver()
    var state = driver.state
    state.size = 6
    XCTAssertThrowsError(try DeviceVirtqueue(state, memory: driver.memory)) {
      XCTAssertEqual($0 as? VirtqueueFault, .invalidSize(6))
    }
    state = driver.state
    state.descriptorTable = 0x1008
    XCTAssertThrowsError(try DeviceVirtqueue(state, memory: driver.memory)) {
      XCTAssertEqual($0 as? VirtqueueFault, .invalidArea(address: 0x1008))
    }
    state = driver.state
    state.deviceArea = UInt64(FakeDriver.ramSize) - 8
    XCTAssertThrowsError(try DeviceVirtqueue(state, memory: driver.memory)) {
      XCTAssertEqual($0 as? VirtqueueFault, .invalidArea(address: state.deviceArea))
    }
  }

  func testInterruptsFollowTheDriversFlagOrItsUsedEvent() throws {
    let driver = FakeDriver()
    var queue = try DeviceVirtqueue(driver.state, memory: driver.memory)
    driver.store(UInt16(1), at: FakeDriver.driverArea)  // NO_INTERRUPT
    XCTAssertFalse(try queue.complete(head: 0, written: 0, memory: driver.memory))

    var state = driver.state
    state.eventIndex = true
    var indexed = try DeviceVirtqueue(state, memory: driver.memory)
    // used_event = 2: interrupts when the used index passes 2 (its third completion).
    driver.store(UInt16(2), at: FakeDriver.driverArea + 4 + 2 * 8)
    XCTAssertFalse(try indexed.complete(head: 0, written: 0, memory: driver.memory))
    XCTAssertFalse(try indexed.complete(head: 1, written: 0, memory: driver.memory))
    XCTAssertTrue(try indexed.complete(head: 2, written: 0, memory: driver.memory))
    XCTAssertFalse(try indexed.complete(head: 3, written: 0, memory: driver.memory))
  }

  func testNotificationRequestsUseAvailEventOrTheNoNotifyFlag() throws {
    let driver = FakeDriver()
    var state = driver.state
    state.eventIndex = true
    state.lastAvailable = 5
    let indexed = try DeviceVirtqueue(state, memory: driver.memory)
    try indexed.requestNotification(memory: driver.memory)
    XCTAssertEqual(driver.load(UInt16.self, at: FakeDriver.deviceArea + 4 + 8 * 8), 5)

    let plain = try DeviceVirtqueue(driver.state, memory: driver.memory)
    try plain.suppressNotifications(memory: driver.memory)
    XCTAssertEqual(driver.load(UInt16.self, at: FakeDriver.deviceArea), 1)
    try plain.requestNotification(memory: driver.memory)
    XCTAssertEqual(driver.load(UInt16.self, at: FakeDriver.deviceArea), 0)
  }

  func testNeedsEventMatchesTheSpecificationsFormulaAcrossWraparound() {
    XCTAssertTrue(DeviceVirtqueue.needsEvent(0xFFFF, new: 0, old: 0xFFFF))
    XCTAssertFalse(DeviceVirtqueue.needsEvent(0xFFFF, new: 0xFFFF, old: 0xFFFE))
    XCTAssertTrue(DeviceVirtqueue.needsEvent(10, new: 20, old: 5))
    XCTAssertFalse(DeviceVirtqueue.needsEvent(30, new: 20, old: 5))
  }

  func testRandomRingsNeverFaultOutsideTheFaultListAndStayBounded() throws {
    // Random bytes in the rings: the model either returns a chain inside RAM or a fault.
    var generator = SeededGenerator(seed: 0x5EED_0013)
    for _ in 0..<400 {
      let driver = FakeDriver()
      for offset in stride(from: 0x1000, to: 0x3100, by: 8) {
        driver.store(generator.next() & 0x0000_0000_000F_FFFF, at: UInt64(offset))
      }
      driver.store(UInt16(truncatingIfNeeded: generator.next() % 10), at: FakeDriver.driverArea + 2)
      var queue = try DeviceVirtqueue(driver.state, memory: driver.memory)
      do {
        while let chain = try queue.nextChain(memory: driver.memory) {
          XCTAssertLessThanOrEqual(chain.buffers.count, 8 + DeviceVirtqueue.maximumIndirect)
          for buffer in chain.buffers {
            XCTAssertLessThanOrEqual(
              buffer.guestPhysical + UInt64(buffer.length), UInt64(FakeDriver.ramSize))
          }
        }
      } catch {
        // A fault is an answer.
      }
    }
  }
}
