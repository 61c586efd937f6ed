import Memory
import XCTest

@testable import PCI

/// Host memory posing as physical memory from `base`.
struct FakeMemory: PhysicalMemoryAccess {
  let buffer: UnsafeMutableRawPointer
  let base: UInt64
  init(base: UInt64 = 0x10_0000, size: Int = 64 << 10) {
    buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
    buffer.initializeMemory(as: UInt8.self, repeating: 0, count: size)
    self.base = base
  }
  func pointer(to physical: UInt64) -> UnsafeMutableRawPointer { buffer + Int(physical - base) }
  func u16(_ physical: UInt64) -> UInt16 { pointer(to: physical).loadUnaligned(as: UInt16.self) }
  func u32(_ physical: UInt64) -> UInt32 { pointer(to: physical).loadUnaligned(as: UInt32.self) }
  func u64(_ physical: UInt64) -> UInt64 { pointer(to: physical).loadUnaligned(as: UInt64.self) }
}

/// The device's side of a split virtqueue, as the spec describes it (§2.6.6-2.6.8).
struct FakeDevice {
  let memory: FakeMemory
  let queue: (descriptors: UInt64, driver: UInt64, device: UInt64, size: Int)
  var lastAvailable: UInt16 = 0
  var usedIndex: UInt16 = 0

  /// Takes the next available buffer: (descriptor index, address, length, flags).
  mutating func takeAvailable() -> (UInt16, UInt64, UInt32, UInt16)? {
    guard memory.u16(queue.driver + 2) != lastAvailable else { return nil }
    let index = memory.u16(queue.driver + 4 + 2 * UInt64(Int(lastAvailable) % queue.size))
    lastAvailable &+= 1
    let d = queue.descriptors + 16 * UInt64(index)
    return (index, memory.u64(d), memory.u32(d + 8), memory.u16(d + 12))
  }

  mutating func use(_ index: UInt16, length: UInt32) {
    let slot = queue.device + 4 + 8 * UInt64(Int(usedIndex) % queue.size)
    memory.pointer(to: slot).storeBytes(of: UInt32(index), as: UInt32.self)
    memory.pointer(to: slot + 4).storeBytes(of: length, as: UInt32.self)
    usedIndex &+= 1
    memory.pointer(to: queue.device + 2).storeBytes(of: usedIndex, as: UInt16.self)
  }
}

final class SplitVirtqueueTests: XCTestCase {
  func testLayoutFollowsTheSpecAlignments() {
    let layout = SplitVirtqueue<FakeMemory>.layout(size: 128)
    XCTAssertEqual(layout.driverOffset, 2048)
    XCTAssertEqual(layout.deviceOffset, 2048 + 6 + 256 + 2)  // rounded up to 4
    XCTAssertEqual(layout.total, layout.deviceOffset + 6 + 8 * 128)
  }

  func testRejectsSizesThatAreNotPowersOfTwo() {
    let memory = FakeMemory()
    XCTAssertNil(SplitVirtqueue(size: 100, base: 0x10_0000, memory: memory))
    XCTAssertNil(SplitVirtqueue(size: 0, base: 0x10_0000, memory: memory))
    XCTAssertNil(SplitVirtqueue(size: 64, base: 0x10_0008, memory: memory))
  }

  func testBuffersGoRoundTheRingAndComeBack() throws {
    let memory = FakeMemory()
    var queue = try XCTUnwrap(SplitVirtqueue(size: 4, base: 0x10_0000, memory: memory))
    var device = FakeDevice(
      memory: memory, queue: (queue.descriptors, queue.driverArea, queue.deviceArea, queue.size))
    // Ten rounds of a full ring: indices wrap, descriptors are reused.
    for round in 0..<10 {
      var tokens: [UInt16] = []
      for i in 0..<4 {
        let expected = queue.nextToken
        tokens.append(
          try XCTUnwrap(
            queue.offer(physical: 0x20_0000 + UInt64(i) * 0x800, length: 1526, deviceWritable: true)
          ))
        XCTAssertEqual(tokens.last, expected)
      }
      XCTAssertNil(queue.nextToken)
      XCTAssertNil(queue.offer(physical: 0, length: 1, deviceWritable: true))
      XCTAssertNil(queue.takeUsed())
      for i in 0..<4 {
        let (index, address, length, flags) = try XCTUnwrap(device.takeAvailable())
        XCTAssertEqual(index, tokens[i])
        XCTAssertEqual(address, 0x20_0000 + UInt64(i) * 0x800)
        XCTAssertEqual(length, 1526)
        XCTAssertEqual(flags, 2)  // VIRTQ_DESC_F_WRITE
        device.use(index, length: UInt32(60 + round))
      }
      for i in 0..<4 {
        let used = try XCTUnwrap(queue.takeUsed())
        XCTAssertEqual(used.token, tokens[i])
        XCTAssertEqual(used.length, UInt32(60 + round))
      }
      XCTAssertEqual(queue.freeCount, 4)
    }
  }

  func testABadUsedIDFromTheDeviceIsSkipped() throws {
    let memory = FakeMemory()
    var queue = try XCTUnwrap(SplitVirtqueue(size: 4, base: 0x10_0000, memory: memory))
    var device = FakeDevice(
      memory: memory, queue: (queue.descriptors, queue.driverArea, queue.deviceArea, queue.size))
    let token = try XCTUnwrap(queue.offer(physical: 0x20_0000, length: 64, deviceWritable: false))
    device.use(99, length: 1)  // outside the table
    device.use(token + 1, length: 1)  // a descriptor the driver never offered (free)
    device.use(token, length: 64)
    XCTAssertEqual(queue.takeUsed()?.token, token)
    XCTAssertNil(queue.takeUsed())
  }

  func testNotificationSuppression() throws {
    let memory = FakeMemory()
    let queue = try XCTUnwrap(SplitVirtqueue(size: 4, base: 0x10_0000, memory: memory))
    XCTAssertTrue(queue.deviceWantsNotification)
    memory.pointer(to: queue.deviceArea).storeBytes(of: UInt16(1), as: UInt16.self)
    XCTAssertFalse(queue.deviceWantsNotification)
    queue.suppressInterrupts()
    XCTAssertEqual(memory.u16(queue.driverArea), 1)
  }
}
