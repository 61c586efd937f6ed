import HypervisorCore
import XCTest

/// Queued invalidation on the virtual unit (VT-d spec rev 4.1 §6.5.2): the queue in guest
/// RAM, IQH following IQT, wait descriptors, and a bad descriptor stopping the queue.
final class VirtualRemappingQueueTests: XCTestCase {
  private func write64(_ unit: VirtualRemappingUnit, _ offset: Int, _ value: UInt64) {
    _ = unit.write(offset: UInt64(offset), size: 8, value: value)
  }

  private func read32(_ unit: VirtualRemappingUnit, _ offset: Int) -> UInt32 {
    UInt32(truncatingIfNeeded: unit.read(offset: UInt64(offset), size: 4))
  }

  /// A unit with its queue at a fresh page, enabled.
  private func unitWithQueue(_ fixture: VirtualRemappingFixture, events: RecordingMessages? = nil)
    -> (VirtualRemappingUnit, UInt64)
  {
    let unit = VirtualRemappingUnit(memory: fixture.memory, events: events)
    let queue = fixture.page()
    write64(
      unit, InterruptRemappingRegister.queueAddress, InvalidationQueue.addressValue(queue: queue))
    _ = unit.write(
      offset: UInt64(RemappingRegister.globalCommand), size: 4,
      value: UInt64(RemappingGlobalBit.queuedInvalidation))
    return (unit, queue)
  }

  private func put(
    _ descriptors: [QueuedInvalidationDescriptor], at first: Int, queue: UInt64,
    _ fixture: VirtualRemappingFixture
  ) {
    for (index, descriptor) in descriptors.enumerated() {
      let slot = queue + UInt64(first + index) * 16
      fixture.store64(descriptor.low, at: slot)
      fixture.store64(descriptor.high, at: slot + 8)
    }
  }

  func testInvalidationsAndAWaitCompleteUpToTheTail() {
    let fixture = VirtualRemappingFixture()
    let (unit, queue) = unitWithQueue(fixture)
    XCTAssertNotEqual(
      read32(unit, RemappingRegister.globalStatus) & RemappingGlobalBit.queuedInvalidation, 0)
    let status = fixture.page()
    put(
      [
        .contextGlobal, .iotlbDomain(3), .interruptEntriesGlobal, .interruptEntry(7),
        .wait(status: 0xC0FFEE, address: status),
      ], at: 0, queue: queue, fixture)
    write64(unit, InterruptRemappingRegister.queueTail, InvalidationQueue.register(index: 5))
    XCTAssertEqual(fixture.load32(status), 0xC0FFEE)
    XCTAssertEqual(unit.read(offset: UInt64(InterruptRemappingRegister.queueHead), size: 8), 5 << 4)
    XCTAssertEqual(read32(unit, RemappingRegister.faultStatus), 0)
  }

  func testAWaitWithInterruptFlagSetsIWCAndSignalsWhenUnmasked() {
    let fixture = VirtualRemappingFixture()
    let events = RecordingMessages()
    let (unit, queue) = unitWithQueue(fixture, events: events)
    _ = unit.write(offset: UInt64(RemappingRegister.invalidationEventControl), size: 4, value: 0)
    _ = unit.write(offset: UInt64(RemappingRegister.invalidationEventData), size: 4, value: 0x42)
    _ = unit.write(
      offset: UInt64(RemappingRegister.invalidationEventAddress), size: 4, value: 0xFEE0_1000)
    put([QueuedInvalidationDescriptor(low: 0x5 | 1 << 4, high: 0)], at: 0, queue: queue, fixture)
    write64(unit, InterruptRemappingRegister.queueTail, InvalidationQueue.register(index: 1))
    XCTAssertEqual(read32(unit, InterruptRemappingRegister.completionStatus), 1)
    XCTAssertEqual(events.messages.count, 1)
    XCTAssertEqual(events.messages.first?.data, 0x42)
    _ = unit.write(offset: UInt64(InterruptRemappingRegister.completionStatus), size: 4, value: 1)
    XCTAssertEqual(read32(unit, InterruptRemappingRegister.completionStatus), 0)
  }

  func testAnUnknownDescriptorStopsTheQueueWithIQE() {
    let fixture = VirtualRemappingFixture()
    let (unit, queue) = unitWithQueue(fixture)
    let status = fixture.page()
    put(
      [
        .contextGlobal, QueuedInvalidationDescriptor(low: 0xF, high: 0),
        .wait(status: 1, address: status),
      ], at: 0, queue: queue, fixture)
    write64(unit, InterruptRemappingRegister.queueTail, InvalidationQueue.register(index: 3))
    XCTAssertEqual(read32(unit, RemappingRegister.faultStatus) & (1 << 4), 1 << 4, "IQE")
    XCTAssertEqual(unit.read(offset: UInt64(InterruptRemappingRegister.queueHead), size: 8), 1 << 4)
    XCTAssertEqual(fixture.load32(status), 0, "nothing after the bad descriptor ran")
  }

  func testAWaitStatusOutsideRAMIsAQueueErrorNotAHostWrite() {
    let fixture = VirtualRemappingFixture()
    let (unit, queue) = unitWithQueue(fixture)
    put([.wait(status: 1, address: 0x1_0000_0000)], at: 0, queue: queue, fixture)
    write64(unit, InterruptRemappingRegister.queueTail, InvalidationQueue.register(index: 1))
    XCTAssertEqual(read32(unit, RemappingRegister.faultStatus) & (1 << 4), 1 << 4)
  }

  func testTheQueueWrapsAtItsEnd() {
    let fixture = VirtualRemappingFixture()
    let (unit, queue) = unitWithQueue(fixture)
    put([.contextGlobal], at: 0, queue: queue, fixture)
    for index in 0..<256 { put([.iotlbGlobal], at: index, queue: queue, fixture) }
    write64(unit, InterruptRemappingRegister.queueTail, InvalidationQueue.register(index: 255))
    write64(unit, InterruptRemappingRegister.queueTail, InvalidationQueue.register(index: 2))
    XCTAssertEqual(unit.read(offset: UInt64(InterruptRemappingRegister.queueHead), size: 8), 2 << 4)
    XCTAssertEqual(read32(unit, RemappingRegister.faultStatus), 0)
  }
}
