import HypervisorCore
import XCTest

final class ASIDAllocatorTests: XCTestCase {
  func testNoGuestASIDsIsRefused() {
    XCTAssertNil(ASIDAllocator(processor: 0, asidCount: 0))
    XCTAssertNil(ASIDAllocator(processor: 0, asidCount: 1))  // only the host's ASID 0
  }

  func testFirstAssignmentFlushesAndStartsAtOne() {
    var cpu = ASIDAllocator(processor: 0, asidCount: 16)!
    var record = ASIDAllocator.Record()
    let first = cpu.assign(&record)
    XCTAssertEqual(first, .init(asid: 1, isNew: true, flushAll: true))
    XCTAssertEqual(cpu.generation, 1)
    XCTAssertEqual(record.generation, 1)
    XCTAssertEqual(record.processor, 0)
  }

  func testAVCPUKeepsItsASIDWithinAGeneration() {
    var cpu = ASIDAllocator(processor: 0, asidCount: 16)!
    var record = ASIDAllocator.Record()
    _ = cpu.assign(&record)
    XCTAssertEqual(cpu.assign(&record), .init(asid: 1, isNew: false, flushAll: false))
    XCTAssertEqual(cpu.assign(&record), .init(asid: 1, isNew: false, flushAll: false))
  }

  /// More vCPUs than ASIDs: the 16th vCPU on a 16-ASID processor (15 for guests) opens a
  /// new generation instead of being refused, and every vCPU of the old generation gets a
  /// fresh ASID when it next runs.
  func testRolloverStartsANewGenerationWithAFlush() {
    var cpu = ASIDAllocator(processor: 0, asidCount: 16)!
    var records = Array(repeating: ASIDAllocator.Record(), count: 20)
    var seen: [UInt32] = []
    for index in 0..<15 {
      let assignment = cpu.assign(&records[index])
      seen.append(assignment.asid)
      XCTAssertEqual(assignment.flushAll, index == 0)
    }
    XCTAssertEqual(seen, Array(1...15))
    XCTAssertEqual(cpu.remainingInGeneration, 0)
    let sixteenth = cpu.assign(&records[15])
    XCTAssertEqual(sixteenth, .init(asid: 1, isNew: true, flushAll: true))
    XCTAssertEqual(cpu.generation, 2)
    // vCPU 0 held ASID 1 of generation 1: it moves to the new generation, not onto the
    // ASID vCPU 15 now holds.
    let again = cpu.assign(&records[0])
    XCTAssertEqual(again, .init(asid: 2, isNew: true, flushAll: false))
    XCTAssertEqual(records[0].generation, 2)
  }

  func testNeverASIDZeroAndNeverTwoHoldersInOneGeneration() {
    var cpu = ASIDAllocator(processor: 0, asidCount: 4)!
    var records = Array(repeating: ASIDAllocator.Record(), count: 7)
    var flushes = 0
    // Interleave seven vCPUs on a processor with three guest ASIDs for many rounds.
    for round in 0..<50 {
      for index in 0..<records.count where (index + round) % 2 == 0 || index == 6 {
        let assignment = cpu.assign(&records[index])
        XCTAssertNotEqual(assignment.asid, 0)
        XCTAssertLessThan(assignment.asid, 4)
        if assignment.flushAll { flushes += 1 }
        let holders = records.filter {
          $0.generation == cpu.generation && $0.asid == assignment.asid
        }
        XCTAssertEqual(holders.count, 1, "ASID \(assignment.asid) held twice")
      }
    }
    XCTAssertGreaterThan(cpu.generation, 10)
    XCTAssertEqual(UInt64(flushes), cpu.generation)
  }

  func testAVCPUFromAnotherProcessorGetsAFreshASID() {
    var cpu0 = ASIDAllocator(processor: 0, asidCount: 16)!
    var cpu1 = ASIDAllocator(processor: 1, asidCount: 16)!
    var record = ASIDAllocator.Record()
    _ = cpu0.assign(&record)
    var other = ASIDAllocator.Record()
    _ = cpu1.assign(&other)  // cpu1 is in generation 1 too, with ASID 1 given out
    let moved = cpu1.assign(&record)
    XCTAssertEqual(moved, .init(asid: 2, isNew: true, flushAll: false))
    XCTAssertEqual(record.processor, 1)
  }
}
