import HypervisorCore
import XCTest

/// The flight recorder's ring (docs/smp.md, "Flight recorder"): oldest first, only the last
/// `capacity` events kept, sequence numbers without gaps, and what the hooks record.
final class FlightRecorderTests: XCTestCase {
  func testAnEmptyRingHasNoEvents() {
    let ring = FlightRecorder()
    XCTAssertEqual(ring.recorded, 0)
    XCTAssertTrue(ring.events.isEmpty)
  }

  func testEventsComeBackOldestFirstWithTheirFields() {
    let ring = FlightRecorder()
    ring.record(.exit, detail: UInt64(ExitKind.halt.rawValue), value: 0x1234, tsc: 100)
    ring.record(.post, detail: 4, value: 0x41, tsc: 101)
    ring.record(.asleep, value: 0, tsc: 102)
    let events = ring.events
    XCTAssertEqual(events.map(\.kind), [.exit, .post, .asleep])
    XCTAssertEqual(events.map(\.sequence), [0, 1, 2])
    XCTAssertEqual(events.map(\.tsc), [100, 101, 102])
    XCTAssertEqual(events[0].detail, UInt64(ExitKind.halt.rawValue))
    XCTAssertEqual(events[0].value, 0x1234)
    XCTAssertEqual(events[1].detail, 4)
    XCTAssertEqual(events[1].value, 0x41)
  }

  func testAFullRingKeepsExactlyTheLastCapacityEvents() {
    let ring = FlightRecorder()
    let capacity = FlightRecorder.capacity
    for index in 0..<capacity {
      ring.record(.slice, detail: UInt64(index), tsc: UInt64(index))
    }
    XCTAssertEqual(ring.events.count, capacity)
    XCTAssertEqual(ring.events.first?.detail, 0)
    XCTAssertEqual(ring.events.last?.detail, UInt64(capacity - 1))
  }

  /// Past the end the oldest go first; over several laps the order and the sequence numbers
  /// stay continuous, across the wrap of the slot index.
  func testWraparoundDropsTheOldestAndKeepsOrder() {
    let ring = FlightRecorder()
    let capacity = FlightRecorder.capacity
    let total = 3 * capacity + 5
    for index in 0..<total {
      ring.record(
        .exit, detail: UInt64(index % 20), value: UInt64(index), tsc: 1000 + UInt64(index))
    }
    let events = ring.events
    XCTAssertEqual(ring.recorded, UInt64(total))
    XCTAssertEqual(events.count, capacity)
    XCTAssertEqual(events.map(\.value), (total - capacity..<total).map { UInt64($0) })
    XCTAssertEqual(events.map(\.sequence), (total - capacity..<total).map { UInt64($0) })
    XCTAssertEqual(events.map(\.tsc), (total - capacity..<total).map { 1000 + UInt64($0) })
  }

  /// The detail keeps 56 bits; the kind survives beside it.
  func testLargeDetailsAndValuesSurvive() {
    let ring = FlightRecorder()
    ring.record(.drain, detail: 0x00FF_FFFF_FFFF_FFFF, value: UInt64.max - 1, tsc: UInt64.max - 2)
    let event = ring.events[0]
    XCTAssertEqual(event.kind, .drain)
    XCTAssertEqual(event.detail, 0x00FF_FFFF_FFFF_FFFF)
    XCTAssertEqual(event.value, UInt64.max - 1)
    XCTAssertEqual(event.tsc, UInt64.max - 2)
  }

  private final class CountingClock: FlightClock {
    var time: UInt64 = 500
    func now() -> UInt64 {
      time += 1
      return time
    }
  }

  /// The hooks in HypervisorCore: a post, its drain into IRR, and the awake count's moves.
  func testAPostItsDrainAndTheAwakeCountAreRecorded() {
    let vcpu = VirtualCPU(index: 0)
    vcpu.flight.clock = CountingClock()
    vcpu.awakeVCPUs = AwakeVCPUs(1)
    XCTAssertTrue(vcpu.noteAsleep())
    vcpu.postInterrupt(vector: 0x41)
    let events = vcpu.flight.events
    XCTAssertEqual(events.map(\.kind), [.asleep, .post, .awake])
    XCTAssertEqual(events[0].value, 0, "the last one asleep")
    XCTAssertEqual(events[1].value, 0x41)
    XCTAssertEqual(events[1].detail, UInt64(VCPURequest.interrupt.rawValue))
    XCTAssertEqual(events[2].value, 1)
    XCTAssertEqual(events.map(\.tsc), [501, 502, 503])
  }
}
