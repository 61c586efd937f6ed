import HypervisorCore
import XCTest

/// A clock at 1 GHz, the APIC bus rate, so bus ticks and clock ticks are the same.
final class NanosecondClock: GuestClock {
  var now: UInt64 = 1_000
  let ticksPerSecond: UInt64 = 1_000_000_000
}

final class LocalAPICModelTests: XCTestCase {
  private let clock = NanosecondClock()
  private lazy var apic = LocalAPICModel(id: 2, clock: clock)

  private func write(_ offset: UInt64, _ value: UInt32) {
    _ = apic.write(offset: offset, size: 4, value: UInt64(value))
  }
  private func read(_ offset: UInt64) -> UInt32 {
    UInt32(truncatingIfNeeded: apic.read(offset: offset, size: 4))
  }

  func testIdentificationAndVersion() {
    XCTAssertEqual(read(0x20), 2 << 24)
    XCTAssertEqual(read(0x30) & 0xFF, 0x14)
    XCTAssertEqual(read(0x320) & (1 << 16), 1 << 16, "LVT timer masked at reset")
  }

  func testOneShotTimerFiresOnceAtItsDeadline() {
    write(0xF0, 0x1FF)  // software enable
    write(0x3E0, 0xB)  // divide by 1
    write(0x320, 0x30)  // one-shot, vector 0x30
    write(0x380, 1_000_000)  // 1 ms
    clock.now += 400_000
    XCTAssertEqual(read(0x390), 600_000, "current count falls with time")
    XCTAssertFalse(apic.pollTimer())
    clock.now += 600_000
    XCTAssertTrue(apic.pollTimer())
    XCTAssertEqual(apic.pendingVector, 0x30)
    XCTAssertNil(apic.deadline, "one-shot: disarmed")
  }

  func testPeriodicTimerReloads() {
    write(0xF0, 0x1FF)
    write(0x3E0, 0x0)  // divide by 2
    write(0x320, 1 << 17 | 0x31)
    write(0x380, 500_000)  // 1 ms period
    clock.now += 2_500_000
    XCTAssertTrue(apic.pollTimer())
    XCTAssertEqual(apic.deadline, 1_000 + 3_000_000, "the next period after the missed ones")
  }

  /// Initial count 1, divide by 1, periodic: a 1 ns period would keep the vCPU in interrupt
  /// exits forever. The period is clamped to 200 µs (KVM's min_timer_period_us).
  func testPeriodicTimerIsClampedToTwoHundredMicroseconds() {
    write(0xF0, 0x1FF)
    write(0x3E0, 0xB)  // divide by 1
    write(0x320, 1 << 17 | 0x31)
    write(0x380, 1)
    XCTAssertEqual(apic.minimumTimerPeriod, 200_000)
    XCTAssertEqual(apic.deadline, 1_000 + 200_000)
    clock.now += 199_999
    XCTAssertFalse(apic.pollTimer(), "not before 200 µs")
    var fired = 0
    for _ in 0..<1_000_000 {  // 1 ms in 1 ns steps
      clock.now += 1
      if apic.pollTimer() { fired += 1 }
    }
    XCTAssertEqual(fired, 5, "one interrupt per 200 µs")
  }

  func testOneShotTimerIsClampedToo() {
    write(0xF0, 0x1FF)
    write(0x3E0, 0xB)
    write(0x320, 0x30)
    write(0x380, 1)
    clock.now += 100_000
    XCTAssertFalse(apic.pollTimer())
    clock.now += 100_000
    XCTAssertTrue(apic.pollTimer())
  }

  func testATSCDeadlineInThePastFiresOnce() {
    write(0xF0, 0x1FF)
    write(0x320, 2 << 17 | 0x32)
    apic.setTSCDeadline(1)
    XCTAssertTrue(apic.pollTimer())
    apic.acknowledge(0x32)
    for _ in 0..<10 { XCTAssertFalse(apic.pollTimer(), "not again") }
    XCTAssertNil(apic.pendingVector)
  }

  func testTSCDeadlineMode() {
    write(0xF0, 0x1FF)
    write(0x320, 2 << 17 | 0x32)
    apic.setTSCDeadline(clock.now + 50)
    XCTAssertEqual(apic.tscDeadline, 1_050)
    clock.now += 50
    XCTAssertTrue(apic.pollTimer())
    XCTAssertEqual(apic.pendingVector, 0x32)
    XCTAssertEqual(apic.tscDeadline, 0)
  }

  func testPriorityInServiceAndEOI() {
    write(0xF0, 0x1FF)
    apic.request(0x41)
    XCTAssertEqual(apic.pendingVector, 0x41)
    apic.acknowledge(0x41)
    XCTAssertNil(apic.pendingVector)
    apic.request(0x35)
    XCTAssertNil(apic.pendingVector, "a lower class waits behind the one in service")
    apic.request(0x52)
    XCTAssertEqual(apic.pendingVector, 0x52, "a higher class preempts")
    write(0xB0, 0)  // EOI ends the highest vector in service: 0x41
    XCTAssertEqual(read(0x100 + 0x20) & (1 << 1), 0, "0x41 no longer in service")
    write(0x80, 0x60)  // TPR above everything requested
    XCTAssertNil(apic.pendingVector)
  }

  func testDisabledAPICDeliversNothing() {
    apic.request(0x40)
    XCTAssertNil(apic.pendingVector, "software-disabled")
  }

  /// Writing the low ICR sends an IPI; the APIC only describes it, for the VM to route.
  func testICRWritesDescribeTheIPI() {
    write(0x310, 5 << 24)
    write(0x300, 0x45)
    write(0x300, 1 << 18 | 0x46)
    write(0x300, 2 << 18 | 0x47)
    write(0x300, 3 << 18 | 4 << 8)
    write(0x300, 1 << 11 | 0x48)
    write(0x300, 1 << 14 | 5 << 8)  // INIT, level assert
    write(0x300, 1 << 15 | 5 << 8)  // INIT level de-assert
    write(0x300, 3 << 18 | 6 << 8 | 0x9A)  // start-up, vector 0x9A
    write(0x300, 1 << 11 | 1 << 8 | 0x49)  // lowest priority, logical
    XCTAssertEqual(
      apic.takeOutgoing(),
      [
        InterprocessorInterrupt(
          delivery: .fixed(vector: 0x45, lowestPriority: false), destination: .physical(5)),
        InterprocessorInterrupt(
          delivery: .fixed(vector: 0x46, lowestPriority: false), destination: .toSelf),
        InterprocessorInterrupt(
          delivery: .fixed(vector: 0x47, lowestPriority: false), destination: .allIncludingSelf),
        InterprocessorInterrupt(delivery: .nmi, destination: .allExcludingSelf),
        InterprocessorInterrupt(
          delivery: .fixed(vector: 0x48, lowestPriority: false), destination: .logical(5)),
        InterprocessorInterrupt(delivery: .initSignal, destination: .physical(5)),
        InterprocessorInterrupt(delivery: .ignored(mode: 5), destination: .physical(5)),
        InterprocessorInterrupt(delivery: .startup(vector: 0x9A), destination: .allExcludingSelf),
        InterprocessorInterrupt(
          delivery: .fixed(vector: 0x49, lowestPriority: true), destination: .logical(5)),
      ])
    XCTAssertTrue(apic.outgoing.isEmpty, "taken")
    XCTAssertEqual(read(0x300) & (1 << 12), 0, "delivery status idle")
  }

  func testLogicalDestinationFlatAndClusterModels() {
    write(0xD0, 0x0400_0000)  // LDR: bit 2
    XCTAssertTrue(apic.acceptsLogical(0x04))
    XCTAssertTrue(apic.acceptsLogical(0xFF))
    XCTAssertFalse(apic.acceptsLogical(0x03))
    write(0xE0, 0x0FFF_FFFF)  // cluster model
    write(0xD0, 0x2100_0000)  // cluster 2, member 1
    XCTAssertTrue(apic.acceptsLogical(0x21))
    XCTAssertTrue(apic.acceptsLogical(0x23))
    XCTAssertFalse(apic.acceptsLogical(0x31), "another cluster")
    XCTAssertFalse(apic.acceptsLogical(0x22), "another member")
    XCTAssertTrue(apic.acceptsLogical(0xFF), "broadcast")
  }
}
